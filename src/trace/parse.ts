/**
 * Streaming line parser for the two text formats of syscall traces:
 *
 * - sysdig text, the default `sysdig -r` line: `num time cpu proc (tid) dir type args…`
 *   (`time` is wall clock `HH:MM:SS.nnnnnnnnn`);
 * - LID-DS 2021 `.sc`: `ts_ns uid pid proc tid syscall dir args…`.
 *
 * Chunks of bytes go in, SyscallEvents come out through a callback. Nothing is buffered but
 * the one partial line at a chunk boundary, so memory is constant whatever the file size.
 *
 * Faithful mode reproduces how the reference (ContainerHIDS `Sysdig.process_scap`) reads a
 * line, quirks included (see ../shared/golden/README.md, "Quirks of the original"):
 *  - a line is dropped if Python's `str(raw_bytes)` contains `container`, `json`, `expecting`
 *    or `falcosecurity-libs` anywhere, or if that repr is not longer than 20 characters;
 *  - fields come from `split()`, positionally: time = token 1 with its last 3 characters cut
 *    (ns truncated to µs), syscall = token 6, args = tokens 7…; a line with fewer than 7
 *    tokens, or one that is not UTF-8, makes the whole file fail (the reference crashes).
 * The improved (default) mode keeps every event: no noise filter, full ns timestamps, fields
 * found by structure (so a process name with spaces does not shift them), malformed lines
 * skipped and counted instead of failing the file.
 */
import { InputError } from '../util/errors.js';
import { DIR_ENTER, DIR_EXIT, PY_SPACE, SyscallEvent } from './event.js';
import { FNV_PRIME, FNV_SEED, NameTable } from './names.js';

export type TraceFormat = 'sysdig' | 'lidds';

export interface ParseStats {
  /** Lines read (including dropped and malformed ones). */
  lines: number;
  /** Events delivered to the sink. */
  events: number;
  /** Lines that could not be parsed and were skipped (improved mode). */
  malformed: number;
  /** First malformed line, for the warning. */
  firstMalformedLine: number;
  /** Lines dropped by the reference's noise filter (faithful mode). */
  noise: number;
  /** Lines dropped by the reference's length filter (faithful mode). */
  short: number;
  /** Bytes consumed. */
  bytes: number;
}

const NOISE_WORDS = ['container', 'json', 'expecting', 'falcosecurity-libs'];
/** The noise word that starts with a byte (the four start with different letters), or null. */
const NOISE_BY_FIRST: (Buffer | null)[] = new Array<Buffer | null>(256).fill(null);
for (const w of NOISE_WORDS) NOISE_BY_FIRST[w.charCodeAt(0)] = Buffer.from(w, 'latin1');
/**
 * Faithful mode's byte classes: 0 plain, 1 escaped in Python's bytes repr (control bytes but
 * tab, and bytes ≥ 127), 2 the first letter of a noise word.
 */
const FAITHFUL_CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) FAITHFUL_CLASS[b] = (b < 32 && b !== 9) || b > 126 ? 1 : NOISE_BY_FIRST[b] !== null ? 2 : 0;
/** Python str.split() whitespace beyond ASCII. */
const PY_UNICODE_SPACE = /[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const PY_SPLIT = /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
/**
 * The longest line read: a syscall event is a few hundred bytes (sysdig cuts buffers to 80), so
 * a longer line is not a trace, and refusing it bounds the memory one line can take.
 */
const MAX_LINE = 16 * 1024 * 1024;
const CARRY_BYTES = 64 * 1024;
const HALF_DAY = 43200;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface ParserOptions {
  file: string;
  format: TraceFormat;
  faithful: boolean;
  names: NameTable;
  onEvent: (ev: SyscallEvent) => void;
  /**
   * Faithful mode refuses the whole trace on a line the reference would crash on. A live
   * monitor cannot refuse its stream: with this, such a line (or an event the encoder refuses)
   * costs only itself, counted as malformed, and the next line is read as usual.
   */
  onBadLine?: (err: InputError) => void;
}

export class TraceParser {
  readonly stats: ParseStats = {
    lines: 0,
    events: 0,
    malformed: 0,
    firstMalformedLine: 0,
    noise: 0,
    short: 0,
    bytes: 0,
  };
  private readonly ev = new SyscallEvent();
  // The partial line at the end of the last chunk: carry[0, carryLen).
  private carry = Buffer.allocUnsafe(CARRY_BYTES);
  private carryLen = 0;
  private readonly tok = new Int32Array(16); // start,end pairs of the first 8 tokens
  // sysdig text timestamps are times of day: count midnights (improved mode only).
  private dayOffset = 0;
  private lastSec = 0;
  private hasLast = false;

  private readonly file: string;
  private readonly lidds: boolean;
  private readonly faithful: boolean;
  private readonly names: NameTable;
  private readonly onEvent: (ev: SyscallEvent) => void;
  private readonly onBadLine: ((err: InputError) => void) | null;

  constructor(opts: ParserOptions) {
    this.file = opts.file;
    this.lidds = opts.format === 'lidds';
    this.faithful = opts.faithful;
    this.names = opts.names;
    this.onEvent = opts.onEvent;
    this.onBadLine = opts.onBadLine ?? null;
  }

  /** Feeds the next chunk of the trace. The parser keeps no reference to it after returning. */
  push(chunk: Buffer): void {
    this.stats.bytes += chunk.length;
    let pos = 0;
    if (this.carryLen > 0) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.keep(chunk, 0, chunk.length);
        return;
      }
      this.keep(chunk, 0, nl);
      const n = this.carryLen;
      this.carryLen = 0;
      this.line(this.carry, 0, n, true);
      this.shrinkCarry();
      pos = nl + 1;
    }
    const len = chunk.length;
    while (pos < len) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) {
        this.keep(chunk, pos, len); // a copy: the source may reuse its buffer
        return;
      }
      this.line(chunk, pos, nl, true);
      pos = nl + 1;
    }
  }

  /** Signals the end of the trace (a last line without a newline is still read). */
  end(): void {
    if (this.carryLen > 0) {
      const n = this.carryLen;
      this.carryLen = 0;
      this.line(this.carry, 0, n, false);
      this.shrinkCarry();
    }
  }

  /**
   * Appends chunk[s, e) to the partial line carried over to the next chunk. The carry buffer
   * doubles as it fills, so a long line costs time linear in its length whatever the chunk
   * sizes (a pipe delivers 64 KiB at a time), and is refused past MAX_LINE.
   */
  private keep(chunk: Buffer, s: number, e: number): void {
    const need = this.carryLen + (e - s);
    if (need > MAX_LINE) {
      this.carryLen = 0;
      this.shrinkCarry();
      throw new InputError(this.file, `line ${this.stats.lines + 1} is longer than ${MAX_LINE >> 20} MiB: not a syscall trace`);
    }
    if (need > this.carry.length) {
      let size = this.carry.length * 2;
      while (size < need) size *= 2;
      const bigger = Buffer.allocUnsafe(Math.min(size, MAX_LINE));
      this.carry.copy(bigger, 0, 0, this.carryLen);
      this.carry = bigger;
    }
    chunk.copy(this.carry, this.carryLen, s, e);
    this.carryLen = need;
  }

  /** After a long line, gives its memory back (the usual carry is a fraction of a line). */
  private shrinkCarry(): void {
    if (this.carry.length > CARRY_BYTES) this.carry = Buffer.allocUnsafe(CARRY_BYTES);
  }

  private line(buf: Buffer, s: number, e: number, newline: boolean): void {
    const lineNo = ++this.stats.lines;
    if (this.faithful) {
      if (this.onBadLine === null) {
        this.faithfulLine(buf, s, e, newline, lineNo);
        return;
      }
      try {
        this.faithfulLine(buf, s, e, newline, lineNo);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        if (this.stats.malformed++ === 0) this.stats.firstMalformedLine = lineNo;
        this.onBadLine(err);
      }
      return;
    }
    if (this.lidds && this.liddsFused(buf, s, e, lineNo)) return;
    let p = s;
    while (p < e && PY_SPACE[buf[p]] === 1) p++;
    if (p === e) return; // blank line
    if (!(this.lidds ? this.parseLidds(buf, s, e, lineNo) : this.parseSysdig(buf, s, e, lineNo))) {
      if (this.stats.malformed++ === 0) this.stats.firstMalformedLine = lineNo;
    }
  }

  // ---- faithful mode -------------------------------------------------------------------

  private faithfulLine(buf: Buffer, s: number, e: number, newline: boolean, lineNo: number): void {
    // One scan for both questions the reference asks of every line: does it hold a byte that
    // its repr escapes (then the exact, slower emulation decides), and does it hold a noise
    // word. A noise word in the raw bytes is in the repr too (its letters are never escaped),
    // so finding one settles the line whatever follows.
    const cls = FAITHFUL_CLASS;
    for (let i = s; i < e; i++) {
      const c = cls[buf[i]];
      if (c === 0) continue;
      if (c === 1) {
        this.faithfulSlowLine(buf, s, e, newline, lineNo);
        return;
      }
      const w = NOISE_BY_FIRST[buf[i]]!;
      const wl = w.length;
      if (i + wl <= e) {
        let k = 1;
        while (k < wl && buf[i + k] === w[k]) k++;
        if (k === wl) {
          this.stats.noise++;
          return;
        }
      }
    }
    const plainLen = e - s + 3 + (newline ? 2 : 0);
    if (plainLen <= 20 && pyBytesRepr(buf, s, e, newline).length <= 20) {
      this.stats.short++;
      return;
    }
    const n = this.tokenize(buf, s, e, 8);
    if (n < 7) this.indexError(lineNo, n);
    this.emitPositional(buf, e, lineNo, null);
  }

  /** A line with control or non-ASCII bytes: emulate the repr, decode and split exactly. */
  private faithfulSlowLine(buf: Buffer, s: number, e: number, newline: boolean, lineNo: number): void {
    const repr = pyBytesRepr(buf, s, e, newline);
    for (const w of NOISE_WORDS) {
      if (repr.includes(w)) {
        this.stats.noise++;
        return;
      }
    }
    if (repr.length <= 20) {
      this.stats.short++;
      return;
    }
    let text: string;
    try {
      // The newline itself is never read from buf: a carried-over line has none after it.
      // Dropping it changes nothing here (it is valid UTF-8 and split away as whitespace).
      text = fatalUtf8.decode(buf.subarray(s, e));
    } catch {
      throw new InputError(this.file, `line ${lineNo}: not valid UTF-8 (the reference implementation fails on it: UnicodeDecodeError)`);
    }
    if (!PY_UNICODE_SPACE.test(text)) {
      const n = this.tokenize(buf, s, e, 8);
      if (n < 7) this.indexError(lineNo, n);
      this.emitPositional(buf, e, lineNo, null);
      return;
    }
    const parts = text.split(PY_SPLIT).filter((t) => t.length > 0);
    if (parts.length < 7) this.indexError(lineNo, parts.length);
    // Rebuild a plain buffer of the first 7 tokens so the positional reader works, and keep
    // the argument tokens as split text.
    const head = Buffer.from(parts.slice(0, 7).join(' '), 'utf8');
    const n = this.tokenize(head, 0, head.length, 8);
    if (n < 7) this.indexError(lineNo, n);
    this.emitPositional(head, head.length, lineNo, parts.slice(7));
  }

  private indexError(lineNo: number, n: number): never {
    throw new InputError(
      this.file,
      `line ${lineNo}: truncated event (${n} fields, need at least 7); the reference implementation fails on it (IndexError)`,
    );
  }

  /** Positional fields, as the reference reads them: time = tok1[:-3], name = tok6, args = tok7…; LID-DS: ts = tok0, name = tok5, dir = tok6. */
  private emitPositional(buf: Buffer, e: number, lineNo: number, argTokens: string[] | null): void {
    const t = this.tok;
    const ev = this.ev;
    if (this.lidds) {
      if (!this.readEpochNs(buf, t[0], t[1] - 3 > t[0] ? t[1] - 3 : t[0], 3)) {
        throw new InputError(this.file, `line ${lineNo}: unparseable timestamp '${buf.toString('utf8', t[0], t[1])}'`);
      }
      ev.nameId = this.names.internBytes(buf, t[10], t[11]);
      ev.dir = t[13] - t[12] === 1 ? buf[t[12]] : 0;
      ev.procStart = t[6];
      ev.procEnd = t[7];
    } else {
      const ts = t[2];
      // tok[1][:-3] drops 3 characters, not bytes (the line is ASCII or valid UTF-8 here).
      let te = t[3];
      for (let k = 0; k < 3 && te > ts; k++) {
        te--;
        while (te > ts && (buf[te] & 0xc0) === 0x80) te--;
      }
      if (te <= ts) {
        ev.hasTime = false; // pandas reads '' as NaT
      } else if (!this.readClock(buf, ts, te)) {
        throw new InputError(this.file, `line ${lineNo}: unparseable timestamp '${buf.toString('utf8', t[2], t[3])}'`);
      } else {
        ev.hasTime = true;
      }
      ev.nameId = this.names.internBytes(buf, t[12], t[13]);
      ev.dir = t[11] - t[10] === 1 ? buf[t[10]] : 0;
      ev.procStart = t[6];
      ev.procEnd = t[7];
    }
    ev.buf = buf;
    ev.argsStart = this.lidds ? t[13] : t[13];
    ev.argsEnd = e;
    ev.argTokens = argTokens;
    ev.line = lineNo;
    ev.pidStart = ev.pidEnd = 0;
    ev.tidStart = ev.tidEnd = 0;
    this.stats.events++;
    this.onEvent(ev);
  }

  /** Splits up to `max` tokens into this.tok; returns how many were found. */
  private tokenize(buf: Uint8Array, s: number, e: number, max: number): number {
    const t = this.tok;
    const sp = PY_SPACE;
    let n = 0;
    let p = s;
    while (n < max) {
      while (p < e && sp[buf[p]] === 1) p++;
      if (p >= e) break;
      t[2 * n] = p;
      while (p < e && sp[buf[p]] === 0) p++;
      t[2 * n + 1] = p;
      n++;
    }
    return n;
  }

  // ---- improved mode -------------------------------------------------------------------

  /** Delivers the event whose fields a parse method filled in; args run to the end of the line. */
  private emit(buf: Buffer, e: number, lineNo: number): true {
    const ev = this.ev;
    ev.buf = buf;
    ev.argsEnd = e;
    ev.argTokens = null;
    ev.line = lineNo;
    this.stats.events++;
    this.onEvent(ev);
    return true;
  }

  /**
   * One pass over the head of a LID-DS line of the shape LID-DS writes (19-digit timestamp,
   * single spaces, 7 fields, a one-byte direction): the timestamp's digits are summed and the
   * syscall name hashed as they are scanned, so no byte before the arguments is read twice.
   * Returns false, having delivered nothing, for any other shape; the general path
   * (parseLidds) then reads the line and decides, so both paths give the same result.
   */
  private liddsFused(buf: Buffer, s: number, e: number, lineNo: number): boolean {
    // Timestamp: 10 digits of seconds, 9 of nanoseconds, then one space.
    if (e - s < 31) return false; // shorter than the shortest complete line: not the common shape
    let sec = 0;
    let p = s;
    for (const end = s + 10; p < end; p++) {
      const d = buf[p] - 48;
      if (d < 0 || d > 9) return false;
      sec = sec * 10 + d;
    }
    let nsec = 0;
    for (const end = s + 19; p < end; p++) {
      const d = buf[p] - 48;
      if (d < 0 || d > 9) return false;
      nsec = nsec * 10 + d;
    }
    if (buf[p] !== 32) return false;
    // uid: any bytes above space (below it are Python whitespace or control bytes: general path).
    let q = ++p;
    while (p < e && buf[p] > 32) p++;
    if (p === q || p >= e || buf[p] !== 32) return false;
    // pid
    const pidS = (q = ++p);
    while (p < e && buf[p] > 32) p++;
    if (p === q || p >= e || buf[p] !== 32) return false;
    const pidE = p;
    // process name (one token here; a name with spaces fails the direction test below)
    const procS = (q = ++p);
    while (p < e && buf[p] > 32) p++;
    if (p === q || p >= e || buf[p] !== 32) return false;
    const procE = p;
    // tid
    const tidS = (q = ++p);
    while (p < e && buf[p] > 32) p++;
    if (p === q || p >= e || buf[p] !== 32) return false;
    const tidE = p;
    // syscall name, hashed as it is scanned
    const nameS = (q = ++p);
    let h = FNV_SEED;
    for (let b = buf[p]; p < e && b > 32; b = buf[++p]) h = Math.imul(h ^ b, FNV_PRIME);
    if (p === q || p >= e || buf[p] !== 32) return false;
    const nameE = p;
    // direction: one byte, then a space or the end of the line
    const d0 = buf[++p];
    if ((d0 !== DIR_ENTER && d0 !== DIR_EXIT) || p >= e) return false;
    p++;
    if (p < e && buf[p] !== 32) return false;
    const ev = this.ev;
    ev.sec = sec;
    ev.nsec = nsec;
    ev.hasTime = true;
    ev.pidStart = pidS;
    ev.pidEnd = pidE;
    ev.tidStart = tidS;
    ev.tidEnd = tidE;
    ev.procStart = procS;
    ev.procEnd = procE;
    ev.nameId = this.names.internHashed(buf, nameS, nameE, h);
    ev.dir = d0;
    ev.argsStart = p;
    this.emit(buf, e, lineNo);
    return true;
  }

  /** `ts_ns uid pid proc tid syscall dir args…` */
  private parseLidds(buf: Buffer, s: number, e: number, lineNo: number): boolean {
    // Fast path, the shape of every line LID-DS writes: single spaces, 7 fields, then args.
    // Kept small so that V8 optimises it; anything unusual goes to parseLiddsSlow.
    const sp = PY_SPACE;
    const t = this.tok;
    let p = s;
    let n = 0;
    while (n < 7) {
      while (p < e && sp[buf[p]] === 1) p++;
      if (p >= e) break;
      t[2 * n] = p;
      while (p < e && sp[buf[p]] === 0) p++;
      t[2 * n + 1] = p;
      n++;
    }
    if (n < 7) return false;
    const d0 = buf[t[12]];
    if (t[13] - t[12] !== 1 || (d0 !== DIR_ENTER && d0 !== DIR_EXIT)) return this.parseLiddsSlow(buf, e, lineNo);
    // LID-DS 2021 writes epoch nanoseconds: 19 digits (years 2001-2286). A shorter number is
    // a truncated or damaged timestamp, not a time in 1975.
    if (t[1] - t[0] !== 19 || !this.readEpochNs(buf, t[0], t[1], 0)) return false;
    const ev = this.ev;
    ev.pidStart = t[4];
    ev.pidEnd = t[5];
    ev.tidStart = t[8];
    ev.tidEnd = t[9];
    ev.procStart = t[6];
    ev.procEnd = t[7];
    ev.nameId = this.names.internBytes(buf, t[10], t[11]);
    ev.dir = d0;
    ev.argsStart = t[13];
    return this.emit(buf, e, lineNo);
  }

  /** A LID-DS line whose process name has spaces: find the dir token further on. */
  private parseLiddsSlow(buf: Buffer, e: number, lineNo: number): boolean {
    const t = this.tok;
    const ev = this.ev;
    let d = -1;
    let p = t[13];
    const starts: number[] = [t[0], t[2], t[4], t[6], t[8], t[10], t[12]];
    const ends: number[] = [t[1], t[3], t[5], t[7], t[9], t[11], t[13]];
    for (let k = 7; k < 64 && p < e; k++) {
      while (p < e && PY_SPACE[buf[p]] === 1) p++;
      if (p >= e) break;
      const ts = p;
      while (p < e && PY_SPACE[buf[p]] === 0) p++;
      starts.push(ts);
      ends.push(p);
      if (p - ts === 1 && (buf[ts] === DIR_ENTER || buf[ts] === DIR_EXIT) && isDigits(buf, starts[k - 2], ends[k - 2])) {
        d = k;
        break;
      }
    }
    if (d < 0) return false;
    // LID-DS 2021 writes epoch nanoseconds: 19 digits (years 2001-2286). A shorter number is
    // a truncated or damaged timestamp, not a time in 1975.
    if (t[1] - t[0] !== 19 || !this.readEpochNs(buf, t[0], t[1], 0)) return false;
    ev.pidStart = t[4];
    ev.pidEnd = t[5];
    ev.tidStart = starts[d - 2];
    ev.tidEnd = ends[d - 2];
    ev.procStart = t[6];
    ev.procEnd = ends[d - 3];
    ev.nameId = this.names.internBytes(buf, starts[d - 1], ends[d - 1]);
    ev.dir = buf[starts[d]];
    ev.argsStart = ends[d];
    return this.emit(buf, e, lineNo);
  }

  /** `num time cpu proc (tid) dir type args…` */
  private parseSysdig(buf: Buffer, s: number, e: number, lineNo: number): boolean {
    const n = this.tokenize(buf, s, e, 7);
    if (n < 7) return false;
    const t = this.tok;
    const ev = this.ev;
    let tidS = t[8];
    let tidE = t[9];
    let dirS = t[10];
    let nameS = t[12];
    let nameE = t[13];
    let procE = t[7];
    if (!(t[11] - t[10] === 1 && (buf[t[10]] === DIR_ENTER || buf[t[10]] === DIR_EXIT) && buf[tidS] === 40)) {
      // A process name with spaces: the dir token follows the first "(tid)" token.
      let p = t[7];
      let prevS = -1;
      let prevE = -1;
      let found = false;
      for (let k = 0; k < 64 && p < e; k++) {
        while (p < e && PY_SPACE[buf[p]] === 1) p++;
        if (p >= e) break;
        const ts = p;
        while (p < e && PY_SPACE[buf[p]] === 0) p++;
        if (p - ts === 1 && (buf[ts] === DIR_ENTER || buf[ts] === DIR_EXIT) && prevS >= 0 && buf[prevS] === 40) {
          tidS = prevS;
          tidE = prevE;
          dirS = ts;
          procE = lastEndBefore(buf, t[6], prevS);
          // the name follows
          while (p < e && PY_SPACE[buf[p]] === 1) p++;
          nameS = p;
          while (p < e && PY_SPACE[buf[p]] === 0) p++;
          nameE = p;
          found = nameE > nameS;
          break;
        }
        prevS = ts;
        prevE = p;
      }
      if (!found) return false;
    }
    if (!this.readClock(buf, t[2], t[3])) return false;
    // Times of day: each event goes on the day that puts it nearest the previous one. A jump back
    // by more than half a day is the next day; a jump forward by more than half a day is a late
    // event from the day before (out of order across midnight), which leaves the day as it is.
    let sec = ev.sec + this.dayOffset;
    if (this.hasLast) {
      if (sec < this.lastSec - HALF_DAY) {
        this.dayOffset += 86400;
        sec += 86400;
      } else if (sec > this.lastSec + HALF_DAY) {
        sec -= 86400;
      }
    }
    this.hasLast = true;
    this.lastSec = sec;
    ev.sec = sec;
    ev.hasTime = true;
    ev.tidStart = tidS + 1;
    ev.tidEnd = buf[tidE - 1] === 41 ? tidE - 1 : tidS + 1;
    ev.pidStart = ev.pidEnd = 0;
    ev.procStart = t[6];
    ev.procEnd = procE;
    ev.dir = buf[dirS];
    ev.nameId = this.names.internBytes(buf, nameS, nameE);
    ev.argsStart = nameE;
    return this.emit(buf, e, lineNo);
  }

  // ---- timestamps ----------------------------------------------------------------------

  /** An integer of nanoseconds since the epoch in buf[s, e) (e excludes `cut` truncated digits). */
  private readEpochNs(buf: Uint8Array, s: number, e: number, cut: number): boolean {
    const len = e - s;
    if (len <= 0 || len > 22 - cut) return false;
    // The last (9 - cut) digits are the fraction; what precedes them is seconds.
    const fracDigits = 9 - cut;
    const secEnd = e - fracDigits;
    let sec = 0;
    for (let i = s; i < secEnd; i++) {
      const d = buf[i] - 48;
      if (d < 0 || d > 9) return false;
      sec = sec * 10 + d;
    }
    let frac = 0;
    for (let i = secEnd > s ? secEnd : s; i < e; i++) {
      const d = buf[i] - 48;
      if (d < 0 || d > 9) return false;
      frac = frac * 10 + d;
    }
    for (let k = 0; k < cut; k++) frac *= 10;
    const ev = this.ev;
    ev.sec = sec;
    ev.nsec = frac;
    ev.hasTime = true;
    return true;
  }

  /**
   * `H:M:S[.fffffffff]` in buf[s, e), each of H, M, S one or two digits (sysdig prints HH:MM:SS;
   * pandas, through dateutil, also reads the shorter forms that [:-3] can leave, e.g. `10:00:0`):
   * seconds since midnight and nanoseconds. Never reads outside [s, e).
   */
  private readClock(buf: Uint8Array, s: number, e: number): boolean {
    let p = s;
    let h = 0;
    let n = 0;
    for (; n < 2 && p < e && buf[p] >= 48 && buf[p] <= 57; n++, p++) h = h * 10 + buf[p] - 48;
    if (n === 0 || p >= e || buf[p] !== 58) return false;
    p++;
    let m = 0;
    for (n = 0; n < 2 && p < e && buf[p] >= 48 && buf[p] <= 57; n++, p++) m = m * 10 + buf[p] - 48;
    if (n === 0 || p >= e || buf[p] !== 58) return false;
    p++;
    let sc = 0;
    for (n = 0; n < 2 && p < e && buf[p] >= 48 && buf[p] <= 57; n++, p++) sc = sc * 10 + buf[p] - 48;
    if (n === 0 || h > 23 || m > 59 || sc > 60) return false;
    let frac = 0;
    if (p < e) {
      if (buf[p] !== 46 || e - p - 1 > 9) return false;
      p++;
      let k = 0;
      for (; p < e; p++, k++) {
        const d = buf[p] - 48;
        if (d < 0 || d > 9) return false;
        frac = frac * 10 + d;
      }
      for (; k < 9; k++) frac *= 10;
    }
    const ev = this.ev;
    ev.sec = h * 3600 + m * 60 + sc;
    ev.nsec = frac;
    return true;
  }
}

function isDigits(buf: Uint8Array, s: number, e: number): boolean {
  if (e <= s) return false;
  for (let i = s; i < e; i++) if (buf[i] < 48 || buf[i] > 57) return false;
  return true;
}

function lastEndBefore(buf: Uint8Array, s: number, limit: number): number {
  let p = limit;
  while (p > s && PY_SPACE[buf[p - 1]] === 1) p--;
  return p;
}

/**
 * Python's `repr(bytes)` of a line (with its newline when it had one): `b'…'`, choosing
 * double quotes when the bytes contain a single quote and no double quote.
 */
export function pyBytesRepr(buf: Uint8Array, s: number, e: number, newline: boolean): string {
  let hasSingle = false;
  let hasDouble = false;
  for (let i = s; i < e; i++) {
    if (buf[i] === 39) hasSingle = true;
    else if (buf[i] === 34) hasDouble = true;
  }
  const q = hasSingle && !hasDouble ? 34 : 39;
  let out = 'b' + String.fromCharCode(q);
  const end = newline ? e + 1 : e;
  for (let i = s; i < end; i++) {
    const b = i < e ? buf[i] : 10;
    if (b === q || b === 92) out += '\\' + String.fromCharCode(b);
    else if (b === 9) out += '\\t';
    else if (b === 10) out += '\\n';
    else if (b === 13) out += '\\r';
    else if (b < 32 || b >= 127) out += '\\x' + (b < 16 ? '0' : '') + b.toString(16);
    else out += String.fromCharCode(b);
  }
  return out + String.fromCharCode(q);
}
