/**
 * The one protocol every chids detector implements — fit on windows, score a window, save, load —
 * used alike by evaluate, compare and monitor: the CHIDS autoencoder, the sequence autoencoders
 * (dense-seq, enhanced, lstm, tcn) and the classic baselines (STIDE, BoSC).
 *
 * A detector sees a recording as its NON-EMPTY windows, in order (the windows that have an
 * anomaly vector, the ones `evaluate` scores), and gives exactly one score per window; higher
 * is more anomalous. Thresholds are (a bound of the training scores) × θ: max(training score)
 * for the autoencoders; for STIDE and BoSC, whose training scores are leave-one-out scores,
 * a robust upper bound that one outlying window cannot set (thresholds.ts, noveltyCalibration).
 *
 * What a detector reads is explicit (`reads`): the windows' anomaly vectors, or the syscalls
 * inside each window, which it collects through its own EventTap that the encode pipeline feeds
 * during the same single pass over the trace (src/encode/pipeline.ts, `ReadOptions.tap`). The tap
 * type is the detector's own (`Tap`), so a detector never has to check at run time what it was
 * handed.
 *
 * This module is free of TF.js.
 */
import type { NameTable } from '../trace/names.js';
import type { EventTap } from '../encode/pipeline.js';

/** The names `--model` accepts. */
export const MODEL_NAMES = ['calibrated', 'chids', 'dense-seq', 'enhanced', 'lstm', 'tcn', 'stide', 'bosc'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** The detector `baseline` trains when no --model is given. */
export const DEFAULT_MODEL: ModelName = 'calibrated';

export function isModelName(s: string): s is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(s);
}

/** A recording as a detector sees it. */
export interface RecordingInput<Tap extends EventTap = EventTap> {
  /** Anomaly vectors of the non-empty windows, `n × 3` row-major ([fi, usi, uai] per window). */
  avs: Float64Array;
  n: number;
  /** The tap this detector's newTap() returned, after the pipeline fed it the recording. */
  tap: Tap | null;
  /**
   * Improved mode: each window's unseen activity by source, `n × 2` ([paths, commands]: the
   * encoder's EncodedWindow.split). Absent in faithful mode or from callers that do not keep it.
   */
  split?: Float64Array;
}

/**
 * A stream as it stands when the encoder has just closed a window: the anomaly vectors of the
 * last non-empty windows (at most the detector's `history`, oldest first, `n × 3`; fewer at the
 * start of a stream) and, for detectors that read syscalls, their tap and the closed window's
 * index.
 */
export interface ClosedWindow<Tap extends EventTap = EventTap> {
  avs: Float64Array;
  n: number;
  tap: Tap | null;
  window: number;
  /** The closed window's EncodedWindow.split ([paths, commands]), when the encoder gave one. */
  split?: ArrayLike<number>;
}

export interface Detector<Tap extends EventTap = EventTap> {
  /** Registry name, as in the manifest's `model.type` (e.g. "lstm"). */
  readonly name: ModelName;
  /** Model kind as recorded with the saved model (e.g. "lstm-autoencoder"); evaluate reports it. */
  readonly kind: string;
  /** Every setting that defines the model (JSON-safe), for the manifest. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** What the scores come from: the windows' anomaly vectors, or the syscalls (through the tap). */
  readonly reads: 'vectors' | 'syscalls';
  /** Anomaly vectors of context `scoreWindow` needs: 1 for one window, T for a sequence model, 0 when it reads syscalls. */
  readonly history: number;
  /**
   * For detectors that read syscalls: a fresh per-recording (or per-stream) tap to hand to the
   * encode pipeline. `names` is the NameTable the pipeline interns syscall names into.
   */
  newTap?(names: NameTable): Tap;
  /**
   * One score per window (length n). Throws a ChidsError on bad input. Causal: window i's score
   * depends only on windows 0 … i (the events up to its end), so a recording cut short keeps
   * the scores of its complete windows and streaming scoring (scoreWindow) can match it.
   */
  scoreRecording(rec: RecordingInput<Tap>): Float64Array;
  /**
   * Streaming scoring: the score of the window that just closed (the one scoreRecording would give
   * it, as far as the stream so far determines it), or null when there is nothing to score (no
   * event of this detector's in it). Keeps nothing per window, so a stream of any length runs in
   * constant memory.
   */
  scoreWindow(w: ClosedWindow<Tap>): number | null;
  /**
   * For detectors whose score is a ratio of one feature to a reference (calibrated): which
   * feature gave `score`, the score of the window whose AV ([fi, usi, uai]) is `av`, and by how much.
   */
  explain?(av: ArrayLike<number>, score?: number, split?: ArrayLike<number>): WindowExplanation;
  /** Writes the model under `dir/model/`; leaves no partial files if it throws. */
  save(dir: string): Promise<void>;
  /** Frees the model (tensors). Unusable afterwards. */
  dispose(): void;
}

/** Why a window scored what it did: score = value / reference of one feature. */
export interface WindowExplanation {
  /** The feature that gave the score (calibrated: "fi", "unseen" = usi + uai
   * (since calibrated.json version 4: that of paths, the graph with command shapes taken as seen),
   * "commands" = uai of unseen command shapes, or "novel" = unseen n-grams). */
  feature: string;
  value: number;
  /** The feature's normal bound (floored): its largest value over the normal calibration windows, or a bound above that. */
  reference: number;
  /** value / reference: the window's score. */
  ratio: number;
  /** The feature's largest normal value, when `reference` is a bound above it (calibrated fi since calibrated.json version 3). */
  maximum?: number;
}

/** One training recording, after the single pass. */
export interface TrainingRecording<Tap extends EventTap = EventTap> {
  /** Training anomaly vectors of its non-empty windows (`n × 3`). */
  avs: Float64Array;
  n: number;
  /** The tap from the trainer's trainingTap(), fed with this recording; null if none. */
  tap: Tap | null;
  /**
   * Calibration vectors of the same windows (`n × 3`): encoded against the vocabulary of the
   * other training recordings (src/encode/calibration.ts). Given when the trainer asks for them.
   */
  calibration?: Float64Array;
  /** The calibration windows' unseen activity by source (`n × 2`, [paths, commands]; improved mode). */
  calibrationSplit?: Float64Array;
  /** Recording path (for messages). */
  file: string;
}

export interface TrainHooks {
  onTrainStart?(windows: number, epochs: number): void;
  onEpoch?(epoch: number, epochs: number, loss: number, valLoss: number | null): void;
  signal?: AbortSignal;
}

export interface FitResult {
  detector: Detector;
  /** Score of every training window, recording after recording (what the thresholds come from). */
  trainScores: Float64Array;
  maxScore: number;
  /** base × θ for θ in THETAS; base = maxScore, or STIDE's and BoSC's robust bound (settings.threshold). */
  thresholds: number[];
  /** Number of training examples the model was fitted on (AVs, sequences, n-grams or bags). */
  examples: number;
  /** Last epoch's training / validation loss (null for non-neural detectors). */
  finalLoss: number | null;
  finalValLoss: number | null;
  /** Epochs run (0 for non-neural detectors). */
  epochs: number;
  /** Seed used (random when none was given), recorded so the run can be repeated. */
  seed: number;
  /** Wall time of fit, including the training scores. */
  ms: number;
}

/** Builds one detector: taps the training traces (if it reads syscalls), then fits. */
export interface DetectorTrainer<Tap extends EventTap = EventTap> {
  readonly name: ModelName;
  /** The settings the detector will have (for the manifest), with every default filled in. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Epochs the fit will run (0 for non-neural detectors). */
  readonly epochs: number;
  /** A fresh tap for one training trace, for detectors that read syscalls. */
  trainingTap?(names: NameTable): Tap;
  /** Does fit() read the calibration vectors (so baseline must compute them)? */
  readonly usesCalibration?: boolean;
  fit(recordings: readonly TrainingRecording<Tap>[], hooks?: TrainHooks): Promise<FitResult>;
}

/** scoreWindow for detectors that read anomaly vectors: the last window's score over the history given. */
export function scoreLastVector(det: Pick<Detector, 'scoreRecording'>, w: ClosedWindow): number | null {
  if (w.n === 0) return null;
  return det.scoreRecording({ avs: w.avs.subarray(0, 3 * w.n), n: w.n, tap: null })[w.n - 1];
}

/** Concatenates the recordings' AVs (recording order), as the CHIDS autoencoder trains on them. */
export function concatAVs(recs: readonly { avs: Float64Array; n: number }[]): { avs: Float64Array; n: number } {
  let n = 0;
  for (const r of recs) n += r.n;
  const avs = new Float64Array(n * 3);
  let o = 0;
  for (const r of recs) {
    avs.set(r.avs.subarray(0, r.n * 3), o);
    o += r.n * 3;
  }
  return { avs, n };
}
