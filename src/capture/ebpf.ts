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
import { DEFAULT_RESTART, runChild, supervise, type ChildExit } from './child.js';
import { cgroupPathOf, containerFrom, containerOfPid, descendantsOf, exeOf, isAlive, pidNamespaceOf, type ContainerInfo } from './containers.js';
import { BatchBuilder, LineSplitter, wallNow, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';
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

/** Pseudo syscall number of the procexit lines (a thread ended). */
const PROCEXIT_NR = -2;

export interface ScriptOptions {
  scope: { kind: 'pidns'; inum: number } | { kind: 'tree'; tids: number[] };
  /** Kernel BTF is there: the pid namespace can be read per event. */
  btf: boolean;
  /** Path tracepoints available: syscall → { nr, tracepoint, path field, has a dfd field }. */
  pathProbes: { name: string; nr: number; tp: string; field: string; dfd?: boolean }[];
}

/** The bpftrace program for a scope (pure; tested without bpftrace). */
export function buildScript(o: ScriptOptions): string {
  const ns = o.btf ? 'curtask->nsproxy->pid_ns_for_children->ns.inum' : '(uint32)0';
  const filter = o.scope.kind === 'pidns' ? `${ns} == ${o.scope.inum}` : '@t[tid]';
  const head = (dir: string) => `"%llu %d %d %d %d ${dir} %u %llu\\t%s\\t`;
  const fields = (nr: string) => `nsecs, tid, pid, uid, ${nr}, ${ns}, cgroup, comm`;
  const skip = o.pathProbes.map((p) => ` && args->id != ${p.nr}`).join('');
  const lines: string[] = [];
  // A thread's end, as the lab's converter writes strace's `+++ exited`: procexit (NR -2), EXTRA = exit code.
  const status = o.btf ? 'curtask->exit_code' : '0';
  const procexit = `printf(${head('>')}%d\\n", ${fields(String(PROCEXIT_NR))}, ${status});`;
  if (o.scope.kind === 'tree') {
    lines.push(`BEGIN { ${o.scope.tids.map((t) => `@t[${t}] = 1;`).join(' ')} }`);
    lines.push('tracepoint:sched:sched_process_fork /@t[args->parent_pid]/ { @t[args->child_pid] = 1; }');
    lines.push(`tracepoint:sched:sched_process_exit /@t[tid]/ { ${procexit} delete(@t[tid]); }`);
    lines.push('END { clear(@t); }'); // bpftrace would print the map at exit
  } else {
    lines.push(`tracepoint:sched:sched_process_exit /${filter}/ { ${procexit} }`);
  }
  lines.push(`tracepoint:raw_syscalls:sys_enter /${filter}${skip}/ { printf(${head('>')}\\n", ${fields('args->id')}); }`);
  lines.push(`tracepoint:raw_syscalls:sys_exit /${filter}${skip}/ { printf(${head('<')}%ld\\n", ${fields('args->id')}, args->ret); }`);
  for (const p of o.pathProbes) {
    // EXTRA = the directory fd (-100 when the call has none) and the path.
    lines.push(`tracepoint:syscalls:sys_enter_${p.tp} /${filter}/ { printf(${head('>')}%d %s\\n", ${fields(String(p.nr))}, ${p.dfd ? 'args->dfd' : '-100'}, str(args->${p.field})); }`);
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
function pathProbes(root: string): ScriptOptions['pathProbes'] {
  const nrOf = new Map(Object.entries(X86_64_SYSCALLS).map(([nr, name]) => [name, Number(nr)]));
  const out: ScriptOptions['pathProbes'] = [];
  for (const p of PATH_SYSCALLS) {
    const nr = nrOf.get(p.name);
    const fmt = path.join(root, 'events', 'syscalls', `sys_enter_${p.tp}`, 'format');
    if (nr === undefined || !existsSync(fmt) || !existsSync(path.join(root, 'events', 'syscalls', `sys_exit_${p.tp}`))) continue;
    const text = readFileSync(fmt, 'utf8');
    const m = /field:const char \* (filename|pathname|path);/.exec(text);
    if (m) out.push({ name: p.name, nr, tp: p.tp, field: m[1], dfd: /field:int dfd;/.test(text) });
  }
  return out;
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter(Number.isInteger);
  } catch {
    return [pid];
  }
}

/** Converts bpftrace's lines to LID-DS lines (pure apart from /proc lookups for exe and cgroup). */
export class EbpfConverter {
  private readonly family = new Map<number, Family>();
  private readonly pending = new Map<number, string>();
  private readonly exes = new Map<number, string>();
  /** The path each (pid, fd) was opened with, to name fstatat(fd, "") as the lab's converter does. */
  private readonly fdPaths = new Map<string, string>();
  /** Number of each thread's last raw enter (the kernel reports -1 on some exits, e.g. vfork's parent). */
  private readonly lastNr = new Map<number, number>();
  private readonly containers = new Map<string, ContainerInfo>();
  private lastSec = 0;
  private lastNsec = 0;
  stats = { lines: 0, events: 0, unparsed: 0 };

  constructor(
    /** Epoch − monotonic, in ns, as [seconds, nanoseconds]. */
    private readonly offset: { sec: number; nsec: number },
    private readonly ownPidns: number | null,
    /** Container when the pid namespace is not printed (no BTF). */
    private readonly fallback: ContainerInfo,
    private readonly emit: (c: ContainerInfo, line: string) => void,
    private readonly procfs = true,
  ) {
    for (const p of PATH_SYSCALLS) {
      const nr = Object.entries(X86_64_SYSCALLS).find(([, n]) => n === p.name)?.[0];
      if (nr !== undefined) this.family.set(Number(nr), p.family);
    }
  }

  /** One line of bpftrace output; returns false when it is not an event line. */
  line(text: string): boolean {
    const t1 = text.indexOf('\t');
    const t2 = t1 < 0 ? -1 : text.indexOf('\t', t1 + 1);
    if (t2 < 0) return false;
    const f = text.slice(0, t1).split(' ');
    if (f.length !== 8 || (f[5] !== '>' && f[5] !== '<')) return false;
    this.stats.lines++;
    const [mono, tidS, pidS, uidS, nrS, dir, nsS, cgS] = f;
    const nr = Number(nrS);
    const tid = Number(tidS);
    const pid = Number(pidS);
    if (!/^\d{1,20}$/.test(mono) || !Number.isInteger(nr) || !Number.isInteger(tid)) {
      this.stats.unparsed++;
      return true;
    }
    const comm = tokenSafe(text.slice(t1 + 1, t2)) || '?';
    const extra = text.slice(t2 + 1);
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
          if (ret === '0' && file !== undefined) this.exes.set(pid, file);
          const exe = this.exeOf(pid);
          args = `res=${ret}${exe ? ` exe=${exe}` : ''}`;
        }
      } else if (CLONE_FAMILY.has(name)) {
        const exe = this.exeOf(pid);
        args = `res=${ret}${exe ? ` exe=${exe}` : ''}`;
      } else {
        args = `res=${ret}`;
      }
    }
    const c = this.container(Number(nsS), cgS, pid);
    this.stats.events++;
    this.emit(c, `${this.epoch(mono)} ${uidS} ${pid} ${comm} ${tid} ${name} ${dir} ${args}`);
    return true;
  }

  /** Epoch ns text of a monotonic ns text, made non-decreasing (per-CPU buffers interleave slightly out of order). */
  private epoch(mono: string): string {
    const sec = mono.length > 9 ? Number(mono.slice(0, -9)) : 0;
    const nsec = Number(mono.length > 9 ? mono.slice(-9) : mono);
    let s = sec + this.offset.sec;
    let n = nsec + this.offset.nsec;
    if (n >= 1e9) {
      n -= 1e9;
      s++;
    } else if (n < 0) {
      n += 1e9;
      s--;
    }
    if (s < this.lastSec || (s === this.lastSec && n < this.lastNsec)) {
      s = this.lastSec;
      n = this.lastNsec;
    } else {
      this.lastSec = s;
      this.lastNsec = n;
    }
    return `${s}${String(n).padStart(9, '0')}`;
  }

  private exeOf(pid: number): string | null {
    let e = this.exes.get(pid);
    if (e === undefined && this.procfs) {
      e = exeOf(pid) ?? '';
      if (this.exes.size > 65536) this.exes.clear();
      this.exes.set(pid, e);
    }
    return e || null;
  }

  private container(ns: number, cg: string, pid: number): ContainerInfo {
    if (!ns) return this.fallback;
    const key = `${ns}:${cg}`;
    let c = this.containers.get(key);
    if (c === undefined) {
      c = containerFrom(ns, this.procfs ? cgroupPathOf(pid) : null, this.ownPidns);
      if (this.containers.size > 4096) this.containers.clear();
      this.containers.set(key, c);
    }
    return c;
  }
}

export class EbpfSource implements LiveSource {
  readonly kind = 'ebpf' as const;
  readonly format = 'lidds' as const;
  readonly clock = 'wall' as const;
  private readonly pids: number[];
  private stderrTail: string[] = [];

  constructor(private readonly spec: SourceSpec) {
    this.pids = spec.pids ?? [];
    if (spec.cmd !== undefined) throw new ChidsError('--source ebpf traces running processes: give --pid PID (use --source strace for --cmd)');
    if (this.pids.length === 0) throw new ChidsError('--source ebpf needs --pid PID (a process of the container to watch)');
    for (const p of this.pids) if (!isAlive(p)) throw new ChidsError(`--pid ${p}: no such process`);
  }

  now(): { sec: number; nsec: number } {
    return wallNow();
  }

  /** Checks what eBPF needs and builds the program; throws a ChidsError naming what is missing. */
  prepare(): { script: string; scope: string; fallback: ContainerInfo; own: number | null } {
    if (process.arch !== 'x64') throw new ChidsError(`--source ebpf: only x86_64 is supported (this is ${process.arch}); use --source strace`);
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new ChidsError('--source ebpf: eBPF needs root (or CAP_BPF + CAP_PERFMON); run as root or use --source strace');
    }
    const log = this.spec.log;
    const root = ensureTracefs((msg, f) => log.info(msg, f));
    if (root === null) throw new ChidsError('--source ebpf: eBPF is unavailable: no tracefs (mount -t tracefs nodev /sys/kernel/tracing failed)');
    if (!existsSync(path.join(root, 'events', 'raw_syscalls'))) {
      throw new ChidsError(`--source ebpf: eBPF is unavailable: the kernel has no raw_syscalls tracepoints (${root}/events/raw_syscalls)`);
    }
    const btf = existsSync('/sys/kernel/btf/vmlinux');
    const own = pidNamespaceOf('self');
    const target = this.pids[0];
    const targetNs = pidNamespaceOf(target);
    const probes = pathProbes(root);
    if (probes.length === 0) log.warn('no syscalls:* tracepoints: file paths of open/stat/execve will be missing', { tracefs: root });
    let scope: ScriptOptions['scope'];
    if (btf && targetNs !== null && targetNs !== own) {
      scope = { kind: 'pidns', inum: targetNs };
      if (this.pids.some((p) => pidNamespaceOf(p) !== targetNs)) log.warn('--pid: only the first process\'s pid namespace is traced', { pidns: targetNs });
    } else {
      const tids = new Set<number>();
      for (const p of this.pids) for (const q of [p, ...descendantsOf(p)]) for (const t of threadsOf(q)) tids.add(t);
      scope = { kind: 'tree', tids: [...tids].slice(0, 8192) };
      if (!btf) log.warn('no kernel BTF (/sys/kernel/btf/vmlinux): tracing the process tree of --pid instead of its pid namespace');
    }
    const fallback = containerOfPid(target, own) ?? containerFrom(targetNs, null, own);
    const script = buildScript({ scope, btf, pathProbes: probes });
    return { script, scope: scope.kind === 'pidns' ? `pidns ${scope.inum}` : `process tree of ${this.pids.join(',')}`, fallback, own };
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<SourceEnd> {
    const log = this.spec.log;
    const bin = process.env[BPFTRACE_ENV] || 'bpftrace';
    const policy = { ...DEFAULT_RESTART, enabled: this.spec.restart ?? true, max: this.spec.maxRestarts ?? DEFAULT_RESTART.max };
    let prepared = this.prepare();
    const batch = new BatchBuilder();
    // bpftrace does not end when the traced processes do: poll, and stop once all are gone.
    const gone = new AbortController();
    const both = AbortSignal.any([signal, gone.signal]);

    const start = (attempt: number): Promise<ChildExit> => {
      if (attempt > 0) prepared = this.prepare(); // the process tree may have changed
      const hr = process.hrtime.bigint();
      const epochNs = BigInt(Date.now()) * 1_000_000n;
      const off = epochNs - hr;
      const offset = { sec: Number(off / 1_000_000_000n), nsec: Number(off % 1_000_000_000n) };
      const conv = new EbpfConverter(offset, prepared.own, prepared.fallback, (c, l) => batch.add(c, l));
      const splitter = new LineSplitter();
      let ready = false;
      const other = (l: string) => {
        if (l.trim() === '') return;
        const lost = /Lost (\d+) events/.exec(l);
        if (lost) {
          sink.lost(Number(lost[1]), 'bpftrace perf buffer overflow');
          return;
        }
        if (/^Attaching \d+ probe/.test(l)) {
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
          argv: [bin, '-B', 'line', '-e', prepared.script],
          env: { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_PERF_RB_PAGES: '256' },
          out: 'stdout',
          killGroup: false,
          onSpawn: (pid) => log.info('bpftrace started', { bpftrace_pid: pid, attempt, scope: prepared.scope }),
          onOutput: (chunk) => {
            splitter.push(chunk, (l) => {
              if (!conv.line(l)) other(l);
            });
            batch.flush(sink);
          },
          onStderrLine: other,
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
        describe: (ex) => this.describe(bin, ex),
      });
    } finally {
      clearInterval(poll);
    }
    if (gone.signal.aborted && !signal.aborted) end = { reason: 'exited', detail: `the traced process${this.pids.length > 1 ? 'es' : ''} ended` };
    log.info('ebpf source ended', { reason: end.reason, detail: end.detail });
    return end;
  }

  private stderr(line: string): void {
    if (/RLIMIT_MEMLOCK/.test(line)) return; // bpftrace's harmless warning when it cannot raise the limit
    this.stderrTail.push(line);
    if (this.stderrTail.length > 20) this.stderrTail.shift();
    this.spec.log.info('bpftrace stderr', { line: line.slice(0, 500) });
  }

  private describe(bin: string, ex: ChildExit): string {
    if (ex.spawnError) {
      if (ex.spawnError.code === 'ENOENT') {
        return bin === 'bpftrace'
          ? "--source ebpf: eBPF is unavailable: the bpftrace binary was not found; install the Debian package 'bpftrace' (apt-get install --no-install-recommends bpftrace)"
          : `--source ebpf: eBPF is unavailable: ${bin} (${BPFTRACE_ENV}) was not found`;
      }
      return `--source ebpf: cannot run ${bin}: ${ex.spawnError.message}`;
    }
    const why = this.stderrTail.slice(-3).join(' ');
    return `--source ebpf: eBPF is unavailable: bpftrace failed (${ex.signal ?? `exit ${ex.code}`})${why ? `: ${why.slice(0, 400)}` : ''}`;
  }
}
