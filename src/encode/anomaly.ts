/**
 * Windows → syscall sequence graphs → anomaly vectors, streaming.
 *
 * The reference builds a networkx graph per window. We never build the graph: the anomaly
 * vector needs only
 *   - the total edge weight (= events − 1),
 *   - the number of nodes n (= distinct node names, when the window has ≥ 2 events; a window
 *     of one event has no edge and so no node),
 *   - the distinct predecessors and successors of the two special nodes USN and UAN,
 * and all of these can be counted as the events go by, in O(1) per event with no allocation,
 * using "stamp" arrays indexed by interned name id (a slot belongs to the current window iff
 * it holds the window's serial number).
 *
 * The arithmetic follows networkx 2.8.8 and the reference operation by operation, so the
 * floats come out bit-identical: centrality = degree × (1 / (n − 1)); a single-node graph has
 * centrality 1; usi = |U| × (in + out); uai = |A| × |V| × (in + out); fi = size / (max_freq × 5).
 */
import type { SyscallEvent } from '../trace/event.js';
import type { NameTable } from '../trace/names.js';
import { ArgFamily, ArgReader, argFamilyOf } from './args.js';
import type { Vocabulary } from './vocabulary.js';
import { WindowClock } from './windows.js';

/** [fi, usi, uai] */
export type AnomalyVector = [number, number, number];

export const BETA_FOLD_INCREASE = 5;
export const USN = 'USN';
export const UAN = 'UAN';

export interface EncodedWindow {
  /** Window index in the trace, from 0. */
  index: number;
  /** Window start in ns: epoch (LID-DS) or since midnight (sysdig text). */
  startNs: bigint;
  /** Events in the window. */
  events: number;
  /** The anomaly vector, or null for an empty window (the reference's `[]`). */
  av: AnomalyVector | null;
  /** Syscall names unseen in training that occur in the window (when details are on). */
  unseenSyscalls?: string[];
  /** Processed arguments unseen in training (when details are on). */
  unseenArgs?: string[];
  /**
   * Improved mode: the unseen activity split by its source (see GraphView), [paths, commands]:
   * usi + uai of the window's graph with its unseen command shapes taken as seen (what the
   * encoder gave before command shapes were arguments), and uai of the graph in which only the
   * unseen command shapes are unseen. Absent in faithful mode and for empty windows.
   */
  split?: [number, number];
}

export interface WindowEncoderOptions {
  file: string;
  faithful: boolean;
  windowNs: number;
  /** Work budget: empty windows the trace may open (DEFAULT_MAX_EMPTY_WINDOWS when absent). */
  maxEmptyWindows?: number;
  /** Also report which syscalls and arguments were unseen (for alerts). */
  details?: boolean;
}

/** Growable per-name verdicts (the graph's per-name arrays are in {@link GraphView}). */
class Slots {
  seen = new Int8Array(256); // 0 unknown, 1 seen, 2 unseen
  family = new Int8Array(256); // -1 unknown, else ArgFamily
  unseenName = new Int32Array(256);

  constructor() {
    this.family.fill(-1);
  }

  ensure(id: number): void {
    if (id < this.seen.length) return;
    let size = this.seen.length;
    while (size <= id) size *= 2;
    const g8 = (a: Int8Array, fill: number) => {
      const b = new Int8Array(size).fill(fill);
      b.set(a);
      return b;
    };
    this.seen = g8(this.seen, 0);
    this.family = g8(this.family, -1);
    const u = new Int32Array(size);
    u.set(this.unseenName);
    this.unseenName = u;
  }
}

/**
 * What usi and uai need of a window's syscall sequence graph, counted as events arrive: its
 * nodes, the distinct in- and out-neighbours of USN and UAN, and the distinct names of the
 * events renamed to UAN. Arrays are indexed by name id and stamped with the window's serial, so
 * a new window needs no clearing. O(1) per event, no allocation.
 *
 * The AV's graph is one. Improved mode keeps two more views, in which some events are mapped to
 * other nodes, so that unseen command shapes (which vary with the users of a service) and the
 * other unseen arguments (paths, clone exes) are measured apart, each as the AV measures unseen
 * activity: in the paths view an unseen command shape's execve is its own syscall node, in the
 * commands view so is an unseen path's call.
 */
class GraphView {
  node = new Int32Array(256);
  argName = new Int32Array(256);
  predUSN = new Int32Array(256);
  succUSN = new Int32Array(256);
  predUAN = new Int32Array(256);
  succUAN = new Int32Array(256);
  nodes = 0;
  prev = -1;
  argNames = 0;
  inUSN = 0;
  outUSN = 0;
  inUAN = 0;
  outUAN = 0;

  ensure(size: number): void {
    if (size <= this.node.length) return;
    const g = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.node = g(this.node);
    this.argName = g(this.argName);
    this.predUSN = g(this.predUSN);
    this.succUSN = g(this.succUSN);
    this.predUAN = g(this.predUAN);
    this.succUAN = g(this.succUAN);
  }

  /** Adds an event mapped to `node`; `argOf` is its syscall id when the event is an unseen argument of this view (else -1). */
  step(node: number, argOf: number, serial: number, usn: number, uan: number): void {
    if (argOf >= 0 && this.argName[argOf] !== serial) {
      this.argName[argOf] = serial;
      this.argNames++;
    }
    const prev = this.prev;
    if (prev >= 0) {
      if (node === usn && this.predUSN[prev] !== serial) {
        this.predUSN[prev] = serial;
        this.inUSN++;
      }
      if (prev === usn && this.succUSN[node] !== serial) {
        this.succUSN[node] = serial;
        this.outUSN++;
      }
      if (node === uan && this.predUAN[prev] !== serial) {
        this.predUAN[prev] = serial;
        this.inUAN++;
      }
      if (prev === uan && this.succUAN[node] !== serial) {
        this.succUAN[node] = serial;
        this.outUAN++;
      }
    }
    if (this.node[node] !== serial) {
      this.node[node] = serial;
      this.nodes++;
    }
    this.prev = node;
  }

  /**
   * usi and uai: |U| × centrality(USN) and |A| × |V| × centrality(UAN), for a window of `count`
   * events with `unseenNames` = |U| and `unseenArgs` = |V|.
   */
  values(count: number, unseenNames: number, unseenArgs: number, usn: number, uan: number): [number, number] {
    // One event: no edge, so no node; every centrality is that of a missing node, 0.
    const n = count >= 2 ? this.nodes : 0;
    let cUSN = 0;
    let cUAN = 0;
    if (n === 1) {
      // networkx gives the only node centrality 1 (in) and 1 (out).
      if (this.prev === usn) cUSN = 1 + 1;
      if (this.prev === uan) cUAN = 1 + 1;
    } else if (n > 1) {
      const scale = 1.0 / (n - 1.0);
      cUSN = this.inUSN * scale + this.outUSN * scale;
      cUAN = this.inUAN * scale + this.outUAN * scale;
    }
    return [unseenNames > 0 ? unseenNames * cUSN : 0, unseenArgs > 0 ? this.argNames * unseenArgs * cUAN : 0];
  }

  reset(): void {
    this.nodes = 0;
    this.prev = -1;
    this.argNames = 0;
    this.inUSN = this.outUSN = this.inUAN = this.outUAN = 0;
  }
}

/**
 * Encodes one trace. Feed events in order with push(); every window is reported to onWindow as
 * soon as it is complete, empty windows included; finish() reports the last one.
 */
export class WindowEncoder {
  readonly clock: WindowClock;
  private readonly s = new Slots();
  private args: ArgReader;
  private readonly usn: number;
  private readonly uan: number;
  private serial = 0;
  // current window
  private count = 0;
  private unseenNames = 0;
  /** The AV's graph of the current window. */
  private readonly graph = new GraphView();
  private unseenArgSet = new Set<string>();
  private unseenNameList: string[] = [];
  /** Improved mode with command shapes: the paths and commands views, and the distinct unseen command shapes of the window. */
  private paths: GraphView | null = null;
  private commands: GraphView | null = null;
  private unseenCommands = 0;

  constructor(
    private vocab: Vocabulary,
    private readonly names: NameTable,
    private readonly opts: WindowEncoderOptions,
    private readonly onWindow: (w: EncodedWindow) => void,
  ) {
    this.clock = new WindowClock(opts.windowNs, opts.faithful, opts.file, opts.maxEmptyWindows);
    this.args = ArgReader.forVocabulary(opts.faithful, vocab);
    this.usn = names.intern(USN);
    this.uan = names.intern(UAN);
    this.s.ensure(Math.max(this.usn, this.uan));
    this.graph.ensure(this.s.seen.length);
    this.serial = 1;
    this.setViews();
  }

  private setViews(): void {
    const on = !this.opts.faithful && this.args.commands;
    this.paths = on ? new GraphView() : null;
    this.commands = on ? new GraphView() : null;
    this.paths?.ensure(this.s.seen.length);
    this.commands?.ensure(this.s.seen.length);
  }

  push(ev: SyscallEvent): void {
    const clock = this.clock;
    const before = clock.current;
    const k = clock.place(ev);
    if (k < 0) return;
    if (k !== before) {
      if (before >= 0) {
        this.close(before);
        for (let j = before + 1; j < k; j++) this.onWindow({ index: j, startNs: clock.startNs(j), events: 0, av: null });
      }
    }
    this.add(ev);
  }

  /**
   * Encodes the next windows against another vocabulary (same max_freq): calibration encodes
   * each time block of a training recording against the other blocks' vocabulary. Call it
   * between windows (from onWindow); it forgets the cached seen/unseen verdicts.
   */
  setVocabulary(vocab: Vocabulary): void {
    if (vocab === this.vocab) return;
    this.vocab = vocab;
    this.s.seen.fill(0);
    if (!this.args.readsAs(vocab)) {
      this.args = ArgReader.forVocabulary(this.opts.faithful, vocab);
      this.setViews();
    }
  }

  /** Closes the last window. */
  finish(): void {
    if (this.clock.current >= 0) this.close(this.clock.current);
  }

  /**
   * Closes every window that ends at or before time (sec, nsec), in the events' time base, as
   * if an event at that time had arrived (without adding one): a live source calls this on a
   * timer so a quiet stream still closes its windows on time. Empty windows in between are
   * reported as push() reports them. No-op before the first event or when the time is still
   * inside the current window. Returns the number of windows closed.
   */
  advanceTo(sec: number, nsec: number): number {
    const clock = this.clock;
    const before = clock.current;
    if (before < 0) return 0;
    const k = clock.indexAt(sec, nsec);
    if (k <= before) return 0;
    this.close(before);
    for (let j = before + 1; j < k; j++) this.onWindow({ index: j, startNs: clock.startNs(j), events: 0, av: null });
    clock.current = k;
    return k - before;
  }

  private add(ev: SyscallEvent): void {
    const s = this.s;
    const id = ev.nameId;
    s.ensure(id);
    const serial = this.serial;
    let seen = s.seen[id];
    if (seen === 0) {
      seen = this.vocab.seenSyscalls.has(this.names.name(id)) ? 1 : 2;
      s.seen[id] = seen;
    }
    let node = id;
    let argUnseen = false;
    if (seen === 2) {
      node = this.usn;
      if (s.unseenName[id] !== serial) {
        s.unseenName[id] = serial;
        this.unseenNames++;
        if (this.opts.details) this.unseenNameList.push(this.names.name(id));
      }
    } else {
      let fam = s.family[id];
      if (fam < 0) {
        fam = argFamilyOf(this.names.name(id), this.opts.faithful);
        s.family[id] = fam;
      }
      if (fam !== ArgFamily.None) {
        const arg = this.args.read(ev, fam as ArgFamily);
        if (arg !== null && !this.vocab.seenArgs.has(arg)) {
          node = this.uan;
          argUnseen = true;
          const size = this.unseenArgSet.size;
          this.unseenArgSet.add(arg);
          if (this.args.lastCommand && this.unseenArgSet.size > size) this.unseenCommands++;
        }
      }
    }
    const graph = this.graph;
    const paths = this.paths;
    if (id >= graph.node.length) {
      graph.ensure(s.seen.length);
      paths?.ensure(s.seen.length);
      this.commands?.ensure(s.seen.length);
    }
    graph.step(node, argUnseen ? id : -1, serial, this.usn, this.uan);
    if (paths !== null) {
      const cmd = argUnseen && this.args.lastCommand;
      paths.step(cmd ? id : node, argUnseen && !cmd ? id : -1, serial, this.usn, this.uan);
      this.commands!.step(argUnseen && !cmd ? id : node, cmd ? id : -1, serial, this.usn, this.uan);
    }
    this.count++;
  }

  private close(index: number): void {
    const count = this.count;
    const w: EncodedWindow = { index, startNs: this.clock.startNs(index), events: count, av: count === 0 ? null : this.vector() };
    if (this.opts.details) {
      w.unseenSyscalls = this.unseenNameList;
      w.unseenArgs = [...this.unseenArgSet];
      this.unseenNameList = [];
    }
    if (this.paths !== null && count > 0) {
      const v = this.unseenArgSet.size;
      const c = this.unseenCommands;
      const [usi, uai] = this.paths.values(count, this.unseenNames, v - c, this.usn, this.uan);
      w.split = [usi + uai, this.commands!.values(count, 0, c, this.usn, this.uan)[1]];
    }
    // reset for the next window
    this.graph.reset();
    this.paths?.reset();
    this.commands?.reset();
    this.unseenCommands = 0;
    this.serial++;
    this.count = 0;
    this.unseenNames = 0;
    if (this.unseenArgSet.size > 0) this.unseenArgSet = new Set();
    this.onWindow(w);
  }

  private vector(): AnomalyVector {
    const fi = (this.count - 1) / (this.vocab.maxFreq * BETA_FOLD_INCREASE);
    const [usi, uai] = this.graph.values(this.count, this.unseenNames, this.unseenArgSet.size, this.usn, this.uan);
    return [fi, usi, uai];
  }
}

/**
 * Training-side counterpart: collects the seen syscalls and arguments of every event and the
 * number of events in each window, across the training traces.
 *
 * Training windows need no graph: every syscall and argument of a training trace is in the
 * training vocabulary by construction, so their usi and uai are 0 and only fi = (events − 1) /
 * (max_freq × 5) remains, known once max_freq is. This lets baseline read each trace once.
 *
 * It also records, for every syscall name and argument, in which part of the trace it occurs
 * (a 32-bit mask over at most 32 contiguous segments of windows; see {@link ItemSegments}). With
 * a single training recording, the calibration folds are time blocks of that recording
 * (src/encode/calibration.ts), and these masks give each block's vocabulary without reading the
 * trace again. One OR per event; the masks are O(vocabulary), whatever the trace's length.
 */
export class TrainingCollector {
  readonly seenSyscalls = new Set<string>();
  readonly seenArgs = new Set<string>();
  private readonly seenIds = new Uint8Array(65536);
  private family = new Int8Array(256).fill(-1);
  private readonly args: ArgReader;
  /** Segment masks by name id, and by argument. */
  private nameSeg = new Uint32Array(256);
  private readonly argSeg = new Map<string, number>();
  /** Windows per segment: doubles (and the masks are coarsened) whenever a window index reaches 32 segments. */
  private perSegment = 1;

  constructor(
    private readonly names: NameTable,
    private readonly faithful: boolean,
  ) {
    this.args = new ArgReader(faithful);
  }

  /** Starts a trace; returns the function to push its events and the window counts it fills. */
  beginTrace(file: string, windowNs: number, maxEmptyWindows?: number): { push: (ev: SyscallEvent) => void; finish: () => number[]; clock: WindowClock } {
    const clock = new WindowClock(windowNs, this.faithful, file, maxEmptyWindows);
    const counts: number[] = [];
    let count = 0;
    const push = (ev: SyscallEvent): void => {
      const before = clock.current;
      const k = clock.place(ev);
      // Every event counts in the vocabulary, windowed or not (a dropped one in the current window's segment).
      this.observe(ev, k < 0 ? Math.max(0, clock.current) : k);
      if (k < 0) return;
      if (k !== before && before >= 0) {
        counts.push(count);
        for (let j = before + 1; j < k; j++) counts.push(0);
        count = 0;
      }
      count++;
    };
    const finish = (): number[] => {
      if (clock.current >= 0) counts.push(count);
      return counts;
    };
    return { push, finish, clock };
  }

  /** Adds an event's syscall name and argument to the vocabulary; `window` places it for the segment masks. */
  observe(ev: SyscallEvent, window = 0): void {
    const id = ev.nameId;
    if (id < this.seenIds.length && this.seenIds[id] === 0) {
      this.seenIds[id] = 1;
      this.seenSyscalls.add(this.names.name(id));
    } else if (id >= this.seenIds.length) {
      this.seenSyscalls.add(this.names.name(id));
    }
    if (id >= this.family.length) {
      const f = new Int8Array(Math.max(id + 1, this.family.length * 2)).fill(-1);
      f.set(this.family);
      this.family = f;
    }
    let seg = (window / this.perSegment) | 0;
    if (seg >= SEGMENTS) seg = this.coarsen(window);
    const bit = (1 << seg) >>> 0;
    if (id >= this.nameSeg.length) {
      const m = new Uint32Array(Math.max(id + 1, this.nameSeg.length * 2));
      m.set(this.nameSeg);
      this.nameSeg = m;
    }
    this.nameSeg[id] |= bit;
    let fam = this.family[id];
    if (fam < 0) {
      fam = argFamilyOf(this.names.name(id), this.faithful);
      this.family[id] = fam;
    }
    if (fam !== ArgFamily.None) {
      const arg = this.args.read(ev, fam as ArgFamily);
      if (arg !== null) {
        const m = this.argSeg.get(arg);
        if (m === undefined) {
          this.seenArgs.add(arg);
          this.argSeg.set(arg, bit);
        } else if ((m & bit) === 0) {
          this.argSeg.set(arg, (m | bit) >>> 0);
        }
      }
    }
  }

  /** Doubles the segment length until `window` fits in 32 segments; returns its segment. */
  private coarsen(window: number): number {
    while (((window / this.perSegment) | 0) >= SEGMENTS) {
      this.perSegment *= 2;
      for (let i = 0; i < this.nameSeg.length; i++) if (this.nameSeg[i] !== 0) this.nameSeg[i] = halveMask(this.nameSeg[i]);
      for (const [a, m] of this.argSeg) this.argSeg.set(a, halveMask(m));
    }
    return (window / this.perSegment) | 0;
  }

  /** Where each syscall name and argument occurs in the trace (segments of `perSegment` windows). */
  segments(): ItemSegments {
    const syscalls = new Map<string, number>();
    for (let id = 0; id < this.nameSeg.length; id++) if (this.nameSeg[id] !== 0) syscalls.set(this.names.name(id), this.nameSeg[id]);
    return { perSegment: this.perSegment, syscalls, args: this.argSeg };
  }
}

/** Segments of a trace that the per-item masks distinguish. */
export const SEGMENTS = 32;

/**
 * Where each vocabulary item occurs in one trace: bit s of an item's mask is set when the item
 * occurs in window w with ⌊w / perSegment⌋ = s.
 */
export interface ItemSegments {
  perSegment: number;
  syscalls: ReadonlyMap<string, number>;
  args: ReadonlyMap<string, number>;
}

/** Merges the bits of adjacent segments pairwise (segment s of the coarser mask = segments 2s, 2s+1). */
export function halveMask(m: number): number {
  let x = (m | (m >>> 1)) & 0x55555555;
  x = (x | (x >>> 1)) & 0x33333333;
  x = (x | (x >>> 2)) & 0x0f0f0f0f;
  x = (x | (x >>> 4)) & 0x00ff00ff;
  x = (x | (x >>> 8)) & 0x0000ffff;
  return x >>> 0;
}

/** The anomaly vectors of training windows from their event counts (see TrainingCollector). */
export function trainingVectors(counts: readonly number[], maxFreq: number): (AnomalyVector | null)[] {
  const denom = maxFreq * BETA_FOLD_INCREASE;
  return counts.map((c) => (c === 0 ? null : [(c - 1) / denom, 0, 0]));
}
