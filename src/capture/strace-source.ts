/**
 * `--source strace`: ptrace through strace (Debian package `strace`), with the lab's options
 * (`-f -I2 -s 256 -yy`, ns timestamps and durations on strace ≥ 6, else `-ttt -T`; see
 * src/trace/strace/options.ts) and the lab's converter (src/trace/strace/to-lidds.ts), so that live
 * captures, live monitoring and lab recordings turn the same syscalls into the same events.
 *
 *  - `--pid PID …`: attaches to each PID, its threads and its live descendants, and follows
 *    every child they make (-f). The targets are grouped by container (the 64-hex id in their
 *    cgroup path; processes without one form one group), one strace per group, so that one
 *    container's restart leaves the others traced. When strace dies while a target is still
 *    alive, it is started again (with backoff) on the targets and their descendants as they
 *    are then. When a container's processes end (`podman restart`, a crash), the group waits
 *    for processes with the same container id and re-attaches to them; with
 *    `exitWithTarget` (`--exit-with-target`) it ends instead. A group of plain processes ends
 *    with them (nothing can bring a pid back). The source ends when every group has ended.
 *  - `--cmd "…"`: runs `sh -c CMD` under strace; the source ends when the command does.
 *
 * strace writes its trace to a FIFO (`-o FIFO`), which makes it prefix every line with the
 * thread id and keeps it apart from the traced command's output; strace's stderr is logged.
 * Each converted line is attributed to a container by its thread (attribution.ts). strace runs
 * with `--pidns-translation` (strace ≥ 5.9), so a clone's return value inside a container is
 * also given as the host pid, the one strace's thread ids use: the child is linked to its
 * parent (and so to the parent's container) even when it is gone before /proc can be read.
 */
import { spawnSync } from 'node:child_process';
import { StraceToLidds } from '../trace/strace/to-lidds.js';
import { straceArgs } from '../trace/strace/options.js';
import { ChidsError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import { ContainerTracker } from './attribution.js';
import type { ChildExit, RestartPolicy } from './child.js';
import { DEFAULT_RESTART, FIFO_TOKEN, runChild, supervise } from './child.js';
import { cgroupPathOf, commOf, containerFrom, containerOfPid, descendantsOf, isAlive, pidNamespaceOf, statusOf, type ContainerInfo } from './containers.js';
import { processesOfContainer } from './follow.js';
import { BatchBuilder, LineSplitter, wallNow, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';

/** Environment variable that overrides the strace binary. */
export const STRACE_ENV = 'CHIDS_STRACE';
const STDERR_KEEP = 20;
const TID = /^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)/;
/** A converted thread exit (`ts uid pid proc tid procexit > …`): its tid. */
const PROCEXIT = /^\S+ \S+ \S+ \S+ (\d+) procexit > /;
/** How often a group whose container is gone looks for it again. */
const FOLLOW_POLL_MS = 200;

/** What a strace's output goes through: each line, then the end of that strace's output. */
interface LineHandler {
  line: (l: string) => void;
  end: () => void;
}

/** Targets of one container (or the plain processes), traced by one strace. */
interface Group {
  /** 64-hex container id from the cgroup path, or null for plain processes (not followed). */
  containerId: string | null;
  container: ContainerInfo;
  /** The processes to trace: the given pids, then the container's processes after a restart. */
  pids: number[];
  tracker: ContainerTracker;
  conv: StraceToLidds;
}

export class StraceSource implements LiveSource {
  readonly kind = 'strace' as const;
  readonly format = 'lidds' as const;
  readonly clock = 'wall' as const;
  private readonly pids: number[];
  private readonly cmd: string | null;
  /** The command's process (the first thread strace reports), for restarts in --cmd mode. */
  private rootPid = -1;
  private stderrTail: string[] = [];
  private stderrLogged = 0;

  constructor(private readonly spec: SourceSpec) {
    this.pids = spec.pids ?? [];
    this.cmd = spec.cmd ?? null;
    if (this.pids.length === 0 && this.cmd === null) throw new ChidsError('--source strace needs --pid PID or --cmd "COMMAND"');
    if (this.pids.length > 0 && this.cmd !== null) throw new ChidsError('give either --pid or --cmd, not both');
    for (const p of this.pids) {
      if (!isAlive(p)) throw new ChidsError(`--pid ${p}: no such process`);
    }
  }

  now(): { sec: number; nsec: number } {
    return wallNow();
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<SourceEnd> {
    const bin = process.env[STRACE_ENV] || 'strace';
    const version = straceVersion(bin);
    const policy = { ...DEFAULT_RESTART, enabled: this.spec.restart ?? true, max: this.spec.maxRestarts ?? DEFAULT_RESTART.max };
    return this.cmd !== null ? this.runCommand(sink, signal, bin, version, policy) : this.runPids(sink, signal, bin, version, policy);
  }

  /** strace's options for this version: the lab's, plus pid namespace translation where strace has it. */
  private options(version: string | null): string[] {
    return ['-q', ...(hasPidnsTranslation(version) ? ['--pidns-translation'] : []), ...straceArgs(FIFO_TOKEN, version)];
  }

  /** `--cmd`: one strace running the command; ends when the command does. */
  private async runCommand(sink: SourceSink, signal: AbortSignal, bin: string, version: string | null, policy: RestartPolicy): Promise<SourceEnd> {
    const own = pidNamespaceOf('self');
    const tracker = new ContainerTracker({ ownPidns: own, fallback: containerFrom(own, null, own) });
    const conv = new StraceToLidds({ rootUid: process.getuid?.() ?? 0 });
    const log = this.spec.log;
    let unparsed = 0;
    const batch = new BatchBuilder();
    const handler = this.lineHandler(tracker, conv, batch, () => unparsed++, (tid) => {
      if (this.rootPid < 0 && tid > 0) this.rootPid = tid;
    });
    const start = (attempt: number): Promise<ChildExit> => {
      const opts = this.options(version);
      let argv: string[];
      if (attempt === 0) argv = [bin, ...opts, '--', '/bin/sh', '-c', this.cmd!];
      else argv = [bin, ...opts, ...withDescendants([this.rootPid]).flatMap((p) => ['-p', String(p)])];
      let announced = false;
      return this.runStrace(argv, signal, sink, batch, handler, attempt, true, () => {
        if (!announced && this.rootPid > 0) {
          announced = true;
          sink.ready({ source: 'strace', command: this.cmd, pid: this.rootPid });
        }
      });
    };
    const end = await supervise({
      name: 'strace',
      policy,
      signal,
      sink,
      log,
      start,
      shouldRestart: () => this.rootPid > 0 && isAlive(this.rootPid),
      describe: (ex) => this.describe(bin, ex),
    });
    const st = conv.stats;
    log.info('strace source ended', { reason: end.reason, detail: end.detail, lines: st.lines, events: st.events, unparsed, clamped: st.clamped });
    return end;
  }

  /** `--pid`: one strace per container of the targets, each following its container across restarts. */
  private async runPids(sink: SourceSink, signal: AbortSignal, bin: string, version: string | null, policy: RestartPolicy): Promise<SourceEnd> {
    const own = pidNamespaceOf('self');
    const groups = new Map<string, Group>();
    for (const pid of this.pids) {
      const c = containerOfPid(pid, own) ?? containerFrom(pidNamespaceOf(pid), cgroupPathOf(pid), own);
      const key = c.containerId ?? 'processes';
      let g = groups.get(key);
      if (g === undefined) {
        // Threads already running when strace attaches get the target's name and uid.
        const conv = new StraceToLidds({ rootUid: statusOf(pid)?.uid ?? 0, rootProc: commOf(pid) ?? '<NA>' });
        const tracker = new ContainerTracker({ ownPidns: own, fallback: c });
        groups.set(key, (g = { containerId: c.containerId, container: c, pids: [], tracker, conv }));
      }
      if (!g.pids.includes(pid)) g.pids.push(pid);
    }
    // A group that fails stops the others: the source fails as one.
    const failed = new AbortController();
    const both = AbortSignal.any([signal, failed.signal]);
    // Every group is waited for (their strace stopped) before a failure is reported.
    const settled = await Promise.allSettled(
      [...groups.values()].map((g) =>
        this.runGroup(g, sink, both, bin, version, policy).catch((err: unknown) => {
          failed.abort();
          throw err;
        }),
      ),
    );
    const failure = settled.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
    const ends = settled.map((r) => (r as PromiseFulfilledResult<SourceEnd>).value);
    if (signal.aborted || ends.every((e) => e.reason === 'stopped')) return { reason: 'stopped' };
    const detail =
      groups.size === 1 && [...groups.values()][0].containerId !== null
        ? `the traced container ${[...groups.values()][0].container.id} ended`
        : `the traced process${this.pids.length > 1 ? 'es' : ''} ended`;
    return { reason: 'exited', detail: ends.find((e) => e.detail?.startsWith('strace ended'))?.detail ?? detail };
  }

  private async runGroup(g: Group, sink: SourceSink, signal: AbortSignal, bin: string, version: string | null, policy: RestartPolicy): Promise<SourceEnd> {
    const log = this.spec.log;
    const batch = new BatchBuilder();
    let unparsed = 0;
    const handler = this.lineHandler(g.tracker, g.conv, batch, () => unparsed++, () => undefined);
    const follow = g.containerId !== null && !(this.spec.exitWithTarget ?? false);
    let consecutive = 0;
    let end: SourceEnd | null = null;
    for (let attempt = 0; end === null; ) {
      let live = g.pids.filter(isAlive);
      if (live.length === 0) {
        if (!follow) {
          end = { reason: 'exited' };
          break;
        }
        log.warn('traced container ended; waiting for it to come back', { container: g.container.id, pids: g.pids });
        live = await waitForContainer(g.containerId!, signal);
        if (signal.aborted) break;
        g.pids = live;
        // Blind from here until strace is attached again (counted by the monitor between restarted and ready).
        sink.restarted(`container ${g.container.id} came back (pids ${live.join(',')}): re-attaching strace`);
        log.info('container came back: re-attaching', { container: g.container.id, pids: live });
        consecutive = 0;
      }
      const argv = [bin, ...this.options(version), ...withDescendants(live).flatMap((p) => ['-p', String(p)])];
      const ex = await this.runStrace(argv, signal, sink, batch, handler, attempt, false, undefined, g);
      if (ex.stopped || signal.aborted) break;
      if (ex.spawnError) throw new ChidsError(this.describe(bin, ex));
      // A strace that refuses at once (bad pid, no ptrace permission) is an error, not a crash to retry.
      if (attempt === 0 && ex.bytes === 0 && ex.signal === null && ex.code !== 0) throw new ChidsError(this.describe(bin, ex));
      attempt++;
      if (!g.pids.some(isAlive)) continue; // the targets ended: follow the container, or end
      // strace died and the targets did not: restart it with backoff, as supervise() does.
      const how = ex.signal ? `killed by ${ex.signal}` : `exit code ${ex.code}`;
      if (!policy.enabled) {
        end = { reason: 'exited', detail: `strace ended (${how})` };
        break;
      }
      if (ex.ms >= policy.stableMs) consecutive = 0;
      consecutive++;
      if (consecutive > policy.max) throw new ChidsError(`strace died ${consecutive} times in a row; giving up (${this.describe(bin, ex)})`);
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (consecutive - 1));
      log.warn('source died, restarting', { source: 'strace', exit: how, delay_ms: delay, restart: consecutive, container: g.container.id });
      sink.restarted(`strace died (${how}); restarting in ${delay} ms (restart ${consecutive} of at most ${policy.max})`);
      await sleep(delay, signal);
    }
    end ??= { reason: 'stopped' };
    const st = g.conv.stats;
    log.info('strace source ended', { container: g.container.id, reason: end.reason, detail: end.detail, lines: st.lines, events: st.events, unparsed, clamped: st.clamped });
    return end;
  }

  /** Converts one strace line and attributes its events to a container. */
  private lineHandler(tracker: ContainerTracker, conv: StraceToLidds, batch: BatchBuilder, onUnparsed: () => void, onTid: (tid: number) => void): LineHandler {
    const out: string[] = [];
    const line = (l: string) => {
      const m = TID.exec(l);
      const tid = m ? Number(m[1] ?? m[2]) : -1;
      onTid(tid);
      out.length = 0;
      const skipped = conv.stats.skipped;
      conv.push(l, out);
      if (conv.stats.skipped !== skipped) onUnparsed();
      emit(out);
    };
    // A thread's exit is read from the converter's output, not from strace's line: the converter
    // may hold a new thread's lines (its parent not known yet), and the thread is attributed when
    // they come out.
    const emit = (lines: string[]) => {
      for (const sc of lines) {
        batch.add(tracker.ofLine(sc), sc);
        const ex = sc.includes(' procexit > ') ? PROCEXIT.exec(sc) : null;
        if (ex !== null) tracker.exit(Number(ex[1]));
      }
    };
    // strace has ended: the lines the converter still holds (a new thread whose parent's clone
    // never returned) are written.
    const end = () => {
      out.length = 0;
      conv.end(out);
      emit(out);
    };
    return { line, end };
  }

  private runStrace(
    argv: string[],
    signal: AbortSignal,
    sink: SourceSink,
    batch: BatchBuilder,
    handler: LineHandler,
    attempt: number,
    command: boolean,
    onChunk?: () => void,
    group?: Group,
  ): Promise<ChildExit> {
    const splitter = new LineSplitter();
    const log = this.spec.log;
    return runChild(
      {
        argv,
        out: 'fifo',
        killGroup: command,
        onSpawn: (pid) => {
          log.info('strace started', { strace_pid: pid, attempt, argv: argv.slice(1), ...(group ? { container: group.container.id } : {}) });
          if (group) sink.ready({ source: 'strace', strace_pid: pid, pids: group.pids, container: group.container.id });
        },
        onOutput: (chunk) => {
          splitter.push(chunk, handler.line);
          onChunk?.();
          batch.flush(sink);
        },
        onStderrLine: (l) => this.stderr(l),
        onForcedKill: (graceMs) => log.warn('strace did not stop when asked: killed', { grace_ms: graceMs, ...(group ? { container: group.container.id } : {}) }),
      },
      signal,
    ).then((ex) => {
      splitter.end(handler.line);
      handler.end();
      batch.flush(sink);
      return ex;
    });
  }

  private stderr(line: string): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_KEEP) this.stderrTail.shift();
    if (this.stderrLogged < STDERR_KEEP) {
      this.stderrLogged++;
      this.spec.log.info('strace stderr', { line: line.slice(0, 500) });
    }
  }

  private describe(bin: string, ex: ChildExit): string {
    if (ex.spawnError) {
      if (ex.spawnError.code === 'ENOENT') {
        return bin === 'strace'
          ? "--source strace: the strace binary was not found; install the Debian package 'strace' (apt-get install strace)"
          : `--source strace: ${bin} (${STRACE_ENV}) was not found`;
      }
      return `--source strace: cannot run ${bin}: ${ex.spawnError.message}`;
    }
    const why = this.stderrTail.filter((l) => /strace:|ptrace|permitted|denied/i.test(l)).slice(-3).join(' ') || this.stderrTail.slice(-2).join(' ');
    return `--source strace: strace failed (${ex.signal ?? `exit ${ex.code}`})${why ? `: ${why.slice(0, 400)}` : ''}`;
  }
}

/** strace ≥ 5.9 has `--pidns-translation`. */
export function hasPidnsTranslation(version: string | null): boolean {
  const m = version ? /^(\d+)(?:\.(\d+))?/.exec(version) : null;
  if (m === null) return false;
  const major = Number(m[1]);
  return major > 5 || (major === 5 && Number(m[2] ?? 0) >= 9);
}

/** The pids and their live descendants (a restarted strace attaches to the tree as it is now). */
function withDescendants(roots: number[]): number[] {
  const targets = new Set<number>();
  for (const r of roots) {
    if (!isAlive(r)) continue;
    targets.add(r);
    for (const d of descendantsOf(r)) targets.add(d);
  }
  return [...targets];
}

/** Polls until the container has processes again (or `signal` aborts: then empty). */
async function waitForContainer(containerId: string, signal: AbortSignal): Promise<number[]> {
  while (!signal.aborted) {
    const { pids } = processesOfContainer(containerId);
    if (pids.length > 0) return pids;
    await sleep(FOLLOW_POLL_MS, signal);
  }
  return [];
}

/** `strace -V`'s version ("6.1"), or null (then µs timestamps are used). */
function straceVersion(bin: string): string | null {
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8', timeout: 5000 });
  const m = /version\s+(\d+(?:\.\d+)*)/.exec(r.stdout ?? '');
  return m ? m[1] : null;
}
