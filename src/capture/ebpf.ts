/**
 * `--source ebpf --pid PID`: Debian's `bpftrace` on the raw syscall tracepoints.
 *
 * One bpftrace program (generated here, see {@link buildScript}) prints one line per syscall
 * enter and exit of the traced processes:
 *
 *     MONO_NS TID PID UID NR DIR PIDNS CGROUP_ID \t COMM \t EXTRA
 *
 * `raw_syscalls:sys_enter/sys_exit` give every syscall by number (EXTRA = the return value
 * on exit). The syscalls whose argument chids reads (open/stat/execve/clone families)
 * are left out of the raw probes and traced through their own `syscalls:sys_enter_X/exit_X`
 * tracepoints, which can read the path (EXTRA = the directory fd and the path on enter, the
 * return value on exit). The lines are converted to LID-DS 2021 lines with sysdig's parameter names
 * (`name=`, `path=`, `filename=`, `exe=`), as the lab's strace converter writes them (paths
 * made one token with its tokenSafe; an empty fstatat path named after the path its fd was
 * opened with; a thread's end as a `procexit` event).
 *
 * Which processes: when PID lives in a pid namespace of its own (a container), every task of
 * that namespace (`curtask->nsproxy->pid_ns_for_children->ns.inum`, needs kernel BTF); else
 * (a process of the host, or no BTF) PID's process tree: its threads and descendants at start,
 * and every task they fork (tracked in a BPF map through `sched:sched_process_fork`).
 *
 * Timestamps: bpftrace's `nsecs` is CLOCK_MONOTONIC; it is turned into epoch time with the
 * offset between Date.now() and process.hrtime() measured at start.
 *
 * tracefs (and debugfs, for older bpftrace) is mounted when it is not. Anything that keeps
 * eBPF from working (no bpftrace, not root, no tracepoints, a kernel that refuses the program)
 * is a ChidsError that says what is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tokenSafe } from '../trace/strace/args.js';
import { ChidsError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { DEFAULT_RESTART, runChild, supervise, type ChildExit } from './child.js';
import { cgroupPathOf, containerById, containerFrom, containerIdIn, containerIdOfPidns, containerOfPid, descendantsOf, exeOf, isAlive, pidNamespaceOf, type ContainerInfo } from './containers.js';
import { IdentityResolver } from './runtime/identity.js';
import { PodmanRuntime } from './runtime/podman.js';
import { BatchBuilder, LineSplitter, wallNow, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';
import { TimeOrderBuffer } from './time-order.js';
import { earlier } from '../util/time.js';
import { CLONE_FAMILY } from '../trace/syscall-families.js';

/** Environment variable that overrides the bpftrace binary. */
export const BPFTRACE_ENV = 'CHIDS_BPFTRACE';

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

type Family = 'open' | 'stat' | 'exec';

/** The syscalls traced through their own tracepoint (for the path), and that tracepoint's name on x86_64. */
const PATH_SYSCALLS: { name: string; tp: string; family: Family }[] = [
  { name: 'open', tp: 'open', family: 'open' },
  { name: 'openat', tp: 'openat', family: 'open' },
  { name: 'openat2', tp: 'openat2', family: 'open' },
  { name: 'creat', tp: 'creat', family: 'open' },
  { name: 'stat', tp: 'newstat', family: 'stat' },
  { name: 'lstat', tp: 'newlstat', family: 'stat' },
  { name: 'newfstatat', tp: 'newfstatat', family: 'stat' },
  { name: 'statx', tp: 'statx', family: 'stat' },
  { name: 'execve', tp: 'execve', family: 'exec' },
  { name: 'execveat', tp: 'execveat', family: 'exec' },
];

/** How often (ms) the program pushes its buffered output out, and with how many bytes (more than
 * glibc's stdio buffer on a pipe, 4 KB; the blank line is skipped as bpftrace's other blank lines are). */
const FLUSH_MS = 100;
const FLUSH_BYTES = 8192;

/** The line the program prints once all its probes are attached (then its monotonic time). */
const ATTACHED_MARK = '@@B';

/** How runc's init stages name themselves (`runc:[2:INIT]`) until they exec the container's program. */
const RUNC_INIT_COMM = 'runc:[';
/** How long such a process's lines wait for the fork line that says whose they are (ms), and how many. */
const AWAIT_FORK_MS = 1000;
const MAX_AWAITING_LINES = 20_000;
const MAX_AWAITING_PIDS = 256;

/** Pseudo syscall number of the procexit lines (a thread ended). */
const PROCEXIT_NR = -2;
/** Pseudo syscall number of the fork lines (bookkeeping only: who entered a container from outside). */
const FORK_NR = -3;
/** Pseudo syscall number of an execve's argv lines (EXTRA = index and argument; not events themselves). */
const ARGV_NR = -4;
/**
 * argv[1..ARGV_MAX] of an exec are printed, one line each (a printf holding several 200-byte
 * strings exceeds BPF's 512-byte stack; sequential ones do not). More is cut: a command shape
 * keeps COMMAND_CHARS (240) characters anyway.
 */
export const ARGV_MAX = 12;

/** Which tasks the program prints. */
export type Scope =
  | { kind: 'pidns'; inum: number }
  | { kind: 'tree'; tids: number[] }
  /** `--pid A,B`: every listed container's pid namespace, and the process trees of listed host processes. */
  | { kind: 'targets'; pidns: number[]; tids: number[] }
  /** `--all-containers`: every task outside the host's pid namespace (`includeHost`: every task but chids's own). */
  | { kind: 'all'; includeHost: boolean; self: number; skipRootCgroup?: boolean };

export interface ScriptOptions {
  scope: Scope;
  /** Kernel BTF is there: the pid namespace can be read per event. */
  btf: boolean;
  /** Path tracepoints available: syscall → { nr, tracepoint, path field, has a dfd field }. */
  pathProbes: { name: string; nr: number; tp: string; field: string; dfd?: boolean; argv?: boolean }[];
}

/** The pid namespace the current task's children go to: the one a container's tasks are in. */
export const NS_CHILDREN = 'curtask->nsproxy->pid_ns_for_children';
/**
 * The current task lives in the namespace its children go to. A task that joined one from
 * outside (setns: runc:[1:CHILD], nsenter) does not: its own namespace is an outer one.
 */
export const IN_CHILDREN_NS = `curtask->thread_pid->level == ${NS_CHILDREN}->level`;
/** The opposite: a fork by such a task puts its child into the namespace from outside. */
export const FROM_OUTSIDE_NS = `curtask->thread_pid->level != ${NS_CHILDREN}->level`;

/** The bpftrace program for a scope (pure; tested without bpftrace). */
export function buildScript(o: ScriptOptions): string {
  const ns = o.btf ? `${NS_CHILDREN}->ns.inum` : '(uint32)0';
  const scope: Scope = o.scope.kind === 'pidns' ? { kind: 'targets', pidns: [o.scope.inum], tids: [] } : o.scope.kind === 'tree' ? { kind: 'targets', pidns: [], tids: o.scope.tids } : o.scope;
  if (scope.kind === 'all' && !o.btf) throw new ChidsError('--all-containers needs kernel BTF (/sys/kernel/btf/vmlinux) to read each task\'s pid namespace');
  const tree = scope.kind === 'targets' && scope.tids.length > 0;
  let filter: string;
  let forkFilter = '';
  if (scope.kind === 'all') {
    // A task's own pid namespace level (0 = the host's): container processes are level ≥ 1. With
    // --include-host, everything but chids and bpftrace themselves (which would trace their own output).
    // Without --include-host, tasks in the root cgroup (v2 id 1: where the host's tools and
    // sandboxes that are no container run) are skipped in the kernel too, unless they entered a
    // container (@e, kept by the fork probe): printing them would cost as much as the containers.
    filter = scope.includeHost
      ? `pid != ${scope.self} && comm != "bpftrace"`
      : scope.skipRootCgroup
        ? 'curtask->thread_pid->level > 0 && (cgroup != 1 || @e[pid])'
        : 'curtask->thread_pid->level > 0';
  } else {
    // A task whose own pid namespace is not the one it forks into lives outside the container and
    // has joined it (runc:[1:CHILD] after its setns, nsenter): its calls are not the container's
    // (--all-containers leaves them out by their level 0). Its fork into the namespace is printed
    // (forkFilter): the converter reads the runtime's steps from it.
    const parts = scope.pidns.map((n) => (o.btf ? `(${ns} == ${n} && ${IN_CHILDREN_NS})` : `${ns} == ${n}`));
    const forkParts = scope.pidns.map((n) => `${ns} == ${n}`);
    if (tree) {
      parts.push('@t[tid]');
      forkParts.push('@t[tid]');
    }
    filter = parts.length === 1 ? parts[0] : `(${parts.join(' || ')})`;
    forkFilter = forkParts.length === 1 ? forkParts[0] : `(${forkParts.join(' || ')})`;
  }
  const head = (dir: string) => `"%llu %d %d %d %d ${dir} %u %llu\\t%s\\t`;
  const fields = (nr: string) => `nsecs, tid, pid, uid, ${nr}, ${ns}, cgroup, comm`;
  const skip = o.pathProbes.map((p) => ` && args->id != ${p.nr}`).join('');
  const lines: string[] = [];
  // A thread's end, as the lab's converter writes strace's `+++ exited`: procexit (NR -2), EXTRA = exit code.
  const status = o.btf ? 'curtask->exit_code' : '0';
  const procexit = `printf(${head('>')}%d\\n", ${fields(String(PROCEXIT_NR))}, ${status});`;
  // bpftrace prints "Attaching N probes" before attaching them (seconds, on a busy machine) and runs
  // BEGIN once every probe is attached: `@@B` is when the program sees every event.
  const attached = `printf("${ATTACHED_MARK} %llu\\n", nsecs);`;
  if (tree) {
    lines.push(`BEGIN { ${attached} ${(scope as { tids: number[] }).tids.map((t) => `@t[${t}] = 1;`).join(' ')} }`);
    lines.push('tracepoint:sched:sched_process_fork /@t[args->parent_pid]/ { @t[args->child_pid] = 1; }');
    lines.push(`tracepoint:sched:sched_process_exit /${filter}/ { ${procexit} delete(@t[tid]); }`);
    lines.push('END { clear(@t); }'); // bpftrace would print the map at exit
  } else {
    lines.push(`BEGIN { ${attached} }`);
    lines.push(`tracepoint:sched:sched_process_exit /${filter}/ { ${procexit} }`);
  }
  // (A host process tree has no namespace to enter: no fork lines then, the program stays as small.)
  if (o.btf && (scope.kind === 'all' || scope.pidns.length > 0)) {
    // A fork whose child lands in a watched pid namespace (the parent's pid_ns_for_children):
    // EXTRA = the child's pid, whether the parent lives outside that namespace (it entered it with
    // setns: runc's exec/init steps, nsenter) and whether the child is the namespace's init (a
    // container starting), which the converter follows to tell the runtime's own steps and
    // entered processes from the container's own. @e holds the entered processes and their
    // descendants (for the root-cgroup filter of --all-containers).
    const cross = FROM_OUTSIDE_NS;
    const init = `${NS_CHILDREN}->child_reaper->pid == args->child_pid`;
    const forkLine = `printf(${head('>')}%d %d %d\\n", ${fields(String(FORK_NR))}, args->child_pid, $cross, $init);`;
    if (scope.kind === 'all') {
      lines.push(
        `tracepoint:sched:sched_process_fork /${NS_CHILDREN}->level > 0/ { $cross = ${cross}; $init = ${init}; ` +
          `if (($cross && !$init) || @e[pid]) { @e[args->child_pid] = 1; } ` +
          `if (${scope.skipRootCgroup ? 'cgroup != 1 || $cross || @e[pid]' : '1'}) { ${forkLine} } }`,
      );
      lines.push('tracepoint:sched:sched_process_exit /@e[tid]/ { delete(@e[tid]); }');
      lines.push('END { clear(@e); }');
    } else {
      lines.push(`tracepoint:sched:sched_process_fork /${forkFilter}/ { $cross = ${cross}; $init = ${init}; ${forkLine} }`);
    }
  }
  // bpftrace runs with a fully buffered stdout (one write per 4 KB, not per line: a write and a
  // wake-up of chids per syscall were most of events mode's cost); a line of blanks longer than
  // stdio's buffer every FLUSH_MS pushes out what waits behind it, so an event is late by at most that.
  lines.push(`interval:ms:${FLUSH_MS} { printf("${' '.repeat(FLUSH_BYTES)}\\n"); }`);
  lines.push(`tracepoint:raw_syscalls:sys_enter /${filter}${skip}/ { printf(${head('>')}\\n", ${fields('args->id')}); }`);
  lines.push(`tracepoint:raw_syscalls:sys_exit /${filter}${skip}/ { printf(${head('<')}%ld\\n", ${fields('args->id')}, args->ret); }`);
  for (const p of o.pathProbes) {
    // EXTRA = the directory fd (-100 when the call has none) and the path. An exec's enter then
    // prints its arguments after argv[0], one line each, up to the first NULL: EXTRA = index and
    // argument (an argument with a newline continues on the next line; the converter joins it).
    let argv = '';
    if (p.argv) {
      argv = ' $v = args->argv;';
      for (let i = 1; i <= ARGV_MAX; i++) argv += ` $a${i} = *($v + ${i}); if ($a${i} == 0) { return; } printf(${head('>')}%d %s\\n", ${fields(String(ARGV_NR))}, ${i}, str($a${i}));`;
    }
    lines.push(`tracepoint:syscalls:sys_enter_${p.tp} /${filter}/ { printf(${head('>')}%d %s\\n", ${fields(String(p.nr))}, ${p.dfd ? 'args->dfd' : '-100'}, str(args->${p.field}));${argv} }`);
    lines.push(`tracepoint:syscalls:sys_exit_${p.tp} /${filter}/ { printf(${head('<')}%ld\\n", ${fields(String(p.nr))}, args->ret); }`);
  }
  return lines.join('\n') + '\n';
}

function tracefsRoot(): string | null {
  for (const t of TRACEFS) if (existsSync(path.join(t, 'events'))) return t;
  return null;
}

/** Mounts tracefs (and debugfs) when they are not mounted; returns the tracefs root or null. */
export function ensureTracefs(log?: (msg: string, f?: Record<string, unknown>) => void): string | null {
  const found = tracefsRoot();
  if (found) return found;
  const tries: [string, string][] = [
    ['tracefs', '/sys/kernel/tracing'],
    ['debugfs', '/sys/kernel/debug'],
  ];
  for (const [fs, dir] of tries) {
    if (!existsSync(dir)) continue;
    const r = spawnSync('mount', ['-t', fs, 'nodev', dir], { encoding: 'utf8' });
    log?.(`mount -t ${fs} ${dir}: ${r.status === 0 ? 'ok' : (r.stderr || r.error?.message || `exit ${r.status}`).trim()}`, { fs, dir });
  }
  return tracefsRoot();
}

/** The path-reading tracepoints this kernel has, with their path field. */
export function pathProbes(root: string): ScriptOptions['pathProbes'] {
  const nrOf = new Map(Object.entries(X86_64_SYSCALLS).map(([nr, name]) => [name, Number(nr)]));
  const out: ScriptOptions['pathProbes'] = [];
  for (const p of PATH_SYSCALLS) {
    const nr = nrOf.get(p.name);
    const fmt = path.join(root, 'events', 'syscalls', `sys_enter_${p.tp}`, 'format');
    if (nr === undefined || !existsSync(fmt) || !existsSync(path.join(root, 'events', 'syscalls', `sys_exit_${p.tp}`))) continue;
    const text = readFileSync(fmt, 'utf8');
    const m = /field:const char \* (filename|pathname|path);/.exec(text);
    if (m) out.push({ name: p.name, nr, tp: p.tp, field: m[1], dfd: /field:int dfd;/.test(text), argv: p.family === 'exec' && /field:const char \*const \* ?argv;/.test(text) });
  }
  return out;
}

/**
 * What both eBPF sources need from the host, checked before bpftrace starts: x86_64, root,
 * tracefs (mounted if it is not) with raw_syscalls tracepoints. Throws a ChidsError naming what
 * is missing; returns whether the kernel has BTF, our own pid namespace and the path probes.
 */
export function checkEbpfHost(log: Logger): { btf: boolean; own: number | null; probes: ScriptOptions['pathProbes'] } {
  if (process.arch !== 'x64') throw new ChidsError(`--source ebpf: only x86_64 is supported (this is ${process.arch}); use --source strace`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new ChidsError('--source ebpf: eBPF needs root (or CAP_BPF + CAP_PERFMON); run as root or use --source strace');
  }
  const root = ensureTracefs((msg, f) => log.info(msg, f));
  if (root === null) throw new ChidsError('--source ebpf: eBPF is unavailable: no tracefs (mount -t tracefs nodev /sys/kernel/tracing failed)');
  if (!existsSync(path.join(root, 'events', 'raw_syscalls'))) {
    throw new ChidsError(`--source ebpf: eBPF is unavailable: the kernel has no raw_syscalls tracepoints (${root}/events/raw_syscalls)`);
  }
  const probes = pathProbes(root);
  if (probes.length === 0) log.warn('no syscalls:* tracepoints: file paths of open/stat/execve will be missing', { tracefs: root });
  return { btf: existsSync('/sys/kernel/btf/vmlinux'), own: pidNamespaceOf('self'), probes };
}

/**
 * Is the cgroup v2 hierarchy in use (a `0::` line in our /proc/self/cgroup and a cgroup2 mount)?
 * Then bpftrace's `cgroup` is a real v2 id and the root cgroup (id 1) is the host's: runtimes put
 * every container in a cgroup of its own there. On v1-only hosts every task reads as cgroup 1.
 */
function unifiedCgroups(): boolean {
  try {
    return /^0::/m.test(readFileSync('/proc/self/cgroup', 'utf8')) && / cgroup2 /.test(readFileSync('/proc/mounts', 'utf8'));
  } catch {
    return false;
  }
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter(Number.isInteger);
  } catch {
    return [pid];
  }
}

/** Options of the converter beyond the single-target defaults. */
export interface ConverterOptions {
  /**
   * `targets` (default): every printed event belongs to some container (the `--pid` targets');
   * `all`: events of a pid namespace that is no container (a sandbox, a host task) are left out,
   * unless `includeHost`, which keeps them as their `pidns-N` / `host` container.
   */
  mode?: 'targets' | 'all';
  includeHost?: boolean;
  /** Runtime identities (name, image) of the containers, resolved asynchronously. */
  identities?: IdentityResolver | null;
  /** Called the first time a container is seen. */
  onContainer?: (c: ContainerInfo) => void;
  /** Wall clock in ms (for how long a line waits for its fork line); tests pass their own. */
  clockMs?: () => number;
  /**
   * Emit events in kernel time order, each held until an event `holdNs` later has come or the
   * clock ({@link EbpfConverter.flush}) is `idleNs` past it (src/capture/time-order.ts). Without
   * it events go out as bpftrace prints them, their times raised to keep the stream non-decreasing.
   */
  order?: { minHoldNs: number; maxHoldNs: number; idleNs: number; warmupNs?: number };
}

/** What the converter remembers of a process that came into a container from outside. */
interface ProcState {
  /** Forked into the namespace by a process outside it and not yet exec'd: the runtime's (or nsenter's) own steps. */
  runtime: boolean;
  /** Entered from outside (`podman exec`, `nsenter`) or a descendant of such a process. */
  entered: boolean;
}

/** Converts bpftrace's lines to LID-DS lines (pure apart from /proc lookups for exe and cgroup). */
export class EbpfConverter {
  private readonly family = new Map<number, Family>();
  private readonly pending = new Map<number, string>();
  private readonly exes = new Map<number, string>();
  /** Pids whose entry in `exes` is the file of an exec seen here (not read from /proc). */
  private readonly execd = new Set<number>();
  /** The path each (pid, fd) was opened with, to name fstatat(fd, "") as the lab's converter does. */
  private readonly fdPaths = new Map<string, string>();
  /** Number of each thread's last raw enter (the kernel reports -1 on some exits, e.g. vfork's parent). */
  private readonly lastNr = new Map<number, number>();
  /** (pid namespace, cgroup id) → container; null: not a container (left out). */
  private readonly containers = new Map<string, ContainerInfo | null>();
  /** Containers by full id (one object per container, whatever its namespaces and restarts). */
  private readonly byId = new Map<string, { base: ContainerInfo; entered: ContainerInfo }>();
  /** pid namespace → the container it belongs to (for processes that entered it from a host cgroup). */
  private readonly nsOwner = new Map<number, string>();
  /** Namespaces a /proc walk found no container for, and when (walked again after a while). */
  private readonly nsMiss = new Map<number, number>();
  /** Processes forked into a container from outside, and their descendants. */
  private readonly procs = new Map<number, ProcState>();
  private readonly mode: 'targets' | 'all';
  private lastSec = 0;
  private lastNsec = 0;
  /** Positions of a line's 7 field separators (reused). */
  private readonly spaces = new Int32Array(7);
  private readonly comms = new Map<string, string>();
  stats = { lines: 0, events: 0, unparsed: 0, excluded: 0, runtime: 0 };
  /** Lines of processes named like runc's init whose fork line has not come yet, by pid (see parse). */
  private readonly awaiting = new Map<number, { since: number; lines: string[] }>();
  /** Set while waiting lines are read again (they must not wait a second time). */
  private replaying = false;
  private readonly clockMs: () => number;
  /** Monotonic ns of each process's last successful exec (to tell a fork line printed after it). */
  private readonly execAt = new Map<number, number>();
  /** argv[1..] of the exec each thread is in (from its enter to its exit). */
  private readonly argvs = new Map<number, string[]>();
  /** Thread whose last argument line the next line may continue (an argument holding a newline), or -1. */
  private continuing = -1;
  /** Events waiting for earlier ones from other CPUs (with `order`), or null. */
  private readonly ordered: TimeOrderBuffer<ContainerInfo, string> | null;

  constructor(
    /** Epoch − monotonic, in ns, as [seconds, nanoseconds]. */
    private readonly offset: { sec: number; nsec: number },
    private readonly ownPidns: number | null,
    /** Container when the pid namespace is not printed (no BTF). */
    private readonly fallback: ContainerInfo,
    private readonly emit: (c: ContainerInfo, line: string) => void,
    private readonly procfs = true,
    private readonly opts: ConverterOptions = {},
  ) {
    this.mode = opts.mode ?? 'targets';
    this.clockMs = opts.clockMs ?? Date.now;
    this.ordered = opts.order ? new TimeOrderBuffer(opts.order.minHoldNs, opts.order.maxHoldNs, opts.order.idleNs, (sec, nsec, c, rest) => this.out(sec, nsec, c, rest), opts.order.warmupNs) : null;
    for (const p of PATH_SYSCALLS) {
      const nr = Object.entries(X86_64_SYSCALLS).find(([, n]) => n === p.name)?.[0];
      if (nr !== undefined) this.family.set(Number(nr), p.family);
    }
    if (fallback.containerId !== null && fallback.pidns !== null) this.nsOwner.set(fallback.pidns, fallback.containerId);
  }

  /** Ties a pid namespace to a container (a `--pid` target's, known before any event). */
  knowNamespace(pidns: number, fullId: string): void {
    this.nsOwner.set(pidns, fullId);
  }

  /**
   * One line of bpftrace output; returns false when it is not an event line. A line that is not
   * one right after an exec's argument line is that argument continued past a newline it holds.
   */
  line(text: string): boolean {
    if (this.awaiting.size > 0) this.expireAwaiting(false);
    const cont = this.continuing;
    this.continuing = -1;
    if (this.parse(text)) return true;
    if (cont < 0 || text.trim() === '') return false;
    const list = this.argvs.get(cont);
    if (list !== undefined && list.length > 0) {
      list[list.length - 1] += `\n${text}`;
      this.continuing = cont;
    }
    return true;
  }

  private parse(text: string): boolean {
    const t1 = text.indexOf('\t');
    const t2 = t1 < 0 ? -1 : text.indexOf('\t', t1 + 1);
    if (t2 < 0) return false;
    // The 8 space-separated fields before the first tab, found by position (no split: this runs per syscall).
    const sp = this.spaces;
    let k = 0;
    for (let i = text.indexOf(' '); i >= 0 && i < t1; i = text.indexOf(' ', i + 1)) {
      if (k === 7) return false;
      sp[k++] = i;
    }
    if (k !== 7 || sp[5] - sp[4] !== 2) return false;
    const dir = text[sp[4] + 1];
    if (dir !== '>' && dir !== '<') return false;
    this.stats.lines++;
    const nr = intAt(text, sp[3] + 1, sp[4]);
    const tid = intAt(text, sp[0] + 1, sp[1]);
    const pid = intAt(text, sp[1] + 1, sp[2]);
    if (sp[0] < 1 || sp[0] > 20 || !digitsAt(text, 0, sp[0]) || !Number.isInteger(nr) || !Number.isInteger(tid)) {
      this.stats.unparsed++;
      return true;
    }
    const uidS = text.slice(sp[2] + 1, sp[3]);
    const nsS = text.slice(sp[5] + 1, sp[6]);
    const cgS = text.slice(sp[6] + 1, t1);
    const extra = text.slice(t2 + 1);
    if (nr === FORK_NR) {
      this.fork(pid, Number(nsS), extra, intAt(text, 0, sp[0]));
      return true;
    }
    if (nr === ARGV_NR) {
      // argv[i] of the exec this thread is entering (printed in order, right after its enter).
      const list = this.argvs.get(tid);
      const at = extra.indexOf(' ');
      if (list !== undefined && at > 0 && Number(extra.slice(0, at)) === list.length + 1) {
        list.push(extra.slice(at + 1));
        this.continuing = tid;
      }
      return true;
    }
    // An exec's arguments are gathered from its enter on, the runtime's own (a container's first
    // process, exec'd by runc) included (once: not again when a waiting line is read again).
    if (dir === '>' && !this.replaying && this.family.get(nr) === 'exec') {
      if (this.argvs.size >= 4096) this.argvs.delete(this.argvs.keys().next().value!);
      this.argvs.set(tid, []);
    }
    const st = this.procs.size > 0 ? this.procs.get(pid) : undefined;
    // A process named like runc's init stages (`runc:[2:INIT]`, …) that no fork line has made the
    // runtime's yet: bpftrace prints one CPU's buffer after another, and the fork line that says
    // so can come after the process's calls (0.8 s late under load: runc's futex calls went into a
    // new container's first window as an unseen syscall). Its lines wait for that fork line (or
    // for the one that shows its parent forking into the namespace from outside), at most
    // AWAIT_FORK_MS, then count as the container's: the name alone decides nothing, since a
    // container's own process may call itself that.
    if (st === undefined && !this.replaying && text.startsWith(RUNC_INIT_COMM, t1 + 1)) {
      this.awaitFork(pid, text);
      return true;
    }
    if (dir === '<' && extra === '0' && this.family.get(nr) === 'exec') {
      if (this.execAt.size >= 65536) this.execAt.clear();
      this.execAt.set(pid, intAt(text, 0, sp[0]));
    }
    if (st !== undefined && st.runtime) {
      // The runtime's own steps (runc init, nsenter before it execs the target) are not the
      // container's activity; the process becomes the container's with its first successful execve.
      const execDone = dir === '<' && this.family.get(nr) === 'exec' && extra === '0';
      if (!execDone) {
        if (sysnrIsExit(nr) && tid === pid) this.procs.delete(pid);
        this.stats.runtime++;
        return true;
      }
      st.runtime = false;
      if (!st.entered) this.procs.delete(pid);
    }
    const c0 = this.container(Number(nsS), cgS, pid);
    if (c0 === null) {
      this.stats.excluded++;
      return true;
    }
    const c = st !== undefined && st.entered ? this.enteredOf(c0) : c0;
    const comm = this.commOf(text.slice(t1 + 1, t2));
    let sysnr = nr;
    if (nr >= 0 && this.family.get(nr) === undefined) {
      if (dir === '>') {
        this.lastNr.set(tid, nr);
        if (this.lastNr.size > 65536) this.lastNr.delete(this.lastNr.keys().next().value!);
      }
    } else if (nr === -1 && dir === '<') {
      sysnr = this.lastNr.get(tid) ?? -1;
    }
    const name = sysnr === PROCEXIT_NR ? 'procexit' : (X86_64_SYSCALLS[sysnr] ?? `syscall_${sysnr}`);
    const fam = this.family.get(sysnr);
    let args = '';
    if (sysnr === PROCEXIT_NR) {
      const code = Number(extra) | 0;
      args = `status=${code & 0x7f ? code & 0x7f : (code >> 8) & 0xff}`;
      this.pending.delete(tid);
      this.lastNr.delete(tid);
      this.argvs.delete(tid);
      if (tid === pid && st !== undefined) this.procs.delete(pid);
    } else if (dir === '>') {
      if (fam !== undefined) {
        // EXTRA = "DFD PATH"; the path made one token as the lab's converter does, and an empty
        // stat path (fstatat(fd, "", AT_EMPTY_PATH)) named after the file the fd is open on.
        const sp = extra.indexOf(' ');
        const dfd = sp < 0 ? -100 : Number(extra.slice(0, sp));
        let file = tokenSafe(sp < 0 ? extra : extra.slice(sp + 1));
        if (file === '' && fam === 'stat' && dfd >= 0) file = this.fdPaths.get(`${pid}:${dfd}`) ?? '';
        this.pending.set(tid, file);
        if (this.pending.size > 65536) this.pending.delete(this.pending.keys().next().value!);
        if (fam === 'exec') args = `filename=${file}`;
      }
    } else {
      const ret = extra;
      if (fam !== undefined) {
        const file = this.pending.get(tid);
        this.pending.delete(tid);
        if (fam === 'open') {
          args = `fd=${ret}${file !== undefined ? ` name=${file}` : ''}`;
          if (file !== undefined && Number(ret) >= 0) {
            if (this.fdPaths.size > 65536) this.fdPaths.clear();
            this.fdPaths.set(`${pid}:${ret}`, file);
          }
        }
        else if (fam === 'stat') args = `res=${ret}${file !== undefined ? ` path=${file}` : ''}`;
        else {
          if (ret === '0' && file !== undefined) {
            this.exes.set(pid, file);
            if (this.execd.size > 65536) this.execd.clear();
            this.execd.add(pid);
          }
          const exe = this.exeOf(pid);
          // argv[1..] as chids' strace converter writes it: each argument NUL-terminated, base64.
          const argv = this.argvs.get(tid);
          this.argvs.delete(tid);
          args = `res=${ret}${exe ? ` exe=${exe}` : ''}${argv !== undefined ? ` args=${Buffer.from(argv.map((a) => `${a}\0`).join('')).toString('base64')}` : ''}`;
        }
      } else if (CLONE_FAMILY.has(name)) {
        const exe = this.exeOf(pid);
        args = `res=${ret}${exe ? ` exe=${exe}` : ''}`;
      } else {
        args = `res=${ret}`;
      }
    }
    this.stats.events++;
    // Epoch time of the monotonic ns digits text[0, sp[0]): seconds and nanoseconds apart (a Number cannot hold epoch ns exactly).
    const end = sp[0];
    const split = end > 9 ? end - 9 : 0;
    let sec = (split > 0 ? intAt(text, 0, split) : 0) + this.offset.sec;
    let nsec = intAt(text, split, end) + this.offset.nsec;
    if (nsec >= 1e9) {
      nsec -= 1e9;
      sec++;
    } else if (nsec < 0) {
      nsec += 1e9;
      sec--;
    }
    const rest = `${uidS} ${pid} ${comm} ${tid} ${name} ${dir} ${args}`;
    if (this.ordered !== null) this.ordered.push(sec, nsec, c, rest);
    else this.out(sec, nsec, c, rest);
    return true;
  }

  /** Releases held events the clock (epoch, from the source) has left behind; a no-op without `order`. */
  flush(now: { sec: number; nsec: number }): void {
    this.ordered?.flush(now.sec, now.nsec);
  }

  /** Before the lines of each read of the program's output: when they were read (see TimeOrderBuffer.observeClock). */
  observeClock(now: { sec: number; nsec: number }): void {
    this.ordered?.observeClock(now.sec, now.nsec);
  }

  /** Releases every held event (the program ended). */
  drain(): void {
    this.expireAwaiting(true);
    this.ordered?.drain();
  }

  /** Holds a line of a process named like runc's init until its fork line says whose it is. */
  private awaitFork(pid: number, text: string): void {
    let w = this.awaiting.get(pid);
    if (w === undefined) {
      if (this.awaiting.size >= MAX_AWAITING_PIDS) this.settleAwaiting(this.awaiting.keys().next().value!, false);
      this.awaiting.set(pid, (w = { since: this.clockMs(), lines: [] }));
    }
    w.lines.push(text);
    if (w.lines.length >= MAX_AWAITING_LINES) this.settleAwaiting(pid, false);
  }

  /** The lines `pid` waited with: dropped as the runtime's, or read now as its container's. */
  private settleAwaiting(pid: number, runtime: boolean): void {
    const w = this.awaiting.get(pid);
    if (w === undefined) return;
    this.awaiting.delete(pid);
    if (runtime) {
      this.stats.runtime += w.lines.length;
      return;
    }
    this.replaying = true;
    try {
      for (const l of w.lines) this.parse(l);
    } finally {
      this.replaying = false;
    }
  }

  /** Reads as their containers' the lines that waited AWAIT_FORK_MS for a fork line (all of them at the end). */
  private expireAwaiting(all: boolean): void {
    const now = this.clockMs();
    for (const [pid, w] of this.awaiting) if (all || now - w.since >= AWAIT_FORK_MS) this.settleAwaiting(pid, false);
  }

  /** Epoch time of the oldest held event, or null. */
  oldestHeld(): { sec: number; nsec: number } | null {
    return this.ordered?.oldest() ?? null;
  }

  /** Events put back in order, and events that came too late for it (with `order`). */
  orderStats(): TimeOrderBuffer<unknown, unknown>['stats'] {
    return this.ordered ? { ...this.ordered.stats } : { reordered: 0, late: 0, maxBehindNs: 0, maxHoldNs: 0, firstLateNs: -1 };
  }

  /** Emits an event with its time made non-decreasing (what is still out of order after ordering, or all of it without). */
  private out(sec: number, nsec: number, c: ContainerInfo, rest: string): void {
    let s = sec;
    let n = nsec;
    if (earlier(s, n, this.lastSec, this.lastNsec)) {
      s = this.lastSec;
      n = this.lastNsec;
    } else {
      this.lastSec = s;
      this.lastNsec = n;
    }
    // n < 1e9: its 9 digits zero-padded without padStart's intermediate strings.
    this.emit(c, `${n >= 1e8 ? `${s}${n}` : `${s}${PAD9[String(n).length]}${n}`} ${rest}`);
  }

  /** A process name made one token (tokenSafe), remembered: a handful of names recur on every line. */
  private commOf(raw: string): string {
    let c = this.comms.get(raw);
    if (c === undefined) {
      c = tokenSafe(raw) || '?';
      if (this.comms.size > 4096) this.comms.clear();
      this.comms.set(raw, c);
    }
    return c;
  }

  private exeOf(pid: number): string | null {
    let e = this.exes.get(pid);
    if (e === undefined && this.procfs) {
      e = exeOf(pid) ?? '';
      if (this.exes.size > 65536) this.exes.clear();
      this.exes.set(pid, e);
      this.execd.delete(pid);
    }
    return e || null;
  }

  /**
   * A fork into a watched pid namespace: `EXTRA` = child pid and 1 when the parent lives outside
   * the namespace. Such a child is the runtime's (or nsenter's) until it execs; it entered the
   * container unless it is the namespace's init (a container starting, pid 1 inside).
   */
  private fork(parent: number, ns: number, extra: string, atNs: number): void {
    const [childS, crossS, initS] = extra.split(' ');
    const child = Number(childS);
    const cross = crossS === '1';
    // A fork line printed after the child's exec (another CPU's buffer, printed late): the child's
    // runtime steps are over, and marking it the runtime's now would drop its own calls.
    const execd = this.execAt.get(child);
    const past = execd !== undefined && execd > atNs;
    // A parent outside the namespace forking into it is the runtime (runc:[1:CHILD], nsenter):
    // what it did here is not the container's.
    if (cross) this.settleAwaiting(parent, true);
    // A forked child runs its parent's executable until it execs: when that was read from /proc
    // (not the file of an exec we saw), the child's clone exit names it without a readlink of
    // /proc/CHILD/exe per fork (a web server forks per request), as the readlink would have.
    if (!this.execd.has(parent)) {
      const pe = this.exeOf(parent);
      if (pe !== null) {
        if (this.exes.size > 65536) this.exes.clear();
        this.exes.set(child, pe);
        this.execd.delete(child);
      }
    } else this.exes.delete(child);
    const p = this.procs.get(parent);
    const fromRuntime = cross || (p?.runtime ?? false);
    // The child's calls before its exec (the lines waiting for this fork line) were the runtime's
    // if it was forked from outside, even when this line comes after the exec.
    this.settleAwaiting(child, fromRuntime);
    const runtime = !past && fromRuntime;
    let entered = cross || (p?.entered ?? false);
    if (cross) {
      if (initS === '1') {
        entered = false;
        // A new namespace: forget whatever an earlier namespace with the same inode was tied to
        // (not when the line comes after the child's exec: this namespace's events have been read since).
        if (past) return;
        this.nsOwner.delete(ns);
        this.nsMiss.delete(ns);
        for (const k of this.containers.keys()) if (k.startsWith(`${ns}:`)) this.containers.delete(k);
      }
    }
    if (!runtime && !entered) return;
    if (this.procs.size >= 65536) this.procs.delete(this.procs.keys().next().value!);
    this.procs.set(child, { runtime, entered });
  }

  private enteredOf(c: ContainerInfo): ContainerInfo {
    if (c.containerId === null) return c.entered ? c : { ...c, entered: true };
    return this.byId.get(c.containerId)?.entered ?? c;
  }

  private container(ns: number, cg: string, pid: number): ContainerInfo | null {
    if (!ns) return this.fallback;
    const key = `${ns}:${cg}`;
    let c = this.containers.get(key);
    if (c !== undefined) return c;
    const cgPath = this.procfs ? cgroupPathOf(pid) : null;
    let fullId = containerIdIn(cgPath);
    let cgroup = cgPath;
    if (fullId === null) fullId = this.nsOwner.get(ns) ?? null;
    if (fullId === null && this.procfs && ns !== this.ownPidns) {
      // A process of a container's namespace in a host cgroup (nsenter): find the container by a
      // process of the same namespace; a miss is not walked again for a while.
      const missed = this.nsMiss.get(ns);
      if (missed === undefined || Date.now() - missed > 2000) {
        const found = containerIdOfPidns(ns);
        if (found) {
          fullId = found.fullId;
          cgroup = found.cgroup;
        } else {
          if (this.nsMiss.size > 4096) this.nsMiss.clear();
          this.nsMiss.set(ns, Date.now());
        }
      }
    }
    if (fullId !== null) {
      this.nsOwner.set(ns, fullId);
      c = this.byIdOf(fullId, ns, cgroup);
    } else if (this.mode === 'all' && !this.opts.includeHost) {
      // Not a container (a sandbox of a tool, a host task): left out, asked again if the process was gone.
      if (cgPath === null) return null;
      c = null;
    } else {
      c = containerFrom(ns, cgPath, this.ownPidns);
      if (c.host && this.mode === 'all' && !this.opts.includeHost) c = null;
    }
    if (this.containers.size > 4096) this.containers.clear();
    this.containers.set(key, c);
    return c;
  }

  private byIdOf(fullId: string, ns: number, cgroup: string | null): ContainerInfo {
    let e = this.byId.get(fullId);
    if (e === undefined) {
      const identity = this.opts.identities?.identity(fullId);
      const base = containerById(fullId, ns, cgroup, identity);
      e = { base, entered: { ...base, entered: true } };
      if (this.byId.size > 4096) this.byId.clear();
      this.byId.set(fullId, e);
      this.opts.onContainer?.(base);
    }
    return e.base;
  }
}

/** '0' × (9 − digits) for a nanosecond count of that many digits (index = its digit count). */
const PAD9 = ['', '00000000', '0000000', '000000', '00000', '0000', '000', '00', '0', ''];

/** The integer written in text[a, b) (an optional '-', then digits), or NaN. */
function intAt(text: string, a: number, b: number): number {
  let i = a;
  const neg = text.charCodeAt(i) === 45;
  if (neg) i++;
  if (i >= b) return NaN;
  let v = 0;
  for (; i < b; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

/** text[a, b) is all decimal digits. */
function digitsAt(text: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

/** procexit's pseudo number: the thread ended. */
function sysnrIsExit(nr: number): boolean {
  return nr === PROCEXIT_NR;
}

/**
 * Ordering of the per-event program's output (src/capture/time-order.ts): an event waits until
 * one later by the hold has come, the hold 1.5 × how far behind events have come lately, between
 * 100 ms (bpftrace's CPUs measured up to 25 ms apart on 2 busy cores while the reader kept up)
 * and 900 ms (359 ms apart when it lagged); or, when no output comes, until the clock is 250 ms
 * past it (bpftrace prints with up to ~100 ms delay), checked every 50 ms. Alerts come that much
 * later; the windows' grace counts from the oldest held event (EbpfSource.now), so holding never
 * makes an event late.
 */
const EVENT_ORDER = { minHoldNs: 100e6, maxHoldNs: 900e6, idleNs: 250e6, warmupNs: 5e9 };
const ORDER_FLUSH_MS = 50;

export class EbpfSource implements LiveSource {
  readonly kind = 'ebpf' as const;
  readonly format = 'lidds' as const;
  readonly clock = 'wall' as const;
  private readonly pids: number[];
  private readonly all: boolean;
  private stderrTail: string[] = [];
  /** Names and images of the containers, from the runtime (kept across bpftrace restarts). */
  readonly identities: IdentityResolver;

  constructor(private readonly spec: SourceSpec) {
    this.pids = spec.pids ?? [];
    this.all = spec.allContainers ?? false;
    if (spec.cmd !== undefined) throw new ChidsError('--source ebpf traces running processes: give --pid PID or --all-containers (use --source strace for --cmd)');
    if (this.all && this.pids.length > 0) throw new ChidsError('give either --pid or --all-containers, not both');
    if (!this.all && spec.includeHost) throw new ChidsError('--include-host goes with --all-containers');
    if (!this.all && this.pids.length === 0) throw new ChidsError('--source ebpf needs --pid PID (a process of the container to watch) or --all-containers');
    for (const p of this.pids) if (!isAlive(p)) throw new ChidsError(`--pid ${p}: no such process`);
    this.identities = new IdentityResolver([new PodmanRuntime()], spec.log);
  }

  /** The converter of the running bpftrace (its held events keep the clock back). */
  private conv: EbpfConverter | null = null;

  /** Wall clock, but never past an event still held for ordering: its window must not close before it is out. */
  now(): { sec: number; nsec: number } {
    const w = wallNow();
    const h = this.conv?.oldestHeld() ?? null;
    return h !== null && earlier(h.sec, h.nsec, w.sec, w.nsec) ? h : w;
  }

  /** Waits until the runtime has answered for every container seen (capture names its recordings after them). */
  settle(): Promise<void> {
    return this.identities.settle();
  }

  /** Checks what eBPF needs and builds the program; throws a ChidsError naming what is missing. */
  prepare(): { script: string; scope: string; fallback: ContainerInfo; own: number | null; namespaces: [number, string][] } {
    const log = this.spec.log;
    const { btf, own, probes } = checkEbpfHost(log);
    if (this.all) {
      if (!btf) throw new ChidsError('--all-containers needs kernel BTF (/sys/kernel/btf/vmlinux) to tell containers apart; watch containers one by one with --pid');
      const scope: Scope = { kind: 'all', includeHost: this.spec.includeHost ?? false, self: process.pid, skipRootCgroup: unifiedCgroups() };
      const fallback = containerFrom(own, null, own);
      return { script: buildScript({ scope, btf, pathProbes: probes }), scope: this.spec.includeHost ? 'every process' : 'all containers', fallback, own, namespaces: [] };
    }
    // Every --pid: its pid namespace when it is a container's, else its process tree (D1: not only the first).
    const pidns = new Set<number>();
    const tids = new Set<number>();
    const namespaces: [number, string][] = [];
    for (const p of this.pids) {
      const ns = pidNamespaceOf(p);
      if (btf && ns !== null && ns !== own) {
        pidns.add(ns);
        const id = containerIdIn(cgroupPathOf(p));
        if (id !== null) namespaces.push([ns, id]);
      } else for (const q of [p, ...descendantsOf(p)]) for (const t of threadsOf(q)) tids.add(t);
    }
    if (!btf) {
      const nss = new Set(this.pids.map((p) => pidNamespaceOf(p)));
      if (nss.size > 1) throw new ChidsError(`--pid ${this.pids.join(',')}: these processes are in different pid namespaces, which needs kernel BTF (/sys/kernel/btf/vmlinux) to tell apart; watch one container per monitor`);
      log.warn('no kernel BTF (/sys/kernel/btf/vmlinux): tracing the process tree of --pid instead of its pid namespace');
    }
    if (tids.size > 8192) throw new ChidsError(`--pid ${this.pids.join(',')}: more than 8192 threads to follow; give container processes (their pid namespace is followed instead)`);
    const scope: Scope = { kind: 'targets', pidns: [...pidns], tids: [...tids] };
    const target = this.pids[0];
    const fallback = containerOfPid(target, own) ?? containerFrom(pidNamespaceOf(target), null, own);
    const parts = [...[...pidns].map((n) => `pidns ${n}`), ...(tids.size > 0 ? [`process tree of ${this.pids.filter((p) => !pidns.has(pidNamespaceOf(p) ?? -1)).join(',')}`] : [])];
    return { script: buildScript({ scope, btf, pathProbes: probes }), scope: parts.join(' + '), fallback, own, namespaces };
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<SourceEnd> {
    const log = this.spec.log;
    const bin = process.env[BPFTRACE_ENV] || 'bpftrace';
    const policy = { ...DEFAULT_RESTART, enabled: this.spec.restart ?? true, max: this.spec.maxRestarts ?? DEFAULT_RESTART.max };
    let prepared = this.prepare();
    const batch = new BatchBuilder();
    let lastOutput = 0;
    // bpftrace does not end when the traced processes do: poll, and stop once all are gone.
    const gone = new AbortController();
    const both = AbortSignal.any([signal, gone.signal]);

    const start = (attempt: number): Promise<ChildExit> => {
      if (attempt > 0) prepared = this.prepare(); // the process tree may have changed
      const hr = process.hrtime.bigint();
      const epochNs = BigInt(Date.now()) * 1_000_000n;
      const off = epochNs - hr;
      const offset = { sec: Number(off / 1_000_000_000n), nsec: Number(off % 1_000_000_000n) };
      const conv = new EbpfConverter(offset, prepared.own, prepared.fallback, (c, l) => batch.add(c, l), true, {
        mode: this.all ? 'all' : 'targets',
        includeHost: this.spec.includeHost,
        identities: this.identities,
        onContainer: (c) => log.info('container discovered', { container: c.id, full_id: c.containerId, pidns: c.pidns, cgroup: c.cgroup }),
        order: EVENT_ORDER,
      });
      this.conv = conv;
      for (const [ns, id] of prepared.namespaces) conv.knowNamespace(ns, id);
      const splitter = new LineSplitter();
      let ready = false;
      const other = (l: string) => {
        if (l.trim() === '') return;
        const lost = /Lost (\d+) events/.exec(l);
        if (lost) {
          sink.lost(Number(lost[1]), 'bpftrace perf buffer overflow');
          return;
        }
        if (/^Attaching \d+ probe/.test(l)) return;
        if (l.startsWith(`${ATTACHED_MARK} `)) {
          if (!ready) {
            ready = true;
            log.info('bpftrace attached', { scope: prepared.scope, attempt });
            sink.ready({ source: 'ebpf', scope: prepared.scope });
          }
          return;
        }
        this.stderr(l);
      };
      return runChild(
        {
          argv: [bin, '-B', 'full', '-e', prepared.script],
          env: { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_PERF_RB_PAGES: '256' },
          out: 'stdout',
          killGroup: false,
          onSpawn: (pid) => log.info('bpftrace started', { bpftrace_pid: pid, attempt, scope: prepared.scope }),
          onOutput: (chunk) => {
            lastOutput = Date.now();
            conv.observeClock(wallNow());
            splitter.push(chunk, (l) => {
              if (!conv.line(l)) other(l);
            });
            batch.flush(sink);
          },
          onStderrLine: other,
          onForcedKill: (graceMs) => log.warn('bpftrace did not stop when asked: killed', { grace_ms: graceMs }),
        },
        both,
      ).finally(() => {
        // What was held for ordering goes out before a restart's new stream or the end.
        conv.drain();
        batch.flush(sink);
        const o = conv.orderStats();
        if (o.reordered > 0 || o.late > 0) log.info('bpftrace events put back in kernel time order', { attempt, reordered: o.reordered, too_late: o.late, first_too_late_s: o.firstLateNs < 0 ? null : Math.round(o.firstLateNs / 1e6) / 1e3, most_behind_ms: Math.round(o.maxBehindNs / 1e6), longest_hold_ms: Math.round(o.maxHoldNs / 1e6) });
      });
    };
    // A quiet stream's held events go out once the clock has left them idleNs behind; checked
    // only when no output came in the last ORDER_FLUSH_MS: while output flows (this process may
    // lag behind bpftrace, its events then older than the clock says) the events themselves move
    // the cutoff.
    const release = setInterval(() => {
      if (this.conv === null || this.conv.oldestHeld() === null || Date.now() - lastOutput < ORDER_FLUSH_MS) return;
      this.conv.flush(wallNow());
      batch.flush(sink);
    }, ORDER_FLUSH_MS);
    // --all-containers runs until stopped; --pid until every target is gone.
    const poll = setInterval(() => {
      if (!this.all && !this.pids.some(isAlive)) gone.abort();
    }, 500);
    let end: { reason: 'exited' | 'stopped'; detail?: string };
    try {
      end = await supervise({
        name: 'bpftrace',
        policy,
        signal: both,
        sink,
        log,
        start,
        shouldRestart: () => this.all || this.pids.some(isAlive),
        describe: (ex) => describeBpftraceFailure(bin, ex, this.stderrTail),
      });
    } finally {
      clearInterval(poll);
      clearInterval(release);
      this.identities.close();
    }
    if (gone.signal.aborted && !signal.aborted) end = { reason: 'exited', detail: `the traced process${this.pids.length > 1 ? 'es' : ''} ended` };
    log.info('ebpf source ended', { reason: end.reason, detail: end.detail });
    return end;
  }

  private stderr(line: string): void {
    noteBpftraceStderr(line, this.stderrTail, this.spec.log);
  }
}

/**
 * bpftrace's harmless warnings and their context lines: it cannot raise RLIMIT_MEMLOCK, or it
 * warns that a probe reads user memory (`Addrspace mismatch`, quoting the `str(args…)`/`uptr(`
 * source line and a `~~~` marker under it). Both programs print them; neither is a failure.
 */
const HARMLESS_BPFTRACE = /RLIMIT_MEMLOCK|Addrspace mismatch|^\s*~+\s*$|uptr\(|str\(args/;

/** One line of bpftrace's stderr: logged and kept (the last 20) for the failure message, unless harmless. */
export function noteBpftraceStderr(line: string, tail: string[], log: Logger): void {
  if (HARMLESS_BPFTRACE.test(line)) return;
  tail.push(line);
  if (tail.length > 20) tail.shift();
  log.info('bpftrace stderr', { line: line.slice(0, 500) });
}

/** The one-line error for a bpftrace that could not start or died: both eBPF programs report alike. */
export function describeBpftraceFailure(bin: string, ex: ChildExit, stderrTail: readonly string[]): string {
  if (ex.spawnError) {
    if (ex.spawnError.code === 'ENOENT') {
      return bin === 'bpftrace'
        ? "--source ebpf: eBPF is unavailable: the bpftrace binary was not found; install the Debian package 'bpftrace' (apt-get install --no-install-recommends bpftrace)"
        : `--source ebpf: eBPF is unavailable: ${bin} (${BPFTRACE_ENV}) was not found`;
    }
    return `--source ebpf: cannot run ${bin}: ${ex.spawnError.message}`;
  }
  const why = stderrTail.slice(-3).join(' ');
  return `--source ebpf: eBPF is unavailable: bpftrace failed (${ex.signal ?? `exit ${ex.code}`})${why ? `: ${why.slice(0, 400)}` : ''}`;
}
