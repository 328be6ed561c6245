/**
 * `--source strace`: ptrace through strace (Debian package `strace`), with the lab's options
 * (`-f -I2 -s 256 -yy`, ns timestamps and durations on strace ≥ 6, else `-ttt -T`; see
 * src/trace/strace/options.ts) and the lab's converter (src/trace/strace/to-lidds.ts), so that live
 * captures, live monitoring and lab recordings turn the same syscalls into the same events.
 *
 *  - `--pid PID …`: attaches to each PID, its threads and its live descendants, and follows
 *    every child they make (-f). When strace dies while a target is still alive, it is
 *    started again (with backoff) on the targets and their descendants as they are then.
 *  - `--cmd "…"`: runs `sh -c CMD` under strace; the source ends when the command does.
 *
 * strace writes its trace to a FIFO (`-o FIFO`), which makes it prefix every line with the
 * thread id and keeps it apart from the traced command's output; strace's stderr is logged.
 * Each converted line is attributed to a container by its thread (attribution.ts).
 */
import { spawnSync } from 'node:child_process';
import { StraceToLidds } from '../trace/strace/to-lidds.js';
import { straceArgs } from '../trace/strace/options.js';
import { ChidsError } from '../util/errors.js';
import { ContainerTracker } from './attribution.js';
import type { ChildExit } from './child.js';
import { DEFAULT_RESTART, FIFO_TOKEN, runChild, supervise } from './child.js';
import { commOf, containerFrom, containerOfPid, descendantsOf, isAlive, pidNamespaceOf, statusOf } from './containers.js';
import { BatchBuilder, LineSplitter, wallNow, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';

/** Environment variable that overrides the strace binary. */
export const STRACE_ENV = 'CHIDS_STRACE';
const STDERR_KEEP = 20;
const TID = /^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)/;
const EXIT_LINE = /^(?:\[pid\s+\d+\]\s+|\d+\s+)?\d+\.\d+\s+\+\+\+ (?:exited|killed)/;

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
    const own = pidNamespaceOf('self');
    const first = this.pids.length > 0 ? containerOfPid(this.pids[0], own) : null;
    const tracker = new ContainerTracker({ ownPidns: own, fallback: first ?? containerFrom(own, null, own) });
    const batch = new BatchBuilder();
    // Threads already running when strace attaches get the target's name and uid.
    const root = this.pids.length > 0 ? { rootUid: statusOf(this.pids[0])?.uid ?? 0, rootProc: commOf(this.pids[0]) ?? '<NA>' } : { rootUid: process.getuid?.() ?? 0 };
    const conv = new StraceToLidds(root);
    const out: string[] = [];
    const bin = process.env[STRACE_ENV] || 'strace';
    const version = straceVersion(bin);
    const log = this.spec.log;
    const policy = { ...DEFAULT_RESTART, enabled: this.spec.restart ?? true, max: this.spec.maxRestarts ?? DEFAULT_RESTART.max };
    let unparsed = 0;
    const line = (l: string) => {
      const m = TID.exec(l);
      const tid = m ? Number(m[1] ?? m[2]) : -1;
      if (this.rootPid < 0 && tid > 0) this.rootPid = tid;
      out.length = 0;
      const skipped = conv.stats.skipped;
      conv.push(l, out);
      if (conv.stats.skipped !== skipped) unparsed++;
      for (const sc of out) batch.add(tracker.ofLine(sc), sc);
      if (tid > 0 && EXIT_LINE.test(l)) tracker.exit(tid);
    };

    const start = (attempt: number): Promise<ChildExit> => {
      const splitter = new LineSplitter();
      let argv: string[];
      const opts = ['-q', ...straceArgs(FIFO_TOKEN, version)];
      if (attempt === 0 && this.cmd !== null) {
        argv = [bin, ...opts, '--', '/bin/sh', '-c', this.cmd];
      } else {
        const roots = this.cmd !== null ? [this.rootPid] : this.pids;
        const targets = new Set<number>();
        for (const r of roots) {
          if (!isAlive(r)) continue;
          targets.add(r);
          for (const d of descendantsOf(r)) targets.add(d);
        }
        argv = [bin, ...opts, ...[...targets].flatMap((p) => ['-p', String(p)])];
      }
      let announced = false;
      return runChild(
        {
          argv,
          out: 'fifo',
          killGroup: this.cmd !== null,
          onSpawn: (pid) => {
            log.info('strace started', { strace_pid: pid, attempt, argv: argv.slice(1) });
            if (this.pids.length > 0) {
              announced = true;
              sink.ready({ source: 'strace', strace_pid: pid, pids: this.pids });
            }
          },
          onOutput: (chunk) => {
            splitter.push(chunk, line);
            if (!announced && this.rootPid > 0) {
              announced = true;
              sink.ready({ source: 'strace', command: this.cmd, pid: this.rootPid });
            }
            batch.flush(sink);
          },
          onStderrLine: (l) => this.stderr(l),
        },
        signal,
      ).then((ex) => {
        splitter.end(line);
        batch.flush(sink);
        return ex;
      });
    };

    const end = await supervise({
      name: 'strace',
      policy,
      signal,
      sink,
      log,
      start,
      shouldRestart: () => (this.cmd !== null ? this.rootPid > 0 && isAlive(this.rootPid) : this.pids.some(isAlive)),
      describe: (ex) => this.describe(bin, ex),
    });
    const st = conv.stats;
    log.info('strace source ended', { reason: end.reason, detail: end.detail, lines: st.lines, events: st.events, unparsed, clamped: st.clamped });
    return end;
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

/** `strace -V`'s version ("6.1"), or null (then µs timestamps are used). */
function straceVersion(bin: string): string | null {
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8', timeout: 5000 });
  const m = /version\s+(\d+(?:\.\d+)*)/.exec(r.stdout ?? '');
  return m ? m[1] : null;
}
