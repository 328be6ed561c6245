/**
 * Publishing to JetStream without ever holding up detection (the shape of Vector's and Fluent
 * Bit's buffers): `send()` only queues and returns. A background pump publishes the queue in
 * order, one acknowledged message at a time, each with its deterministic `Nats-Msg-Id`, so a
 * publish retried after a lost ack is stored once.
 *
 *     send ──► memory queue (bounded) ──► pump ──► JetStream (ack)
 *                 │ broker away / queue full
 *                 └──► spool on disk (bounded) ──► replayed in order when the broker is back
 *
 * Order: once anything is spooled, every new message goes to the spool too until the spool is
 * empty again; the pump sends the memory queue (older) before the spool. Without a spool
 * directory, messages beyond the memory bound are dropped; beyond the spool bound too. Either is
 * counted (`dropped`), never silent. At close, what is left in memory goes to the front of the
 * spool for the next run, or is counted as dropped at exit.
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../../util/log.js';
import { describeError } from '../../util/errors.js';
import type { NatsLink } from './link.js';
import { Spool, type SpooledMessage } from './spool.js';

export interface PublisherOptions {
  /** Messages held in memory at most (default 10 000). */
  maxQueue?: number;
  /** Bytes held in memory at most (default 32 MiB). */
  maxQueueBytes?: number;
  /** Spool directory; null: none (drop beyond the memory bound). */
  spoolDir?: string | null;
  /** Bytes on disk at most (default 1 GiB). */
  maxSpoolBytes?: number;
  /** How long one publish waits for its ack before it is retried (ms, default 3000). */
  ackTimeoutMs?: number;
  log: Logger;
}

export interface PublisherStats {
  /** Acknowledged by the broker as new messages. */
  published: number;
  /** Acknowledged as duplicates (a retry of a message already stored). */
  duplicates: number;
  /** Written to the spool; and read back from it and acknowledged. */
  spooled: number;
  replayed: number;
  retries: number;
  dropped: { queue_full: number; spool_full: number; at_exit: number };
}

export class NatsPublisher {
  readonly stats: PublisherStats = { published: 0, duplicates: 0, spooled: 0, replayed: 0, retries: 0, dropped: { queue_full: 0, spool_full: 0, at_exit: 0 } };
  private readonly queue: SpooledMessage[] = [];
  private head = 0;
  private queueBytes = 0;
  private readonly spool: Spool | null;
  /** New messages go to the spool (to keep order) until it has been replayed. */
  private spilling = false;
  private closing = false;
  /** close() gave up waiting: the pump must not touch the queue any more. */
  private abandoned = false;
  private wake: (() => void) | null = null;
  private readonly pump: Promise<void>;
  private js: JetStreamClient | null = null;
  private jsOf: unknown = null;
  private readonly o: Required<Omit<PublisherOptions, 'spoolDir'>>;

  constructor(
    private readonly link: NatsLink,
    opts: PublisherOptions,
  ) {
    this.o = { maxQueue: 10_000, maxQueueBytes: 32 << 20, maxSpoolBytes: 1 << 30, ackTimeoutMs: 3000, ...opts };
    this.spool = opts.spoolDir ? new Spool(opts.spoolDir, this.o.maxSpoolBytes) : null;
    if (this.spool && !this.spool.empty) {
      // Left by the previous run: it goes first.
      this.spilling = true;
      opts.log.info('spool holds messages of a previous run: replaying them first', { spool: opts.spoolDir, bytes: this.spool.bytes });
    }
    this.pump = this.run();
  }

  /** Messages waiting in memory. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  get spoolBytes(): number {
    return this.spool?.bytes ?? 0;
  }

  /** Queues a message; never blocks, never throws. */
  send(subject: string, id: string, data: string): void {
    if (this.closing) {
      this.stats.dropped.at_exit++;
      return;
    }
    const m = { subject, id, data };
    const full = this.queued >= this.o.maxQueue || this.queueBytes + data.length > this.o.maxQueueBytes;
    if (this.spool && (this.spilling || full || !this.link.connected)) {
      if (this.spool.append(m)) {
        this.spilling = true;
        this.stats.spooled++;
      } else {
        if (this.stats.dropped.spool_full++ === 0) this.o.log.warn('spool full: further messages are dropped (counted)', { bytes: this.spool.bytes });
      }
    } else if (full) {
      if (this.stats.dropped.queue_full++ === 0) this.o.log.warn('NATS queue full: further messages are dropped (counted); give --spool DIR to keep them on disk', { queued: this.queued });
    } else {
      this.queue.push(m);
      this.queueBytes += data.length;
    }
    this.wake?.();
  }

  private next(): { m: SpooledMessage; fromSpool: boolean } | null {
    if (this.head < this.queue.length) return { m: this.queue[this.head], fromSpool: false };
    if (this.spool) {
      const m = this.spool.peek();
      if (m) return { m, fromSpool: true };
      this.spilling = false;
    }
    return null;
  }

  private done(fromSpool: boolean): void {
    if (fromSpool) {
      this.spool!.pop();
      this.stats.replayed++;
      return;
    }
    this.queueBytes -= this.queue[this.head].data.length;
    this.queue[this.head++] = undefined as unknown as SpooledMessage;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private client(): JetStreamClient | null {
    const nc = this.link.nc;
    if (nc === null) return null;
    if (this.jsOf !== nc) {
      this.js = jetstream(nc, { timeout: this.o.ackTimeoutMs });
      this.jsOf = nc;
    }
    return this.js;
  }

  private async run(): Promise<void> {
    let backoff = 100;
    for (;;) {
      if (this.abandoned) return;
      const item = this.next();
      if (item === null) {
        if (this.closing) return;
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      const js = this.link.connected ? this.client() : null;
      if (js === null) {
        if (this.closing) return;
        await this.link.waitConnected(1000);
        continue;
      }
      try {
        const ack = await js.publish(item.m.subject, item.m.data, { msgID: item.m.id, timeout: this.o.ackTimeoutMs });
        if (this.abandoned) return;
        if (ack.duplicate) this.stats.duplicates++;
        else this.stats.published++;
        this.done(item.fromSpool);
        backoff = 100;
      } catch (err) {
        // No ack: the broker is away (or slow). Retry the same message, same id, after a pause.
        this.stats.retries++;
        if (this.stats.retries === 1 || this.stats.retries % 100 === 0) this.o.log.warn('NATS publish not acknowledged: retrying', { error: describeError(err), retries: this.stats.retries });
        this.link.suspect();
        if (this.closing || this.abandoned) return;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  /**
   * Publishes what is queued within `timeoutMs`; what is left in memory then goes to the front
   * of the spool (or is counted as dropped at exit).
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pump, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.abandoned = true;
    this.wake?.();
    // The pump may be inside a publish: what it holds stays at the queue head and is kept below.
    const left = this.queue.slice(this.head);
    this.head = this.queue.length;
    if (left.length > 0) {
      if (this.spool) {
        this.spool.prepend(left);
        this.stats.spooled += left.length;
        this.o.log.warn('broker unreachable at exit: messages kept in the spool for the next run', { messages: left.length });
      } else {
        this.stats.dropped.at_exit += left.length;
        this.o.log.error('broker unreachable at exit: messages not published', { messages: left.length });
      }
    }
    if (this.spool && !this.spool.empty) this.o.log.warn('spooled messages left for the next run', { spool: this.spool.dir, bytes: this.spool.bytes });
    this.spool?.close();
  }
}
