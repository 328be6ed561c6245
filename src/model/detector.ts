/**
 * The one interface every chids detector implements (DESIGN.md §6, §9: "fit on windows, score a
 * window, save, load"): the CHIDS autoencoder, the sequence autoencoders (dense-seq, enhanced,
 * lstm, tcn) and the classic baselines (STIDE, BoSC).
 *
 * A detector sees a recording as its NON-EMPTY windows, in order (the windows that have an
 * anomaly vector, the ones `evaluate` scores), and gives exactly one score per window; higher
 * is more anomalous. Thresholds are the same for all: max(training score) × θ.
 *
 * Most detectors read the windows' anomaly vectors. STIDE and BoSC read the syscalls inside
 * each window instead: they provide an EventTap that the encode pipeline feeds during the same
 * single pass over the trace (src/encode/pipeline.ts, `ReadOptions.tap`).
 *
 * This module is free of TF.js.
 */
import type { NameTable } from '../trace/names.js';
import type { EventTap } from '../encode/pipeline.js';

/** The names `--model` accepts. */
export const MODEL_NAMES = ['chids', 'dense-seq', 'enhanced', 'lstm', 'tcn', 'stide', 'bosc'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export function isModelName(s: string): s is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(s);
}

/** A recording as a detector sees it. */
export interface RecordingInput {
  /** Anomaly vectors of the non-empty windows, `n × 3` row-major ([fi, usi, uai] per window). */
  avs: Float64Array;
  n: number;
  /** The tap this detector's newTap() returned, after the pipeline fed it the recording. */
  tap: EventTap | null;
}

export interface Detector {
  /** Registry name, as in the manifest's `model.type` (e.g. "lstm"). */
  readonly name: ModelName;
  /** Model kind as recorded with the saved model (e.g. "lstm-autoencoder"); evaluate reports it. */
  readonly kind: string;
  /** Every setting that defines the model (JSON-safe), for the manifest. */
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * For detectors that read syscalls: a fresh per-recording tap to hand to the encode pipeline.
   * `names` is the NameTable the pipeline interns syscall names into.
   */
  newTap?(names: NameTable): EventTap;
  /** One score per window (length n). Throws a ChidsError on bad input. */
  scoreRecording(rec: RecordingInput): Float64Array;
  /**
   * Live scoring, for detectors with a tap: call it when the encoder has just closed window
   * `window` (its onWindow callback) of the stream the tap is fed; returns that window's score
   * (the one scoreRecording would give it), or null when the tap saw no event in it. Keeps
   * nothing per window, so a stream of any length runs in constant memory.
   */
  scoreClosedWindow?(tap: EventTap, window: number): number | null;
  /** Writes the model under `dir/model/`; leaves no partial files if it throws. */
  save(dir: string): Promise<void>;
  /** Frees the model (tensors). Unusable afterwards. */
  dispose(): void;
}

/** One training recording, after the single pass. */
export interface TrainingRecording {
  /** Training anomaly vectors of its non-empty windows (`n × 3`). */
  avs: Float64Array;
  n: number;
  /** The tap from the trainer's trainingTap(), fed with this recording; null if none. */
  tap: EventTap | null;
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
  /** max(trainScores) × θ, for θ in THETAS. */
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
export interface DetectorTrainer {
  readonly name: ModelName;
  /** The settings the detector will have (for the manifest), with every default filled in. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Epochs the fit will run (0 for non-neural detectors). */
  readonly epochs: number;
  /** A fresh tap for one training trace, for detectors that read syscalls. */
  trainingTap?(names: NameTable): EventTap;
  fit(recordings: readonly TrainingRecording[], hooks?: TrainHooks): Promise<FitResult>;
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
