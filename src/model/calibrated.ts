/**
 * The default detector: the CHIDS anomaly vector, each feature calibrated on normal data.
 *
 * A window's AV [fi, usi, uai] is read as two features:
 *   - fi, its volume (events relative to the busiest training window),
 *   - unseen = usi + uai, how much of its graph is syscalls or arguments never seen in training.
 * Each feature has a reference: the largest value it takes over the calibration vectors, i.e.
 * the training windows encoded against the vocabulary of the OTHER training recordings
 * (leave-one-recording-out, src/encode/calibration.ts). The training vectors themselves would
 * give unseen = 0 for every window, since the vocabulary is built from them; the calibration
 * vectors show how much unseen activity a normal recording the vocabulary never saw has.
 *
 *     score = max(fi / ref_fi, unseen / ref_unseen)
 *
 * so the largest calibration score is exactly 1, and the thresholds max × θ are θ itself: θ 1.0
 * alarms on a window more extreme, in some feature, than every normal calibration window. The
 * feature that gives the max is the explanation of the window's score.
 *
 * When no calibration window has any unseen activity (ref_unseen would be 0), the reference is a
 * floor of 1e-6, below any positive unseen value (each of usi, uai, when not 0, is at least
 * 1 / (nodes − 1), and a window has at most seen-syscalls + 2 nodes), so that any unseen syscall
 * or argument alarms at every θ (score ≥ 1e6 / (nodes − 1)).
 *
 * The reference autoencoder (chids) learns from the same AVs but, with a 1-unit sigmoid
 * bottleneck and an L1 activity penalty, its reconstruction is close to constant; this
 * detector keeps the AV and drops the network. Free of TF.js.
 */
import { z } from 'zod';
import { ChidsError } from '../util/errors.js';
import { scoreLastVector, type ClosedWindow, type Detector, type DetectorTrainer, type FitResult, type RecordingInput, type TrainHooks, type TrainingRecording, type WindowExplanation } from './detector.js';
import { readJsonModel, saveJsonModel } from './classic/json-io.js';
import { thresholdsFrom } from './thresholds.js';

export const CALIBRATED_KIND = 'calibrated-av';
export const CALIBRATED_FILE = 'calibrated.json';
export const CALIBRATED_FORMAT = 'chids-calibrated';
/** Smallest reference of a feature (see the module comment). */
export const REFERENCE_FLOOR = 1e-6;

/** The calibrated features, in the order ties are broken. */
export const CALIBRATED_FEATURES = ['fi', 'unseen'] as const;
export type CalibratedFeature = (typeof CALIBRATED_FEATURES)[number];

export interface CalibratedReferences {
  /** Largest fi over the calibration windows (floored). */
  fi: number;
  /** Largest usi + uai over the calibration windows (floored). */
  unseen: number;
}

/** The features of one AV (row i of `avs`). */
function features(avs: ArrayLike<number>, i: number): [number, number] {
  return [avs[3 * i], avs[3 * i + 1] + avs[3 * i + 2]];
}

function checkFinite(avs: ArrayLike<number>, n: number): void {
  for (let i = 0; i < 3 * n; i++) {
    const v = avs[i];
    if (!Number.isFinite(v)) throw new ChidsError(`anomaly vector ${Math.floor(i / 3)} has a non-finite value (${v})`);
  }
}

export class CalibratedDetector implements Detector {
  readonly name = 'calibrated' as const;
  readonly kind = CALIBRATED_KIND;
  readonly reads = 'vectors' as const;
  /** A window's score depends on its own AV only. */
  readonly history = 1;
  readonly settings: Readonly<Record<string, unknown>>;

  constructor(readonly refs: CalibratedReferences) {
    if (!(refs.fi > 0) || !(refs.unseen > 0) || !Number.isFinite(refs.fi) || !Number.isFinite(refs.unseen)) {
      throw new ChidsError(`calibrated detector: references must be positive and finite (fi ${refs.fi}, unseen ${refs.unseen})`);
    }
    this.settings = { features: [...CALIBRATED_FEATURES], reference_fi: refs.fi, reference_unseen: refs.unseen, reference_floor: REFERENCE_FLOOR };
  }

  /** Score of one AV: the largest of its features' ratios to their references. */
  score(fi: number, usi: number, uai: number): number {
    return Math.max(fi / this.refs.fi, (usi + uai) / this.refs.unseen);
  }

  scoreRecording(rec: RecordingInput): Float64Array {
    checkFinite(rec.avs, rec.n);
    const out = new Float64Array(rec.n);
    for (let i = 0; i < rec.n; i++) {
      const [fi, unseen] = features(rec.avs, i);
      out[i] = Math.max(fi / this.refs.fi, unseen / this.refs.unseen);
    }
    return out;
  }

  scoreWindow(w: ClosedWindow): number | null {
    return scoreLastVector(this, w);
  }

  explain(av: ArrayLike<number>): WindowExplanation {
    const [fi, unseen] = features(av, 0);
    const rFi = fi / this.refs.fi;
    const rUnseen = unseen / this.refs.unseen;
    return rUnseen > rFi
      ? { feature: 'unseen', value: unseen, reference: this.refs.unseen, ratio: rUnseen }
      : { feature: 'fi', value: fi, reference: this.refs.fi, ratio: rFi };
  }

  async save(dir: string): Promise<void> {
    const doc: CalibratedFileDoc = {
      format: CALIBRATED_FORMAT,
      version: 1,
      kind: CALIBRATED_KIND,
      references: { fi: this.refs.fi, unseen: this.refs.unseen },
    };
    await saveJsonModel(dir, CALIBRATED_FILE, doc);
  }

  dispose(): void {}
}

const positive = z.number().positive().finite();
const CalibratedFile = z
  .object({
    format: z.literal(CALIBRATED_FORMAT),
    version: z.literal(1),
    kind: z.literal(CALIBRATED_KIND),
    references: z.object({ fi: positive, unseen: positive }),
  })
  .passthrough();
type CalibratedFileDoc = z.infer<typeof CalibratedFile>;

export async function loadCalibrated(dir: string): Promise<CalibratedDetector> {
  const doc = await readJsonModel(dir, CALIBRATED_FILE, CalibratedFile, 'calibrated model');
  return new CalibratedDetector(doc.references);
}

/** References from calibration vectors (`n × 3`): each feature's max, floored. */
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

export class CalibratedTrainer implements DetectorTrainer {
  readonly name = 'calibrated' as const;
  readonly settings: Readonly<Record<string, unknown>> = { features: [...CALIBRATED_FEATURES], reference_floor: REFERENCE_FLOOR };
  readonly epochs = 0;
  readonly usesCalibration = true;

  constructor(private readonly seed?: number) {}

  async fit(recordings: readonly TrainingRecording[], hooks: TrainHooks = {}): Promise<FitResult> {
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
    const detector = new CalibratedDetector(referencesFrom(cal, n));
    const trainScores = detector.scoreRecording({ avs: cal, n, tap: null });
    let maxScore = 0;
    for (const s of trainScores) if (s > maxScore) maxScore = s;
    return {
      detector,
      trainScores,
      maxScore,
      thresholds: thresholdsFrom(maxScore),
      examples: n,
      finalLoss: null,
      finalValLoss: null,
      epochs: 0,
      seed: this.seed ?? 0,
      ms: performance.now() - t0,
    };
  }
}
