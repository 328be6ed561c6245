/**
 * One syscall record, as every reader delivers it.
 *
 * Readers reuse a single SyscallEvent per trace and overwrite it for every line (a
 * "flyweight"): the consumer must copy what it wants to keep before the next event. This keeps
 * the hot loop free of per-event allocations; strings (the argument tokens, the process name)
 * are only made when somebody asks for them.
 */
export const DIR_ENTER = 62; // '>'
export const DIR_EXIT = 60; // '<'

/** Python's str.split() whitespace among ASCII: \t \n \v \f \r, \x1c-\x1f and space (1 = space). */
export const PY_SPACE = new Uint8Array(256);
for (const b of [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]) PY_SPACE[b] = 1;

export function isPyAsciiSpace(b: number): boolean {
  return PY_SPACE[b] === 1;
}

export class SyscallEvent {
  /** Whole seconds of the timestamp: epoch seconds (LID-DS) or seconds since midnight (sysdig text). */
  sec = 0;
  /** Nanoseconds within `sec` (0..999,999,999). */
  nsec = 0;
  /** False when the source's timestamp could not be read (pandas' NaT in the reference). */
  hasTime = true;
  /** pid and tid are parsed on demand from these byte ranges of `buf` (empty range: unknown). */
  pidStart = 0;
  pidEnd = 0;
  tidStart = 0;
  tidEnd = 0;
  /** DIR_ENTER, DIR_EXIT, or 0 when unknown. */
  dir = 0;
  /** Interned syscall name id (see NameTable). */
  nameId = -1;
  /** 1-based line number in the source. */
  line = 0;

  /** The line's bytes; the argument tokens are buf[argsStart, argsEnd). */
  buf: Buffer = Buffer.alloc(0);
  argsStart = 0;
  argsEnd = 0;
  procStart = 0;
  procEnd = 0;
  /**
   * Set instead of the byte range when the line had to be split as text (non-ASCII whitespace
   * in faithful mode): the argument tokens, already split.
   */
  argTokens: string[] | null = null;

  /** Process id, or -1 when the source has none (sysdig's default text has only the thread id). */
  get pid(): number {
    return readUint(this.buf, this.pidStart, this.pidEnd);
  }

  /** Thread id, or -1 when unknown. */
  get tid(): number {
    return readUint(this.buf, this.tidStart, this.tidEnd);
  }

  /** The i-th whitespace-separated argument token, or undefined. */
  token(i: number): string | undefined {
    if (this.argTokens !== null) return this.argTokens[i];
    const buf = this.buf;
    const end = this.argsEnd;
    let p = this.argsStart;
    let n = 0;
    while (p < end) {
      while (p < end && PY_SPACE[buf[p]] === 1) p++;
      if (p >= end) break;
      const s = p;
      while (p < end && PY_SPACE[buf[p]] === 0) p++;
      if (n === i) return decode(buf, s, p);
      n++;
    }
    return undefined;
  }

  /** Value of the first `key=value` argument token, or undefined. `key` must be ASCII. */
  param(key: string): string | undefined {
    if (this.argTokens !== null) {
      const prefix = key + '=';
      for (const t of this.argTokens) if (t.startsWith(prefix)) return t.slice(prefix.length);
      return undefined;
    }
    const buf = this.buf;
    const end = this.argsEnd;
    const klen = key.length;
    let p = this.argsStart;
    while (p < end) {
      while (p < end && PY_SPACE[buf[p]] === 1) p++;
      if (p >= end) break;
      const s = p;
      while (p < end && PY_SPACE[buf[p]] === 0) p++;
      if (p - s > klen && buf[s + klen] === 61 /* = */) {
        let match = true;
        for (let k = 0; k < klen; k++) {
          if (buf[s + k] !== key.charCodeAt(k)) {
            match = false;
            break;
          }
        }
        if (match) return decode(buf, s + klen + 1, p);
      }
    }
    return undefined;
  }

  /** All argument tokens as text (allocates; for display and live alerts, not the hot loop). */
  argsText(): string {
    if (this.argTokens !== null) return this.argTokens.join(' ');
    return decode(this.buf, this.argsStart, this.argsEnd).trim();
  }

  /** Process name (allocates). */
  proc(): string {
    return decode(this.buf, this.procStart, this.procEnd);
  }
}

function decode(buf: Buffer, s: number, e: number): string {
  return buf.toString('utf8', s, e);
}

function readUint(buf: Uint8Array, s: number, e: number): number {
  if (e <= s || e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
