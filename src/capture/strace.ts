/**
 * strace → LID-DS 2021 lines, streaming: the live path's reading of
 * `strace -f -ttt -T -yy -s 256` output (one syscall a line, every line prefixed by its thread
 * id when strace writes to a file or pipe with `-o`).
 *
 * Each syscall becomes the two events LID-DS (sysdig) records, enter `>` and exit `<`:
 *
 *     ts_ns uid pid proc tid syscall dir args…
 *
 * The enter event is stamped with strace's start time, the exit one with start + duration
 * (`-T`). A call strace splits (`<unfinished ...>` … `<... name resumed>`) gives its enter
 * event when it starts and its exit event when it resumes; a call that never returns
 * (`exit_group(0) = ?`) has an enter event only.
 *
 * Arguments follow sysdig's names where chids reads them (DESIGN.md §4), so recordings made
 * here and LID-DS recordings made with sysdig are encoded alike:
 *   - open, openat, openat2, creat → exit `fd=N(<f>/resolved) name=PATH flags=…`
 *   - stat, lstat, newfstatat, statx → exit `res=R path=PATH`
 *   - execve, execveat → enter `filename=PATH`, exit `res=R exe=PATH`
 *   - clone, clone3, fork, vfork → exit `res=CHILD exe=EXE flags=…`
 *   - any call whose first argument is a file descriptor → enter `fd=N(<f>/path)` (from -yy)
 *   - every other exit → `res=R` (`res=-1(ENOENT)` for errors)
 * Control characters in values become `.` (a line must stay one line). Timestamps are made
 * non-decreasing (an exit stamped start + duration may pass the next line's start by a few µs).
 *
 * Process names, thread groups, uids and containers come from a {@link ProcessTable}: strace
 * prints only the thread id.
 */
import type { ProcessTable, ProcInfo } from './procs.js';

export interface StraceStats {
  lines: number;
  /** Syscall lines (complete, unfinished or resumed). */
  syscalls: number;
  /** LID-DS events emitted. */
  events: number;
  /** Signal and exit notices. */
  notices: number;
  /** Lines that were not strace syscall lines (skipped). */
  unparsed: number;
}

type Family = 'open' | 'stat' | 'exec' | 'clone' | null;

/** Which argument family a syscall belongs to, and where its path argument is. */
const FAMILY: Record<string, { family: Exclude<Family, null>; pathArg: number; flagsArg: number }> = {
  open: { family: 'open', pathArg: 0, flagsArg: 1 },
  creat: { family: 'open', pathArg: 0, flagsArg: -1 },
  openat: { family: 'open', pathArg: 1, flagsArg: 2 },
  openat2: { family: 'open', pathArg: 1, flagsArg: 2 },
  stat: { family: 'stat', pathArg: 0, flagsArg: -1 },
  lstat: { family: 'stat', pathArg: 0, flagsArg: -1 },
  stat64: { family: 'stat', pathArg: 0, flagsArg: -1 },
  lstat64: { family: 'stat', pathArg: 0, flagsArg: -1 },
  newfstatat: { family: 'stat', pathArg: 1, flagsArg: 3 },
  fstatat64: { family: 'stat', pathArg: 1, flagsArg: 3 },
  statx: { family: 'stat', pathArg: 1, flagsArg: 2 },
  execve: { family: 'exec', pathArg: 0, flagsArg: -1 },
  execveat: { family: 'exec', pathArg: 1, flagsArg: 4 },
  clone: { family: 'clone', pathArg: -1, flagsArg: -1 },
  clone3: { family: 'clone', pathArg: -1, flagsArg: -1 },
  fork: { family: 'clone', pathArg: -1, flagsArg: -1 },
  vfork: { family: 'clone', pathArg: -1, flagsArg: -1 },
};

const HEAD = /^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(\d+)\.(\d{1,9})\s+/;
const CALL = /^([A-Za-z_][A-Za-z0-9_]*)\(/;
const RESUMED = /^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*) resumed>\s?/;
const UNFINISHED = ' <unfinished ...>';
const DURATION = /\s*<(\d+)\.(\d{1,9})>\s*$/;

interface Pending {
  name: string;
  args: string;
  tsUs: number;
}

/** The pieces of a syscall line that the events are made of. */
interface Call {
  name: string;
  args: string[];
  /** Return text (`0`, `3</etc/passwd>`, `-1 ENOENT (…)`, `?`), or null when unfinished. */
  ret: string | null;
  tsUs: number;
  durUs: number | null;
}

export class StraceConverter {
  readonly stats: StraceStats = { lines: 0, syscalls: 0, events: 0, notices: 0, unparsed: 0 };
  private readonly pending = new Map<number, Pending>();
  private lastUs = 0;
  /** The thread with the latest clone/fork still in progress: a new thread is probably its child. */
  private cloning = -1;

  /**
   * @param procs      thread → process, name, container
   * @param emit       receives each LID-DS line (without newline) and the thread it belongs to
   * @param defaultTid thread id of lines without a pid prefix (strace writing to a terminal
   *                   with a single traced process); -1 when unknown
   */
  constructor(
    private readonly procs: ProcessTable,
    private readonly emit: (proc: ProcInfo, line: string) => void,
    public defaultTid = -1,
  ) {}

  /** Converts one line of strace output (without its newline). */
  line(text: string): void {
    this.stats.lines++;
    const h = HEAD.exec(text);
    if (h === null) {
      this.stats.unparsed++;
      return;
    }
    const tid = h[1] !== undefined ? Number(h[1]) : h[2] !== undefined ? Number(h[2]) : this.defaultTid;
    if (!this.procs.has(tid)) this.procs.get(tid, this.cloning);
    const tsUs = Number(h[3]) * 1e6 + fracToUs(h[4]);
    const rest = text.slice(h[0].length);
    if (rest.startsWith('---')) {
      this.stats.notices++; // a signal
      return;
    }
    if (rest.startsWith('+++')) {
      this.stats.notices++; // exited / killed
      this.pending.delete(tid);
      this.procs.exit(tid);
      return;
    }
    const r = RESUMED.exec(rest);
    if (r !== null) {
      const p = this.pending.get(tid);
      this.pending.delete(tid);
      const name = r[1];
      const full = (p && p.name === name ? p.args : '') + rest.slice(r[0].length);
      if (this.cloning === tid) this.cloning = -1;
      const call = parseTail(name, full, p && p.name === name ? p.tsUs : tsUs);
      if (call === null) {
        this.stats.unparsed++;
        return;
      }
      this.stats.syscalls++;
      // The exit event: at start + duration when known, else when strace saw it resume.
      if (call.durUs === null || !p) call.durUs = Math.max(0, tsUs - call.tsUs);
      this.exit(tid, call);
      return;
    }
    const c = CALL.exec(rest);
    if (c === null) {
      this.stats.unparsed++;
      return;
    }
    const name = c[1];
    const after = rest.slice(c[0].length);
    this.stats.syscalls++;
    if (after.endsWith(UNFINISHED)) {
      const partial = after.slice(0, after.length - UNFINISHED.length);
      this.pending.set(tid, { name, args: partial, tsUs });
      if (FAMILY[name]?.family === 'clone') this.cloning = tid;
      if (this.pending.size > 65536) this.pending.delete(this.pending.keys().next().value!);
      this.enter(tid, { name, args: splitArgs(partial, 0).args, ret: null, tsUs, durUs: null });
      return;
    }
    const call = parseTail(name, after, tsUs);
    if (call === null) {
      this.stats.syscalls--;
      this.stats.unparsed++;
      return;
    }
    this.enter(tid, call);
    if (call.ret !== '?') this.exit(tid, call);
  }

  private enter(tid: number, call: Call): void {
    const fam = FAMILY[call.name];
    let args = '';
    if (fam?.family === 'exec') {
      const file = cString(call.args[fam.pathArg]);
      if (file !== null) args = `filename=${clean(file)}`;
    } else if (fam === undefined && call.args.length > 0) {
      const fd = fdArg(call.args[0]);
      if (fd !== null) args = `fd=${fd}`;
    }
    this.write(this.procs.get(tid), call.tsUs, call.name, '>', args);
  }

  private exit(tid: number, call: Call): void {
    const ret = call.ret ?? '?';
    const fam = FAMILY[call.name];
    const res = resultOf(ret);
    let args: string;
    switch (fam?.family) {
      case 'open': {
        const file = cString(call.args[fam.pathArg]);
        const fdAnnot = res.annot !== null ? `(${annotation(res.annot)})` : res.errno ? `(${res.errno})` : '';
        args = `fd=${res.value}${fdAnnot}`;
        if (file !== null) args += ` name=${clean(file)}`;
        if (fam.flagsArg >= 0 && call.args[fam.flagsArg] !== undefined) args += ` flags=${clean(call.args[fam.flagsArg])}`;
        break;
      }
      case 'stat': {
        const file = cString(call.args[fam.pathArg]);
        args = `res=${res.text}`;
        if (file !== null) args += ` path=${clean(file)}`;
        break;
      }
      case 'exec': {
        const file = cString(call.args[fam.pathArg]);
        if (res.value === '0' && file !== null) this.procs.exec(tid, file);
        const p = this.procs.get(tid);
        args = `res=${res.text}`;
        if (p.exe !== null) args += ` exe=${clean(p.exe)}`;
        break;
      }
      case 'clone': {
        const child = Number(res.value);
        const flags = cloneFlags(call.args);
        if (Number.isInteger(child) && child > 0) this.procs.fork(tid, child, flags.includes('CLONE_THREAD'));
        const p = this.procs.get(tid);
        args = `res=${res.text} exe=${clean(p.exe ?? p.comm)}`;
        if (flags !== '') args += ` flags=${flags}`;
        break;
      }
      default:
        args = `res=${res.text}`;
    }
    this.write(this.procs.get(tid), call.tsUs + (call.durUs ?? 0), call.name, '<', args);
  }

  private write(p: ProcInfo, tsUs: number, name: string, dir: '>' | '<', args: string): void {
    // Keep the output in time order (a recording must be sorted, DESIGN.md §3): an exit stamped
    // start + duration can be a few µs after the next line's start.
    if (tsUs < this.lastUs) tsUs = this.lastUs;
    else this.lastUs = tsUs;
    this.stats.events++;
    this.emit(p, `${tsUs}000 ${p.uid} ${p.tgid} ${p.comm} ${p.tid} ${name} ${dir} ${args}`);
  }
}

function fracToUs(frac: string): number {
  // -ttt prints 6 digits (µs); accept 1–9 and scale to µs.
  if (frac.length === 6) return Number(frac);
  const ns = Number((frac + '000000000').slice(0, 9));
  return Math.floor(ns / 1000);
}

/** Parses `args…) = ret <dur>` (the text after `name(`). */
function parseTail(name: string, text: string, tsUs: number): Call | null {
  const { args, end } = splitArgs(text, 0);
  if (end < 0) return null;
  let tail = text.slice(end);
  const eq = tail.indexOf('=');
  if (eq < 0) return null;
  tail = tail.slice(eq + 1);
  let durUs: number | null = null;
  const d = DURATION.exec(tail);
  if (d !== null) {
    durUs = Number(d[1]) * 1e6 + fracToUs(d[2]);
    tail = tail.slice(0, d.index);
  }
  return { name, args, ret: tail.trim(), tsUs, durUs };
}

/** A return value: its number (or `?`), the errno name, the -yy annotation of a returned fd. */
function resultOf(ret: string): { value: string; errno: string | null; annot: string | null; text: string } {
  const a = /^(-?\d+)<(.*)>$/s.exec(ret);
  if (a !== null) return { value: a[1], errno: null, annot: a[2], text: a[1] };
  const sp = ret.indexOf(' ');
  const value = sp < 0 ? ret : ret.slice(0, sp);
  const e = /^\s*(E[A-Z0-9]+)\b/.exec(sp < 0 ? '' : ret.slice(sp));
  const errno = e ? e[1] : null;
  return { value, errno, annot: null, text: errno ? `${value}(${errno})` : clean(value) };
}

/** `N<annotation>` (from -yy) as sysdig's `N(<f>/path)`, else null when the argument is not an annotated fd. */
function fdArg(arg: string): string | null {
  const m = /^(-?\d+|AT_FDCWD)<(.*)>$/s.exec(arg);
  if (m === null) return null;
  return `${m[1]}(${annotation(m[2])})`;
}

/** strace -yy annotation → sysdig's fd type tag and name. */
function annotation(a: string): string {
  if (a.startsWith('/')) {
    // Devices carry their numbers: `/dev/null<char 1:3>`.
    const dev = /^(.*)<(?:char|block) \d+:\d+>$/s.exec(a);
    return `<f>${clean(dev ? dev[1] : a)}`;
  }
  const m = /^([A-Za-z0-9_-]+):\[(.*)\]$/s.exec(a);
  if (m !== null) {
    const kind = m[1];
    const inner = clean(m[2]);
    if (kind === 'TCP') return `<4t>${inner}`;
    if (kind === 'TCPv6') return `<6t>${inner}`;
    if (kind === 'UDP') return `<4u>${inner}`;
    if (kind === 'UDPv6') return `<6u>${inner}`;
    if (kind.startsWith('UNIX')) return `<u>${inner}`;
    if (kind === 'pipe') return '<p>';
    if (kind === 'anon_inode') return `<e>${inner}`;
    return `<o>${clean(kind)}`;
  }
  return `<o>${clean(a)}`;
}

/** The clone flags (`flags=A|B` of clone, clone3's struct), or ''. */
function cloneFlags(args: string[]): string {
  for (const a of args) {
    const m = /(?:^|[{,\s])flags=([A-Z0-9_|]+)/.exec(a);
    if (m !== null) return m[1];
  }
  return '';
}

/** Control characters → '.', whitespace kept as is (sysdig prints values raw). */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(s) ? s.replace(/[\x00-\x1f\x7f]/g, '.') : s;
}

/** Splits an argument list at top-level commas, up to the `)` that closes it. */
export function splitArgs(text: string, from: number): { args: string[]; end: number } {
  const args: string[] = [];
  let depth = 0;
  let start = from;
  let i = from;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i++;
      while (i < n && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
      i++;
      continue;
    }
    if (c === 60 /* < */ && i > start && isAnnotationStart(text, i)) {
      // -yy annotation: its content is opaque (paths may hold commas and brackets).
      const close = annotationEnd(text, i + 1);
      if (close > 0) {
        i = close + 1;
        continue;
      }
    }
    if (c === 40 || c === 91 || c === 123) depth++;
    else if (c === 41 || c === 93 || c === 125) {
      if (depth === 0) {
        if (c === 41) {
          const a = text.slice(start, i).trim();
          if (a !== '' || args.length > 0) args.push(a);
          return { args, end: i + 1 };
        }
      } else depth--;
    } else if (c === 44 && depth === 0) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
    i++;
  }
  const a = text.slice(start).trim();
  if (a !== '') args.push(a);
  return { args, end: -1 };
}

function isAnnotationStart(text: string, i: number): boolean {
  const p = text.charCodeAt(i - 1);
  if (p >= 48 && p <= 57) return true;
  return i >= 8 && text.startsWith('AT_FDCWD', i - 8);
}

/** Index of the `>` that ends an annotation opened before `from`, or -1. */
function annotationEnd(text: string, from: number): number {
  let i = text.indexOf('>', from);
  while (i >= 0) {
    const next = text.charCodeAt(i + 1);
    if (i + 1 >= text.length || next === 44 || next === 41 || next === 93 || next === 125 || next === 32) return i;
    i = text.indexOf('>', i + 1);
  }
  return -1;
}

const ESC: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8, e: 27, '\\': 92, '"': 34, "'": 39, '?': 63 };

/** The value of a strace C string literal (`"…"`, maybe followed by `...`), or null when the argument is not one. */
export function cString(arg: string | undefined): string | null {
  if (arg === undefined || arg.charCodeAt(0) !== 34) return null;
  let end = arg.length - 1;
  if (arg.endsWith('"...')) end = arg.length - 4;
  if (end < 1 || arg.charCodeAt(end) !== 34) return null;
  const body = arg.slice(1, end);
  if (!body.includes('\\')) return body;
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      const code = body.charCodeAt(i);
      if (code < 128) bytes.push(code);
      else for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      continue;
    }
    const nx = body[i + 1];
    if (nx === undefined) break;
    if (nx === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) {
      bytes.push(parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (nx >= '0' && nx <= '7') {
      let j = i + 1;
      let v = 0;
      while (j < body.length && j < i + 4 && body[j] >= '0' && body[j] <= '7') v = v * 8 + (body.charCodeAt(j++) - 48);
      bytes.push(v & 255);
      i = j - 1;
    } else {
      bytes.push(ESC[nx] ?? nx.charCodeAt(0));
      i++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
