/**
 * The one buffer between a source and its consumer, bounded in bytes.
 *
 * Two policies, one per kind of source:
 *  - `drop` (live sources): a batch that does not fit is dropped and its events counted; the
 *    capture process (strace, bpftrace) is never slowed by a slow consumer and memory stays
 *    bounded whatever the event rate;
 *  - `block` (replays): nothing is dropped; the producer awaits {@link whenSpace} before
 *    reading on, so a replay is read only as fast as it is processed.
 */
import type { ContainerInfo } from './containers.js';

export interface Batch {
  container: ContainerInfo;
  /** Text in the source's format; complete lines, except for a replay's raw chunks. */
  data: Buffer;
  /** Lines (events) in `data` when known, else 0. */
  lines: number;
  /** When it was queued (Date.now()), for the lag of a consumer that falls behind. */
  at?: number;
}

export type QueuePolicy = 'drop' | 'block';

export class BoundedQueue {
  private items: Batch[] = [];
  private head = 0;
  private bytesQueued = 0;
  private waiters: (() => void)[] = [];
  /** Batches and events dropped because the queue was full (policy `drop`). */
  droppedBatches = 0;
  droppedEvents = 0;
  droppedBytes = 0;
  /** Largest number of bytes held at once. */
  highWater = 0;

  constructor(
    readonly maxBytes: number,
    readonly policy: QueuePolicy,
    /** Called when a batch arrives in an empty queue (the consumer's wake-up). */
    private readonly onData: () => void = () => undefined,
  ) {}

  get bytes(): number {
    return this.bytesQueued;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** True when a `block` producer should wait before pushing more. */
  get full(): boolean {
    return this.bytesQueued >= this.maxBytes;
  }

  /** Adds a batch; false when it was dropped (policy `drop`, queue full). */
  push(b: Batch): boolean {
    if (this.policy === 'drop' && this.bytesQueued > 0 && this.bytesQueued + b.data.length > this.maxBytes) {
      this.droppedBatches++;
      this.droppedEvents += b.lines;
      this.droppedBytes += b.data.length;
      return false;
    }
    const wasEmpty = this.length === 0;
    this.items.push(b);
    this.bytesQueued += b.data.length;
    if (this.bytesQueued > this.highWater) this.highWater = this.bytesQueued;
    if (wasEmpty) this.onData();
    return true;
  }

  /** The oldest batch, left in the queue, or undefined. */
  peek(): Batch | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** The oldest batch, or undefined. */
  shift(): Batch | undefined {
    if (this.head >= this.items.length) return undefined;
    const b = this.items[this.head];
    (this.items as (Batch | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.bytesQueued -= b.data.length;
    if (this.waiters.length > 0 && !this.full) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
    return b;
  }

  /** Resolves once the queue has room (at once when it has). */
  whenSpace(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Releases every waiting producer (shutdown). */
  releaseAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
