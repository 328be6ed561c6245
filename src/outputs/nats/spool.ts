/**
 * The disk half of the publisher's buffer (`--spool DIR`): messages the broker could not take
 * yet, in order, in segment files `seg-<12 digits>.jsonl` (one JSON line per message: subject,
 * id, payload). Written through (one write per message) so a crashed agent loses nothing it
 * spooled; read back one whole segment at a time (segments are small) and a segment is deleted
 * only once every message in it was acknowledged. A crash in the middle of a segment replays
 * it from its start: the message ids make the replayed ones no-ops on the broker.
 *
 * Bounded by bytes: beyond `maxBytes` further messages are refused (the caller counts them).
 * One spool directory belongs to one agent.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../../util/errors.js';
import { fsProblem } from '../../trace/labels.js';

export interface SpooledMessage {
  subject: string;
  id: string;
  data: string;
}

const SEG = /^seg-(\d{12})\.jsonl$/;
/** A segment is closed for reading once it holds this much. */
const SEGMENT_BYTES = 1 << 20;
/** Segment numbers start mid-range so that leftovers written at exit can go before the rest. */
const FIRST_SEGMENT = 500_000_000_000;

export class Spool {
  /** Bytes on disk in all segments. */
  bytes = 0;
  private segments: number[] = [];
  private writeFd = -1;
  private writeSeg = -1;
  private writeBytes = 0;
  /** The segment being read, its messages and how many of them are done. */
  private reading: { seg: number; msgs: SpooledMessage[]; done: number } | null = null;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const f of readdirSync(dir)) {
        const m = SEG.exec(f);
        if (!m) continue;
        this.segments.push(Number(m[1]));
        this.bytes += statSync(path.join(dir, f)).size;
      }
    } catch (err) {
      throw new ChidsError(`--spool ${dir}: cannot use the directory (${fsProblem(err)})`);
    }
    this.segments.sort((a, b) => a - b);
  }

  /** Messages (or bytes) waiting on disk? */
  get empty(): boolean {
    return this.segments.length === 0 && (this.reading === null || this.reading.done >= this.reading.msgs.length);
  }

  private file(seg: number): string {
    return path.join(this.dir, `seg-${String(seg).padStart(12, '0')}.jsonl`);
  }

  private line(m: SpooledMessage): string {
    return JSON.stringify({ s: m.subject, i: m.id, d: m.data }) + '\n';
  }

  /** Appends at the end; false when the spool is full. */
  append(m: SpooledMessage): boolean {
    const line = this.line(m);
    if (this.bytes + Buffer.byteLength(line) > this.maxBytes) return false;
    if (this.writeFd < 0) {
      const last = this.segments.length > 0 ? this.segments[this.segments.length - 1] : FIRST_SEGMENT - 1;
      this.writeSeg = Math.max(last, this.reading?.seg ?? -1) + 1;
      this.writeFd = openSync(this.file(this.writeSeg), 'a', 0o600);
      this.writeBytes = 0;
      this.segments.push(this.writeSeg);
    }
    const n = writeSync(this.writeFd, line);
    this.bytes += n;
    this.writeBytes += n;
    if (this.writeBytes >= SEGMENT_BYTES) this.closeWriter();
    return true;
  }

  /** Writes messages before everything spooled (what was still in memory at exit is older). */
  prepend(msgs: readonly SpooledMessage[]): void {
    if (msgs.length === 0) return;
    this.closeWriter();
    const first = Math.min(this.segments[0] ?? FIRST_SEGMENT, this.reading?.seg ?? FIRST_SEGMENT) - 1;
    const fd = openSync(this.file(first), 'w', 0o600);
    try {
      for (const m of msgs) this.bytes += writeSync(fd, this.line(m));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.segments.unshift(first);
  }

  private closeWriter(): void {
    if (this.writeFd < 0) return;
    fsyncSync(this.writeFd);
    closeSync(this.writeFd);
    this.writeFd = -1;
  }

  /** The oldest spooled message not yet acknowledged, or null. */
  peek(): SpooledMessage | null {
    if (this.reading !== null && this.reading.done < this.reading.msgs.length) return this.reading.msgs[this.reading.done];
    this.finishReading();
    if (this.segments.length === 0) return null;
    const seg = this.segments[0];
    if (seg === this.writeSeg && this.writeFd >= 0) this.closeWriter();
    this.segments.shift();
    const msgs: SpooledMessage[] = [];
    let text = '';
    try {
      text = readFileSync(this.file(seg), 'utf8');
    } catch {
      // gone: nothing to replay from it
    }
    for (const l of text.split('\n')) {
      if (l === '') continue;
      try {
        const o = JSON.parse(l) as { s: string; i: string; d: string };
        msgs.push({ subject: o.s, id: o.i, data: o.d });
      } catch {
        // a line torn by a crash mid-write: the rest of the segment is still good
      }
    }
    this.reading = { seg, msgs, done: 0 };
    return this.peek();
  }

  /** The message peek() gave is acknowledged. */
  pop(): void {
    if (this.reading === null) return;
    const m = this.reading.msgs[this.reading.done++];
    if (m) this.bytes = Math.max(0, this.bytes - Buffer.byteLength(this.line(m)));
    if (this.reading.done >= this.reading.msgs.length) this.finishReading();
  }

  private finishReading(): void {
    if (this.reading === null) return;
    const r = this.reading;
    if (r.done < r.msgs.length) return;
    try {
      unlinkSync(this.file(r.seg));
    } catch {
      // already gone
    }
    this.reading = null;
  }

  /** Leaves what is unread on disk for the next run (a partly read segment is replayed whole). */
  close(): void {
    this.closeWriter();
  }
}
