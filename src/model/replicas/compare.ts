/**
 * Comparing replicas window by window (the ReplicaWatcher method): replicas of one service doing
 * the same work show the same aspects, so a replica whose sets differ from its siblings' stands
 * out, without any training.
 *
 * Per window and aspect, replica i's dissimilarity is 1 − the mean Jaccard similarity of its set
 * with each other replica's set (0 when its own set is empty: doing nothing is not evidence);
 * its score is the Euclidean norm of the vector of dissimilarities over the aspects, flagged
 * when above the threshold.
 *
 * Streaming: windows are aligned on absolute time (window index = ⌊t / window⌋), each replica's
 * closed windows wait in a queue until every replica has moved past that window, then the window
 * is compared and dropped. Only whole windows inside the span every replica covers are compared
 * (a replica that started later or stopped earlier would otherwise look like an outlier at the
 * edges, and the partial windows at both ends hold too little activity to compare).
 */
import type { SyscallEvent } from '../../trace/event.js';
import { ASPECT_COUNT, ASPECTS, type Aspect, AspectSets, addEvent, DEFAULT_SET_CAP } from './aspects.js';

const EMPTY: ReadonlySet<string> = new Set<string>();

/** |a ∩ b| / |a ∪ b|; 1 for two empty sets. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/**
 * How a replica's similarity to its siblings is summed up, per aspect:
 * - `mean`: the mean Jaccard similarity with each other replica (ReplicaWatcher's). One deviating
 *   replica lowers every sibling's mean too: with three replicas, the siblings of an attacked one
 *   score about half of what it scores, and an attack that changes much pushes them over the
 *   threshold with it.
 * - `nearest`: the similarity with the most similar other replica. A normal replica has a normal
 *   sibling that looks like it, so one deviating replica leaves the others at ~0; the deviating
 *   one has no such sibling. Needs three replicas or more to tell which one deviates (with two,
 *   both modes give both the same score).
 * - `covered`: the share of the replica's own items that its most similar sibling also showed, in
 *   the same window or the one before or after. Replicas serve the same requests, but not at the
 *   same instant: a request near a window's edge lands in window k for one replica and k + 1 for
 *   another, which Jaccard counts twice (an item too many here, one missing there). Here an item
 *   is shared when the sibling shows it within a window of it, and a replica that did less than
 *   its siblings is not suspect (doing nothing is not evidence); what only it did counts as
 *   before. The comparison of window k then waits for window k + 1 to close.
 */
export type Similarity = 'mean' | 'nearest' | 'covered';
export const SIMILARITIES: readonly Similarity[] = ['mean', 'nearest', 'covered'];

/** Sets of one aspect of one replica in the windows around the one compared (either may be empty). */
export interface AroundSets {
  before: ReadonlySet<string>;
  after: ReadonlySet<string>;
}

/** `covered` dissimilarity: 1 − the largest share of a replica's items some sibling showed within a window; 0 for an empty set. */
export function coveredDissimilarities(sets: readonly ReadonlySet<string>[], around: readonly AroundSets[]): number[] {
  const n = sets.length;
  const out = new Array<number>(n).fill(0);
  if (n < 2) return out;
  for (let i = 0; i < n; i++) {
    if (sets[i].size === 0) continue;
    let best = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let shown = 0;
      for (const x of sets[i]) if (sets[j].has(x) || around[j].before.has(x) || around[j].after.has(x)) shown++;
      best = Math.max(best, shown / sets[i].size);
    }
    out[i] = 1 - best;
  }
  return out;
}

/** Dissimilarity of each replica's set with the others' (one aspect): 1 − mean (or nearest) Jaccard, 0 for an empty set. */
export function dissimilarities(sets: readonly ReadonlySet<string>[], similarity: Similarity = 'mean'): number[] {
  const n = sets.length;
  const out = new Array<number>(n).fill(0);
  if (n < 2) return out;
  for (let i = 0; i < n; i++) {
    if (sets[i].size === 0) continue;
    let sum = 0;
    let best = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const x = jaccard(sets[i], sets[j]);
      sum += x;
      if (x > best) best = x;
    }
    out[i] = 1 - (similarity === 'nearest' ? best : sum / (n - 1));
  }
  return out;
}

/** Euclidean norm. */
export function norm(v: readonly number[]): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

export interface WindowComparison {
  /** Per replica, the dissimilarity per aspect (ASPECTS order). */
  dissimilarity: number[][];
  /** Per replica, the norm of its dissimilarities. */
  scores: number[];
}

/** Compares the replicas' sets of one window. */
export function compareWindow(
  replicas: readonly AspectSets[],
  similarity: Similarity = 'mean',
  around?: readonly { before: AspectSets; after: AspectSets }[],
): WindowComparison {
  const n = replicas.length;
  const dissimilarity = Array.from({ length: n }, () => new Array<number>(ASPECT_COUNT).fill(0));
  for (let a = 0; a < ASPECT_COUNT; a++) {
    const cur = replicas.map((r) => r.sets[a]);
    const d =
      similarity === 'covered'
        ? coveredDissimilarities(
            cur,
            cur.map((_, i) => ({ before: around?.[i]?.before.sets[a] ?? EMPTY, after: around?.[i]?.after.sets[a] ?? EMPTY })),
          )
        : dissimilarities(cur, similarity);
    for (let i = 0; i < n; i++) dissimilarity[i][a] = d[i];
  }
  return { dissimilarity, scores: dissimilarity.map(norm) };
}

/** What drove a replica's score: per aspect, its largest dissimilarity and the items no other replica had. */
export interface AspectDriver {
  aspect: Aspect;
  max_dissimilarity: number;
  /** Items only this replica showed (up to DRIVER_ITEMS, sorted). */
  only_here: string[];
  /** How many such items there were in all (distinct per window, summed over windows). */
  only_here_total: number;
}

/** Items listed per aspect in a driver. */
export const DRIVER_ITEMS = 20;

class DriverSet {
  readonly maxD = new Array<number>(ASPECT_COUNT).fill(0);
  readonly items: Set<string>[] = ASPECTS.map(() => new Set<string>());
  readonly total = new Array<number>(ASPECT_COUNT).fill(0);

  add(i: number, sets: readonly AspectSets[], d: readonly number[]): void {
    for (let a = 0; a < ASPECT_COUNT; a++) {
      if (d[a] > this.maxD[a]) this.maxD[a] = d[a];
      if (d[a] === 0) continue;
      for (const x of sets[i].sets[a]) {
        let elsewhere = false;
        for (let j = 0; j < sets.length && !elsewhere; j++) if (j !== i && sets[j].sets[a].has(x)) elsewhere = true;
        if (elsewhere) continue;
        this.total[a]++;
        if (this.items[a].size < DRIVER_ITEMS) this.items[a].add(x);
      }
    }
  }

  list(): AspectDriver[] {
    const out: AspectDriver[] = [];
    for (let a = 0; a < ASPECT_COUNT; a++) {
      if (this.maxD[a] === 0) continue;
      out.push({ aspect: ASPECTS[a], max_dissimilarity: this.maxD[a], only_here: [...this.items[a]].sort(), only_here_total: this.total[a] });
    }
    return out.sort((x, y) => y.max_dissimilarity - x.max_dissimilarity || x.aspect.localeCompare(y.aspect));
  }
}

export interface ReplicaVerdict {
  flagged: boolean;
  max_score: number;
  /** Start of the first window whose score exceeded the threshold (decimal ns), or null. */
  first_alarm_ns: string | null;
  alarm_windows: number;
  /** Flagged: what drove the alarm windows; not flagged: what drove its highest-scoring window. */
  aspects: AspectDriver[];
  /** Items not kept because a window's set reached the cap, summed over windows and aspects. */
  items_cut: number;
}

export interface ComparedWindow {
  /** Window start (decimal ns, on the recordings' clock). */
  start_ns: string;
  scores: number[];
  events: number[];
}

export interface ComparisonOptions {
  windowNs: number;
  threshold: number;
  /** How similarities to the other replicas are summed up (default 'mean'). */
  similarity?: Similarity;
  /** Cap per aspect and window (default DEFAULT_SET_CAP). */
  setCap?: number;
  /**
   * Count each replica's time from its own first event instead of the absolute clock: for
   * recordings that were not made at the same time (trying the method on a dataset of separate
   * runs). Window starts are then nanoseconds since each replica's start.
   */
  alignStarts?: boolean;
  /** Called with each window as it is compared. */
  onWindow?: (w: ComparedWindow) => void;
}

interface Closed {
  index: number;
  sets: AspectSets;
}

const NO_SETS = new AspectSets(0);

class ReplicaState {
  readonly queue: Closed[] = [];
  current: AspectSets | null = null;
  currentIndex = -1;
  first = -1;
  finished = false;
  itemsCut = 0;
  // Window index of the current second, exact although epoch nanoseconds exceed 2^53.
  private sec = -1;
  private secBase = 0;
  private secRem = 0;

  private originSec = -1;
  private originNsec = 0;

  constructor(
    private readonly windowNs: number,
    private readonly alignStart: boolean,
  ) {}

  indexOf(sec: number, nsec: number): number {
    if (this.alignStart) {
      if (this.originSec < 0) {
        this.originSec = sec;
        this.originNsec = nsec;
      }
      return Math.floor(((sec - this.originSec) * 1e9 + (nsec - this.originNsec)) / this.windowNs);
    }
    if (sec !== this.sec) {
      const ns = BigInt(sec) * 1_000_000_000n;
      const w = BigInt(this.windowNs);
      this.secBase = Number(ns / w);
      this.secRem = Number(ns % w);
      this.sec = sec;
    }
    return this.secBase + Math.floor((this.secRem + nsec) / this.windowNs);
  }

  /** Is window k behind this replica (it will add nothing more to it)? */
  passed(k: number): boolean {
    return this.finished || this.currentIndex > k;
  }

  close(): void {
    if (this.current !== null) {
      this.queue.push({ index: this.currentIndex, sets: this.current });
      for (const c of this.current.cut) this.itemsCut += c;
      this.current = null;
    }
  }
}

/**
 * The streaming comparison of N replicas. Feed each replica's events in time order with
 * `event(r, …)`, call `finish(r)` at its end; `drain()` compares what is ready (call it often),
 * `pending(r)` says how many closed windows of replica r wait (for back-pressure: hold back a
 * replica that runs ahead), `verdicts()` gives the result once all are finished.
 */
export class ReplicaComparison {
  private readonly replicas: ReplicaState[];
  private readonly cap: number;
  private readonly best: { score: number; drivers: DriverSet }[];
  private readonly alarms: DriverSet[];
  private readonly firstAlarm: (number | null)[];
  private readonly alarmCount: number[];
  /** Windows compared; windows outside the common span (skipped); events out of time order (counted in the current window). */
  compared = 0;
  outsideSpan = 0;
  late = 0;
  /** Events without a timestamp (in no window). */
  untimed = 0;
  /** The last window taken from the queues, and the windows around the one being compared (`covered`). */
  private previous: { index: number; sets: AspectSets[] } | null = null;
  private around: { before: AspectSets; after: AspectSets }[] = [];

  constructor(
    readonly count: number,
    private readonly opts: ComparisonOptions,
  ) {
    if (count < 2) throw new Error('comparing replicas needs at least two');
    this.cap = opts.setCap ?? DEFAULT_SET_CAP;
    this.replicas = Array.from({ length: count }, () => new ReplicaState(opts.windowNs, opts.alignStarts === true));
    this.best = Array.from({ length: count }, () => ({ score: -1, drivers: new DriverSet() }));
    this.alarms = Array.from({ length: count }, () => new DriverSet());
    this.firstAlarm = new Array<number | null>(count).fill(null);
    this.alarmCount = new Array<number>(count).fill(0);
  }

  event(r: number, ev: SyscallEvent, syscall: string): void {
    if (!ev.hasTime) {
      this.untimed++;
      return;
    }
    const st = this.replicas[r];
    let k = st.indexOf(ev.sec, ev.nsec);
    if (k < st.currentIndex) {
      // Out of order: counted in the current window, like the encoder does.
      this.late++;
      k = st.currentIndex;
    }
    if (k !== st.currentIndex) {
      st.close();
      st.currentIndex = k;
      if (st.first < 0) st.first = k;
      st.current = new AspectSets(this.cap);
    }
    addEvent(st.current as AspectSets, ev, syscall);
  }

  finish(r: number): void {
    const st = this.replicas[r];
    st.close();
    st.finished = true;
  }

  pending(r: number): number {
    return this.replicas[r].queue.length;
  }

  /** True when every replica other than r has finished (then r need not wait for anyone). */
  othersFinished(r: number): boolean {
    return this.replicas.every((s, i) => i === r || s.finished);
  }

  /** Compares every window all replicas have moved past. */
  drain(): void {
    for (;;) {
      let k = Infinity;
      for (const s of this.replicas) if (s.queue.length > 0 && s.queue[0].index < k) k = s.queue[0].index;
      // `covered` looks at the window after k too: it waits until every replica has closed it.
      const need = this.opts.similarity === 'covered' ? k + 1 : k;
      if (k === Infinity || !this.replicas.every((s) => s.passed(need))) return;
      const sets: AspectSets[] = [];
      for (const s of this.replicas) {
        if (s.queue.length > 0 && s.queue[0].index === k) sets.push((s.queue.shift() as Closed).sets);
        else sets.push(new AspectSets(0));
      }
      const before = this.previous?.index === k - 1 ? this.previous.sets : null;
      this.previous = { index: k, sets };
      this.around = this.replicas.map((s, i) => ({
        before: before?.[i] ?? NO_SETS,
        after: s.queue.length > 0 && s.queue[0].index === k + 1 ? s.queue[0].sets : NO_SETS,
      }));
      // Inside the common span, whole: every replica was already running before k and ran past
      // it. The window of a replica's first or last event covers only part of the window's time
      // (a recording or a watch started mid-window), so replicas whose spans differ by a fraction
      // of a second are compared on different amounts of activity there: in lab recordings of
      // three normal replicas, a 0.5 s first window scored 1.1-1.7 where the full ones scored 0.02.
      const inside = this.replicas.every((s) => s.first >= 0 && s.first < k && !(s.finished && s.currentIndex <= k));
      if (inside) this.compare(k, sets);
      else this.outsideSpan++;
    }
  }

  private compare(k: number, sets: AspectSets[]): void {
    this.compared++;
    const { dissimilarity, scores } = compareWindow(sets, this.opts.similarity, this.around);
    for (let i = 0; i < this.count; i++) {
      if (scores[i] > this.best[i].score) {
        const d = new DriverSet();
        d.add(i, sets, dissimilarity[i]);
        this.best[i] = { score: scores[i], drivers: d };
      }
      if (scores[i] > this.opts.threshold) {
        this.alarmCount[i]++;
        if (this.firstAlarm[i] === null) this.firstAlarm[i] = k;
        this.alarms[i].add(i, sets, dissimilarity[i]);
      }
    }
    this.opts.onWindow?.({ start_ns: this.startNs(k), scores, events: sets.map((s) => s.events) });
  }

  private startNs(k: number): string {
    return (BigInt(k) * BigInt(this.opts.windowNs)).toString();
  }

  verdicts(): ReplicaVerdict[] {
    this.drain();
    return this.replicas.map((s, i) => {
      const flagged = this.firstAlarm[i] !== null;
      return {
        flagged,
        max_score: Math.max(0, this.best[i].score),
        first_alarm_ns: flagged ? this.startNs(this.firstAlarm[i] as number) : null,
        alarm_windows: this.alarmCount[i],
        aspects: (flagged ? this.alarms[i] : this.best[i].drivers).list(),
        items_cut: s.itemsCut,
      };
    });
  }
}
