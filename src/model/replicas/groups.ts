/**
 * Replica comparison fed by window messages instead of events (for `chids fleet`): replicas of
 * one image on any node, each publishing its windows' aspect sets; windows are regrouped on
 * absolute time (bucket = ⌊start / W⌋, W the replica window, 10 s by default) and each bucket
 * is compared with {@link compareWindow}, the method `chids replicas` uses offline.
 *
 * A bucket is compared once every replica of the image has moved past it (published a window
 * that starts later; with the `covered` similarity, past the bucket after it, which it looks
 * at too) or has gone quiet for `idleMs` of wall time (stopped, or cut off). Only replicas
 * running before the bucket and past it take part (as offline: whole windows of the common
 * span), and at least two must. Windows arriving for a bucket already compared are counted (`late`), not
 * compared again. Memory: per replica, the buckets not yet compared, each capped per aspect.
 *
 * A window message carries each aspect's items with their counts and, per program, the items
 * of the aspects the `programs` similarity reads per program: a bucket merged from a replica's
 * windows holds what the offline comparison's window holds, so both score alike.
 */
import { ASPECTS, AspectSets, mergeWindowSets } from './aspects.js';
import { compareWindow, looksAhead, needsPrograms, type Similarity } from './compare.js';

export interface ReplicaWindowInput {
  group: string;
  replica: string;
  startNs: bigint;
  aspects: Record<string, readonly string[]>;
  /** Per aspect, the items' counts in the order of `aspects` (absent: 1 each). */
  counts?: Record<string, readonly number[]>;
  /** Per program, its items of the per-program aspects (absent: none). */
  programs?: Record<string, Record<string, readonly string[]>>;
  events: number;
}

export interface ReplicaDeviation {
  group: string;
  replica: string;
  /** Bucket start (ns). */
  startNs: bigint;
  score: number;
  threshold: number;
  /** The other replicas compared in this bucket. */
  siblings: string[];
  /** Per aspect with a non-zero dissimilarity: its value and the items no sibling had (≤ 20). */
  aspects: { aspect: string; dissimilarity: number; only_here: string[] }[];
}

interface Replica {
  buckets: Map<number, AspectSets>;
  first: number;
  last: number;
  seenMs: number;
}

interface Group {
  replicas: Map<string, Replica>;
  /** Buckets up to this one are compared. */
  done: number;
  /** The sets of bucket `done` per replica (the window before, for `covered`). */
  previous: Map<string, AspectSets>;
}

const ONLY_HERE = 20;

export class ReplicaGroups {
  private readonly groups = new Map<string, Group>();
  compared = 0;
  late = 0;

  constructor(private readonly o: { windowNs: number; threshold: number; idleMs: number; similarity?: Similarity; setCap?: number; now?: () => number }) {}

  /** `covered` compares a window with its neighbours: bucket k waits for k + 1 too. */
  private get ahead(): number {
    return looksAhead(this.o.similarity ?? 'mean') ? 1 : 0;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  private bucketOf(ns: bigint): number {
    return Number(ns / BigInt(this.o.windowNs));
  }

  /** Adds one window's sets; returns the deviations of the buckets it completed. */
  add(w: ReplicaWindowInput): ReplicaDeviation[] {
    let g = this.groups.get(w.group);
    if (!g) this.groups.set(w.group, (g = { replicas: new Map(), done: -Infinity, previous: new Map() }));
    const k = this.bucketOf(w.startNs);
    let r = g.replicas.get(w.replica);
    if (!r) g.replicas.set(w.replica, (r = { buckets: new Map(), first: k, last: k, seenMs: 0 }));
    r.seenMs = this.now();
    if (k <= g.done) {
      this.late++;
      return this.drain(w.group, g);
    }
    if (k < r.first) r.first = k;
    if (k > r.last) r.last = k;
    let sets = r.buckets.get(k);
    if (!sets) r.buckets.set(k, (sets = new AspectSets(this.o.setCap, { byProgram: needsPrograms(this.o.similarity ?? 'mean') })));
    sets.events += w.events;
    mergeWindowSets(sets, w);
    return this.drain(w.group, g);
  }

  /** Compares what quiet replicas no longer hold back (call now and then). */
  tick(): ReplicaDeviation[] {
    const out: ReplicaDeviation[] = [];
    for (const [name, g] of this.groups) out.push(...this.drain(name, g));
    return out;
  }

  private drain(name: string, g: Group): ReplicaDeviation[] {
    const out: ReplicaDeviation[] = [];
    const now = this.now();
    for (;;) {
      let k = Infinity;
      for (const r of g.replicas.values()) for (const b of r.buckets.keys()) if (b < k) k = b;
      if (k === Infinity) return out;
      const ready = [...g.replicas.values()].every((r) => r.last > k + this.ahead || now - r.seenMs >= this.o.idleMs);
      if (!ready) return out;
      const names: string[] = [];
      const sets: AspectSets[] = [];
      const around: { before: AspectSets; after: AspectSets }[] = [];
      const previous = new Map<string, AspectSets>();
      for (const [rn, r] of g.replicas) {
        const s = r.buckets.get(k);
        r.buckets.delete(k);
        if (s) previous.set(rn, s);
        // The common span, whole windows only (as offline): running before k and past it; a
        // replica that stopped (quiet) at k is not compared there.
        if (r.first >= k || r.last <= k) continue;
        names.push(rn);
        sets.push(s ?? new AspectSets(0));
        around.push({ before: (g.done === k - 1 ? g.previous.get(rn) : undefined) ?? new AspectSets(0), after: r.buckets.get(k + 1) ?? new AspectSets(0) });
      }
      g.done = k;
      g.previous = previous;
      if (sets.length >= 2) out.push(...this.compare(name, k, names, sets, around));
    }
  }

  private compare(group: string, k: number, names: string[], sets: AspectSets[], around: { before: AspectSets; after: AspectSets }[]): ReplicaDeviation[] {
    this.compared++;
    const { dissimilarity, scores } = compareWindow(sets, this.o.similarity ?? 'mean', around);
    const out: ReplicaDeviation[] = [];
    for (let i = 0; i < names.length; i++) {
      if (!(scores[i] > this.o.threshold)) continue;
      const aspects: ReplicaDeviation['aspects'] = [];
      for (let a = 0; a < ASPECTS.length; a++) {
        if (dissimilarity[i][a] === 0) continue;
        const only: string[] = [];
        for (const x of sets[i].sets[a]) {
          if (only.length >= ONLY_HERE) break;
          if (!sets.some((s, j) => j !== i && s.sets[a].has(x))) only.push(x);
        }
        aspects.push({ aspect: ASPECTS[a], dissimilarity: dissimilarity[i][a], only_here: only.sort() });
      }
      aspects.sort((x, y) => y.dissimilarity - x.dissimilarity);
      out.push({
        group,
        replica: names[i],
        startNs: BigInt(k) * BigInt(this.o.windowNs),
        score: scores[i],
        threshold: this.o.threshold,
        siblings: names.filter((_, j) => j !== i),
        aspects,
      });
    }
    return out;
  }

  /** Replicas per group (for status). */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.groups].map(([k, g]) => [k, g.replicas.size]));
  }
}
