/**
 * Running a capture tool (strace, bpftrace) as a child process: stream its output, keep the
 * tail of its stderr for error messages, stop it on abort, and restart it with backoff when
 * it dies on its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ChidsError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import type { Logger } from '../util/log.js';
import type { SourceSink } from './source.js';

export interface ChildSpec {
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * Where the trace output is read from: the child's stdout, or a FIFO whose path replaces
   * {@link FIFO_TOKEN} in argv (for tools that write to a file they open, like `strace -o`:
   * Node's stdio pipes are socket pairs, which /dev/fd/N cannot reopen).
   */
  out: 'stdout' | 'fifo';
  onOutput(chunk: Buffer): void;
  onStderrLine(line: string): void;
  /** On stop, signal the child's whole process group (it runs a command we started). */
  killGroup: boolean;
  /** Called with the child's pid once it runs. */
  onSpawn?(pid: number): void;
  /** Called when the child, asked to stop, was still running after the grace period and is killed. */
  onForcedKill?(graceMs: number): void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** We stopped it (abort). */
  stopped: boolean;
  spawnError: NodeJS.ErrnoException | null;
  /** Bytes of trace output it produced. */
  bytes: number;
  ms: number;
}

const KILL_GRACE_MS = 2000;
/** Replaced in argv by the FIFO's path when `out` is 'fifo'. */
export const FIFO_TOKEN = '@FIFO@';

/**
 * A FIFO to read a child's output from. Opened here for reading (non-blocking, so it never
 * waits for the writer) with a "keeper" write end that stops the reader from seeing end of
 * file before the child has opened the FIFO; the keeper is closed once the child writes or
 * exits, and end of file then means the child closed it.
 */
function makeFifo(): { path: string; stream: net.Socket; releaseKeeper: () => void; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-'));
  const fifo = path.join(dir, 'trace.fifo');
  const r = spawnSync('mkfifo', ['-m', '600', fifo]);
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new ChidsError(`cannot create a FIFO in ${dir} (mkfifo: ${r.error?.message ?? r.stderr.toString().trim()})`);
  }
  const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  let keeper = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  const stream = new net.Socket({ fd: rfd, readable: true, writable: false });
  const releaseKeeper = () => {
    if (keeper >= 0) closeSync(keeper);
    keeper = -1;
  };
  return {
    path: fifo,
    stream,
    releaseKeeper,
    cleanup: () => {
      releaseKeeper();
      stream.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one child to its end (or until `signal` aborts, then stops it: SIGTERM, then SIGKILL). */
export function runChild(spec: ChildSpec, signal: AbortSignal): Promise<ChildExit> {
  const t0 = Date.now();
  const fifo = spec.out === 'fifo' ? makeFifo() : null;
  const argv = fifo ? spec.argv.map((a) => (a === FIFO_TOKEN ? fifo.path : a)) : spec.argv;
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fifo ? 'ignore' : 'pipe', 'pipe'], env: spec.env ?? process.env, detached: true, windowsHide: true });
    let bytes = 0;
    let stopped = false;
    let spawnError: NodeJS.ErrnoException | null = null;
    let killTimer: NodeJS.Timeout | null = null;
    let drainTimer: NodeJS.Timeout | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let outDone = false;
    const out = (fifo ? fifo.stream : child.stdout) as Readable;
    const finish = () => {
      if (exit === null || !outDone) return;
      signal.removeEventListener('abort', stop);
      if (killTimer) clearTimeout(killTimer);
      if (drainTimer) clearTimeout(drainTimer);
      if (errCarry.trim() !== '') spec.onStderrLine(errCarry);
      fifo?.cleanup();
      resolve({ code: exit.code, signal: exit.signal, stopped, spawnError, bytes, ms: Date.now() - t0 });
    };
    out.on('data', (c: Buffer) => {
      if (bytes === 0) fifo?.releaseKeeper();
      bytes += c.length;
      spec.onOutput(c);
    });
    const outEnded = () => {
      if (outDone) return;
      outDone = true;
      finish();
    };
    out.on('end', outEnded);
    out.on('close', outEnded);
    out.on('error', outEnded);
    let errCarry = '';
    child.stderr?.on('data', (c: Buffer) => {
      const text = errCarry + c.toString('utf8');
      const lines = text.split('\n');
      errCarry = lines.pop() ?? '';
      if (errCarry.length > 8192) errCarry = '';
      for (const l of lines) if (l.trim() !== '') spec.onStderrLine(l);
    });
    child.stderr?.on('error', () => undefined);
    const stop = () => {
      if (stopped || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      kill(child.pid, 'SIGTERM', spec.killGroup);
      killTimer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          spec.onForcedKill?.(KILL_GRACE_MS);
          kill(child.pid, 'SIGKILL', spec.killGroup);
        }
      }, KILL_GRACE_MS);
    };
    signal.addEventListener('abort', stop, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) {
        spawnError = err;
        exit ??= { code: null, signal: null };
        outEnded();
        finish();
      }
    });
    child.on('spawn', () => {
      if (child.pid !== undefined) spec.onSpawn?.(child.pid);
      if (signal.aborted) stop();
    });
    child.on('close', (code, sig) => {
      exit = { code, signal: sig };
      fifo?.releaseKeeper(); // the child is gone: end of file once its data is read
      // Whatever else still holds the write end, stop waiting after a while.
      drainTimer = setTimeout(() => {
        out.destroy();
        outEnded();
      }, KILL_GRACE_MS);
      finish();
    });
  });
}

function kill(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

export interface RestartPolicy {
  enabled: boolean;
  /** Consecutive restarts allowed before giving up. */
  max: number;
  /** First delay; doubles up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A run this long resets the count. */
  stableMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { enabled: true, max: 10, baseDelayMs: 500, maxDelayMs: 10_000, stableMs: 30_000 };


/**
 * The supervision loop shared by the strace and eBPF sources: start the child (via `start`),
 * and when it dies on its own, ask `shouldRestart` (is the target still there?) and start it
 * again after an exponential backoff, telling the sink and the log. Gives up with a ChidsError
 * after `policy.max` consecutive failures; a child that fails on its very first start without
 * producing anything is an error at once (bad pid, no permission, …), described by `describe`.
 */
export async function supervise(opts: {
  name: string;
  policy: RestartPolicy;
  signal: AbortSignal;
  sink: SourceSink;
  log: Logger;
  start: (attempt: number) => Promise<ChildExit>;
  shouldRestart: () => boolean;
  describe: (exit: ChildExit) => string;
}): Promise<{ reason: 'exited' | 'stopped'; detail?: string }> {
  let consecutive = 0;
  for (let attempt = 0; ; attempt++) {
    const ex = await opts.start(attempt);
    if (ex.stopped || opts.signal.aborted) return { reason: 'stopped' };
    if (ex.spawnError) throw new ChidsError(opts.describe(ex));
    const how = ex.signal ? `killed by ${ex.signal}` : `exit code ${ex.code}`;
    // A tool that refuses at once (bad pid, no permission, eBPF unavailable) is an error, not a crash to retry.
    if (attempt === 0 && ex.bytes === 0 && ex.signal === null && ex.code !== 0) throw new ChidsError(opts.describe(ex));
    if (!opts.policy.enabled || !opts.shouldRestart()) return { reason: 'exited', detail: `${opts.name} ended (${how})` };
    if (ex.ms >= opts.policy.stableMs) consecutive = 0;
    consecutive++;
    if (consecutive > opts.policy.max) {
      throw new ChidsError(`${opts.name} died ${consecutive} times in a row; giving up (${opts.describe(ex)})`);
    }
    const delay = Math.min(opts.policy.maxDelayMs, opts.policy.baseDelayMs * 2 ** (consecutive - 1));
    const reason = `${opts.name} died (${how}); restarting in ${delay} ms (restart ${consecutive} of at most ${opts.policy.max})`;
    opts.log.warn('source died, restarting', { source: opts.name, exit: how, delay_ms: delay, restart: consecutive });
    opts.sink.restarted(reason);
    await sleep(delay, opts.signal);
    if (opts.signal.aborted) return { reason: 'stopped' };
  }
}
