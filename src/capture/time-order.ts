/**
 * Puts a live source's events back in kernel time order.
 *
 * bpftrace reads one perf buffer per CPU and prints each buffer's events in turn, so its output
 * interleaves the CPUs a few milliseconds out of order (measured on a 2-core VM under ab: half of
 * the events behind an earlier-printed later one, by up to 25 ms). Most of that is between
 * threads and harmless; but a thread that migrates between CPUs can have its own calls printed
 * out of order (17 of 570,000 events in the same run). Its syscall sequence is then one no
 * program ever made: each such swap gives the window a handful of n-grams training never saw,
 * which the default detector's sequence feature reads as novelty (a new container's normal window
 * alarmed live with 12 unseen 6-grams of 503).
 *
 * So events are held until every CPU has had its chance to deliver earlier ones: an event is
 * released once a later event `hold` past it has arrived, or, in a quiet stream, once the clock
 * is `idleNs` past it. How far behind the CPUs come depends on load: a few ms while the reader
 * keeps up, hundreds when it lags (bpftrace then stops reading, every CPU's buffer fills, and it
 * drains them one after the other: 359 ms measured, ab against a host httpd at 12,000 events/s).
 * So the hold adapts: 1.5 × the furthest an event came behind the newest in the last 10 to 20 s of
 * event time, never below `minHoldNs` nor above `maxHoldNs`. Events that still come after later
 * ones were released go out at once (the caller raises their time to keep the stream
 * non-decreasing) and are counted as late.
 *
 * Storage is four parallel arrays and a head index (no object per event); arrival order is
 * almost sorted, so an event is inserted by stepping back from the tail, usually zero steps.
 */

import { earlier, nsAfter } from '../util/time.js';

export class TimeOrderBuffer<A, B> {
  private readonly sec: number[] = [];
  private readonly nsec: number[] = [];
  private readonly a: A[] = [];
  private readonly b: B[] = [];
  /** Index of the oldest held event. */
  private head = 0;
  private newestSec = -Infinity;
  private newestNsec = 0;
  private releasedSec = -Infinity;
  private releasedNsec = 0;
  /**
   * Events that arrived behind a later held one (put back in order), and after a later one had
   * been released; `firstLateNs`: how far into the stream (event time after its first event) the
   * first of those came, or -1.
   */
  readonly stats = { reordered: 0, late: 0, maxBehindNs: 0, maxHoldNs: 0, firstLateNs: -1 };
  private firstSec = NaN;
  private firstNsec = 0;
  /** In the stream's first warmupNs, before its lateness is known: the longest hold. */
  private warm: boolean;
  /** When the reader read what it is now pushing (observeClock), or -Infinity. */
  private readSec = -Infinity;
  private readNsec = 0;
  /** Furthest behind the newest an event came, in this 10-s bucket of event time and the one before. */
  private behindNow = 0;
  private behindBefore = 0;
  private bucket = -Infinity;
  private holdNs: number;

  constructor(
    private readonly minHoldNs: number,
    private readonly maxHoldNs: number,
    private readonly idleNs: number,
    private readonly release: (sec: number, nsec: number, a: A, b: B) => void,
    /**
     * How long, from the first event, to hold the longest (maxHoldNs) before adapting: at the
     * start nothing says how far behind the CPUs deliver, and a reader busy starting up (a
     * monitor loading baselines, naming containers) lets them fall furthest behind then.
     */
    private readonly warmupNs = 0,
  ) {
    if (!(minHoldNs >= 0 && minHoldNs <= maxHoldNs && maxHoldNs < 1e9 && idleNs >= 0 && idleNs < 1e9)) throw new RangeError(`hold ${minHoldNs}–${maxHoldNs} ns / idle ${idleNs} ns: need 0 ≤ min ≤ max < 1 s and 0 ≤ idle < 1 s`);
    this.warm = warmupNs > 0;
    this.holdNs = this.warm ? maxHoldNs : minHoldNs;
    this.stats.maxHoldNs = this.holdNs;
  }

  /** The hold now (ns). */
  get hold(): number {
    return this.holdNs;
  }

  private adapt(): void {
    if (this.warm) return;
    this.holdNs = Math.min(this.maxHoldNs, Math.max(this.minHoldNs, 1.5 * Math.max(this.behindNow, this.behindBefore)));
    if (this.holdNs > this.stats.maxHoldNs) this.stats.maxHoldNs = this.holdNs;
  }

  /** Events come (or are about to come) `ns` behind the newest: the hold grows if that is the furthest in this bucket. */
  private noteBehind(ns: number): void {
    if (ns > this.behindNow) {
      this.behindNow = ns;
      this.adapt();
    }
  }

  /** Adds an event; releases whatever is now `holdNs` behind the newest. */
  push(sec: number, nsec: number, a: A, b: B): void {
    if (Number.isNaN(this.firstSec)) {
      this.firstSec = sec;
      this.firstNsec = nsec;
    } else if (this.warm && nsAfter(sec, nsec, this.firstSec, this.firstNsec) >= this.warmupNs) {
      this.warm = false;
      this.adapt();
    }
    if (this.readSec !== -Infinity) {
      const lag = nsAfter(this.readSec, this.readNsec, sec, nsec);
      if (lag > 2 * this.minHoldNs) this.noteBehind(lag);
    }
    if (earlier(sec, nsec, this.newestSec, this.newestNsec)) {
      const behind = nsAfter(this.newestSec, this.newestNsec, sec, nsec);
      if (behind > this.stats.maxBehindNs) this.stats.maxBehindNs = behind;
      this.noteBehind(behind);
    }
    if (earlier(sec, nsec, this.releasedSec, this.releasedNsec)) {
      if (this.stats.late === 0) this.stats.firstLateNs = nsAfter(sec, nsec, this.firstSec, this.firstNsec);
      this.stats.late++;
      this.release(sec, nsec, a, b);
      return;
    }
    const s = this.sec;
    const n = this.nsec;
    let i = s.length;
    s.push(sec);
    n.push(nsec);
    this.a.push(a);
    this.b.push(b);
    if (i > this.head && earlier(sec, nsec, s[i - 1], n[i - 1])) {
      this.stats.reordered++;
      // Step back past every held event later than this one (equal times keep arrival order).
      for (; i > this.head && earlier(sec, nsec, s[i - 1], n[i - 1]); i--) {
        s[i] = s[i - 1];
        n[i] = n[i - 1];
        this.a[i] = this.a[i - 1];
        this.b[i] = this.b[i - 1];
      }
      s[i] = sec;
      n[i] = nsec;
      this.a[i] = a;
      this.b[i] = b;
    }
    if (earlier(this.newestSec, this.newestNsec, sec, nsec)) {
      this.newestSec = sec;
      this.newestNsec = nsec;
      const k = Math.floor(sec / 10);
      if (k !== this.bucket) {
        // A new 10-s bucket: lateness older than the one before no longer counts.
        this.behindBefore = k === this.bucket + 1 ? this.behindNow : 0;
        this.behindNow = 0;
        this.bucket = k;
        this.adapt();
      }
    }
    this.releaseUpTo(this.newestSec, this.newestNsec - this.holdNs);
  }

  /**
   * Called with the clock before the events of each read are pushed. An event older than that
   * by more than twice the floor means the reader, or the tracer, fell behind: the CPUs' buffers
   * are being drained one after another, and the next ones' events will come about that far
   * behind the newest. The hold grows to it as the first old event is pushed, before they come,
   * rather than once the first of them has come too late (a container restart that starved the
   * tracer for 0.8 s made 174 events too late, and a container's window alarmed on n-grams no
   * program makes).
   */
  observeClock(nowSec: number, nowNsec: number): void {
    this.readSec = nowSec;
    this.readNsec = nowNsec;
  }

  /** Releases what the clock (now, same time base as the events) has left `idleNs` behind: a quiet stream's last events. */
  flush(nowSec: number, nowNsec: number): void {
    this.releaseUpTo(nowSec, nowNsec - this.idleNs);
  }

  /** Releases everything held (the source ended). */
  drain(): void {
    this.releaseUpTo(Infinity, 0);
  }

  /** Time of the oldest held event, or null: a consumer's clock must not pass it (its window is still open). */
  oldest(): { sec: number; nsec: number } | null {
    return this.head < this.sec.length ? { sec: this.sec[this.head], nsec: this.nsec[this.head] } : null;
  }

  get held(): number {
    return this.sec.length - this.head;
  }

  /** Releases every held event at or before (sec, nsec); nsec may be negative (borrowed from sec). */
  private releaseUpTo(sec: number, nsec: number): void {
    if (nsec < 0) {
      const borrow = Math.ceil(-nsec / 1e9);
      sec -= borrow;
      nsec += borrow * 1e9;
    }
    const s = this.sec;
    const n = this.nsec;
    let h = this.head;
    while (h < s.length && !earlier(sec, nsec, s[h], n[h])) {
      this.releasedSec = s[h];
      this.releasedNsec = n[h];
      this.release(s[h], n[h], this.a[h], this.b[h]);
      // The payloads are let go as they leave (a long-held container object or line is not kept alive).
      this.a[h] = undefined as A;
      this.b[h] = undefined as B;
      h++;
    }
    this.head = h;
    if (h === s.length) {
      s.length = n.length = this.a.length = this.b.length = 0;
      this.head = 0;
    } else if (h >= 4096 && 2 * h >= s.length) {
      s.splice(0, h);
      n.splice(0, h);
      this.a.splice(0, h);
      this.b.splice(0, h);
      this.head = 0;
    }
  }
}
