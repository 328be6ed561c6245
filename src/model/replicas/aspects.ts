/**
 * The "aspects" of a replica's activity in one time window (the ReplicaWatcher method, El Khairi
 * et al., NDSS 2024): sets of what it did, normalised so that replicas of one service doing the
 * same work give the same sets. Digits are removed (pids, fds, sizes, ports, dates differ between
 * replicas for no security reason), path components that look like container ids are dropped,
 * and file names that look random (temporary files, session ids) are left out of the file-name
 * set.
 *
 * Where these sets differ from the authors' (sysdig-field based) ones, because our events carry a
 * syscall's own arguments rather than sysdig's per-process fields: file operations are syscall +
 * normalised path (theirs: the fd type), arguments are the syscall's argument tokens (theirs: the
 * process's argv), commands are what execve starts, seen when it runs (theirs: the command line
 * of every event's process). Ours are more specific, so normal replicas differ more: the default
 * threshold (src/app/replicas.ts) is measured for these sets, not taken from the paper.
 *
 * Not the encoder's hot loop: a comparison reads each event once and keeps only the sets, but
 * the set sizes are capped per window (what is cut is counted) so a replica that opens a million
 * distinct files cannot grow memory without limit.
 */
import { commandShape, execArgs, normaliseToken, stripDigits } from '../../trace/command.js';
import type { SyscallEvent } from '../../trace/event.js';

export const ASPECTS = [
  'syscalls',
  'categories',
  'directories',
  'files',
  'file_operations',
  'processes',
  'commands',
  'working_directories',
  'arguments',
  'executables',
] as const;
export type Aspect = (typeof ASPECTS)[number];
export const ASPECT_COUNT = ASPECTS.length;
const A = Object.fromEntries(ASPECTS.map((a, i) => [a, i])) as Record<Aspect, number>;

/** Distinct items kept per aspect and window; beyond it items are counted, not kept. */
export const DEFAULT_SET_CAP = 2000;

/**
 * Aspects whose items are also kept per program (the process name) when a window's sets are
 * made for the `programs` similarity: the coarse ones, which say what kind of thing a program
 * does (which calls, where in the file system: three directory levels) and carry no request
 * data. File names, file operations, arguments and working directories name the files a request
 * touched: replicas serving different requests (or holding different uploads) differ in them,
 * and divided by a small program's few items that difference is large (on the replica
 * benchmark, `find` listing the upload directories of users only one replica had: 25 of its 74
 * file operations; nginx serving robots.txt, which its siblings had not been asked for within a
 * window: 3 of its 13). The aspects that name programs (processes, commands, executables) are
 * left out too: per program they would be its own name and the few it started.
 */
export const PROGRAM_ASPECTS: readonly boolean[] = ASPECTS.map((a) => a === 'syscalls' || a === 'categories' || a === 'directories');

/**
 * Programs (distinct process names) per window whose items are kept per program. A web replica
 * runs a few dozen; events of programs beyond it stay in the sets but are attributed to none
 * (counted in `programsCut`), so a replica spawning thousands of names cannot grow memory.
 */
export const PROGRAM_CAP = 64;

/** Coarse syscall categories: a replica that suddenly uses a new kind of call stands out even when the exact call varies. */
const CATEGORY_LISTS: Record<string, readonly string[]> = {
  file: ['open', 'openat', 'openat2', 'creat', 'close', 'read', 'pread', 'pread64', 'readv', 'preadv', 'write', 'pwrite', 'pwrite64', 'writev', 'pwritev', 'lseek', 'llseek', 'stat', 'lstat', 'fstat', 'newfstatat', 'fstatat', 'statx', 'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getdents', 'getdents64', 'sendfile', 'fcntl', 'ioctl', 'fsync', 'fdatasync', 'truncate', 'ftruncate', 'dup', 'dup2', 'dup3', 'pipe', 'pipe2', 'splice', 'flock'],
  filesystem: ['mkdir', 'mkdirat', 'rmdir', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'lchown', 'fchownat', 'chdir', 'fchdir', 'getcwd', 'mount', 'umount', 'umount2', 'chroot', 'pivot_root', 'utimensat', 'statfs', 'fstatfs'],
  network: ['socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'shutdown', 'getsockopt', 'setsockopt', 'getsockname', 'getpeername'],
  process: ['clone', 'clone3', 'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'kill', 'tkill', 'tgkill', 'getpid', 'getppid', 'gettid', 'setsid', 'setpgid', 'prctl', 'arch_prctl', 'set_tid_address', 'unshare', 'setns', 'ptrace'],
  identity: ['setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'getuid', 'geteuid', 'getgid', 'getegid', 'setgroups', 'getgroups', 'capget', 'capset'],
  memory: ['mmap', 'munmap', 'mprotect', 'mremap', 'brk', 'madvise', 'mlock', 'munlock'],
  events: ['poll', 'ppoll', 'select', 'pselect6', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'epoll_create', 'epoll_create1', 'eventfd', 'eventfd2', 'futex', 'nanosleep', 'clock_nanosleep', 'timerfd_create', 'timerfd_settime'],
  signal: ['rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sigaltstack', 'signalfd', 'signalfd4'],
};
const CATEGORY = new Map<string, string>();
for (const [cat, calls] of Object.entries(CATEGORY_LISTS)) for (const c of calls) CATEGORY.set(c, cat);

export function syscallCategory(name: string): string {
  return CATEGORY.get(name) ?? 'other';
}

/** Syscalls whose path argument names a file the call works on (for file operations). */
const PATH_PARAMS = ['name', 'path', 'filename', 'pathname', 'oldpath', 'newpath', 'target', 'linkpath'];
const HEX_ID = /^[0-9a-f]{12,}$/i;
const DIR_LEVELS = 3;

/** A path component that looks like a container or image id (12+ hex digits), e.g. docker's overlay dirs. */
export function isContainerId(component: string): boolean {
  return HEX_ID.test(component);
}

/**
 * A file name that looks generated (mktemp, session files, uploads named by hash): such names
 * differ between replicas doing the same thing. Heuristic, on the stem (before the last dot,
 * without a tmp/sess_/php prefix), 6+ characters: hex of 8+ with a digit, or upper case, lower
 * case and digits mixed, or letters and digits alternating 4+ times (a1b2c3). A name that is
 * a word plus a number (log2021, upload_8273649) is not random: removing digits already makes it
 * the same in every replica.
 */
export function isRandomLooking(name: string): boolean {
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const core = stem.replace(/^(tmp|temp|sess_|php)/i, '');
  if (core.length < 6) return false;
  let digits = 0;
  let lower = 0;
  let upper = 0;
  let switches = 0;
  let prevDigit: boolean | null = null;
  for (let i = 0; i < core.length; i++) {
    const c = core.charCodeAt(i);
    const isDigit = c >= 48 && c <= 57;
    if (isDigit) digits++;
    else if (c >= 97 && c <= 122) lower++;
    else if (c >= 65 && c <= 90) upper++;
    else {
      prevDigit = null;
      continue;
    }
    if (prevDigit !== null && prevDigit !== isDigit) switches++;
    prevDigit = isDigit;
  }
  if (/^[0-9a-f]{8,}$/i.test(core) && digits > 0) return true;
  if (switches >= 4) return true;
  return lower > 0 && upper > 0 && digits > 0 && /^[A-Za-z0-9_-]+$/.test(core);
}

/** A path with container-id components dropped and digits removed; '' when nothing is left. */
export function normalisePath(p: string): string {
  const parts = p.split('/');
  const kept: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const c = parts[i];
    if (i > 0 && c === '') continue;
    if (isContainerId(c)) continue;
    const d = stripDigits(c);
    // A component that was only a number (/proc/1234/…) goes entirely.
    if (i > 0 && d === '') continue;
    kept.push(d);
  }
  return kept.join('/');
}

/** The first three directory levels of an absolute path's directory, e.g. /var/www/html for /var/www/html/a/b.html. */
export function directoryOf(p: string): string | null {
  if (!p.startsWith('/')) return null;
  const parts = p.split('/').filter((c) => c !== '' && !isContainerId(c));
  parts.pop(); // the file itself
  if (parts.length === 0) return '/';
  return '/' + parts.slice(0, DIR_LEVELS).map(stripDigits).join('/');
}

/**
 * A path read from an argument: sysdig/LID-DS write `fd=9(<f>/etc/passwd)` and `name=/etc/passwd`,
 * sometimes with a trailing `(...)` annotation; anything not starting with '/' after that is no path.
 */
function cleanPath(v: string): string | null {
  let s = v;
  const f = s.indexOf('(<f>');
  if (f >= 0) s = s.slice(f + 4, s.endsWith(')') ? -1 : undefined);
  const paren = s.indexOf('(');
  if (paren > 0) s = s.slice(0, paren);
  return s.startsWith('/') ? s : null;
}

/**
 * The sets of one replica in one window, capped; `cut` counts items not kept per aspect.
 * `counts` holds how often each kept item was seen (for the `share` similarity, which compares
 * how a replica's activity is spread over its items, not only which items it showed).
 */
export class AspectSets {
  readonly sets: Set<string>[] = ASPECTS.map(() => new Set<string>());
  readonly counts: Map<string, number>[] = ASPECTS.map(() => new Map<string, number>());
  readonly cut = new Array<number>(ASPECT_COUNT).fill(0);
  events = 0;
  /**
   * With `byProgram`: per program (process name, digits removed), its items of each aspect in
   * PROGRAM_ASPECTS (a subset of the kept items, so capped with them), for the `programs`
   * similarity; null otherwise (the other similarities do not need it).
   */
  readonly programs: Map<string, Set<string>[]> | null;
  /** Events of programs beyond PROGRAM_CAP (in the sets, attributed to no program). */
  programsCut = 0;
  private program: Set<string>[] | null = null;

  constructor(
    readonly cap: number = DEFAULT_SET_CAP,
    opts: { byProgram?: boolean } = {},
  ) {
    this.programs = opts.byProgram ? new Map() : null;
  }

  /** The program the next items come from (with `byProgram`; ignored otherwise). */
  setProgram(name: string): void {
    if (this.programs === null) return;
    let p = this.programs.get(name);
    if (p === undefined && this.programs.size < PROGRAM_CAP) this.programs.set(name, (p = ASPECTS.map(() => new Set<string>())));
    if (p === undefined) this.programsCut++;
    this.program = p ?? null;
  }

  /** `n` occurrences of `item` (one event's, or a merged window's count). */
  add(aspect: number, item: string, n = 1): void {
    if (item === '') return;
    const s = this.sets[aspect];
    const c = this.counts[aspect];
    if (s.has(item)) c.set(item, (c.get(item) as number) + n);
    else if (s.size >= this.cap) {
      this.cut[aspect] += n;
      return;
    } else {
      s.add(item);
      c.set(item, n);
    }
    if (this.program !== null && PROGRAM_ASPECTS[aspect]) this.program[aspect].add(item);
  }

  /** Items a program showed in one aspect, from a window merged into this one (kept ones only: they are in the sets already). */
  addProgramItems(name: string, aspect: number, items: readonly string[]): void {
    if (this.programs === null || !PROGRAM_ASPECTS[aspect]) return;
    let p = this.programs.get(name);
    if (p === undefined) {
      if (this.programs.size >= PROGRAM_CAP) {
        this.programsCut++;
        return;
      }
      this.programs.set(name, (p = ASPECTS.map(() => new Set<string>())));
    }
    for (const it of items) if (this.sets[aspect].has(it)) p[aspect].add(it);
  }

  get empty(): boolean {
    return this.events === 0;
  }
}

/**
 * Adds what one event shows to a window's sets. `syscall` is the event's name (the caller has
 * the name table). Both the enter and the exit line of a call are read: sysdig puts the path on
 * one or the other depending on the call, and the sets absorb the duplicate.
 */
export function addEvent(into: AspectSets, ev: SyscallEvent, syscall: string): void {
  into.events++;
  const proc = stripDigits(ev.proc());
  into.setProgram(proc);
  into.add(A.syscalls, syscall);
  into.add(A.categories, syscallCategory(syscall));
  into.add(A.processes, proc);
  const args = ev.argsText();
  if (args === '') return;
  // Arguments: each key=value token without digits; tokens that are only a number (or a bare
  // `key=` once digits are gone) carry nothing a replica would share.
  for (const tok of args.split(/\s+/)) {
    const t = normaliseToken(tok);
    if (t !== '' && !t.endsWith('=')) into.add(A.arguments, syscall + ' ' + t);
  }
  for (const key of PATH_PARAMS) {
    const v = ev.param(key);
    if (v === undefined) continue;
    addPath(into, syscall, v);
  }
  const fd = ev.param('fd');
  if (fd?.includes('(<f>')) addPath(into, syscall, fd);
  const exe = ev.param('exe');
  if (exe !== undefined && exe !== '') {
    const p = cleanPath(exe) ?? exe;
    into.add(A.executables, normalisePath(p));
    if (syscall === 'execve' || syscall === 'execveat') {
      // sysdig writes execve's argv joined by '.', e.g. `-c.id.`; chids' strace converter writes
      // it base64-encoded (NUL-separated, like the kernel's), which would make every command
      // line one opaque '*': decoded, a web app's `sqlite3 … SELECT …` differs by its query.
      const a = execArgs(ev);
      into.add(A.commands, normalisePath(p) + (a ? ' ' + commandShape(a, p) : ''));
    }
  }
  const cwd = ev.param('cwd');
  if (cwd !== undefined && cwd !== '') into.add(A.working_directories, normalisePath(cwd));
}

function addPath(into: AspectSets, syscall: string, raw: string): void {
  const p = cleanPath(raw);
  if (p === null) return;
  const norm = normalisePath(p);
  into.add(A.file_operations, syscall + ' ' + norm);
  const dir = directoryOf(p);
  if (dir !== null) into.add(A.directories, dir);
  const slash = p.lastIndexOf('/');
  const base = p.slice(slash + 1);
  if (base !== '' && !isRandomLooking(base)) into.add(A.files, stripDigits(base));
}

/**
 * A window's sets as plain data, for a message (chids fleet's window messages): per aspect
 * (by name) its items, their counts in the same order, and, when the sets were kept per
 * program, each program's items of the PROGRAM_ASPECTS. {@link mergeWindowSets} reads it back.
 */
export interface WindowSetsData {
  aspects: Record<string, string[]>;
  counts: Record<string, number[]>;
  programs?: Record<string, Record<string, string[]>>;
  /** Items left out by the cap (summed over aspects). */
  cut: number;
}

export function windowSetsData(sets: AspectSets): WindowSetsData {
  const aspects: Record<string, string[]> = {};
  const counts: Record<string, number[]> = {};
  let cut = 0;
  for (let a = 0; a < ASPECT_COUNT; a++) {
    cut += sets.cut[a];
    if (sets.sets[a].size === 0) continue;
    const items = [...sets.sets[a]];
    aspects[ASPECTS[a]] = items;
    counts[ASPECTS[a]] = items.map((i) => sets.counts[a].get(i) as number);
  }
  if (sets.programs === null) return { aspects, counts, cut };
  const programs: Record<string, Record<string, string[]>> = {};
  for (const [name, ps] of sets.programs) {
    const mine: Record<string, string[]> = {};
    for (let a = 0; a < ASPECT_COUNT; a++) if (PROGRAM_ASPECTS[a] && ps[a].size > 0) mine[ASPECTS[a]] = [...ps[a]];
    if (Object.keys(mine).length > 0) programs[name] = mine;
  }
  return { aspects, counts, programs, cut };
}

/**
 * Adds a window given as data (a fleet message's) to `into`: each item with its count (1 each
 * when the message has none: an agent from before counts were sent), then the programs' items.
 */
export function mergeWindowSets(into: AspectSets, w: { aspects: Record<string, readonly string[]>; counts?: Record<string, readonly number[]>; programs?: Record<string, Record<string, readonly string[]>> }): void {
  for (let a = 0; a < ASPECT_COUNT; a++) {
    const items = w.aspects[ASPECTS[a]];
    if (!Array.isArray(items)) continue;
    const counts = w.counts?.[ASPECTS[a]];
    for (let i = 0; i < items.length; i++) {
      if (typeof items[i] !== 'string') continue;
      const n = Array.isArray(counts) ? counts[i] : undefined;
      into.add(a, items[i], typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : 1);
    }
  }
  // From the wire: anything but an object of programs is left out.
  if (w.programs === null || typeof w.programs !== 'object' || into.programs === null) return;
  for (const [name, byAspect] of Object.entries(w.programs)) {
    for (let a = 0; a < ASPECT_COUNT; a++) {
      const items = byAspect?.[ASPECTS[a]];
      if (Array.isArray(items)) into.addProgramItems(name, a, items.filter((i) => typeof i === 'string'));
    }
  }
}
