/**
 * What `chids capture` and `chids capture --all-containers` share around their recordings: the
 * live source opened and piped into the queue, what it drops, loses or restarts counted, the
 * `--seconds` timer (started once the source is attached, so that a slow attach does not eat
 * into the recording), and SIGINT/SIGTERM completing the recordings instead of killing them.
 */
import { performance } from 'node:perf_hooks';
import { openLiveSource } from '../capture/open.js';
import { livePipe } from '../capture/pipe.js';
import type { Batch } from '../capture/queue.js';
import type { LiveSource, SourceEnd, SourceSpec } from '../capture/source.js';
import { type RecordingMeta, recordingMeta } from '../trace/lidds/metadata.js';
import { ChidsError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { onStopSignals } from '../util/signals.js';
import { nsDigitsToSec } from '../util/time.js';
import { stopProgress } from './stop-progress.js';

export interface CaptureRunOptions {
  source: Omit<SourceSpec, 'log'>;
  /** Stop after this many seconds (null: until the source ends or a signal). */
  seconds: number | null;
  log: Logger;
  queueBytes?: number;
  /** Install SIGINT/SIGTERM handlers that complete the recordings (default true). */
  handleSignals?: boolean;
  signal?: AbortSignal;
  onReady?: (info: Record<string, unknown>) => void;
}

/** How the source's run went, for the recordings' metadata and the summary. */
export interface CaptureRun {
  end: SourceEnd;
  dropped: number;
  restarts: number;
  /** Wall clock (epoch s) when the capture started. */
  startWall: number;
  /** Seconds since the capture started. */
  elapsed(): number;
}

/** One capture's own part: what it does with each batch and how it completes its recordings. */
export interface CaptureWork<T> {
  consume(batch: Batch): void;
  /** Fields of the `capture started` log line besides the source and `seconds`. */
  started: { out: string } & Record<string, unknown>;
  /** What a stop signal completes, for its log line ('the recording'). */
  completes: string;
  /** Runs while the source does (started before it, stopped once it ended and the queue is drained). */
  alongside?: () => () => void;
  /** The source ended and every batch was consumed: write the recordings (still under the signal handlers). */
  finish(run: CaptureRun): T | Promise<T>;
  /** The capture failed before `finish` completed: remove what was begun. */
  abort(): void;
}

/**
 * Opens the source, runs it through the queue into the capture's `consume` until it ends, the
 * time is up or a signal arrives, then has the capture `finish`. `check` runs first, after the
 * common option checks (the capture's own ones).
 */
export async function runCaptureSource<T>(o: CaptureRunOptions, work: (source: LiveSource) => CaptureWork<T>, check?: () => void): Promise<T> {
  const log = o.log;
  if (o.seconds !== null && !(o.seconds > 0)) throw new ChidsError('--seconds must be a positive number');
  check?.();
  const source = await openLiveSource({ ...o.source, log });
  const w = work(source);
  const ac = new AbortController();
  const stop = o.signal ? AbortSignal.any([ac.signal, o.signal]) : ac.signal;
  const stopping = stopProgress(stop, log);
  let removeSignalHandlers = (): void => undefined;
  let timer: NodeJS.Timeout | null = null;
  let finished = false;
  try {
    let dropped = 0;
    let restarts = 0;
    let writeError: unknown = null;
    const pipe = livePipe(source, o.queueBytes ?? 64 << 20, {
      consume: (b) => w.consume(b),
      dropped: (lines) => {
        dropped += lines;
      },
      lost: (n) => {
        dropped += n;
      },
      restarted: () => {
        restarts++;
      },
      failed: (err) => {
        writeError = err;
        ac.abort();
      },
      ready: (info) => {
        log.info('source ready', info);
        o.onReady?.(info);
        if (o.seconds !== null && timer === null) {
          timer = setTimeout(() => {
            log.info('capture time is up', { seconds: o.seconds });
            ac.abort();
          }, o.seconds * 1000);
        }
      },
    });
    if (o.handleSignals ?? true) {
      removeSignalHandlers = onStopSignals((signal) => {
        log.info(`signal received: completing ${w.completes}`, { signal });
        ac.abort();
      });
    }
    const stopAlongside = w.alongside?.() ?? (() => undefined);
    const t0 = performance.now();
    const startWall = Date.now() / 1000;
    const { out, ...more } = w.started;
    log.info('capture started', { source: source.kind, out, seconds: o.seconds, ...more });
    let end: SourceEnd;
    try {
      end = await source.run(pipe.sink, stop);
      stopping.phase('queue');
      pipe.drain();
    } finally {
      stopAlongside();
    }
    if (writeError) throw writeError;
    stopping.phase('completing the recording');
    const result = await w.finish({ end, dropped, restarts, startWall, elapsed: () => (performance.now() - t0) / 1000 });
    finished = true;
    return result;
  } finally {
    if (timer) clearTimeout(timer);
    removeSignalHandlers();
    if (!finished) w.abort();
    stopping.done();
  }
}

/**
 * A capture's LID-DS metadata: no warm-up and no exploit, the span of its events (their first and
 * last timestamps, as digits; `startSec`/`endSec` where it has none), chids' own notes under `chids`.
 */
export function captureMeta(o: {
  containers: RecordingMeta['container'];
  image: string;
  firstNs: string | null;
  lastNs: string | null;
  startSec: () => number;
  endSec: (startSec: number) => number;
  chids: Record<string, unknown>;
}): RecordingMeta {
  const startSec = o.firstNs ? nsDigitsToSec(o.firstNs) : o.startSec();
  const endSec = o.lastNs ? nsDigitsToSec(o.lastNs) : o.endSec(startSec);
  return recordingMeta({
    containers: o.containers,
    image: o.image,
    containerReady: startSec,
    warmupEnd: startSec,
    recordingSeconds: Math.round(endSec - startSec),
    exploit: null,
    source: 'CHIDS',
    extra: { chids: o.chids },
  });
}
