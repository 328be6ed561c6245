/**
 * Cutting the event stream into windows ("syscall sequences").
 *
 * Windows are `windowNs` long and anchored at the first timed event: window k holds the events
 * with t0 + k·W ≤ t < t0 + (k+1)·W. Events are placed as they come, so a window is complete as
 * soon as an event of a later window arrives; nothing is buffered.
 *
 * Ordering: the reference windows a whole table at once, so for a time-sorted trace (what
 * sysdig, LID-DS and strace produce) it equals this streaming placement exactly. Events
 * earlier than the first one fall in no window in the reference; faithful mode drops them too,
 * improved mode counts them as late (below). For an event that belongs to a window already
 * closed, the two modes differ: improved mode counts it in the current window (a late event of
 * a concurrent thread), faithful mode refuses the file, because reproducing the reference there
 * would need the whole trace in memory.
 */
import { InputError } from '../util/errors.js';
import type { SyscallEvent } from '../trace/event.js';

export const DEFAULT_WINDOW_NS = 1_000_000_000;
/** A jump forward in time larger than this is taken for a corrupt timestamp (improved mode). */
export const MAX_JUMP_NS = 86_400e9;
/**
 * Default work budget: empty windows a trace may open between its events (11.6 days of 1 s
 * windows). Non-empty windows are bounded by the events themselves, so with this a trace's
 * windows, and the work and memory they cost, stay linear in its size whatever its timestamps.
 */
export const DEFAULT_MAX_EMPTY_WINDOWS = 1_000_000;

export class WindowClock {
  /** Index of the current (open) window, -1 before the first timed event. */
  current = -1;
  /** Anchor: the first timed event's time. */
  sec0 = 0;
  nsec0 = 0;
  /** Events that fell in no window (no timestamp, or earlier than the first event). */
  dropped = 0;
  /** Events placed in the current window although their time belongs to an earlier one. */
  late = 0;
  /**
   * Improved mode: events more than a day after the latest event so far, dropped. One
   * corrupt timestamp would otherwise open billions of empty windows.
   */
  jumps = 0;
  /** Empty windows opened so far by gaps between events (the work budget counts these). */
  empty = 0;
  /**
   * Budget each gap on its own instead of the whole trace: a monitor runs for months, its
   * quiet spells add up, and its work is bounded by the wall clock anyway; one absurd jump is
   * still refused.
   */
  perGap = false;
  private latestRel = 0;
  // The last placed event, to name both ends of a gap that exceeds the budget.
  private lastSec = 0;
  private lastNsec = 0;
  private lastLine = 0;

  constructor(
    readonly windowNs: number,
    readonly faithful: boolean,
    readonly file: string,
    readonly maxEmptyWindows: number = DEFAULT_MAX_EMPTY_WINDOWS,
  ) {}

  /** The window index for an event, or -1 when it belongs to no window. */
  place(ev: SyscallEvent): number {
    if (!ev.hasTime) {
      if (this.current < 0 && this.faithful) {
        throw new InputError(this.file, `line ${ev.line}: the first event has no timestamp`);
      }
      this.dropped++;
      return -1;
    }
    if (this.current < 0) {
      this.sec0 = ev.sec;
      this.nsec0 = ev.nsec;
      this.current = 0;
      this.remember(ev);
      return 0;
    }
    const rel = (ev.sec - this.sec0) * 1e9 + (ev.nsec - this.nsec0);
    if (rel < 0) {
      if (this.faithful) {
        this.dropped++;
        return -1;
      }
      this.late++;
      return this.current;
    }
    if (!this.faithful) {
      // Compared with the latest event, or the current window when a timer moved it on.
      const ref = Math.max(this.latestRel, this.current * this.windowNs);
      if (rel - ref > MAX_JUMP_NS) {
        this.jumps++;
        return -1;
      }
      if (rel > this.latestRel) this.latestRel = rel;
    }
    const w = this.windowNs;
    let k = Math.floor(rel / w);
    // Guard the float division at window boundaries.
    if (k * w > rel) k--;
    else if ((k + 1) * w <= rel) k++;
    if (k < this.current) {
      if (this.faithful) {
        throw new InputError(
          this.file,
          `line ${ev.line}: events are not in time order; --faithful reproduces the reference only on time-sorted traces (drop --faithful to read it)`,
        );
      }
      this.late++;
      return this.current;
    }
    if (k > this.current + 1) this.spend(k - this.current - 1, ev);
    this.current = k;
    this.remember(ev);
    return k;
  }

  private remember(ev: SyscallEvent): void {
    this.lastSec = ev.sec;
    this.lastNsec = ev.nsec;
    this.lastLine = ev.line;
  }

  /**
   * Charges `n` empty windows to the budget, or refuses the trace: a gap of days between two
   * events (or a tiny window length) would otherwise open billions of windows, hours of work
   * and gigabytes of output for a few bytes of input. The reference would hang there too.
   */
  private spend(n: number, ev: SyscallEvent): void {
    const total = this.perGap ? n : this.empty + n;
    if (total <= this.maxEmptyWindows) {
      this.empty += n;
      return;
    }
    const gap = `${stamp(this.lastSec, this.lastNsec)} (line ${this.lastLine}) to ${stamp(ev.sec, ev.nsec)} (line ${ev.line})`;
    throw new InputError(
      this.file,
      `the gap from ${gap} would open ${n} empty ${this.windowNs} ns windows${this.perGap ? '' : `, ${total} in all`}, over the limit of ${this.maxEmptyWindows} (raise it with --max-empty-windows, or use a longer --window)`,
    );
  }

  /**
   * The index of the window holding time (sec, nsec), without placing anything; -1 before the
   * first event or before the anchor. (For closing windows on a timer: WindowEncoder.advanceTo.)
   */
  indexAt(sec: number, nsec: number): number {
    if (this.current < 0) return -1;
    const rel = (sec - this.sec0) * 1e9 + (nsec - this.nsec0);
    if (rel < 0) return -1;
    const w = this.windowNs;
    let k = Math.floor(rel / w);
    if (k * w > rel) k--;
    else if ((k + 1) * w <= rel) k++;
    return k;
  }

  /** Start of window k as nanoseconds: epoch ns for LID-DS, ns since midnight for sysdig text. */
  startNs(k: number): bigint {
    return BigInt(this.sec0) * 1_000_000_000n + BigInt(this.nsec0) + BigInt(k) * BigInt(this.windowNs);
  }
}

function stamp(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`;
}

/** Parses a window length such as `1s`, `500ms`, `2.5s`, `100000us`, `1000000000ns`. */
export function parseWindowLength(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m)?\s*$/.exec(text);
  if (!m) throw new Error(`invalid window length '${text}' (examples: 1s, 500ms, 2s)`);
  const unit = m[2] ?? 's';
  const scale = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9 }[unit] as number;
  const ns = Math.round(parseFloat(m[1]) * scale);
  if (!(ns >= 1000)) throw new Error(`window length '${text}' is too short (minimum 1us)`);
  return ns;
}
