/**
 * strace → LID-DS 2021: turns the output of `strace -f -ttt -T -yy` (one file, all processes)
 * into `.sc` lines `ts_ns uid pid proc tid syscall dir params…`, the format of the LID-DS 2021
 * recordings (and of chids' LID-DS reader).
 *
 * Pure and streaming: push strace lines in order, get `.sc` lines back; the state is the live
 * threads and their unfinished calls, nothing else. Never throws on input: a line it cannot
 * read is counted in `stats.skipped` and dropped.
 *
 * What it does with each kind of strace line:
 *
 * | strace                                          | `.sc`                                            |
 * |-------------------------------------------------|--------------------------------------------------|
 * | `T ts name(args) = r <dur>`                     | enter at ts, exit at ts + dur                    |
 * | `T ts name(args <unfinished ...>`               | enter at ts                                      |
 * | `T ts <... name resumed>rest) = r <dur>`        | exit at ts (the args of both halves joined)      |
 * | `T ts +++ exited with N +++` / `+++ killed …`   | `procexit > status=N`                            |
 * | `T ts --- SIGCHLD {…} ---`, anything else       | dropped                                          |
 *
 * Params follow sysdig/LID-DS so that chids' argument reader finds them by name:
 * open/openat/openat2/creat → exit `fd=N(<f>/path) name=/path flags=… mode=…`;
 * stat/lstat/newfstatat/statx → exit `res=R path=/path`; execve/execveat → enter
 * `filename=/path`, exit `res=R exe=argv0 args=BASE64(argv[1..] NUL-joined) …`;
 * clone/clone3/fork/vfork → exit `res=PID exe=/path/of/the/process …` (and a `clone < res=0`
 * for the child when it first shows up, as sysdig records one in the child); every other exit
 * carries `res=R` (`-2(ENOENT)` for errors, fds with their `(<f>/path)`), and enters a few
 * named raw args (fd, size, …). Buffers (read/write data) are not recorded.
 *
 * Processes: pid = thread group (threads are clones with CLONE_THREAD), proc = the kernel's
 * comm (basename of the executed file, 15 chars), uid = the effective uid, followed through
 * setuid/setreuid/setresuid. A thread that shows up before its parent's clone returns belongs
 * to the one thread inside an unfinished clone; when two or more are (a server spawning while a
 * script forks), its lines wait until a clone returns its id (then it is that thread's child) or
 * until only one such thread is left, at most HOLD_LINES lines or HOLD_NS of trace time, after
 * which the latest unfinished clone is taken as its parent (counted in `stats.guessedParents`).
 * Named after the wrong parent, a child's first calls showed a program its siblings never ran.
 *
 * Timestamps: strace's epoch time (µs with -ttt, ns with
 * --absolute-timestamps=format:unix,precision:ns) in ns. Output is kept in time order: an event
 * stamped earlier than the one before it (strace's clock readings of two threads can cross by
 * a few µs) is written at the previous time and counted in `stats.clamped`.
 */
import {
  decodeCString,
  fdPath,
  fdValue,
  plainValue,
  sockaddrValue,
  splitArgs,
  splitFd,
  stringArray,
  stringValue,
  tokenSafe,
} from './args.js';
import { CLONE_FAMILY } from '../syscall-families.js';

export interface StraceConverterOptions {
  /** Effective uid of the first (root) process of the trace. Default 0. */
  rootUid?: number;
  /** Process name of a thread seen before its first execve (the root). Default `<NA>`. */
  rootProc?: string;
  /** Write only events at or after this time (epoch ns). State is still followed before it. */
  fromNs?: bigint | null;
  /** Write only events before this time (epoch ns). */
  toNs?: bigint | null;
}

export interface StraceConverterStats {
  /** strace lines pushed. */
  lines: number;
  /** `.sc` lines produced (inside the time range). */
  events: number;
  /** Events outside [fromNs, toNs). */
  outside: number;
  /** Lines that were not a syscall, an exit or a signal (or could not be read). */
  skipped: number;
  /** Signal deliveries dropped. */
  signals: number;
  /** Events moved forward to keep the output in time order. */
  clamped: number;
  /** Exits of calls that were never seen entering. */
  orphanResumes: number;
  /** New threads that showed up while several threads were inside a clone (their lines waited for the clone that returned them). */
  heldChildren: number;
  /** Of those, the ones whose parent was still not known when their wait ended: given the latest unfinished clone. */
  guessedParents: number;
  /** First and last timestamp written (epoch ns), or null. */
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** Event counts by syscall name (written events only). */
  syscalls: Map<string, number>;
}

interface Proc {
  /** comm: basename of the executed file, at most 15 characters. */
  name: string;
  /** Path of the executed file. */
  exe: string;
}

interface Thread {
  tid: number;
  pid: number;
  /** The thread that created it (0 for a root). */
  ptid: number;
  uid: number;
  proc: Proc;
}

interface Pending {
  name: string;
  /** The argument text printed before `<unfinished ...>`. */
  args: string;
}

const COMM_LEN = 15;
const MAX_PENDING_CLONES = 64;
/**
 * How long a new thread's lines wait for the clone that returns it, when its parent is not
 * certain: its clone returns within microseconds (a vfork parent once the child has exec'd), so
 * these bounds are reached only when that line never comes (the parent was killed, or is
 * untraced).
 */
const HOLD_LINES = 256;
const HOLD_NS = 200_000_000n;
const ERRNO: Record<string, number> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, EWOULDBLOCK: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15,
  EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22,
  ENFILE: 23, EMFILE: 24, ENOTTY: 25, ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29,
  EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33, ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36,
  ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENOMSG: 42, EIDRM: 43, ENODATA: 61,
  ETIME: 62, EOVERFLOW: 75, EBADFD: 77, EILSEQ: 84, ENOTSOCK: 88, EDESTADDRREQ: 89,
  EMSGSIZE: 90, EPROTOTYPE: 91, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95, ENOTSUP: 95, EPFNOSUPPORT: 96, EAFNOSUPPORT: 97, EADDRINUSE: 98,
  EADDRNOTAVAIL: 99, ENETDOWN: 100, ENETUNREACH: 101, ENETRESET: 102, ECONNABORTED: 103,
  ECONNRESET: 104, ENOBUFS: 105, EISCONN: 106, ENOTCONN: 107, ESHUTDOWN: 108,
  ETOOMANYREFS: 109, ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTDOWN: 112, EHOSTUNREACH: 113,
  EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EDQUOT: 122, ECANCELED: 125,
  EOWNERDEAD: 130, ENOTRECOVERABLE: 131, ERESTARTSYS: 512, ERESTARTNOINTR: 513,
  ERESTARTNOHAND: 514, ENOIOCTLCMD: 515, ERESTART_RESTARTBLOCK: 516,
};

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22,
  SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
};

type Kind = 'fd' | 'str' | 'raw' | 'addr';
/** Named enter params by argument position: [position, name, kind]. */
type ParamSpec = readonly (readonly [number, string, Kind])[];

const ENTER: Record<string, ParamSpec> = {
  read: [[0, 'fd', 'fd'], [2, 'size', 'raw']],
  pread64: [[0, 'fd', 'fd'], [2, 'size', 'raw'], [3, 'pos', 'raw']],
  readv: [[0, 'fd', 'fd']],
  preadv: [[0, 'fd', 'fd']],
  write: [[0, 'fd', 'fd'], [2, 'size', 'raw']],
  pwrite64: [[0, 'fd', 'fd'], [2, 'size', 'raw'], [3, 'pos', 'raw']],
  writev: [[0, 'fd', 'fd']],
  pwritev: [[0, 'fd', 'fd']],
  close: [[0, 'fd', 'fd']],
  fstat: [[0, 'fd', 'fd']],
  fsync: [[0, 'fd', 'fd']],
  fdatasync: [[0, 'fd', 'fd']],
  ftruncate: [[0, 'fd', 'fd'], [1, 'length', 'raw']],
  lseek: [[0, 'fd', 'fd'], [1, 'offset', 'raw'], [2, 'whence', 'raw']],
  getdents64: [[0, 'fd', 'fd']],
  getdents: [[0, 'fd', 'fd']],
  fcntl: [[0, 'fd', 'fd'], [1, 'cmd', 'raw']],
  ioctl: [[0, 'fd', 'fd'], [1, 'request', 'raw']],
  flock: [[0, 'fd', 'fd'], [1, 'operation', 'raw']],
  dup: [[0, 'fd', 'fd']],
  dup2: [[0, 'fd', 'fd']],
  dup3: [[0, 'fd', 'fd']],
  mmap: [[0, 'addr', 'raw'], [1, 'length', 'raw'], [2, 'prot', 'raw'], [3, 'flags', 'raw'], [4, 'fd', 'fd'], [5, 'offset', 'raw']],
  munmap: [[0, 'addr', 'raw'], [1, 'length', 'raw']],
  mprotect: [[0, 'addr', 'raw'], [1, 'length', 'raw'], [2, 'prot', 'raw']],
  brk: [[0, 'addr', 'raw']],
  socket: [[0, 'domain', 'raw'], [1, 'type', 'raw'], [2, 'proto', 'raw']],
  bind: [[0, 'fd', 'fd']],
  connect: [[0, 'fd', 'fd']],
  listen: [[0, 'fd', 'fd'], [1, 'backlog', 'raw']],
  accept: [[0, 'fd', 'fd']],
  accept4: [[0, 'fd', 'fd'], [3, 'flags', 'raw']],
  sendto: [[0, 'fd', 'fd'], [2, 'size', 'raw']],
  recvfrom: [[0, 'fd', 'fd'], [2, 'size', 'raw']],
  sendmsg: [[0, 'fd', 'fd']],
  recvmsg: [[0, 'fd', 'fd']],
  sendmmsg: [[0, 'fd', 'fd']],
  shutdown: [[0, 'fd', 'fd'], [1, 'how', 'raw']],
  setsockopt: [[0, 'fd', 'fd'], [1, 'level', 'raw'], [2, 'optname', 'raw']],
  getsockopt: [[0, 'fd', 'fd'], [1, 'level', 'raw'], [2, 'optname', 'raw']],
  getsockname: [[0, 'fd', 'fd']],
  getpeername: [[0, 'fd', 'fd']],
  sendfile: [[0, 'out_fd', 'fd'], [1, 'in_fd', 'fd'], [3, 'size', 'raw']],
  splice: [[0, 'fd_in', 'fd'], [2, 'fd_out', 'fd'], [4, 'size', 'raw']],
  epoll_wait: [[0, 'epfd', 'fd'], [2, 'maxevents', 'raw'], [3, 'timeout', 'raw']],
  epoll_pwait: [[0, 'epfd', 'fd'], [2, 'maxevents', 'raw'], [3, 'timeout', 'raw']],
  epoll_ctl: [[0, 'epfd', 'fd'], [1, 'op', 'raw'], [2, 'fd', 'fd']],
  epoll_create1: [[0, 'flags', 'raw']],
  poll: [[2, 'timeout', 'raw']],
  ppoll: [],
  futex: [[0, 'addr', 'raw'], [1, 'op', 'raw'], [2, 'val', 'raw']],
  kill: [[0, 'pid', 'raw'], [1, 'sig', 'raw']],
  tgkill: [[0, 'pid', 'raw'], [1, 'tid', 'raw'], [2, 'sig', 'raw']],
  tkill: [[0, 'tid', 'raw'], [1, 'sig', 'raw']],
  setuid: [[0, 'uid', 'raw']],
  setgid: [[0, 'gid', 'raw']],
  setresuid: [[0, 'ruid', 'raw'], [1, 'euid', 'raw'], [2, 'suid', 'raw']],
  setresgid: [[0, 'rgid', 'raw'], [1, 'egid', 'raw'], [2, 'sgid', 'raw']],
  setreuid: [[0, 'ruid', 'raw'], [1, 'euid', 'raw']],
  setregid: [[0, 'rgid', 'raw'], [1, 'egid', 'raw']],
  setgroups: [],
  chdir: [[0, 'path', 'str']],
  fchdir: [[0, 'fd', 'fd']],
  exit: [[0, 'status', 'raw']],
  exit_group: [[0, 'status', 'raw']],
  wait4: [[0, 'pid', 'raw']],
  prctl: [[0, 'option', 'raw']],
  prlimit64: [[0, 'pid', 'raw'], [1, 'resource', 'raw']],
  umask: [[0, 'mask', 'raw']],
  unshare: [[0, 'flags', 'raw']],
  setns: [[0, 'fd', 'fd'], [1, 'nstype', 'raw']],
  ptrace: [[0, 'request', 'raw'], [1, 'pid', 'raw']],
  pipe2: [[1, 'flags', 'raw']],
  eventfd2: [[0, 'initval', 'raw'], [1, 'flags', 'raw']],
  nanosleep: [],
  clock_nanosleep: [],
  sched_yield: [],
};

/** Exit params beyond `res`, by argument position (calls whose paths sysdig shows on exit). */
const EXIT: Record<string, ParamSpec> = {
  access: [[0, 'name', 'str'], [1, 'mode', 'raw']],
  faccessat: [[0, 'dirfd', 'fd'], [1, 'name', 'str'], [2, 'mode', 'raw']],
  faccessat2: [[0, 'dirfd', 'fd'], [1, 'name', 'str'], [2, 'mode', 'raw']],
  readlink: [[0, 'path', 'str']],
  readlinkat: [[0, 'dirfd', 'fd'], [1, 'path', 'str']],
  unlink: [[0, 'path', 'str']],
  unlinkat: [[0, 'dirfd', 'fd'], [1, 'name', 'str'], [2, 'flags', 'raw']],
  mkdir: [[0, 'path', 'str'], [1, 'mode', 'raw']],
  mkdirat: [[0, 'dirfd', 'fd'], [1, 'path', 'str'], [2, 'mode', 'raw']],
  rmdir: [[0, 'path', 'str']],
  rename: [[0, 'oldpath', 'str'], [1, 'newpath', 'str']],
  renameat: [[0, 'olddirfd', 'fd'], [1, 'oldpath', 'str'], [2, 'newdirfd', 'fd'], [3, 'newpath', 'str']],
  renameat2: [[0, 'olddirfd', 'fd'], [1, 'oldpath', 'str'], [2, 'newdirfd', 'fd'], [3, 'newpath', 'str']],
  link: [[0, 'oldpath', 'str'], [1, 'newpath', 'str']],
  linkat: [[1, 'oldpath', 'str'], [3, 'newpath', 'str']],
  symlink: [[0, 'target', 'str'], [1, 'linkpath', 'str']],
  symlinkat: [[0, 'target', 'str'], [2, 'linkpath', 'str']],
  chmod: [[0, 'filename', 'str'], [1, 'mode', 'raw']],
  fchmodat: [[0, 'dirfd', 'fd'], [1, 'filename', 'str'], [2, 'mode', 'raw']],
  chown: [[0, 'path', 'str'], [1, 'uid', 'raw'], [2, 'gid', 'raw']],
  fchownat: [[0, 'dirfd', 'fd'], [1, 'pathname', 'str'], [2, 'uid', 'raw'], [3, 'gid', 'raw']],
  truncate: [[0, 'path', 'str']],
  mount: [[0, 'dev', 'str'], [1, 'dir', 'str'], [2, 'type', 'str']],
  umount2: [[0, 'name', 'str']],
  chroot: [[0, 'path', 'str']],
  pivot_root: [[0, 'new_root', 'str'], [1, 'put_old', 'str']],
  getcwd: [[0, 'path', 'str']],
  connect: [[1, 'tuple', 'addr']],
  bind: [[1, 'addr', 'addr']],
  sendto: [[4, 'tuple', 'addr']],
};

/** Arguments (position of the path, flags, mode) of the open family. */
const OPEN_FAMILY: Record<string, { path: number; flags: number; mode: number; dirfd: number }> = {
  open: { path: 0, flags: 1, mode: 2, dirfd: -1 },
  openat: { path: 1, flags: 2, mode: 3, dirfd: 0 },
  openat2: { path: 1, flags: 2, mode: -1, dirfd: 0 },
  creat: { path: 0, flags: -1, mode: 1, dirfd: -1 },
};

/** Position of the path argument of the stat family. */
const STAT_FAMILY: Record<string, number> = {
  stat: 0,
  stat64: 0,
  lstat: 0,
  lstat64: 0,
  newfstatat: 1,
  fstatat64: 1,
  statx: 1,
};

const SETUID_FAMILY = new Set(['setuid', 'setreuid', 'setresuid', 'setuid32', 'setreuid32', 'setresuid32']);

/** `[pid N] ` or `N ` then the epoch time (`1631078867.380457` or `…380457267`; 10+ digit seconds) then the rest. */
const HEAD = /^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(\d{10,12})\.(\d{1,9})\s+(.*)$/s;
const NAME_OPEN = /^([A-Za-z_][A-Za-z0-9_]*)\(/;
const RESUMED = /^<\.\.\.\s+([A-Za-z_][A-Za-z0-9_]*)\s+resumed>\s?(.*)$/s;
const UNFINISHED = /\s*<unfinished \.\.\.>\s*$/;
const PIDNS_MARK = "in strace's PID NS";
const PIDNS_NOTE = /^\s*=\s*\d+\s+\/\*\s*(\d+) in strace's PID NS\s*\*\//;
const DURATION = /\s+<(\d+)(?:\.(\d{1,9}))?>\s*$/;
const EXITED = /^\+\+\+ exited with (-?\d+) \+\+\+/;
const KILLED = /^\+\+\+ killed by (SIG[A-Z0-9+]+)(?: \(core dumped\))? \+\+\+/;

export class StraceToLidds {
  readonly stats: StraceConverterStats = {
    lines: 0,
    events: 0,
    outside: 0,
    skipped: 0,
    signals: 0,
    clamped: 0,
    orphanResumes: 0,
    heldChildren: 0,
    guessedParents: 0,
    firstNs: null,
    lastNs: null,
    syscalls: new Map(),
  };

  private readonly threads = new Map<number, Thread>();
  private readonly pending = new Map<number, Pending>();
  /** Threads inside a clone-family call, most recent last (for children seen before the return). */
  private readonly cloning: number[] = [];
  /** New threads whose parent is not certain yet: their lines, and the time of the first. */
  private readonly held = new Map<number, { lines: string[]; since: bigint }>();
  private readonly rootUid: number;
  private readonly rootProc: string;
  private readonly fromNs: bigint | null;
  private readonly toNs: bigint | null;
  private lastNs = -1n;
  private out: string[] = [];

  constructor(opts: StraceConverterOptions = {}) {
    this.rootUid = opts.rootUid ?? 0;
    this.rootProc = commOf(opts.rootProc ?? '<NA>');
    this.fromNs = opts.fromNs ?? null;
    this.toNs = opts.toNs ?? null;
  }

  /**
   * Converts one strace line (without its newline) and appends the `.sc` lines it yields
   * (without newlines) to `out`. Never throws.
   */
  push(line: string, out: string[]): void {
    this.stats.lines++;
    this.out = out;
    this.convert(line);
  }

  /**
   * The end of the trace: writes the lines of threads still waiting for their parent's clone to
   * return (to the latest unfinished clone, as guessed parent) into `out`.
   */
  end(out: string[]): void {
    this.out = out;
    for (const tid of [...this.held.keys()]) this.release(tid);
  }

  private convert(line: string): void {
    try {
      if (!this.line(line)) this.stats.skipped++;
      if (this.held.size > 0) this.settle();
    } catch {
      // Defensive: a bug in a corner of the decoding must not lose the recording.
      this.stats.skipped++;
    }
  }

  /** Convenience: converts a whole text (several lines). */
  convertText(text: string): string[] {
    const out: string[] = [];
    for (const l of text.split('\n')) if (l.length > 0) this.push(l, out);
    this.end(out);
    return out;
  }

  /** Calls still unfinished (their enter was written, their exit never came). */
  get unfinished(): number {
    return this.pending.size;
  }

  // -------------------------------------------------------------------------------------------

  private line(raw: string): boolean {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const m = HEAD.exec(line);
    if (m === null) return false;
    const tidText = m[1] ?? m[2];
    const tid = tidText === undefined ? this.defaultTid() : Number(tidText);
    if (!Number.isSafeInteger(tid) || tid < 0) return false;
    const ts = BigInt(m[3]) * 1_000_000_000n + BigInt(m[4].padEnd(9, '0'));
    if (this.held.size > 0 && this.hold(tid, ts, line)) return true;
    if (!this.threads.has(tid) && this.candidates(tid) >= 2) {
      this.held.set(tid, { lines: [line], since: ts });
      this.stats.heldChildren++;
      return true;
    }
    const body = m[5];

    if (body.startsWith('---')) {
      this.stats.signals++;
      return true;
    }
    if (body.startsWith('+++')) return this.exitLine(tid, ts, body);

    const res = RESUMED.exec(body);
    if (res !== null) return this.resumed(tid, ts, res[1], res[2]);

    const open = NAME_OPEN.exec(body);
    if (open === null) return false;
    const name = open[1];
    let rest = body.slice(open[0].length);
    if (UNFINISHED.test(rest)) {
      rest = rest.replace(UNFINISHED, '');
      const th = this.thread(tid, ts);
      this.emitEnter(th, ts, name, rest);
      this.pending.set(tid, { name, args: rest });
      if (CLONE_FAMILY.has(name)) this.noteCloning(tid);
      return true;
    }
    const th = this.thread(tid, ts);
    const call = parseCall(rest);
    this.emitEnter(th, ts, name, rest);
    if (call === null) return true; // an enter without a readable return (e.g. a cut-off line)
    const exitTs = ts + call.durNs;
    this.finishCall(th, exitTs, name, call);
    return true;
  }

  private defaultTid(): number {
    // Without -f (or with one process), strace omits the pid: use the only thread we know.
    const first = this.threads.keys().next();
    return first.done ? 0 : first.value;
  }

  private resumed(tid: number, ts: bigint, name: string, rest: string): boolean {
    const p = this.pending.get(tid);
    let args = rest;
    if (p !== undefined && p.name === name) {
      this.pending.delete(tid);
      args = p.args + rest;
    } else {
      this.stats.orphanResumes++;
    }
    this.dropCloning(tid);
    const th = this.thread(tid, ts);
    const call = parseCall(args);
    if (call === null) return true;
    // The resumed line is stamped when the call returned: that is the exit time.
    this.finishCall(th, ts, name, call);
    return true;
  }

  private exitLine(tid: number, ts: bigint, body: string): boolean {
    let status: string | null = null;
    const ex = EXITED.exec(body);
    if (ex !== null) status = ex[1];
    else {
      const k = KILLED.exec(body);
      if (k !== null) status = `${SIGNALS[k[1]] ?? 0}(${k[1]})`;
    }
    if (status === null) return body.includes('superseded by execve') || body.includes('detached');
    const th = this.thread(tid, ts);
    this.write(th, ts, 'procexit', '>', [`status=${status}`]);
    this.threads.delete(tid);
    this.pending.delete(tid);
    this.dropCloning(tid);
    return true;
  }

  /** Threads other than `tid` inside an unfinished clone: the parents a new thread `tid` may have. */
  private candidates(tid: number): number {
    let n = 0;
    for (const c of this.cloning) if (c !== tid && this.threads.has(c)) n++;
    return n;
  }

  /**
   * With threads waiting for their parent: keeps the line if it is one of theirs (true), and ends
   * the waits that are over (the bounds passed, or one possible parent left).
   */
  private hold(tid: number, ts: bigint, line: string): boolean {
    const mine = this.held.get(tid);
    if (mine !== undefined) mine.lines.push(line);
    for (const [t, h] of this.held) {
      if (h.lines.length >= HOLD_LINES || ts - h.since > HOLD_NS) this.release(t);
    }
    return mine !== undefined;
  }

  /** Converts the lines of a waiting thread; a parent not known by then is the latest unfinished clone. */
  private release(tid: number): void {
    const h = this.held.get(tid);
    if (h === undefined) return;
    this.held.delete(tid);
    if (!this.threads.has(tid)) {
      if (this.candidates(tid) >= 2) this.stats.guessedParents++;
      this.thread(tid, h.since);
    }
    for (const l of h.lines) this.convert(l);
  }

  /** After a clone returned or a thread left: waits that now have their answer end. */
  private settle(): void {
    for (const tid of [...this.held.keys()]) if (this.threads.has(tid) || this.candidates(tid) <= 1) this.release(tid);
  }

  /** The thread `tid`, created on first sight (from a parent inside clone, else as a root). */
  private thread(tid: number, ts: bigint): Thread {
    const known = this.threads.get(tid);
    if (known !== undefined) return known;
    let parent: Thread | undefined;
    let isThread = false;
    for (let i = this.cloning.length - 1; i >= 0; i--) {
      const cand = this.threads.get(this.cloning[i]);
      if (cand !== undefined && cand.tid !== tid) {
        parent = cand;
        const p = this.pending.get(cand.tid);
        isThread = p !== undefined && p.args.includes('CLONE_THREAD');
        this.cloning.splice(i, 1);
        break;
      }
    }
    if (parent === undefined) {
      const th: Thread = { tid, pid: tid, ptid: 0, uid: this.rootUid, proc: { name: this.rootProc, exe: '' } };
      this.threads.set(tid, th);
      return th;
    }
    const call = this.pending.get(parent.tid);
    const th = this.childOf(parent, tid, isThread);
    // sysdig records the clone's return in the child too.
    const args = call === undefined ? [] : splitArgs(call.args).args;
    this.write(th, ts, call?.name ?? 'clone', '<', this.cloneParams(th, 0, args));
    return th;
  }

  private childOf(parent: Thread, tid: number, isThread: boolean): Thread {
    const th: Thread = {
      tid,
      pid: isThread ? parent.pid : tid,
      ptid: parent.tid,
      uid: parent.uid,
      proc: isThread ? parent.proc : { name: parent.proc.name, exe: parent.proc.exe },
    };
    this.threads.set(tid, th);
    return th;
  }

  private noteCloning(tid: number): void {
    this.dropCloning(tid);
    this.cloning.push(tid);
    if (this.cloning.length > MAX_PENDING_CLONES) this.cloning.shift();
  }

  private dropCloning(tid: number): void {
    const i = this.cloning.indexOf(tid);
    if (i >= 0) this.cloning.splice(i, 1);
  }

  // ---- events ------------------------------------------------------------------------------

  private emitEnter(th: Thread, ts: bigint, name: string, argText: string): void {
    const args = splitArgs(argText).args;
    const params: string[] = [];
    if (name === 'execve') params.push(`filename=${stringValue(args[0])}`);
    else if (name === 'execveat') params.push(`dirfd=${fdValue(args[0])}`, `filename=${stringValue(args[1])}`);
    else {
      const spec = ENTER[name];
      if (spec !== undefined) {
        for (const [pos, key, kind] of spec) if (pos < args.length) params.push(`${key}=${value(args[pos], kind)}`);
      }
    }
    this.write(th, ts, name, '>', params);
  }

  private finishCall(th: Thread, ts: bigint, name: string, call: ParsedCall): void {
    const { args, ret } = call;
    if (ret.unknown) return; // `= ?`: the thread is gone (exit, exit_group, killed)
    const res = ret.text;
    const params: string[] = [];
    const open = OPEN_FAMILY[name];
    const statPos = STAT_FAMILY[name];
    if (open !== undefined) {
      params.push(`fd=${res}`, `name=${stringValue(args[open.path])}`);
      if (name === 'openat2') {
        const how = args[2] ?? '';
        const f = /flags=([^,}]*)/.exec(how);
        const md = /mode=([^,}]*)/.exec(how);
        params.push(`flags=${tokenSafe(f ? f[1].trim() : '0')}`, `mode=${tokenSafe(md ? md[1].trim() : '0')}`);
      } else {
        params.push(`flags=${open.flags >= 0 ? plainValue(args[open.flags] ?? '0') : 'O_CREAT|O_WRONLY|O_TRUNC'}`);
        params.push(`mode=${open.mode >= 0 ? plainValue(args[open.mode] ?? '0') : '0'}`);
      }
      if (open.dirfd >= 0 && args[open.dirfd] !== undefined) params.push(`dirfd=${fdValue(args[open.dirfd])}`);
    } else if (statPos !== undefined) {
      let p = stringValue(args[statPos]);
      // newfstatat(3</etc/x>, "", …, AT_EMPTY_PATH) is an fstat: name the file it looks at.
      if (p === '' && statPos > 0) p = tokenSafe(fdPath(args[0]) ?? '');
      params.push(`res=${res}`, `path=${p}`);
    } else if (name === 'execve' || name === 'execveat') {
      const argv = stringArray(args[name === 'execve' ? 1 : 2]);
      params.push(`res=${res}`);
      if (!ret.error) {
        const file = decodePathArg(args[name === 'execve' ? 0 : 1]);
        th.proc.exe = file;
        th.proc.name = commOf(basename(file));
      }
      const argv0 = argv.length > 0 ? argv[0].toString('utf8') : th.proc.exe;
      const rest = Buffer.concat(argv.slice(1).flatMap((a) => [a, Buffer.from([0])]));
      params.push(`exe=${tokenSafe(argv0)}`, `args=${rest.toString('base64')}`);
      params.push(`tid=${th.tid}(${th.proc.name})`, `pid=${th.pid}(${th.proc.name})`, `comm=${th.proc.name}`);
    } else if (CLONE_FAMILY.has(name)) {
      const child = ret.error ? -1 : Number(ret.num);
      if (Number.isSafeInteger(child) && child > 0 && !this.threads.has(child)) {
        const isThread = args.some((a) => a.includes('CLONE_THREAD'));
        const c = this.childOf(th, child, isThread);
        this.write(th, ts, name, '<', this.cloneParams(th, res, args));
        this.write(c, ts, name, '<', this.cloneParams(c, 0, args));
        return;
      }
      params.push(...this.cloneParams(th, res, args));
    } else {
      params.push(`res=${res}`);
      const spec = EXIT[name];
      if (spec !== undefined) {
        for (const [pos, key, kind] of spec) if (pos < args.length) params.push(`${key}=${value(args[pos], kind)}`);
      }
      if ((name === 'accept' || name === 'accept4') && ret.note !== null && ret.note.startsWith('<4') ) {
        params.push(`tuple=${ret.note.slice(4)}`);
      }
      this.updateUid(th, name, args, ret);
    }
    this.write(th, ts, name, '<', params);
  }

  private cloneParams(th: Thread, res: string | number, args: string[]): string[] {
    const flags = flagsOf(args);
    const parent = this.threads.get(th.ptid);
    const p = [
      `res=${res}`,
      `exe=${tokenSafe(th.proc.exe || th.proc.name)}`,
      `tid=${th.tid}(${th.proc.name})`,
      `pid=${th.pid}(${th.proc.name})`,
      `ptid=${th.ptid}(${parent?.proc.name ?? '<NA>'})`,
      `comm=${th.proc.name}`,
    ];
    if (flags !== null) p.push(`flags=${flags}`);
    p.push(`uid=${th.uid}`);
    return p;
  }

  private updateUid(th: Thread, name: string, args: string[], ret: Ret): void {
    if (!SETUID_FAMILY.has(name) || ret.error) return;
    const euid = name.startsWith('setuid') ? args[0] : name.startsWith('setreuid') ? args[1] : args[1];
    const n = Number(plainValue(euid));
    if (Number.isSafeInteger(n) && n >= 0) th.uid = n;
  }

  private write(th: Thread, ts: bigint, name: string, dir: '>' | '<', params: string[]): void {
    if (ts < this.lastNs) {
      ts = this.lastNs;
      this.stats.clamped++;
    }
    this.lastNs = ts;
    if ((this.fromNs !== null && ts < this.fromNs) || (this.toNs !== null && ts >= this.toNs)) {
      this.stats.outside++;
      return;
    }
    let s = `${ts} ${th.uid} ${th.pid} ${th.proc.name} ${th.tid} ${name} ${dir} `;
    for (const p of params) s += p + ' ';
    this.out.push(s);
    const st = this.stats;
    st.events++;
    if (st.firstNs === null) st.firstNs = ts;
    st.lastNs = ts;
    st.syscalls.set(name, (st.syscalls.get(name) ?? 0) + 1);
  }
}

// ---- parsing of a call's arguments and return value ---------------------------------------

interface Ret {
  /** `res` as sysdig writes it: `3`, `-2(ENOENT)`, `7F52…`, `3(<f>/etc/passwd)`. */
  text: string;
  /** The number, when there is one (decimal text). */
  num: string;
  error: boolean;
  /** `= ?` without an errno: no return (the thread is gone). */
  unknown: boolean;
  /** The fd annotation in sysdig's notation (`<f>/x`, `<4t>a->b`), or null. */
  note: string | null;
}

interface ParsedCall {
  args: string[];
  ret: Ret;
  durNs: bigint;
}

/** Parses `args) = ret [ERRNO (text)] [<dur>]`; null when there is no `) =`. */
export function parseCall(text: string): ParsedCall | null {
  let t = text;
  let durNs = 0n;
  const d = DURATION.exec(t);
  if (d !== null) {
    durNs = BigInt(d[1]) * 1_000_000_000n + BigInt((d[2] ?? '').padEnd(9, '0'));
    t = t.slice(0, d.index);
  }
  const split = splitArgs(t);
  if (split.end < 0) return null;
  const after = t.slice(split.end);
  const m = /^\s*=\s*(\S+)(?:\s+([A-Z][A-Z0-9_]*))?/.exec(after);
  if (m === null) return null;
  let tok = m[1];
  // `--pidns-translation`: a pid returned inside another pid namespace (clone, fork, getpid, wait4
  // in a container) is followed by `/* HOSTPID in strace's PID NS */`. The host pid is the one the
  // thread ids (strace's `[pid N]` prefixes) use, so it is the one that links a child to its parent.
  if (after.indexOf(PIDNS_MARK) >= 0) {
    const ns = PIDNS_NOTE.exec(after);
    if (ns !== null && /^\d+$/.test(tok)) tok = ns[1];
  }
  return { args: split.args, ret: parseRet(tok, m[2]), durNs };
}

function parseRet(tok: string, errno: string | undefined): Ret {
  if (tok === '?') {
    if (errno !== undefined) {
      const n = ERRNO[errno] ?? 1;
      return { text: `-${n}(${errno})`, num: String(-n), error: true, unknown: false, note: null };
    }
    return { text: '?', num: '', error: false, unknown: true, note: null };
  }
  if (tok === '-1' && errno !== undefined) {
    const n = ERRNO[errno] ?? 1;
    return { text: `-${n}(${errno})`, num: String(-n), error: true, unknown: false, note: null };
  }
  const fd = splitFd(tok);
  if (fd !== null) {
    const v = fdValue(tok);
    return { text: v, num: fd.num, error: false, unknown: false, note: v.slice(v.indexOf('(') + 1, -1) };
  }
  if (/^0x[0-9a-fA-F]+$/.test(tok)) {
    const hex = tok.slice(2).toUpperCase();
    return { text: hex, num: BigInt(tok).toString(), error: false, unknown: false, note: null };
  }
  if (/^-?\d+$/.test(tok)) return { text: tok, num: tok, error: tok.startsWith('-'), unknown: false, note: null };
  return { text: tokenSafe(tok), num: '', error: false, unknown: false, note: null };
}

function value(arg: string, kind: Kind): string {
  switch (kind) {
    case 'fd':
      return fdValue(arg);
    case 'str':
      return stringValue(arg);
    case 'addr':
      return sockaddrValue(arg);
    default:
      return plainValue(arg);
  }
}

/** A path argument as raw text (a decoded literal, else the first word); not yet token-safe. */
function decodePathArg(arg: string | undefined): string {
  if (arg === undefined) return '';
  const t = arg.trim();
  if (t.startsWith('"')) return decodeCString(t).toString('utf8');
  return /^\S*/.exec(t)?.[0] ?? '';
}

function flagsOf(args: string[]): string | null {
  for (const a of args) {
    const m = /(?:^|[{,\s])flags=([^,}\s]+)/.exec(a);
    if (m) return tokenSafe(m[1]);
  }
  return null;
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** The kernel's comm (the first 15 characters of the name), made token-safe. */
export function commOf(name: string): string {
  return tokenSafe((name.length > 0 ? name : '<NA>').slice(0, COMM_LEN));
}
