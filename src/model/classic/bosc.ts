/**
 * BoSC, bag of system calls (Kang et al. 2005; applied to containers by Abed et al., "Applying
 * bag of system calls for anomalous behavior detection of applications in Linux containers",
 * 2015).
 *
 * A window's bag is its syscall frequency vector (one entry per call, see syscall-stream.ts),
 * normalised to relative frequencies so that busy and quiet seconds compare. Normal behaviour
 * is the set of distinct training bags (at most `maxBags`, default 5000: a seeded sample when
 * there are more).
 *
 * Score: the distance to the NEAREST normal bag, as the total-variation distance
 *     d(p, q) = ½ Σ_i |p_i − q_i| = 1 − Σ_i min(p_i, q_i)      (0 = identical, 1 = disjoint),
 * i.e. the share of the window's calls that the closest normal second cannot account for.
 * Calls unknown to training are a frequency no normal bag has, so they always count. A window
 * without calls scores 0.
 *
 * Why not the paper's rule: Abed et al. slide a window of 10 calls and count bags that are not
 * in the normal database (exact match). A 1-second window holds hundreds of calls, and exact
 * matches of such bags almost never happen, even between normal seconds; the nearest-bag
 * distance is the continuous form of the same test (distance 0 = the bag is in the database).
 *
 * Training scores (for the thresholds): each training window's distance to the nearest bag of
 * ANOTHER training recording (leave one recording out; with a single recording, ten time
 * blocks, syscall-stream.ts). Against its own bag every training window would score 0. θ = 1.0
 * is a robust upper bound of these scores rather than their maximum (noveltyCalibration in
 * thresholds.ts).
 *
 * Nearest-bag search: Σ_i min(p_i, q_i) runs only over the window's non-zero entries, through
 * an inverted index (syscall → bags that contain it): O(calls-kinds × bags) per window.
 *
 * Saved as `model/bosc.json`: the syscall names and the bags as (index, count) pairs with
 * integer counts (reduced by their gcd), so the file is exact and small. Free of TF.js.
 */
import { z } from 'zod';
import type { SyscallEvent } from '../../trace/event.js';
import type { NameTable } from '../../trace/names.js';
import type { EventTap } from '../../encode/pipeline.js';
import { ChidsError, InputError } from '../../util/errors.js';
import type { ClosedWindow, Detector, DetectorTrainer, FitResult, RecordingInput, TrainHooks, TrainingRecording } from '../detector.js';
import { readJsonModel, saveJsonModel } from './json-io.js';
import { isSeed, mulberry32, randomSeed, shuffleInPlace } from '../../util/rng.js';
import { FoldTracker, blockFold, IntList, LocalNames, SyscallIndex, isCall } from './syscall-stream.js';
import { calibrationSettings, type NoveltyCalibration } from '../thresholds.js';
import { noveltyFitResult } from './novelty-fit.js';

export const BOSC_KIND = 'bosc';
export const BOSC_FILE = 'bosc.json';
export const BOSC_FORMAT = 'chids-bosc';
export const BOSC_DEFAULTS = Object.freeze({ maxBags: 5000 });

export interface BoscOptions {
  /** Largest number of normal bags kept (default 5000). */
  maxBags?: number;
  /** Seed of the sample when there are more distinct bags than maxBags. */
  seed?: number;
}

/**
 * Counts the calls of each window. Bags are stored sparse: for window w, entries
 * [start[w], start[w+1]) of `idx`/`cnt` (sorted by index), plus `unknown[w]` calls unknown to a
 * frozen index.
 */
export class BagTap implements EventTap {
  private readonly local: LocalNames;
  private counts = new Int32Array(64);
  private touched: number[] = [];
  private unknownCount = 0;
  private current = -1;
  /** The current window was closed by closeLive() (live use). */
  private closed = false;
  readonly start = new IntList();
  readonly idx = new IntList();
  readonly cnt = new IntList();
  readonly unknown = new IntList();
  private done = false;

  constructor(names: NameTable, index: SyscallIndex) {
    this.local = new LocalNames(names, index);
  }

  event(ev: SyscallEvent, window: number): void {
    if (window !== this.current) {
      if (this.current >= 0 && !this.closed) this.close();
      this.current = window;
      this.closed = false;
    }
    if (!isCall(ev)) return;
    const i = this.local.local(ev.nameId);
    if (i < 0) {
      this.unknownCount++;
      return;
    }
    if (i >= this.counts.length) {
      const bigger = new Int32Array(Math.max(i + 1, this.counts.length * 2));
      bigger.set(this.counts);
      this.counts = bigger;
    }
    if (this.counts[i]++ === 0) this.touched.push(i);
  }

  private close(): void {
    this.start.push(this.idx.length);
    this.touched.sort((a, b) => a - b);
    for (const i of this.touched) {
      this.idx.push(i);
      this.cnt.push(this.counts[i]);
      this.counts[i] = 0;
    }
    this.touched = [];
    this.unknown.push(this.unknownCount);
    this.unknownCount = 0;
  }

  /** Closes the last window; returns the number of windows. */
  finish(): number {
    if (!this.done && this.current >= 0 && !this.closed) this.close();
    this.done = true;
    return this.start.length;
  }

  /**
   * Live: closes window `window` if it is the one in progress and hands its bag to `score`
   * (sorted indices, counts, unknown calls) without storing it; null otherwise.
   */
  closeLive(window: number, score: (idx: Int32Array, cnt: Int32Array, unknown: number) => number): number | null {
    if (window !== this.current || this.closed) return null;
    this.touched.sort((a, b) => a - b);
    const idx = Int32Array.from(this.touched);
    const cnt = Int32Array.from(this.touched, (i) => this.counts[i]);
    for (const i of this.touched) this.counts[i] = 0;
    this.touched = [];
    const unknown = this.unknownCount;
    this.unknownCount = 0;
    this.closed = true;
    return score(idx, cnt, unknown);
  }

  /** Entries of window w: [from, to) of idx/cnt. */
  range(w: number): [number, number] {
    return [this.start.data[w], w + 1 < this.start.length ? this.start.data[w + 1] : this.idx.length];
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The normal bags, with an inverted index for the nearest-bag search. */
export class BagDatabase {
  readonly size: number;
  /** CSR over syscall index: bags holding syscall i are postBag[postOff[i] … postOff[i+1]), with their frequency. */
  private readonly postOff: Int32Array;
  private readonly postBag: Int32Array;
  private readonly postVal: Float64Array;
  private readonly acc: Float64Array;

  constructor(
    /** Per bag: flat [index, count, index, count, …] (counts reduced). */
    readonly bags: readonly (readonly number[])[],
    readonly syscalls: number,
  ) {
    this.size = bags.length;
    const perSyscall = new Int32Array(syscalls + 1);
    for (const b of bags) for (let k = 0; k < b.length; k += 2) perSyscall[b[k] + 1]++;
    for (let i = 0; i < syscalls; i++) perSyscall[i + 1] += perSyscall[i];
    this.postOff = perSyscall;
    const total = perSyscall[syscalls];
    this.postBag = new Int32Array(total);
    this.postVal = new Float64Array(total);
    const fill = perSyscall.slice(0, syscalls);
    bags.forEach((b, j) => {
      let sum = 0;
      for (let k = 1; k < b.length; k += 2) sum += b[k];
      for (let k = 0; k < b.length; k += 2) {
        const p = fill[b[k]]++;
        this.postBag[p] = j;
        this.postVal[p] = b[k + 1] / sum;
      }
    });
    this.acc = new Float64Array(this.size);
  }

  /**
   * Distance from a bag (sparse entries idx[from..to) with counts, plus `unknown` calls) to the
   * nearest database bag, skipping bags whose `fold[j]` equals `excludeFold` (when given).
   */
  nearest(idx: Int32Array, cnt: Int32Array, from: number, to: number, unknown: number, fold?: Int32Array, excludeFold = -1): number {
    let total = unknown;
    for (let k = from; k < to; k++) total += cnt[k];
    if (total === 0) return 0;
    const acc = this.acc;
    acc.fill(0);
    for (let k = from; k < to; k++) {
      const i = idx[k];
      if (i >= this.syscalls) continue;
      const p = cnt[k] / total;
      for (let q = this.postOff[i], e = this.postOff[i + 1]; q < e; q++) {
        const v = this.postVal[q];
        acc[this.postBag[q]] += v < p ? v : p;
      }
    }
    let best = 0;
    if (fold !== undefined && excludeFold >= 0) {
      for (let j = 0; j < this.size; j++) if (acc[j] > best && fold[j] !== excludeFold) best = acc[j];
    } else {
      for (let j = 0; j < this.size; j++) if (acc[j] > best) best = acc[j];
    }
    const d = 1 - best;
    return d < 0 ? 0 : d;
  }
}

export class BoscDetector implements Detector<BagTap> {
  readonly name = 'bosc' as const;
  readonly kind = BOSC_KIND;
  readonly reads = 'syscalls' as const;
  readonly history = 0;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly db: BagDatabase;

  constructor(
    readonly syscalls: SyscallIndex,
    bags: readonly (readonly number[])[],
    readonly maxBags: number,
    /** How the thresholds were set (a freshly trained detector; not saved with the model). */
    calibration?: NoveltyCalibration,
  ) {
    this.db = new BagDatabase(bags, syscalls.size);
    this.settings = { ...boscSettings(maxBags, bags.length), ...(calibration ? { threshold: calibrationSettings(calibration) } : {}) };
  }

  newTap(names: NameTable): BagTap {
    return new BagTap(names, this.syscalls);
  }

  scoreWindow(w: ClosedWindow<BagTap>): number | null {
    if (w.tap === null) return null;
    return w.tap.closeLive(w.window, (idx, cnt, unknown) => this.db.nearest(idx, cnt, 0, idx.length, unknown));
  }

  scoreRecording(rec: RecordingInput<BagTap>): Float64Array {
    if (rec.tap === null) throw new Error('bosc: scoreRecording needs the tap from newTap(), fed with the recording');
    const tap = rec.tap;
    const windows = tap.finish();
    if (windows !== rec.n) throw new Error(`bosc: the tap saw ${windows} windows, the encoder ${rec.n}`);
    const out = new Float64Array(windows);
    const idx = tap.idx.view();
    const cnt = tap.cnt.view();
    for (let w = 0; w < windows; w++) {
      const [from, to] = tap.range(w);
      out[w] = this.db.nearest(idx, cnt, from, to, tap.unknown.data[w]);
    }
    return out;
  }

  save(dir: string): Promise<void> {
    return saveJsonModel(dir, BOSC_FILE, {
      format: BOSC_FORMAT,
      version: 1,
      kind: BOSC_KIND,
      max_bags: this.maxBags,
      syscalls: this.syscalls.names,
      bags: this.db.bags,
    });
  }

  dispose(): void {}
}

function boscSettings(maxBags: number, bags: number): Record<string, unknown> {
  return {
    max_bags: maxBags,
    bags,
    stream: 'one entry per call (enter events)',
    bag: 'relative syscall frequencies of the window',
    score: 'total-variation distance to the nearest normal bag (0 … 1)',
    training_score: 'leave one recording out (ten time blocks with one recording)',
  };
}

export class BoscTrainer implements DetectorTrainer<BagTap> {
  readonly name = 'bosc' as const;
  readonly epochs = 0;
  readonly settings: Readonly<Record<string, unknown>>;
  private readonly index = new SyscallIndex();
  private readonly maxBags: number;
  private readonly seed: number;

  constructor(opts: BoscOptions = {}) {
    this.maxBags = opts.maxBags ?? BOSC_DEFAULTS.maxBags;
    if (!Number.isInteger(this.maxBags) || this.maxBags < 1) throw new ChidsError(`--max-bags must be a positive integer, got ${this.maxBags}`);
    if (opts.seed !== undefined && !isSeed(opts.seed)) throw new ChidsError(`seed must be an integer in [0, 4294967295], got ${opts.seed}`);
    this.seed = opts.seed ?? randomSeed();
    this.settings = { max_bags: this.maxBags };
  }

  trainingTap(names: NameTable): BagTap {
    return new BagTap(names, this.index);
  }

  async fit(recordings: readonly TrainingRecording<BagTap>[], hooks: TrainHooks = {}): Promise<FitResult> {
    const t0 = performance.now();
    const taps = recordings.map((r) => {
      if (r.tap === null) throw new Error('bosc: every training recording needs its training tap');
      const w = r.tap.finish();
      if (w !== r.n) throw new Error(`bosc: ${r.file}: the tap saw ${w} windows, the encoder ${r.n}`);
      return r.tap;
    });
    const totalWindows = taps.reduce((a, t) => a + t.start.length, 0);
    hooks.onTrainStart?.(totalWindows, 0);
    const byRecording = taps.length >= 2;

    // Distinct bags (counts reduced by their gcd), their folds, and each window's bag.
    const bagIds = new Map<string, number>();
    const bags: number[][] = [];
    const folds = new FoldTracker();
    const windowBag = new Int32Array(totalWindows).fill(-1);
    const windowFold = new Int32Array(totalWindows);
    let o = 0;
    taps.forEach((tap, r) => {
      const idx = tap.idx.view();
      const cnt = tap.cnt.view();
      for (let w = 0; w < tap.start.length; w++, o++) {
        // Time blocks matter only with one recording (byRecording false).
        const block = blockFold(w, tap.start.length);
        windowFold[o] = byRecording ? r : block;
        const [from, to] = tap.range(w);
        if (from === to) continue;
        let g = 0;
        for (let k = from; k < to; k++) g = gcd(g, cnt[k]);
        const flat: number[] = [];
        for (let k = from; k < to; k++) flat.push(idx[k], cnt[k] / g);
        const key = flat.join(',');
        let id = bagIds.get(key);
        if (id === undefined) {
          id = bags.length;
          bags.push(flat);
          bagIds.set(key, id);
        }
        folds.see(id, r, block);
        windowBag[o] = id;
      }
    });
    if (bags.length === 0) throw new ChidsError('bosc: the training recordings hold no system call (no enter events?)');

    // Keep at most maxBags: a seeded sample.
    let kept = Int32Array.from(bags.keys());
    if (kept.length > this.maxBags) {
      kept = shuffleInPlace(kept, mulberry32(this.seed)).slice(0, this.maxBags).sort();
    }
    const dbBags = Array.from(kept, (id) => bags[id]);
    const dbFold = Int32Array.from(kept, (id) => (folds.shared(id, byRecording) ? -1 : folds.fold(id, byRecording)));
    const db = new BagDatabase(dbBags, this.index.size);

    const trainScores = new Float64Array(totalWindows);
    o = 0;
    for (const tap of taps) {
      const idx = tap.idx.view();
      const cnt = tap.cnt.view();
      for (let w = 0; w < tap.start.length; w++, o++) {
        const [from, to] = tap.range(w);
        trainScores[o] = db.nearest(idx, cnt, from, to, 0, dbFold, windowFold[o]);
      }
    }
    return noveltyFitResult(trainScores, windowFold, (calibration) => new BoscDetector(new SyscallIndex(this.index.names, true), dbBags, this.maxBags, calibration), { examples: dbBags.length, seed: this.seed, t0 });
  }
}

const BoscFile = z.object({
  format: z.literal(BOSC_FORMAT),
  version: z.literal(1),
  kind: z.literal(BOSC_KIND),
  max_bags: z.number().int().positive(),
  syscalls: z.array(z.string()).max(0xfffe),
  bags: z.array(z.array(z.number().int().nonnegative())),
});

export async function loadBosc(dir: string): Promise<BoscDetector> {
  const doc = await readJsonModel(dir, BOSC_FILE, BoscFile, 'BoSC model');
  const file = `${dir}/model/${BOSC_FILE}`;
  if (new Set(doc.syscalls).size !== doc.syscalls.length) throw new InputError(file, 'syscalls: names are not unique');
  if (doc.bags.length === 0) throw new InputError(file, 'bags: empty (a BoSC model needs at least one normal bag)');
  doc.bags.forEach((b, j) => {
    if (b.length === 0 || b.length % 2 !== 0) throw new InputError(file, `bags.${j}: expected (index, count) pairs`);
    for (let k = 0; k < b.length; k += 2) {
      if (b[k] >= doc.syscalls.length) throw new InputError(file, `bags.${j}: index ${b[k]} is out of range (${doc.syscalls.length} syscalls)`);
      if (b[k + 1] < 1) throw new InputError(file, `bags.${j}: counts must be positive`);
    }
  });
  return new BoscDetector(new SyscallIndex(doc.syscalls, true), doc.bags, doc.max_bags);
}
