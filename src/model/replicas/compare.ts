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
import { ASPECT_COUNT, ASPECTS, type Aspect, AspectSets, addEvent, DEFAULT_SET_CAP, PROGRAM_ASPECTS } from './aspects.js';
import { nsAfter } from '../../util/time.js';

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
 * - `counted`: `covered`, and also how often. An attack can consist of more of what normal users
 *   do (a login brute force: the same login requests, many more of them); sets do not see it,
 *   counts do. Per aspect, the dissimilarity is the larger of the `covered` one and the share
 *   of the replica's item occurrences that are a significant excess over its nearest sibling
 *   (see {@link excessDissimilarities}). Like `covered`, it waits for window k + 1.
 * - `programs`: `counted`, with shares also taken per program. `covered` divides what no sibling
 *   showed by all the replica's items, nginx's, the app's, its children's and Redis's together: in
 *   a busy replica a quiet program doing something new (Redis told to write its snapshot into
 *   /root/.ssh: two new directories, some twenty new file operations) is a few per cent of the
 *   whole. For syscalls, categories and directories (PROGRAM_ASPECTS: the aspects without request
 *   data), the dissimilarity is also the largest share of one program's own items that the
 *   nearest sibling did not show, by any of its programs, in the window or the one before or
 *   after (see {@link programDissimilarities}). What counts as new is
 *   `covered`'s, only the denominator changes: an item one program of this replica shows and
 *   another program of the sibling shows (a child named after its parent until it execs, a path
 *   reached through the shell in one replica and directly in another) is not new.
 */
export type Similarity = 'mean' | 'nearest' | 'covered' | 'counted' | 'programs';
export const SIMILARITIES: readonly Similarity[] = ['mean', 'nearest', 'covered', 'counted', 'programs'];

/** Similarities that also look at the window after the one compared (so wait for it to close). */
export function looksAhead(s: Similarity): boolean {
  return s === 'covered' || s === 'counted' || s === 'programs';
}

/** Similarities that weigh counts (`counted` and the one built on it). */
function countsToo(s: Similarity): boolean {
  return s === 'counted' || s === 'programs';
}

/** Does this similarity need the windows' sets kept per program (AspectSets `byProgram`)? */
export function needsPrograms(s: Similarity): boolean {
  return s === 'programs';
}

/**
 * How many standard deviations (Poisson: √(expected + 1)) a replica's count of an item must
 * exceed what its sibling explains before the surplus counts: three, the usual "not chance"
 * bar, fixed beforehand, not fitted to the benchmark.
 */
export const EXCESS_Z = 3;

/** One replica's counts in a window, with its volume (events) there. */
export interface CountedWindow {
  counts: ReadonlyMap<string, number>;
  events: number;
}

/**
 * `counted`'s count part, for one aspect: per replica, the share of its item occurrences in the
 * window that its nearest sibling does not explain (0 with no items). Replicas behind a load
 * balancer serve different numbers of requests, so a sibling's counts are scaled by the volume
 * ratio first (this replica's events over the sibling's); and a request near a window's edge
 * lands on either side of it, so the sibling explains a count by the most it did in the same
 * window or the one before or after: λ = max over those windows of count × events_i / events_j.
 * An item's surplus c − λ counts when it is significant, c − λ > EXCESS_Z·√(λ + 1); items the
 * sibling never showed are left to `covered` (their whole count would be surplus). The nearest
 * sibling is the one that leaves the least surplus. `items` lists, per replica, the items whose
 * surplus counted against that sibling (largest first).
 */
export function excessDissimilarities(
  cur: readonly CountedWindow[],
  around: readonly { before: CountedWindow; after: CountedWindow }[],
): { dissimilarity: number[]; items: { item: string; count: number; expected: number }[][] } {
  const n = cur.length;
  const dissimilarity = new Array<number>(n).fill(0);
  const items: { item: string; count: number; expected: number }[][] = Array.from({ length: n }, () => []);
  if (n < 2) return { dissimilarity, items };
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (const c of cur[i].counts.values()) total += c;
    if (total === 0 || cur[i].events === 0) continue;
    let best = Infinity;
    let bestItems: { item: string; count: number; expected: number }[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const ws = [cur[j], around[j].before, around[j].after];
      let surplus = 0;
      const mine: { item: string; count: number; expected: number }[] = [];
      for (const [x, c] of cur[i].counts) {
        let lambda = 0;
        let seen = false;
        for (const w of ws) {
          const cj = w.counts.get(x);
          if (cj === undefined || w.events === 0) continue;
          seen = true;
          const l = (cj * cur[i].events) / w.events;
          if (l > lambda) lambda = l;
        }
        if (!seen) continue;
        if (c - lambda > EXCESS_Z * Math.sqrt(lambda + 1)) {
          surplus += c - lambda;
          mine.push({ item: x, count: c, expected: lambda });
        }
      }
      if (surplus < best) {
        best = surplus;
        bestItems = mine;
      }
      if (best === 0) break;
    }
    dissimilarity[i] = best / total;
    items[i] = bestItems.sort((a, b) => b.count - b.expected - (a.count - a.expected));
  }
  return { dissimilarity, items };
}

/** Sets of one aspect of one replica in the windows around the one compared (either may be empty). */
export interface AroundSets {
  before: ReadonlySet<string>;
  after: ReadonlySet<string>;
}

/** Sibling j showed item x within a window: in the window compared, the one before or the one after. */
function shownBy(x: string, sets: readonly ReadonlySet<string>[], around: readonly AroundSets[], j: number): boolean {
  return sets[j].has(x) || around[j].before.has(x) || around[j].after.has(x);
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
      for (const x of sets[i]) if (shownBy(x, sets, around, j)) shown++;
      best = Math.max(best, shown / sets[i].size);
    }
    out[i] = 1 - best;
  }
  return out;
}

/** The program whose items were most often new, in one window and aspect. */
export interface ProgramShare {
  program: string;
  /** Its items the nearest sibling did not show. */
  unexplained: number;
  /** Its items in the window. */
  items: number;
}

/**
 * `programs`' per-program part, for one aspect: per replica, the largest share of one of its
 * programs' items that a sibling did not show (any program of it, in the same window or the one
 * before or after), against the sibling that leaves the smallest such share; 0 for a replica
 * with no items or no per-program sets. `top` is that program, with its counts.
 */
export function programDissimilarities(
  sets: readonly ReadonlySet<string>[],
  programs: readonly (ReadonlyMap<string, ReadonlySet<string>> | null)[],
  around: readonly AroundSets[],
): { dissimilarity: number[]; top: (ProgramShare | null)[] } {
  const n = sets.length;
  const dissimilarity = new Array<number>(n).fill(0);
  const top = new Array<ProgramShare | null>(n).fill(null);
  if (n < 2) return { dissimilarity, top };
  for (let i = 0; i < n; i++) {
    const mine = programs[i];
    if (sets[i].size === 0 || mine === null || mine.size === 0) continue;
    let best = Infinity;
    let bestTop: ProgramShare | null = null;
    for (let j = 0; j < n && best > 0; j++) {
      if (j === i) continue;
      const unexplained = new Set<string>();
      for (const x of sets[i]) if (!shownBy(x, sets, around, j)) unexplained.add(x);
      let worst = 0;
      let worstTop: ProgramShare | null = null;
      if (unexplained.size > 0) {
        for (const [program, items] of mine) {
          if (items.size === 0) continue;
          let u = 0;
          for (const x of items) if (unexplained.has(x)) u++;
          if (u / items.size > worst) {
            worst = u / items.size;
            worstTop = { program, unexplained: u, items: items.size };
          }
        }
      }
      if (worst < best) {
        best = worst;
        bestTop = worstTop;
      }
    }
    dissimilarity[i] = best;
    top[i] = bestTop;
  }
  return { dissimilarity, top };
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
  /** `counted`: per replica and aspect, the items done significantly more often than the nearest sibling explains. */
  excess?: { item: string; count: number; expected: number }[][][];
  /** `programs`: per replica and aspect, the program with the largest share of new items (null: none). */
  programs?: (ProgramShare | null)[][];
}

/** Compares the replicas' sets of one window. */
export function compareWindow(
  replicas: readonly AspectSets[],
  similarity: Similarity = 'mean',
  around?: readonly { before: AspectSets; after: AspectSets }[],
): WindowComparison {
  const n = replicas.length;
  const dissimilarity = Array.from({ length: n }, () => new Array<number>(ASPECT_COUNT).fill(0));
  const excess = countsToo(similarity) ? replicas.map(() => new Array<{ item: string; count: number; expected: number }[]>(ASPECT_COUNT)) : undefined;
  const byProgram = needsPrograms(similarity) ? replicas.map(() => new Array<ProgramShare | null>(ASPECT_COUNT).fill(null)) : undefined;
  for (let a = 0; a < ASPECT_COUNT; a++) {
    const cur = replicas.map((r) => r.sets[a]);
    const d = looksAhead(similarity)
      ? coveredDissimilarities(
          cur,
          cur.map((_, i) => ({ before: around?.[i]?.before.sets[a] ?? EMPTY, after: around?.[i]?.after.sets[a] ?? EMPTY })),
        )
      : dissimilarities(cur, similarity);
    if (excess) {
      const counted = (s: AspectSets | undefined): CountedWindow => (s ? { counts: s.counts[a], events: s.events } : NO_COUNTS);
      const e = excessDissimilarities(
        replicas.map((r) => counted(r)),
        replicas.map((_, i) => ({ before: counted(around?.[i]?.before), after: counted(around?.[i]?.after) })),
      );
      for (let i = 0; i < n; i++) {
        if (e.dissimilarity[i] > d[i]) d[i] = e.dissimilarity[i];
        excess[i][a] = e.items[i];
      }
    }
    if (byProgram && PROGRAM_ASPECTS[a]) {
      const p = programDissimilarities(
        cur,
        replicas.map((r) => (r.programs === null ? null : new Map([...r.programs].map(([name, s]) => [name, s[a]])))),
        cur.map((_, i) => ({ before: around?.[i]?.before.sets[a] ?? EMPTY, after: around?.[i]?.after.sets[a] ?? EMPTY })),
      );
      for (let i = 0; i < n; i++) {
        byProgram[i][a] = p.top[i];
        if (p.dissimilarity[i] > d[i]) d[i] = p.dissimilarity[i];
      }
    }
    for (let i = 0; i < n; i++) dissimilarity[i][a] = d[i];
  }
  return { dissimilarity, scores: dissimilarity.map(norm), excess, programs: byProgram };
}

const NO_COUNTS: CountedWindow = { counts: new Map(), events: 0 };

/** What drove a replica's score: per aspect, its largest dissimilarity and the items no other replica had. */
export interface AspectDriver {
  aspect: Aspect;
  max_dissimilarity: number;
  /** Items only this replica showed (up to DRIVER_ITEMS, sorted). */
  only_here: string[];
  /** How many such items there were in all (distinct per window, summed over windows). */
  only_here_total: number;
  /**
   * `counted`: items this replica did significantly more often than its nearest sibling explains
   * (up to DRIVER_ITEMS, largest surplus first), with its count and the sibling's volume-scaled
   * count, from the window where the surplus was largest.
   */
  more_here?: { item: string; count: number; expected: number }[];
  /**
   * `programs`: the program with the largest share of new items, from the window where that share
   * was largest (the program whose activity made the aspect differ when the replica's share
   * alone was small).
   */
  by_program?: ProgramShare;
}

/** Items listed per aspect in a driver. */
export const DRIVER_ITEMS = 20;

class DriverSet {
  readonly maxD = new Array<number>(ASPECT_COUNT).fill(0);
  readonly items: Set<string>[] = ASPECTS.map(() => new Set<string>());
  readonly total = new Array<number>(ASPECT_COUNT).fill(0);
  readonly more = new Map<number, { item: string; count: number; expected: number }[]>();
  private readonly moreSurplus = new Array<number>(ASPECT_COUNT).fill(0);
  readonly byProgram = new Array<ProgramShare | null>(ASPECT_COUNT).fill(null);

  add(
    i: number,
    sets: readonly AspectSets[],
    d: readonly number[],
    excess?: readonly { item: string; count: number; expected: number }[][],
    programs?: readonly (ProgramShare | null)[],
  ): void {
    for (let a = 0; a < ASPECT_COUNT; a++) {
      if (d[a] > this.maxD[a]) this.maxD[a] = d[a];
      const p = programs?.[a];
      const had = this.byProgram[a];
      if (p && p.unexplained > 0 && (had === null || p.unexplained / p.items > had.unexplained / had.items)) this.byProgram[a] = p;
      const ex = excess?.[a];
      if (ex && ex.length > 0) {
        let surplus = 0;
        for (const e of ex) surplus += e.count - e.expected;
        if (surplus > this.moreSurplus[a]) {
          this.moreSurplus[a] = surplus;
          this.more.set(a, ex.slice(0, DRIVER_ITEMS).map((e) => ({ item: e.item, count: e.count, expected: Math.round(e.expected * 10) / 10 })));
        }
      }
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
      const more = this.more.get(a);
      const prog = this.byProgram[a];
      out.push({
        aspect: ASPECTS[a],
        max_dissimilarity: this.maxD[a],
        only_here: [...this.items[a]].sort(),
        only_here_total: this.total[a],
        ...(more ? { more_here: more } : {}),
        ...(prog ? { by_program: prog } : {}),
      });
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
      return Math.floor(nsAfter(sec, nsec, this.originSec, this.originNsec) / this.windowNs);
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
      st.current = new AspectSets(this.cap, { byProgram: needsPrograms(this.opts.similarity ?? 'mean') });
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
      // `covered` and `counted` look at the window after k too: wait until every replica has closed it.
      const need = looksAhead(this.opts.similarity ?? 'mean') ? k + 1 : k;
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
    const { dissimilarity, scores, excess, programs } = compareWindow(sets, this.opts.similarity, this.around);
    for (let i = 0; i < this.count; i++) {
      if (scores[i] > this.best[i].score) {
        const d = new DriverSet();
        d.add(i, sets, dissimilarity[i], excess?.[i], programs?.[i]);
        this.best[i] = { score: scores[i], drivers: d };
      }
      if (scores[i] > this.opts.threshold) {
        this.alarmCount[i]++;
        if (this.firstAlarm[i] === null) this.firstAlarm[i] = k;
        this.alarms[i].add(i, sets, dissimilarity[i], excess?.[i], programs?.[i]);
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
