/**
 * The wiring between a live source and its consumer, shared by `monitor` and `capture`: the
 * source's batches go into one BoundedQueue (drop policy for live sources, block for replays),
 * a pump drains it on the event loop in time slices (so the clock, signals and the metrics server
 * keep running under load), and what the source or the queue loses is reported, never silent.
 */
import { BoundedQueue, type Batch } from './queue.js';
import type { LiveSource, SourceSink } from './source.js';

export interface PipeConsumer {
  /** One batch of complete lines (consumers may throw: the error goes to `failed`). */
  consume(batch: Batch): void;
  /** Events the queue had no room for (drop policy). */
  dropped(lines: number, firstDrop: boolean): void;
  /** Events the source itself lost (e.g. bpftrace's "Lost N events"). */
  lost(events: number, reason: string): void;
  restarted(): void;
  ready(info: Record<string, unknown>): void;
  /** A consume() failed; the pipe stops pumping. */
  failed(err: unknown): void;
}

export interface LivePipe {
  readonly sink: SourceSink;
  readonly queue: BoundedQueue;
  /** Consumes everything still queued (after the source has ended) and wakes any waiting producer. */
  drain(): void;
}

/** A pump slice: long enough to be efficient, short enough that timers are not starved. */
const SLICE_MS = 25;

export function livePipe(source: Pick<LiveSource, 'clock'>, queueBytes: number, c: PipeConsumer): LivePipe {
  let pumping = false;
  let broken = false;
  const pump = () => {
    const deadline = performance.now() + SLICE_MS;
    try {
      for (let b = queue.shift(); b !== undefined && !broken; b = queue.shift()) {
        c.consume(b);
        if (performance.now() > deadline) break;
      }
    } catch (err) {
      broken = true;
      c.failed(err);
    }
    pumping = false;
    if (queue.length > 0 && !broken) schedule();
  };
  const schedule = () => {
    if (pumping) return;
    pumping = true;
    setImmediate(pump);
  };
  const queue = new BoundedQueue(queueBytes, source.clock === 'wall' ? 'drop' : 'block', schedule);
  const sink: SourceSink = {
    data: (container, data, lines) => {
      const ok = queue.push({ container, data, lines, at: Date.now() });
      if (!ok) c.dropped(lines, queue.droppedBatches === 1);
      return ok;
    },
    whenSpace: () => queue.whenSpace(),
    lost: (n, reason) => c.lost(n, reason),
    restarted: () => c.restarted(),
    ready: (info) => c.ready(info),
  };
  return {
    sink,
    queue,
    drain: () => {
      try {
        for (let b = queue.shift(); b !== undefined && !broken; b = queue.shift()) c.consume(b);
      } catch (err) {
        broken = true;
        c.failed(err);
      }
      queue.releaseAll();
    },
  };
}
