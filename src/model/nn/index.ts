/**
 * Detector models: the CHIDS autoencoder, its thresholds, and save/load in the
 * TF.js layers format (§7). Importing this module prints nothing.
 */
export { AV_FEATURES, packAVs, checkAVShape } from '../scorer.js';
export { THETAS, thresholdsFrom, maxOf } from '../thresholds.js';
export {
  CHIDS_KIND,
  CHIDS_LAYERS,
  CHIDS_DEFAULTS,
  ChidsScorer,
  chidsInitialWeights,
  deriveSeeds,
  loadChids,
  minTrainingRows,
  reconstructionErrors,
  trainChids,
  trainRowCount,
  type ChidsTrainOptions,
  type ChidsTrainResult,
} from './chids.js';
export { buildChidsModel, chidsForward, chidsLoss } from './chids-tf.js';
export { KerasAdam, KERAS_ADAM, type AdamOptions } from './adam.js';
export { MODEL_DIR, MODEL_JSON, WEIGHTS_BIN, loadLayersModelDir, saveLayersModel, type ModelCheck } from './io.js';
export { glorotUniform } from './glorot.js';
export { mulberry32, shuffleInPlace, randomSeed, isSeed } from '../../util/rng.js';
export { ensureTf, tf } from './tf.js';
// Every detector behind one interface: registry, interface, sequence windows.
export { MODEL_NAMES, MODELS, createTrainer, detectModel, inapplicableOptions, isModelName, loadDetector, type ModelInfo, type ModelOptions } from '../registry.js';
export type { Detector, DetectorTrainer, FitResult, ModelName, RecordingInput, TrainHooks, TrainingRecording } from '../detector.js';
export { buildSequences, sequenceCount, sequenceErrors, type SequenceBatch } from './sequences.js';
