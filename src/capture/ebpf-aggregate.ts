/**
 * `--source ebpf --ebpf-mode aggregate`: the anomaly vector's inputs counted in the kernel, read
 * once per window, instead of one text line per syscall.
 *
 * Printing a line per syscall is what eBPF monitoring costs (bpftrace formats it, a pipe carries
 * it, we parse it): a busy web server loses most of its throughput. Detectors that read only the
 * anomaly vectors need far less: per container and window, the event count, the distinct
 * (syscall, argument) tokens and the distinct consecutive token pairs (src/encode/aggregate.ts
 * turns exactly that into the encoder's vector). The bpftrace program generated here keeps them
 * in BPF maps:
 *
 *     @e0/@e1[container, previous token, token] = count()   the window's pairs (a window's first
 *                                                          event has previous token 0)
 *     @sn0/@sn1[string id] = path                          paths first seen in the window
 *     @cp0/@cp1[container] = pid                           a pid of the container (for its cgroup)
 *
 * and an `interval` probe prints and clears them once a window (plus a grace period) is over.
 * Even and odd windows use separate maps, so the maps being printed are never the ones being
 * written (bpftrace prints and clears maps asynchronously, in its userspace).
 *
 * A token is a 64-bit number: the syscall number + 1 in bits 0–9 (1001 = a thread's end,
 * `procexit`), the argument in bits 10–49: 0 for none, the id of an interned path (`@sid[path]`,
 * a per-CPU counter and the CPU, so two CPUs never mint the same id), or a pid with bit 39 set
 * for `clone`'s `exe=` (the executable of that pid, read from /proc here, as the per-event
 * converter does). The container is the pid namespace inode (high 32 bits) and the cgroup id
 * (low 32 bits). `@last[container]` holds the container's previous token and its window.
 *
 * Arguments follow the per-event converter (src/capture/ebpf.ts): open/stat families carry
 * their path on the exit event, execve on the enter event, clone on the exit event (the pid's
 * executable, or the file it last exec'd while traced); an empty stat path with a directory fd
 * (fstat through newfstatat) is named after the path the fd was opened with. Paths are read
 * with the same 200-byte bound.
 *
 * Where the aggregate may differ from the per-event encoding of the same run:
 *   - windows start at the program's start (a fixed time grid on the kernel's clock), not at the
 *     first event: an event near a window edge can fall on the other side of it;
 *   - consecutive means "the container's previous event in the kernel" (per container, across
 *     CPUs, racy by nanoseconds), while the per-event stream orders events as bpftrace's per-CPU
 *     buffers deliver them: the pairs, and so the USN/UAN centralities, can differ when threads
 *     run concurrently; the count, the distinct syscalls and arguments do not;
 *   - an exit the kernel reports with no syscall number (-1, after rt_sigreturn resets it) counts
 *     as rt_sigreturn; the per-event converter names it after the thread's last entry;
 *   - a path id the kernel kept longer than this side remembers it (see ID_IDLE_WINDOWS) is read
 *     as no argument (counted in `stats.unknownArgs`).
 */
import { readdirSync } from 'node:fs';
import type { AggregateToken, WindowAggregate } from '../encode/aggregate.js';
import { tokenSafe } from '../trace/strace/args.js';
import { ChidsError } from '../util/errors.js';
import { DEFAULT_RESTART, runChild, supervise, type ChildExit } from './child.js';
import { cgroupPathOf, containerFrom, containerOfPid, descendantsOf, exeOf, isAlive, pidNamespaceOf, type ContainerInfo } from './containers.js';
import { BPFTRACE_ENV, checkEbpfHost, describeBpftraceFailure, FROM_OUTSIDE_NS, IN_CHILDREN_NS, NS_CHILDREN, noteBpftraceStderr, type ScriptOptions } from './ebpf.js';
import { LineSplitter, wallNow, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

/** Token code of a thread's end. */
const PROCEXIT_CODE = 1001;
/** Syscall numbers up to this fit the token's 10 bits. */
const MAX_NR = 999;
const RT_SIGRETURN = 15;
const VFORK = 58;
/** clone, fork, vfork, clone3: their exit carries the pid's executable. */
const CLONE_NRS = [56, 57, 58, 435];
const PID_FLAG = 2n ** 39n;
const ARG_MASK = 2n ** 40n - 1n;
/** Bits 0–49 of @last: the token; bits 50–62: (window + 1) mod 8192. */
const TOKEN_MASK = '1125899906842623';
/** Path ids unused for this many windows are forgotten here (the kernel forgets its own every 64 windows). */
export const ID_IDLE_WINDOWS = 600;
const MAX_IDS = 200_000;

export interface AggregateScriptOptions {
  scope: ScriptOptions['scope'] | { kind: 'pidns-set'; inums: number[] };
  btf: boolean;
  pathProbes: ScriptOptions['pathProbes'];
  /** CLOCK_MONOTONIC ns of window 0's start. */
  t0: bigint;
  windowNs: number;
  /** How long after a window's end its maps are read (late events of that window still count). */
  graceNs: number;
  /** How often the interval probe checks for a window to print (ms). */
  tickMs?: number;
}

/** The bpftrace program (pure; tested without bpftrace). */
export function buildAggregateScript(o: AggregateScriptOptions): string {
  const ns = o.btf ? `${NS_CHILDREN}->ns.inum` : '(uint32)0';
  const filter =
    o.scope.kind === 'pidns' ? `${ns} == ${o.scope.inum}` : o.scope.kind === 'pidns-set' ? `(${o.scope.inums.map((i) => `${ns} == ${i}`).join(' || ')})` : '@t[tid]';
  const T0 = o.t0.toString();
  const W = String(Math.round(o.windowNs));
  const win = `((nsecs - ${T0}) / ${W})`;
  // One event with token $t: its pair with the container's previous event of the same window.
  // (bpftrace 0.17 loses a string held in a variable across an `if`: every str() is inline.)
  const event = [
    `$w = ${win};`,
    `$c = ((uint64)${ns} << 32) | (cgroup & 0xffffffff);`,
    '$p = @last[$c];',
    '$pt = (uint64)0;',
    `if (($p >> 50) == (($w + 1) & 8191)) { $pt = $p & ${TOKEN_MASK}; } else { if ($w & 1) { @cp1[$c] = pid; } else { @cp0[$c] = pid; } }`,
    'if ($w & 1) { @e1[$c, $pt, $t] = count(); } else { @e0[$c, $pt, $t] = count(); }',
    '@last[$c] = $t | ((($w + 1) & 8191) << 50);',
  ].join(' ');
  const code = (nr: string) => `(uint64)(${nr} + 1)`;
  const lines: string[] = [];
  const procexitExtra = 'delete(@pend[tid]); delete(@vf[tid]); if (pid == tid) { delete(@exe[pid]); }';
  // Windows before the probes were attached are empty: start reading at the current one.
  // BEGIN runs once every probe is attached: `@@B` says the program is counting.
  const begin = `@next = ${win}; printf("@@B %llu\\n", @next);`;
  if (o.scope.kind === 'tree') {
    lines.push(`BEGIN { ${begin} ${o.scope.tids.map((t) => `@t[${t}] = 1;`).join(' ')} }`);
    lines.push('tracepoint:sched:sched_process_fork /@t[args->parent_pid]/ { @t[args->child_pid] = 1; }');
    lines.push(`tracepoint:sched:sched_process_exit /@t[tid]/ { $t = (uint64)${PROCEXIT_CODE}; ${event} ${procexitExtra} delete(@t[tid]); }`);
  }
  // A process forked into the namespace from outside it (runc init for `podman exec` or a
  // restart, nsenter's child), and what it forks, is the runtime's until it execs: not the
  // container's activity (runc's Go start-up alone is a thousand calls, futex among them, that the
  // container never makes). Marked in the kernel at the fork, where the order is certain; its
  // events are not counted; its successful exec is, as the container's first (the per-event
  // converter draws the same line). A task whose own pid namespace is not the one its children
  // go to lives outside the container (runc:[1:CHILD] after its setns, nsenter before it forks):
  // not counted either. Needs BTF for the namespace levels.
  const runtime = o.btf && o.scope.kind !== 'tree';
  const own = runtime ? ` && !@rt[pid] && ${IN_CHILDREN_NS}` : '';
  if (o.scope.kind !== 'tree') {
    lines.push(`BEGIN { ${begin} }`);
    if (runtime) {
      lines.push(
        `tracepoint:sched:sched_process_fork /${filter}/ { if (${FROM_OUTSIDE_NS} || @rt[pid]) { @rt[(uint64)args->child_pid] = 1; } }`,
      );
    }
    // (One probe: two on the same tracepoint would run in an order of their own.)
    const runtimeExit = runtime ? `if (@rt[pid] || @rt[tid] || !(${IN_CHILDREN_NS})) { delete(@rt[tid]); ${procexitExtra} return; } ` : '';
    lines.push(`tracepoint:sched:sched_process_exit /${filter}/ { ${runtimeExit}$t = (uint64)${PROCEXIT_CODE}; ${event} ${procexitExtra} }`);
  }
  const skip = o.pathProbes.map((p) => ` && args->id != ${p.nr}`).join('');
  // vfork's parent returns with no syscall number (-1), as rt_sigreturn does: a thread in vfork is
  // marked so that its exit is vfork's, as the per-event converter names it from the thread's last enter.
  lines.push(`tracepoint:raw_syscalls:sys_enter /${filter}${own}${skip}/ { $n = args->id; if ($n > ${MAX_NR}) { $n = ${MAX_NR}; } if ($n == ${VFORK}) { @vf[tid] = 1; } $t = ${code('$n')}; ${event} }`);
  const clone = CLONE_NRS.map((n) => `$n == ${n}`).join(' || ');
  // A new process (the child's side of a fork: it returns 0, its main thread) runs its parent's
  // executable until it execs. Name it by the parent: read later from /proc, the child (a CGI, a
  // shell) has often exited, and its clone would carry no argument where the per-event stream
  // names the file. Needs BTF for the parent; without it the child's own pid is read.
  // The child keeps what it was named by, so that its own children (a server's handler forking a
  // shell) are named after the long-lived ancestor rather than a pid that may be gone.
  const childExe = o.btf
    ? `if ($a == 0 && args->ret == 0 && pid == tid) { $q = (uint64)curtask->real_parent->tgid; $a = @exe[$q]; if ($a == 0) { $a = ${PID_FLAG} | $q; } @exe[pid] = $a; } `
    : '';
  lines.push(
    `tracepoint:raw_syscalls:sys_exit /${filter}${own}${skip}/ { $n = args->id; if ($n < 0) { $n = ${RT_SIGRETURN}; if (@vf[tid]) { $n = ${VFORK}; } } if ($n == ${VFORK}) { delete(@vf[tid]); } if ($n > ${MAX_NR}) { $n = ${MAX_NR}; } $t = ${code('$n')}; ` +
      `if (${clone}) { $a = @exe[pid]; ${childExe}if ($a == 0) { $a = ${PID_FLAG} | pid; } $t = $t | ($a << 10); } ${event} }`,
  );
  for (const p of o.pathProbes) {
    const fam = p.name.startsWith('exec') ? 'exec' : p.name === 'open' || p.name.startsWith('openat') || p.name === 'creat' ? 'open' : 'stat';
    const s = `str(args->${p.field})`;
    const intern =
      `if ($id == 0) { @ctr[cpu] = @ctr[cpu] + 1; $id = (@ctr[cpu] << 8) | cpu; ` +
      `if (${win} & 1) { @sn1[$id] = ${s}; } else { @sn0[$id] = ${s}; } @sid[${s}] = $id; }`;
    // An empty stat path on a directory fd (fstat through newfstatat): the path the fd was opened with.
    const fromFd =
      fam === 'stat' && p.dfd ? `if ((int32)args->dfd >= 0) { if (*(uint8 *)uptr(args->${p.field}) == 0) { $f = @fdp[pid, (uint32)args->dfd]; if ($f != 0) { $id = $f; } } } ` : '';
    const enterTok = fam === 'exec' ? `$t = ${code(String(p.nr))} | ((uint64)$id << 10);` : `$t = ${code(String(p.nr))};`;
    lines.push(`tracepoint:syscalls:sys_enter_${p.tp} /${filter}${own}/ { $id = @sid[${s}]; ${fromFd}${intern} @pend[tid] = $id; ${enterTok} ${event} }`);
    const keep =
      fam === 'open' ? 'if (args->ret >= 0 && $id != 0) { @fdp[pid, (uint32)args->ret] = $id; } ' : fam === 'exec' ? 'if (args->ret == 0 && $id != 0) { @exe[pid] = $id; } ' : '';
    const exitTok = fam === 'exec' ? `$t = ${code(String(p.nr))};` : `$t = ${code(String(p.nr))} | ((uint64)$id << 10);`;
    // The runtime's successful exec is the container's first event; its failed ones are the runtime's.
    const exitFilter = fam === 'exec' ? (runtime ? `${filter} && ${IN_CHILDREN_NS}` : filter) : `${filter}${own}`;
    const execEnds = fam === 'exec' && runtime ? 'if (@rt[pid]) { if (args->ret != 0) { return; } delete(@rt[pid]); } ' : '';
    lines.push(`tracepoint:syscalls:sys_exit_${p.tp} /${exitFilter}/ { ${execEnds}$id = @pend[tid]; delete(@pend[tid]); ${keep}${exitTok} ${event} }`);
  }
  const flush = (k: 0 | 1) => `print(@e${k}); clear(@e${k}); print(@sn${k}); clear(@sn${k}); print(@cp${k}); clear(@cp${k});`;
  lines.push(
    `interval:ms:${o.tickMs ?? 50} { $cur = ${win}; $in = (nsecs - ${T0}) % ${W}; ` +
      `if ($cur >= @next + 2 || ($cur == @next + 1 && $in >= ${Math.round(o.graceNs)})) { ` +
      `printf("@@W %llu %llu\\n", @next, $cur); if (@next & 1) { ${flush(1)} } else { ${flush(0)} } printf("@@E %llu\\n", @next); ` +
      // The path ids and fd paths are bounded: forgotten every 64 windows (paths seen again get new ids).
      `if (@next % 64 == 63) { clear(@sid); clear(@fdp); } @next = @next + 1; } }`,
  );
  const maps = ['@e0', '@e1', '@sn0', '@sn1', '@cp0', '@cp1', '@last', '@sid', '@ctr', '@pend', '@fdp', '@exe', '@vf', '@next', ...(o.scope.kind === 'tree' ? ['@t'] : []), ...(runtime ? ['@rt'] : [])];
  lines.push(`END { ${maps.map((m) => `clear(${m});`).join(' ')} }`); // bpftrace would print the maps at exit
  return lines.join('\n') + '\n';
}

/** One container's window, as read from the kernel. */
export interface AggregateWindow {
  container: ContainerInfo;
  /** Window index since the source started (a fixed grid of windowNs from startNs of window 0). */
  index: number;
  /** Window start, epoch ns. */
  startNs: bigint;
  aggregate: WindowAggregate;
  /** Its maps may have been read late: the counts may hold events of the window two later (see Pending.late). */
  late: boolean;
}

interface Pending {
  index: number;
  /**
   * The window's maps may have been read after the next window of the same parity had begun, so
   * its counts may hold some of that window's events (and that window lose them): either the
   * kernel's tick came that late, or bpftrace's user space, which reads and clears the maps when
   * it gets to the print (print and clear are not done in the kernel), had not got to it by then.
   */
  late: boolean;
  edges: Map<bigint, { prev: bigint; tok: bigint; n: number }[]>;
  pids: Map<bigint, number>;
}

const EDGE = /^@e[01]\[(-?\d+), (-?\d+), (-?\d+)\]: (\d+)$/;
const NAME = /^@sn[01]\[(-?\d+)\]: (.*)$/;
const CPID = /^@cp[01]\[(-?\d+)\]: (\d+)$/;

const u64 = (s: string): bigint => BigInt.asUintN(64, BigInt(s));

/**
 * Reads the program's output: collects a window's maps between `@@W k` and `@@E k` and turns
 * each container's share into a WindowAggregate (pure apart from /proc reads for executables
 * and cgroups, which `procfs: false` turns off).
 */
export class AggregateReader {
  /** Path id → [path, last window it was used in]. */
  private readonly ids = new Map<bigint, { path: string; used: number }>();
  private readonly exes = new Map<number, string>();
  private readonly containers = new Map<bigint, ContainerInfo>();
  private pending: Pending | null = null;
  stats = { windows: 0, lateWindows: 0, unknownArgs: 0, lines: 0, unparsed: 0 };

  constructor(
    private readonly o: {
      /** Epoch ns of window 0's start. */
      startNs: bigint;
      windowNs: number;
      /** Added to the program's window numbers (a restarted program counts from 0 again). */
      indexOffset?: number;
      ownPidns: number | null;
      fallback: ContainerInfo;
      procfs?: boolean;
      /** The current time on startNs's clock: a window whose end marker arrives after the next window of its parity began is marked late. */
      now?: () => bigint;
    },
    private readonly emit: (w: AggregateWindow) => void,
  ) {}

  /** One line of bpftrace output; false when it is not the program's. */
  line(text: string): boolean {
    if (text.length === 0) return this.pending !== null;
    if (text.charCodeAt(0) !== 64 /* @ */) return false;
    this.stats.lines++;
    const p = this.pending;
    if (text.startsWith('@e')) {
      const m = EDGE.exec(text);
      if (m === null || p === null) return this.bad();
      const c = u64(m[1]);
      let list = p.edges.get(c);
      if (list === undefined) p.edges.set(c, (list = []));
      list.push({ prev: u64(m[2]), tok: u64(m[3]), n: Number(m[4]) });
      return true;
    }
    if (text.startsWith('@sn')) {
      const m = NAME.exec(text);
      if (m === null) return this.bad();
      this.ids.set(u64(m[1]), { path: tokenSafe(m[2]), used: p?.index ?? 0 });
      return true;
    }
    if (text.startsWith('@cp')) {
      const m = CPID.exec(text);
      if (m === null || p === null) return this.bad();
      p.pids.set(u64(m[1]), Number(m[2]));
      return true;
    }
    if (text.startsWith('@@W ')) {
      const [k, cur] = text.slice(4).split(' ').map(Number);
      this.pending = { index: k, late: cur > k + 1, edges: new Map(), pids: new Map() };
      return true;
    }
    if (text.startsWith('@@E ')) {
      if (p !== null) {
        // Reading the maps happens before their lines reach us: on time here means it was on time.
        if (this.o.now !== undefined && this.o.now() >= this.startOf(p.index + 2)) p.late = true;
        this.close(p);
      }
      this.pending = null;
      return true;
    }
    return false;
  }

  /** Start of the program's window `index` on startNs's clock. */
  private startOf(index: number): bigint {
    return this.o.startNs + BigInt(index) * BigInt(Math.round(this.o.windowNs));
  }

  private bad(): boolean {
    this.stats.unparsed++;
    return true;
  }

  private close(p: Pending): void {
    this.stats.windows++;
    if (p.late) this.stats.lateWindows++;
    const index = p.index + (this.o.indexOffset ?? 0);
    const startNs = this.startOf(p.index);
    for (const [c, edges] of p.edges) {
      const tokIndex = new Map<bigint, number>();
      const tokens: AggregateToken[] = [];
      const from: number[] = [];
      const to: number[] = [];
      let events = 0;
      const indexOf = (t: bigint): number => {
        let i = tokIndex.get(t);
        if (i === undefined) {
          tokIndex.set(t, (i = tokens.length));
          tokens.push(this.token(t, p.index));
        }
        return i;
      };
      for (const e of edges) {
        events += e.n;
        const b = indexOf(e.tok);
        if (e.prev !== 0n) {
          from.push(indexOf(e.prev));
          to.push(b);
        }
      }
      this.emit({ container: this.container(c, p.pids.get(c)), index, startNs, aggregate: { events, tokens, from, to }, late: p.late });
    }
    if (this.ids.size > MAX_IDS || p.index % 64 === 0) {
      for (const [id, v] of this.ids) if (p.index - v.used > ID_IDLE_WINDOWS || this.ids.size > MAX_IDS) this.ids.delete(id);
    }
    if (this.exes.size > 65536) this.exes.clear();
  }

  private token(t: bigint, window: number): AggregateToken {
    const code = Number(t & 1023n);
    const name = code === PROCEXIT_CODE ? 'procexit' : (X86_64_SYSCALLS[code - 1] ?? `syscall_${code - 1}`);
    const a = (t >> 10n) & ARG_MASK;
    if (a === 0n) return { name, arg: null };
    if ((a & PID_FLAG) !== 0n) {
      const pid = Number(a & (PID_FLAG - 1n));
      let e = this.exes.get(pid);
      if (e === undefined) {
        e = this.o.procfs === false ? '' : (exeOf(pid) ?? '');
        this.exes.set(pid, e);
      }
      // The converter writes no exe= when it has none.
      return { name, arg: e === '' ? null : e };
    }
    const v = this.ids.get(a);
    if (v === undefined) {
      this.stats.unknownArgs++;
      return { name, arg: null };
    }
    v.used = window;
    return { name, arg: v.path };
  }

  private container(c: bigint, pid: number | undefined): ContainerInfo {
    const ns = Number(c >> 32n);
    if (ns === 0) return this.o.fallback;
    let info = this.containers.get(c);
    if (info === undefined) {
      info = containerFrom(ns, this.o.procfs !== false && pid !== undefined ? cgroupPathOf(pid) : null, this.o.ownPidns);
      if (this.containers.size > 4096) this.containers.clear();
      this.containers.set(c, info);
    }
    return info;
  }
}

/** The monotonic clock and its offset to epoch time, in ns. */
function clocks(): { mono: bigint; epochMinusMono: bigint } {
  const mono = process.hrtime.bigint();
  const epoch = BigInt(Date.now()) * 1_000_000n;
  return { mono, epochMinusMono: epoch - mono };
}

export interface AggregateSourceOptions {
  windowNs: number;
  /** ms after a window's end before its maps are read (default 100). */
  graceMs?: number;
  onWindow(w: AggregateWindow): void;
}

/**
 * The eBPF source in aggregate mode: a LiveSource that delivers windows (through onWindow), not
 * lines; the sink hears only of readiness, restarts and losses.
 */
export class AggregateEbpfSource implements LiveSource {
  readonly kind = 'ebpf' as const;
  readonly format = 'lidds' as const;
  readonly clock = 'wall' as const;
  private readonly pids: number[];
  private stderrTail: string[] = [];
  /** The current program's reader (for its stats). */
  reader: AggregateReader | null = null;

  constructor(
    private readonly spec: SourceSpec,
    private readonly o: AggregateSourceOptions,
  ) {
    this.pids = spec.pids ?? [];
    if (spec.cmd !== undefined) throw new ChidsError('--source ebpf traces running processes: give --pid PID (use --source strace for --cmd)');
    if (this.pids.length === 0) throw new ChidsError('--source ebpf needs --pid PID (a process of the container to watch)');
    for (const p of this.pids) if (!isAlive(p)) throw new ChidsError(`--pid ${p}: no such process`);
  }

  now(): { sec: number; nsec: number } {
    return wallNow();
  }

  /** Checks what eBPF needs and resolves what to trace; throws a ChidsError naming what is missing. */
  prepare(): { scope: AggregateScriptOptions['scope']; describe: string; btf: boolean; probes: ScriptOptions['pathProbes']; fallback: ContainerInfo; own: number | null } {
    const log = this.spec.log;
    const { btf, own, probes } = checkEbpfHost(log);
    const nss = [...new Set(this.pids.map((p) => pidNamespaceOf(p)))];
    const fallback = containerOfPid(this.pids[0], own) ?? containerFrom(nss[0] ?? null, null, own);
    // Every --pid's pid namespace when they are all containers'; else the process trees.
    if (btf && nss.every((n) => n !== null && n !== own)) {
      const inums = nss as number[];
      const scope: AggregateScriptOptions['scope'] = inums.length === 1 ? { kind: 'pidns', inum: inums[0] } : { kind: 'pidns-set', inums };
      return { scope, describe: `pidns ${inums.join(',')}`, btf, probes, fallback, own };
    }
    const tids = new Set<number>();
    for (const p of this.pids) for (const q of [p, ...descendantsOf(p)]) for (const t of threadsOf(q)) tids.add(t);
    if (!btf) log.warn('no kernel BTF (/sys/kernel/btf/vmlinux): tracing the process tree of --pid instead of its pid namespace');
    return { scope: { kind: 'tree', tids: [...tids].slice(0, 8192) }, describe: `process tree of ${this.pids.join(',')}`, btf, probes, fallback, own };
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<SourceEnd> {
    const log = this.spec.log;
    const bin = process.env[BPFTRACE_ENV] || 'bpftrace';
    const policy = { ...DEFAULT_RESTART, enabled: this.spec.restart ?? true, max: this.spec.maxRestarts ?? DEFAULT_RESTART.max };
    let prepared = this.prepare();
    const gone = new AbortController();
    const both = AbortSignal.any([signal, gone.signal]);
    const W = Math.round(this.o.windowNs);
    let firstT0: bigint | null = null;
    let warnedLate = false;

    const start = (attempt: number): Promise<ChildExit> => {
      if (attempt > 0) prepared = this.prepare();
      const { mono, epochMinusMono } = clocks();
      const t0 = mono;
      firstT0 ??= t0;
      const script = buildAggregateScript({ scope: prepared.scope, btf: prepared.btf, pathProbes: prepared.probes, t0, windowNs: W, graceNs: (this.o.graceMs ?? 100) * 1e6 });
      const reader = new AggregateReader(
        { startNs: t0 + epochMinusMono, windowNs: W, indexOffset: Number((t0 - firstT0) / BigInt(W)) + (attempt > 0 ? 1 : 0), ownPidns: prepared.own, fallback: prepared.fallback, now: () => process.hrtime.bigint() + epochMinusMono },
        (w) => {
          if (w.late && !warnedLate) {
            warnedLate = true;
            log.warn("bpftrace read a window's maps late (a busy machine): its counts may include some of the window two later's events; such windows are counted (lateWindows, logged when the source ends)", { window: w.index });
          }
          this.o.onWindow(w);
        },
      );
      this.reader = reader;
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
        if (l.startsWith('@@B ')) {
          if (!ready) {
            ready = true;
            log.info('bpftrace attached', { scope: prepared.describe, mode: 'aggregate', attempt });
            sink.ready({ source: 'ebpf', mode: 'aggregate', scope: prepared.describe });
          }
          return;
        }
        this.stderr(l);
      };
      return runChild(
        {
          argv: [bin, '-B', 'line', '-e', script],
          env: { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536' },
          out: 'stdout',
          killGroup: false,
          onSpawn: (pid) => log.info('bpftrace started', { bpftrace_pid: pid, attempt, scope: prepared.describe, mode: 'aggregate' }),
          onOutput: (chunk) =>
            splitter.push(chunk, (l) => {
              if (!reader.line(l)) other(l);
            }),
          onStderrLine: other,
          onForcedKill: (graceMs) => log.warn('bpftrace did not stop when asked: killed', { grace_ms: graceMs }),
        },
        both,
      );
    };
    const poll = setInterval(() => {
      if (!this.pids.some(isAlive)) gone.abort();
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
        shouldRestart: () => this.pids.some(isAlive),
        describe: (ex) => describeBpftraceFailure(bin, ex, this.stderrTail),
      });
    } finally {
      clearInterval(poll);
    }
    if (gone.signal.aborted && !signal.aborted) end = { reason: 'exited', detail: `the traced process${this.pids.length > 1 ? 'es' : ''} ended` };
    log.info('ebpf source ended', { reason: end.reason, detail: end.detail, mode: 'aggregate', ...(this.reader?.stats ?? {}) });
    return end;
  }

  private stderr(line: string): void {
    noteBpftraceStderr(line, this.stderrTail, this.spec.log);
  }
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter(Number.isInteger);
  } catch {
    return [pid];
  }
}
