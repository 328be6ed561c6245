/**
 * STIDE (Forrest et al., "A sense of self for Unix processes", 1996; Warrender et al. 1999):
 * normal behaviour is the set of syscall n-grams (length `--ngram`, default 6) seen in training;
 * a window's score is the share of its n-grams that are not in the set (0 … 1).
 *
 * - The stream: one entry per system call (enter events, see syscall-stream.ts), split per
 *   thread (thread id), as LID-DS's thread-aware n-grams: interleaved threads of a server would
 *   otherwise make every n-gram look new. Each thread's n-grams slide over the whole recording;
 *   an n-gram belongs to the window of its LAST call, so every window with calls has n-grams
 *   except at the very start of a thread.
 * - A window with no complete n-gram scores 0.
 * - Training scores (for the thresholds): a training window's score is the share of its n-grams
 *   seen in no other training recording (leave one recording out; with a single recording,
 *   ten time blocks, syscall-stream.ts). Scored against the full set, every training window
 *   would score 0 and every threshold would be 0. θ = 1.0 is a robust upper bound of these
 *   scores rather than their maximum (noveltyCalibration in thresholds.ts).
 * - Saved as `model/stide.json`: the syscall names and the n-grams as name indices.
 *
 * Free of TF.js.
 */
import { z } from 'zod';
import type { SyscallEvent } from '../../trace/event.js';
import type { NameTable } from '../../trace/names.js';
import type { EventTap } from '../../encode/pipeline.js';
import { ChidsError, InputError } from '../../util/errors.js';
import type { ClosedWindow, Detector, DetectorTrainer, FitResult, RecordingInput, TrainHooks, TrainingRecording } from '../detector.js';
import { readJsonModel, saveJsonModel } from './json-io.js';
import { isSeed, randomSeed } from '../../util/rng.js';
import { FoldTracker, blockFold, IntList, LocalNames, SyscallIndex, isCall } from './syscall-stream.js';
import { calibrationSettings, type NoveltyCalibration } from '../thresholds.js';
import { noveltyFitResult } from './novelty-fit.js';

export const STIDE_KIND = 'stide';
export const STIDE_FILE = 'stide.json';
export const STIDE_FORMAT = 'chids-stide';
export const STIDE_DEFAULTS = Object.freeze({ ngram: 6, threadAware: true });
export const MAX_NGRAM = 32;

export interface StideOptions {
  /** n-gram length (default 6). */
  ngram?: number;
  /** Separate n-gram streams per thread (default true). */
  threadAware?: boolean;
  seed?: number;
}

interface Ring {
  buf: Int32Array;
  pos: number;
  filled: number;
  /** Grams still to come that contain a call unknown to the detector. */
  unknownLeft: number;
}

/** Per-thread sliding n-grams of local syscall indices; keys are strings of char codes. */
class GramStreams {
  private readonly rings = new Map<number, Ring>();
  private readonly tmp: number[];
  /** Set by push(): does the completed gram contain an unknown call? */
  unknown = false;

  constructor(
    readonly n: number,
    readonly threadAware: boolean,
  ) {
    this.tmp = new Array<number>(n).fill(0);
  }

  /** Adds a call (local index, or -1 if unknown); returns the key of the n-gram it completes, or null. */
  push(ev: SyscallEvent, local: number): string | null {
    const key = this.threadAware ? ev.tid : 0;
    let ring = this.rings.get(key);
    if (ring === undefined) {
      ring = { buf: new Int32Array(this.n), pos: 0, filled: 0, unknownLeft: 0 };
      this.rings.set(key, ring);
    }
    const n = this.n;
    if (local < 0) ring.unknownLeft = n;
    ring.buf[ring.pos] = local < 0 ? 0xffff : local;
    ring.pos = ring.pos + 1 === n ? 0 : ring.pos + 1;
    ring.filled++;
    const unknown = ring.unknownLeft > 0;
    if (ring.unknownLeft > 0) ring.unknownLeft--;
    if (ring.filled < n) return null;
    this.unknown = unknown;
    if (unknown) return '';
    const tmp = this.tmp;
    let p = ring.pos; // oldest
    for (let i = 0; i < n; i++) {
      tmp[i] = ring.buf[p];
      p = p + 1 === n ? 0 : p + 1;
    }
    return String.fromCharCode.apply(null, tmp);
  }
}

/** Scoring tap: per window, how many n-grams and how many unseen. */
export class StideTap implements EventTap {
  private readonly streams: GramStreams;
  private readonly local: LocalNames;
  private current = -1;
  /** The current window was closed by closeWindow() (live use). */
  private closed = false;
  private total = 0;
  private unseen = 0;
  private readonly scores: number[] = [];
  private done = false;

  constructor(
    names: NameTable,
    index: SyscallIndex,
    private readonly grams: ReadonlySet<string>,
    n: number,
    threadAware: boolean,
  ) {
    this.streams = new GramStreams(n, threadAware);
    this.local = new LocalNames(names, index);
  }

  event(ev: SyscallEvent, window: number): void {
    if (window !== this.current) {
      if (this.current >= 0 && !this.closed) this.close();
      this.current = window;
      this.closed = false;
    }
    if (!isCall(ev)) return;
    const key = this.streams.push(ev, this.local.local(ev.nameId));
    if (key === null) return;
    this.total++;
    if (this.streams.unknown || !this.grams.has(key)) this.unseen++;
  }

  private close(): void {
    this.scores.push(this.total === 0 ? 0 : this.unseen / this.total);
    this.total = 0;
    this.unseen = 0;
  }

  /** Per-window scores (closes the last window). */
  finish(): number[] {
    if (!this.done && this.current >= 0 && !this.closed) this.close();
    this.done = true;
    return this.scores;
  }

  /** Live: the score of window `window` if it is the one in progress (see Detector.scoreWindow). */
  closeWindow(window: number): number | null {
    if (window !== this.current || this.closed) return null;
    const score = this.total === 0 ? 0 : this.unseen / this.total;
    this.total = 0;
    this.unseen = 0;
    this.closed = true;
    return score;
  }
}

/**
 * Training tap: per window, its distinct n-grams and how often each occurs, as (id, count)
 * pairs (ids from the trainer's shared key table). Memory grows with the windows' distinct
 * n-grams, not with the number of calls.
 */
export class StideTrainingTap implements EventTap {
  private readonly streams: GramStreams;
  private readonly local: LocalNames;
  private current = -1;
  private done = false;
  /** (id, count) pairs of every closed window; the window in progress holds raw ids at the end. */
  readonly ids = new IntList();
  /** Start of each window's entries in `ids`. */
  readonly offsets = new IntList();

  constructor(
    names: NameTable,
    index: SyscallIndex,
    private readonly keys: Map<string, number>,
    private readonly keyList: string[],
    n: number,
    threadAware: boolean,
  ) {
    this.streams = new GramStreams(n, threadAware);
    this.local = new LocalNames(names, index);
  }

  event(ev: SyscallEvent, window: number): void {
    if (window !== this.current) {
      if (this.current >= 0) this.compact();
      this.current = window;
      this.offsets.push(this.ids.length);
    }
    if (!isCall(ev)) return;
    const key = this.streams.push(ev, this.local.local(ev.nameId));
    if (key === null) return;
    let id = this.keys.get(key);
    if (id === undefined) {
      id = this.keyList.length;
      this.keyList.push(key);
      this.keys.set(key, id);
    }
    this.ids.push(id);
  }

  /** Turns the raw ids of the window in progress into sorted (id, count) pairs. */
  private compact(): void {
    const start = this.offsets.data[this.offsets.length - 1];
    const seg = this.ids.data.slice(start, this.ids.length).sort();
    this.ids.length = start;
    for (let i = 0; i < seg.length; ) {
      let j = i + 1;
      while (j < seg.length && seg[j] === seg[i]) j++;
      this.ids.push(seg[i]);
      this.ids.push(j - i);
      i = j;
    }
  }

  /** Closes the last window (idempotent). */
  finish(): void {
    if (!this.done && this.current >= 0) this.compact();
    this.done = true;
  }

  get windows(): number {
    return this.offsets.length;
  }
}

export class StideDetector implements Detector<StideTap> {
  readonly name = 'stide' as const;
  readonly kind = STIDE_KIND;
  readonly reads = 'syscalls' as const;
  readonly history = 0;
  readonly settings: Readonly<Record<string, unknown>>;

  constructor(
    readonly syscalls: SyscallIndex,
    readonly grams: ReadonlySet<string>,
    readonly ngram: number,
    readonly threadAware: boolean,
    /** How the thresholds were set (a freshly trained detector; not saved with the model). */
    readonly calibration?: NoveltyCalibration,
  ) {
    this.settings = { ...stideSettings(ngram, threadAware, grams.size), ...(calibration ? { threshold: calibrationSettings(calibration) } : {}) };
  }

  newTap(names: NameTable): StideTap {
    return new StideTap(names, this.syscalls, this.grams, this.ngram, this.threadAware);
  }

  scoreWindow(w: ClosedWindow<StideTap>): number | null {
    return w.tap === null ? null : w.tap.closeWindow(w.window);
  }

  scoreRecording(rec: RecordingInput<StideTap>): Float64Array {
    if (rec.tap === null) throw new Error('stide: scoreRecording needs the tap from newTap(), fed with the recording');
    const scores = rec.tap.finish();
    if (scores.length !== rec.n) throw new Error(`stide: the tap saw ${scores.length} windows, the encoder ${rec.n}`);
    return Float64Array.from(scores);
  }

  save(dir: string): Promise<void> {
    return saveJsonModel(dir, STIDE_FILE, this.modelDoc());
  }

  /** The content of `model/stide.json` (the default detector saves it next to its own file). */
  modelDoc(): Record<string, unknown> {
    const n = this.ngram;
    const flat: number[] = [];
    for (const key of this.grams) for (let i = 0; i < n; i++) flat.push(key.charCodeAt(i));
    return {
      format: STIDE_FORMAT,
      version: 1,
      kind: STIDE_KIND,
      ngram: n,
      thread_aware: this.threadAware,
      syscalls: this.syscalls.names,
      ngrams: flat,
    };
  }

  dispose(): void {}
}

function stideSettings(ngram: number, threadAware: boolean, distinct: number): Record<string, unknown> {
  return {
    ngram,
    thread_aware: threadAware,
    stream: 'one entry per call (enter events)',
    score: 'share of the window’s n-grams not seen in training',
    training_score: 'leave one recording out (ten time blocks with one recording)',
    distinct_ngrams: distinct,
  };
}

function checkNgram(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_NGRAM) throw new ChidsError(`--ngram must be an integer in [1, ${MAX_NGRAM}], got ${n}`);
}

export class StideTrainer implements DetectorTrainer<StideTrainingTap> {
  readonly name = 'stide' as const;
  readonly epochs = 0;
  readonly settings: Readonly<Record<string, unknown>>;
  private readonly index = new SyscallIndex();
  private readonly keys = new Map<string, number>();
  private readonly keyList: string[] = [];
  private readonly n: number;
  private readonly threadAware: boolean;
  private readonly seed: number;

  constructor(opts: StideOptions = {}) {
    this.n = opts.ngram ?? STIDE_DEFAULTS.ngram;
    this.threadAware = opts.threadAware ?? STIDE_DEFAULTS.threadAware;
    checkNgram(this.n);
    if (opts.seed !== undefined && !isSeed(opts.seed)) throw new ChidsError(`seed must be an integer in [0, 4294967295], got ${opts.seed}`);
    this.seed = opts.seed ?? randomSeed();
    this.settings = { ngram: this.n, thread_aware: this.threadAware };
  }

  trainingTap(names: NameTable): StideTrainingTap {
    return new StideTrainingTap(names, this.index, this.keys, this.keyList, this.n, this.threadAware);
  }

  async fit(recordings: readonly TrainingRecording<StideTrainingTap>[], hooks: TrainHooks = {}): Promise<FitResult> {
    const t0 = performance.now();
    const taps = recordings.map((r) => {
      if (r.tap === null) throw new Error('stide: every training recording needs its training tap');
      r.tap.finish();
      if (r.tap.windows !== r.n) throw new Error(`stide: ${r.file}: the tap saw ${r.tap.windows} windows, the encoder ${r.n}`);
      return r.tap;
    });
    hooks.onTrainStart?.(taps.reduce((a, t) => a + t.windows, 0), 0);
    const byRecording = taps.length >= 2;
    const folds = new FoldTracker();
    const used = new Uint8Array(this.keyList.length);
    taps.forEach((tap, r) => {
      const ids = tap.ids.view();
      const off = tap.offsets.view();
      for (let w = 0; w < off.length; w++) {
        const end = w + 1 < off.length ? off[w + 1] : ids.length;
        // Time blocks matter only with one recording (byRecording false).
        const block = blockFold(w, off.length);
        for (let p = off[w]; p < end; p += 2) {
          folds.see(ids[p], r, block);
          used[ids[p]] = 1;
        }
      }
    });
    const grams = new Set<string>();
    for (let id = 0; id < used.length; id++) if (used[id] === 1) grams.add(this.keyList[id]);
    if (grams.size === 0) {
      throw new ChidsError(`stide: the training recordings hold no ${this.n}-gram of system calls (too short, or no enter events?)`);
    }
    let total = 0;
    for (const t of taps) total += t.windows;
    const trainScores = new Float64Array(total);
    const windowFold = new Int32Array(total);
    let o = 0;
    for (const [r, tap] of taps.entries()) {
      const ids = tap.ids.view();
      const off = tap.offsets.view();
      for (let w = 0; w < off.length; w++, o++) {
        windowFold[o] = byRecording ? r : blockFold(w, off.length);
        const end = w + 1 < off.length ? off[w + 1] : ids.length;
        let count = 0;
        let novel = 0;
        for (let p = off[w]; p < end; p += 2) {
          count += ids[p + 1];
          if (!folds.shared(ids[p], byRecording)) novel += ids[p + 1];
        }
        if (count > 0) trainScores[o] = novel / count;
      }
    }
    const frozen = new SyscallIndex(this.index.names, true);
    return noveltyFitResult(trainScores, windowFold, (calibration) => new StideDetector(frozen, grams, this.n, this.threadAware, calibration), { examples: grams.size, seed: this.seed, t0 });
  }
}

const StideFile = z.object({
  format: z.literal(STIDE_FORMAT),
  version: z.literal(1),
  kind: z.literal(STIDE_KIND),
  ngram: z.number().int().min(1).max(MAX_NGRAM),
  thread_aware: z.boolean(),
  syscalls: z.array(z.string()).max(0xfffe),
  ngrams: z.array(z.number().int().nonnegative()),
});

export async function loadStide(dir: string): Promise<StideDetector> {
  const doc = await readJsonModel(dir, STIDE_FILE, StideFile, 'STIDE model');
  const file = `${dir}/model/${STIDE_FILE}`;
  if (new Set(doc.syscalls).size !== doc.syscalls.length) throw new InputError(file, 'syscalls: names are not unique');
  const n = doc.ngram;
  if (doc.ngrams.length % n !== 0) throw new InputError(file, `ngrams: ${doc.ngrams.length} indices is not a multiple of the n-gram length ${n}`);
  const grams = new Set<string>();
  const tmp = new Array<number>(n);
  for (let g = 0; g < doc.ngrams.length; g += n) {
    for (let i = 0; i < n; i++) {
      const v = doc.ngrams[g + i];
      if (v >= doc.syscalls.length) throw new InputError(file, `ngrams: index ${v} is out of range (${doc.syscalls.length} syscalls)`);
      tmp[i] = v;
    }
    grams.add(String.fromCharCode.apply(null, tmp));
  }
  return new StideDetector(new SyscallIndex(doc.syscalls, true), grams, n, doc.thread_aware);
}
