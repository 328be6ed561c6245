/**
 * The default detector: the CHIDS anomaly vector, each feature calibrated on normal data, plus
 * the novelty of the window's syscall sequences.
 *
 * A window is read as three features:
 *   - fi, its volume (events relative to the busiest training window),
 *   - unseen = usi + uai, how much of its graph is syscalls or arguments never seen in training,
 *   - novel, the share of its (per-thread) syscall 6-grams never seen in training (STIDE's score).
 * Each feature has a reference taken from normal data the model did not see: for fi and
 * unseen, the largest value over the calibration vectors, i.e. the training windows encoded
 * against the vocabulary of the OTHER training recordings (leave-one-recording-out,
 * src/encode/calibration.ts; the training vectors themselves would give unseen = 0 for every
 * window, since the vocabulary is built from them); for novel, the same leave-one-out idea on
 * n-grams (each training window against the n-grams of the other recordings, STIDE's training
 * scores), bounded as below.
 *
 *     score = max(fi / ref_fi, unseen / ref_unseen, novel / ref_novel)
 *
 * so θ 1.0 alarms on a window more extreme, in some feature, than normal data the model did not
 * see. The feature that gives the max is the explanation of the window's score.
 *
 * Why the n-grams: the AV keeps how many events and which names and paths, not in which order.
 * An attack that runs the victim's own code along another path (a Redis SAVE into another
 * directory, a login handler hammered with wrong passwords, an error path) touches no new
 * syscall and no new file, and changes the volume by less than normal bursts do; its call
 * sequences are new. Conversely, a known code path reading an unseen file (/etc/shadow
 * instead of a page) is new to the AV and not to the n-grams. Each catches what the other
 * cannot; the max keeps both and their explanations.
 *
 * Why ref_novel is not simply the largest leave-one-out score: novel is continuous and noisy,
 * and the largest of N normal values is exceeded by a fresh normal one with probability
 * 1 / (N + 1) per value: with one bound per training recording (20), about one normal test
 * recording in 20 would alarm at θ 1.0 with nothing wrong. ref_novel is Tukey's far-out fence
 * Q3 + 3·IQR of the highest leave-one-out score of each fold (those above 0: the same
 * statistic as STIDE's threshold, thresholds.ts), which extrapolates past the sample's
 * maximum, and never below that maximum (so no calibration window scores above 1). fi and
 * unseen keep their maxima, as they were measured (no normal test recording of either benchmark
 * victim went above them).
 *
 * When no calibration window has any unseen activity (ref_unseen would be 0), the reference is a
 * floor of 1e-6, below any positive unseen value (each of usi, uai, when not 0, is at least
 * 1 / (nodes − 1), and a window has at most seen-syscalls + 2 nodes), so that any unseen syscall
 * or argument alarms at every θ (score ≥ 1e6 / (nodes − 1)). The same floor applies to novel.
 *
 * Models saved before the n-gram feature (calibrated.json version 1) load and score with the
 * two AV features only.
 *
 * The reference autoencoder (chids) learns from the same AVs but, with a 1-unit sigmoid
 * bottleneck and an L1 activity penalty, its reconstruction is close to constant; this
 * detector keeps the AV and drops the network. Free of TF.js.
 */
import { z } from 'zod';
import { ChidsError } from '../util/errors.js';
import type { NameTable } from '../trace/names.js';
import type { ClosedWindow, Detector, DetectorTrainer, FitResult, RecordingInput, TrainHooks, TrainingRecording, WindowExplanation } from './detector.js';
import { readJsonModel, saveJsonModels } from './classic/json-io.js';
import { calibrationSettings, foldMaxima, maxOf, noveltyCalibration, thresholdsFrom, type NoveltyCalibration } from './thresholds.js';
import { STIDE_DEFAULTS, STIDE_FILE, StideTrainer, loadStide, type StideDetector, type StideTap, type StideTrainingTap } from './classic/stide.js';
import { blockFold } from './classic/syscall-stream.js';

export const CALIBRATED_KIND = 'calibrated-av';
export const CALIBRATED_FILE = 'calibrated.json';
export const CALIBRATED_FORMAT = 'chids-calibrated';
/** Smallest reference of a feature (see the module comment). */
export const REFERENCE_FLOOR = 1e-6;

/** The calibrated features, in the order ties are broken. */
export const CALIBRATED_FEATURES = ['fi', 'unseen', 'novel'] as const;
export type CalibratedFeature = (typeof CALIBRATED_FEATURES)[number];

export interface CalibratedReferences {
  /** Largest fi over the calibration windows (floored). */
  fi: number;
  /** Largest usi + uai over the calibration windows (floored). */
  unseen: number;
  /** Bound of the leave-one-out n-gram novelty (floored); absent in models saved before it. */
  novel?: number;
}

/** The AV features of one AV (row i of `avs`). */
function features(avs: ArrayLike<number>, i: number): [number, number] {
  return [avs[3 * i], avs[3 * i + 1] + avs[3 * i + 2]];
}

function checkFinite(avs: ArrayLike<number>, n: number): void {
  for (let i = 0; i < 3 * n; i++) {
    const v = avs[i];
    if (!Number.isFinite(v)) throw new ChidsError(`anomaly vector ${Math.floor(i / 3)} has a non-finite value (${v})`);
  }
}

function checkRef(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new ChidsError(`calibrated detector: the ${name} reference must be positive and finite (got ${v})`);
}

export class CalibratedDetector implements Detector<StideTap> {
  readonly name = 'calibrated' as const;
  readonly kind = CALIBRATED_KIND;
  /** With the n-gram feature it reads the syscalls (through STIDE's tap) as well as the AVs. */
  readonly reads: 'vectors' | 'syscalls';
  /** A window's score depends on its own AV (and its own n-grams) only. */
  readonly history = 1;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly newTap?: (names: NameTable) => StideTap;

  constructor(
    readonly refs: CalibratedReferences,
    /** The n-gram model of the novel feature (null: the two AV features only). */
    readonly ngrams: StideDetector | null = null,
    /** How ref_novel came out of the leave-one-out scores (a freshly trained detector). */
    novelty?: NoveltyCalibration,
  ) {
    checkRef('fi', refs.fi);
    checkRef('unseen', refs.unseen);
    if ((refs.novel === undefined) !== (ngrams === null)) throw new ChidsError('calibrated detector: the novel reference and the n-gram model go together');
    if (refs.novel !== undefined) checkRef('novel', refs.novel);
    this.reads = ngrams ? 'syscalls' : 'vectors';
    if (ngrams) this.newTap = (names) => ngrams.newTap(names);
    this.settings = {
      features: ngrams ? [...CALIBRATED_FEATURES] : ['fi', 'unseen'],
      reference_fi: refs.fi,
      reference_unseen: refs.unseen,
      ...(ngrams ? { reference_novel: refs.novel, ngram: ngrams.ngram, thread_aware: ngrams.threadAware, distinct_ngrams: ngrams.grams.size } : {}),
      ...(novelty ? { novel_reference_rule: { ...calibrationSettings(novelty), rule: NOVEL_RULE, fence: fence(novelty), value: refs.novel } } : {}),
      reference_floor: REFERENCE_FLOOR,
    };
  }

  /** Score of one window: the largest of its features' ratios to their references. */
  score(fi: number, usi: number, uai: number, novel = 0): number {
    const s = Math.max(fi / this.refs.fi, (usi + uai) / this.refs.unseen);
    return this.refs.novel === undefined ? s : Math.max(s, novel / this.refs.novel);
  }

  scoreRecording(rec: RecordingInput<StideTap>): Float64Array {
    checkFinite(rec.avs, rec.n);
    const novel = this.ngrams ? this.ngrams.scoreRecording(rec) : null;
    const out = new Float64Array(rec.n);
    for (let i = 0; i < rec.n; i++) {
      const [fi, unseen] = features(rec.avs, i);
      let s = Math.max(fi / this.refs.fi, unseen / this.refs.unseen);
      if (novel !== null) s = Math.max(s, novel[i] / this.refs.novel!);
      out[i] = s;
    }
    return out;
  }

  scoreWindow(w: ClosedWindow<StideTap>): number | null {
    // The n-gram tap is asked first: it must close its window whether or not the AV scores.
    const novel = this.ngrams ? this.ngrams.scoreWindow(w) : null;
    if (w.n === 0) return null;
    const last = w.avs.subarray(3 * (w.n - 1), 3 * w.n);
    checkFinite(last, 1);
    return this.score(last[0], last[1], last[2], novel ?? 0);
  }

  /**
   * Which feature gave `score` (this window's score) for the AV `av`: an AV feature when its
   * ratio is the score, otherwise the n-grams, whose ratio the score then is.
   */
  explain(av: ArrayLike<number>, score?: number): WindowExplanation {
    const [fi, unseen] = features(av, 0);
    const rFi = fi / this.refs.fi;
    const rUnseen = unseen / this.refs.unseen;
    const best = Math.max(rFi, rUnseen);
    if (this.refs.novel !== undefined && score !== undefined && score > best) {
      return { feature: 'novel', value: score * this.refs.novel, reference: this.refs.novel, ratio: score };
    }
    return rUnseen > rFi
      ? { feature: 'unseen', value: unseen, reference: this.refs.unseen, ratio: rUnseen }
      : { feature: 'fi', value: fi, reference: this.refs.fi, ratio: rFi };
  }

  async save(dir: string): Promise<void> {
    const doc: CalibratedFileDoc = {
      format: CALIBRATED_FORMAT,
      version: this.ngrams ? 2 : 1,
      kind: CALIBRATED_KIND,
      references: { fi: this.refs.fi, unseen: this.refs.unseen, ...(this.refs.novel !== undefined ? { novel: this.refs.novel } : {}) },
    };
    await saveJsonModels(dir, this.ngrams ? { [CALIBRATED_FILE]: doc, [STIDE_FILE]: this.ngrams.modelDoc() } : { [CALIBRATED_FILE]: doc });
  }

  dispose(): void {}
}

const positive = z.number().positive().finite();
const CalibratedFile = z
  .object({
    format: z.literal(CALIBRATED_FORMAT),
    version: z.union([z.literal(1), z.literal(2)]),
    kind: z.literal(CALIBRATED_KIND),
    references: z.object({ fi: positive, unseen: positive, novel: positive.optional() }),
  })
  .passthrough()
  .refine((d) => (d.version === 2) === (d.references.novel !== undefined), { message: 'version 2 has references.novel (the n-gram feature), version 1 has not' });
type CalibratedFileDoc = z.infer<typeof CalibratedFile>;

export async function loadCalibrated(dir: string): Promise<CalibratedDetector> {
  const doc = await readJsonModel(dir, CALIBRATED_FILE, CalibratedFile, 'calibrated model');
  const ngrams = doc.references.novel !== undefined ? await loadStide(dir) : null;
  return new CalibratedDetector(doc.references, ngrams);
}

/** References of the AV features from calibration vectors (`n × 3`): each feature's max, floored. */
export function referencesFrom(avs: ArrayLike<number>, n: number): CalibratedReferences {
  let fi = 0;
  let unseen = 0;
  for (let i = 0; i < n; i++) {
    const [f, u] = features(avs, i);
    if (f > fi) fi = f;
    if (u > unseen) unseen = u;
  }
  return { fi: Math.max(fi, REFERENCE_FLOOR), unseen: Math.max(unseen, REFERENCE_FLOOR) };
}

const NOVEL_RULE = 'max(largest leave-one-out score, Q3 + 3·IQR of the highest leave-one-out score of each fold, those above 0)';

/** Tukey's far-out fence of the fold maxima (0 when no fold has novelty). */
function fence(c: NoveltyCalibration): number {
  return c.positive === 0 ? 0 : c.q3 + 3 * (c.q3 - c.q1);
}

/** ref_novel from the leave-one-out n-gram scores and their folds (see the module comment). */
export function novelReference(scores: ArrayLike<number>, fold: ArrayLike<number>): { value: number; calibration: NoveltyCalibration } {
  const calibration = noveltyCalibration(foldMaxima(scores, fold));
  const max = Math.max(0, maxOf(scores));
  return { value: Math.max(max, fence(calibration), REFERENCE_FLOOR), calibration };
}

export class CalibratedTrainer implements DetectorTrainer<StideTrainingTap> {
  readonly name = 'calibrated' as const;
  readonly settings: Readonly<Record<string, unknown>> = {
    features: [...CALIBRATED_FEATURES],
    ngram: STIDE_DEFAULTS.ngram,
    thread_aware: STIDE_DEFAULTS.threadAware,
    reference_floor: REFERENCE_FLOOR,
  };
  readonly epochs = 0;
  readonly usesCalibration = true;
  private readonly stide: StideTrainer;

  /** `ngrams: false` fits the two AV features only (the detector before the n-gram feature). */
  constructor(
    private readonly seed?: number,
    private readonly opts: { ngrams?: boolean } = {},
  ) {
    this.stide = new StideTrainer({ seed: seed ?? 0 });
    if (opts.ngrams === false) this.settings = { features: ['fi', 'unseen'], reference_floor: REFERENCE_FLOOR };
  }

  get trainingTap(): ((names: NameTable) => StideTrainingTap) | undefined {
    return this.opts.ngrams === false ? undefined : (names) => this.stide.trainingTap(names);
  }

  async fit(recordings: readonly TrainingRecording<StideTrainingTap>[], hooks: TrainHooks = {}): Promise<FitResult> {
    const t0 = performance.now();
    let n = 0;
    for (const r of recordings) n += r.n;
    hooks.onTrainStart?.(n, 0);
    const cal = new Float64Array(n * 3);
    let o = 0;
    for (const r of recordings) {
      const c = r.calibration;
      if (c === undefined) throw new ChidsError(`${r.file}: no calibration vectors (the calibrated detector needs them)`);
      if (c.length !== r.n * 3) throw new ChidsError(`${r.file}: ${c.length / 3} calibration vectors for ${r.n} windows`);
      checkFinite(c, r.n);
      cal.set(c, o);
      o += c.length;
    }
    // The n-grams and their leave-one-out scores (STIDE's training scores: each window against
    // the n-grams of the other recordings, or of the other time blocks of a single recording).
    // A training set too short for a single n-gram (a few calls per thread) keeps the AV features.
    const taps = recordings.map((r) => r.tap);
    for (const t of taps) t?.finish();
    if (this.opts.ngrams === false || !taps.some((t) => t !== null && t.ids.length > 0)) {
      if (this.opts.ngrams !== false && taps.some((t) => t === null)) throw new Error('calibrated: every training recording needs its training tap');
      return this.result(new CalibratedDetector(referencesFrom(cal, n)), cal, null, n, t0);
    }
    const st = await this.stide.fit(recordings);
    const fold = new Int32Array(n);
    o = 0;
    recordings.forEach((r, k) => {
      for (let w = 0; w < r.n; w++, o++) fold[o] = recordings.length >= 2 ? k : blockFold(w, r.n);
    });
    const novel = novelReference(st.trainScores, fold);
    const refs: CalibratedReferences = { ...referencesFrom(cal, n), novel: novel.value };
    return this.result(new CalibratedDetector(refs, st.detector as StideDetector, novel.calibration), cal, st.trainScores, n, t0);
  }

  /** Training scores: the calibration vectors (and leave-one-out n-gram scores), scored. */
  private result(detector: CalibratedDetector, cal: Float64Array, novel: Float64Array | null, n: number, t0: number): FitResult {
    const trainScores = new Float64Array(n);
    for (let i = 0; i < n; i++) trainScores[i] = detector.score(cal[3 * i], cal[3 * i + 1], cal[3 * i + 2], novel ? novel[i] : 0);
    const maxScore = maxOf(trainScores);
    return {
      detector,
      trainScores,
      maxScore,
      // θ × 1: the references make 1 the bound of normal data in every feature.
      thresholds: thresholdsFrom(1),
      examples: n,
      finalLoss: null,
      finalValLoss: null,
      epochs: 0,
      seed: this.seed ?? 0,
      ms: performance.now() - t0,
    };
  }
}
