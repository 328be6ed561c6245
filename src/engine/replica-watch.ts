/**
 * Live replica comparison: containers grouped by what makes them replicas (their image), each
 * group compared window by window with the ReplicaWatcher method (src/model/replicas/). Nothing
 * here knows where events or groups come from: the caller says which container an event is of
 * and which group that container belongs to (an image name from the container engine, or one
 * group for every watched container), so any source that attributes events to containers can
 * feed it (strace or eBPF with --pid today, every container of the node later).
 *
 * Windows are aligned on absolute time (index = ⌊t / window⌋) for every container, so the same
 * index is the same span of time in every replica. A window is compared once the clock given
 * to `tick` has passed its end, among the group's members that were already watched before it
 * started (a container's first window is partial: it would look unlike its siblings for no
 * reason) and that showed events in it or in the window before (a container that stopped leaves
 * the comparison). Memory: per member, the sets of its open windows (at most the current one
 * and the one waiting for `tick`), each capped per aspect.
 */
import { ASPECT_COUNT, ASPECTS, AspectSets, addEvent } from '../model/replicas/aspects.js';
import { compareWindow, looksAhead, needsPrograms, type ProgramShare, type Similarity } from '../model/replicas/compare.js';
import type { SyscallEvent } from '../trace/event.js';

/** Items listed per aspect in an alert. */
export const ALERT_ITEMS = 10;
/** Windows a member may be silent before it leaves the comparison. */
const SILENT_WINDOWS = 1;
/** Open windows kept per member at most (late or runaway events beyond it are counted, not kept). */
const MAX_OPEN = 5;

export interface ReplicaMember {
  /** Stable key of the container (its attribution key). */
  key: string;
  /** Short id shown in alerts. */
  id: string;
}

export interface ReplicaDeviation {
  group: string;
  member: ReplicaMember;
  /** The other members it was compared with. */
  siblings: ReplicaMember[];
  windowIndex: number;
  startNs: bigint;
  windowNs: number;
  events: number;
  score: number;
  threshold: number;
  similarity: Similarity;
  /**
   * Aspects that differ, largest dissimilarity first, with the items only this member showed and
   * (`counted`) those it did significantly more often than its nearest sibling.
   */
  aspects: {
    aspect: string;
    dissimilarity: number;
    only_here: string[];
    only_here_total: number;
    more_here?: { item: string; count: number; expected: number }[];
    /** `programs`: the program with the largest share of new items. */
    by_program?: ProgramShare;
  }[];
}

export interface ReplicaWatchOptions {
  windowNs: number;
  threshold: number;
  similarity: Similarity;
  setCap?: number;
}

interface Member extends ReplicaMember {
  first: number;
  last: number;
  open: Map<number, AspectSets>;
}

interface Group {
  members: Map<string, Member>;
  /** Next window index to compare. */
  next: number;
}

export class ReplicaWatch {
  private readonly groups = new Map<string, Group>();
  /** Events of windows already compared (or beyond MAX_OPEN): counted, not kept. */
  late = 0;
  windowsCompared = 0;
  private sec = -1;
  private secBase = 0;
  private secRem = 0;

  constructor(private readonly o: ReplicaWatchOptions) {}

  /** Window index of a time, exact although epoch nanoseconds exceed 2^53. */
  private indexOf(sec: number, nsec: number): number {
    if (sec !== this.sec) {
      const ns = BigInt(sec) * 1_000_000_000n;
      const w = BigInt(this.o.windowNs);
      this.secBase = Number(ns / w);
      this.secRem = Number(ns % w);
      this.sec = sec;
    }
    return this.secBase + Math.floor((this.secRem + nsec) / this.o.windowNs);
  }

  event(group: string, who: ReplicaMember, ev: SyscallEvent, syscall: string): void {
    if (!ev.hasTime) return;
    const k = this.indexOf(ev.sec, ev.nsec);
    let g = this.groups.get(group);
    if (!g) {
      g = { members: new Map(), next: k };
      this.groups.set(group, g);
    }
    let m = g.members.get(who.key);
    if (!m) {
      m = { key: who.key, id: who.id, first: k, last: k, open: new Map() };
      g.members.set(who.key, m);
    }
    if (k < g.next) {
      this.late++;
      return;
    }
    let sets = m.open.get(k);
    if (!sets) {
      if (m.open.size >= MAX_OPEN) {
        this.late++;
        return;
      }
      sets = new AspectSets(this.o.setCap, { byProgram: needsPrograms(this.o.similarity) });
      m.open.set(k, sets);
    }
    if (k > m.last) m.last = k;
    addEvent(sets, ev, syscall);
  }

  /** Compares every window that ended at or before (sec, nsec); returns the deviations. */
  tick(sec: number, nsec: number): ReplicaDeviation[] {
    // `covered` also looks at the window after the one compared: it waits for that one to end too.
    const upTo = this.indexOf(sec, nsec) - 1 - (looksAhead(this.o.similarity) ? 1 : 0);
    const out: ReplicaDeviation[] = [];
    for (const [name, g] of this.groups) {
      for (let k = g.next; k <= upTo; k++) this.compare(name, g, k, out);
      if (g.next <= upTo) g.next = upTo + 1;
      // Members silent for long leave the group (a stopped container).
      for (const [key, m] of g.members) if (m.open.size === 0 && m.last < upTo - SILENT_WINDOWS - 1) g.members.delete(key);
    }
    return out;
  }

  private compare(name: string, g: Group, k: number, out: ReplicaDeviation[]): void {
    const present: Member[] = [];
    for (const m of g.members.values()) {
      if (m.first < k && m.last >= k - SILENT_WINDOWS) present.push(m);
    }
    const none = new AspectSets(0);
    const sets = present.map((m) => m.open.get(k) ?? none);
    const around = present.map((m) => ({ before: m.open.get(k - 1) ?? none, after: m.open.get(k + 1) ?? none }));
    // Window k − 1 was kept for this comparison; k stays for the next one.
    for (const m of g.members.values()) m.open.delete(k - 1);
    if (present.length < 2) return;
    this.windowsCompared++;
    const { dissimilarity, scores, excess, programs } = compareWindow(sets, this.o.similarity, around);
    present.forEach((m, i) => {
      if (!(scores[i] > this.o.threshold)) return;
      const aspects: ReplicaDeviation['aspects'] = [];
      for (let a = 0; a < ASPECT_COUNT; a++) {
        const d = dissimilarity[i][a];
        if (d === 0) continue;
        const only: string[] = [];
        let total = 0;
        for (const x of sets[i].sets[a]) {
          if (sets.some((s, j) => j !== i && s.sets[a].has(x))) continue;
          total++;
          if (only.length < ALERT_ITEMS) only.push(x);
        }
        const more = excess?.[i][a];
        const prog = programs?.[i][a];
        aspects.push({
          aspect: ASPECTS[a],
          dissimilarity: d,
          only_here: only.sort(),
          only_here_total: total,
          ...(more && more.length > 0 ? { more_here: more.slice(0, ALERT_ITEMS).map((m) => ({ item: m.item, count: m.count, expected: Math.round(m.expected * 10) / 10 })) } : {}),
          ...(prog && prog.unexplained > 0 ? { by_program: prog } : {}),
        });
      }
      aspects.sort((x, y) => y.dissimilarity - x.dissimilarity);
      out.push({
        group: name,
        member: { key: m.key, id: m.id },
        siblings: present.filter((_, j) => j !== i).map((s) => ({ key: s.key, id: s.id })),
        windowIndex: k,
        startNs: BigInt(k) * BigInt(this.o.windowNs),
        windowNs: this.o.windowNs,
        events: sets[i].events,
        score: scores[i],
        threshold: this.o.threshold,
        similarity: this.o.similarity,
        aspects,
      });
    });
  }

  /** Groups and their current members (for logs and the summary). */
  membership(): { group: string; members: string[] }[] {
    return [...this.groups].map(([group, g]) => ({ group, members: [...g.members.values()].map((m) => m.id) }));
  }
}
