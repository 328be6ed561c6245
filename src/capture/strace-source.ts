/**
 * `--source strace`: ptrace through `strace -f -ttt -T -yy -s 256` (Debian package `strace`).
 *
 *  - `--pid PID …`: attaches to each PID, its threads and its live descendants, and follows
 *    every child they make (-f). When strace dies while a target is still alive, it is
 *    started again (with backoff) on the targets and their descendants as they are then.
 *  - `--cmd "…"`: runs `sh -c CMD` under strace; the source ends when the command does.
 *
 * strace writes its trace to a FIFO (`-o FIFO`), which makes it prefix every line with the
 * thread id and keeps it apart from the traced command's output; strace's stderr is logged. Lines are converted to
 * LID-DS 2021 lines (strace.ts) and attributed to containers by thread (procs.ts).
 */
import { ChidsError } from '../util/errors.js';
import type { ChildExit } from './child.js';
import { DEFAULT_RESTART, FIFO_TOKEN, runChild, supervise } from './child.js';
import { containerFrom, containerOfPid, descendantsOf, isAlive, pidNamespaceOf } from './containers.js';
import { ProcessTable } from './procs.js';
import { BatchBuilder, LineSplitter, wallNow, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';
import { StraceConverter } from './strace.js';

/** Environment variable that overrides the strace binary. */
export const STRACE_ENV = 'CHIDS_STRACE';
const STRACE_FLAGS = ['-f', '-ttt', '-T', '-yy', '-s', '256', '-q'];
const STDERR_KEEP = 20;

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
    const procs = new ProcessTable({ ownPidns: own, fallback: first ?? containerFrom(own, null, own) });
    const batch = new BatchBuilder();
    const conv = new StraceConverter(procs, (p, line) => batch.add(p.container, line));
    const bin = process.env[STRACE_ENV] || 'strace';
    const log = this.spec.log;
    const policy = { ...DEFAULT_RESTART, enabled: this.spec.restart ?? true, max: this.spec.maxRestarts ?? DEFAULT_RESTART.max };

    const start = (attempt: number): Promise<ChildExit> => {
      const splitter = new LineSplitter();
      let argv: string[];
      if (attempt === 0 && this.cmd !== null) {
        argv = [bin, ...STRACE_FLAGS, '-o', FIFO_TOKEN, '--', '/bin/sh', '-c', this.cmd];
      } else {
        const roots = this.cmd !== null ? [this.rootPid] : this.pids;
        const targets = new Set<number>();
        for (const r of roots) {
          if (!isAlive(r)) continue;
          targets.add(r);
          for (const d of descendantsOf(r)) targets.add(d);
        }
        argv = [bin, ...STRACE_FLAGS, '-o', FIFO_TOKEN, ...[...targets].flatMap((p) => ['-p', String(p)])];
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
            splitter.push(chunk, (l) => {
              if (this.rootPid < 0) {
                const m = /^(\d+) /.exec(l);
                if (m) this.rootPid = Number(m[1]);
              }
              conv.line(l);
            });
            if (!announced && this.rootPid > 0) {
              announced = true;
              sink.ready({ source: 'strace', command: this.cmd, pid: this.rootPid });
            }
            batch.flush(sink);
          },
          onStderrLine: (line) => this.stderr(line),
        },
        signal,
      ).then((ex) => {
        splitter.end((l) => conv.line(l));
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
    log.info('strace source ended', { reason: end.reason, detail: end.detail, lines: conv.stats.lines, events: conv.stats.events, unparsed: conv.stats.unparsed });
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
