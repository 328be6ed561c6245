/**
 * What both engines of the CHIDS autoencoder share (chids.ts in plain float32, chids-tf.ts in
 * TF.js): the layers, the reference's hyper-parameters, and what one training run is given.
 */
import type { EpochLoop, TrainHistory } from '../epochs.js';
import { KERAS_ADAM } from './adam-step.js';

/** The `kind` of the CHIDS autoencoder, as recorded in a baseline's manifest. */
export const CHIDS_KIND = 'chids-autoencoder';

/** Layer names and widths, in order. `encoder` carries the L1 activity penalty. */
export const CHIDS_LAYERS: readonly { readonly name: string; readonly units: number }[] = Object.freeze([
  { name: 'encoder', units: 2 },
  { name: 'bottleneck', units: 1 },
  { name: 'decoder_1', units: 1 },
  { name: 'decoder_2', units: 2 },
  { name: 'reconstruction', units: 3 },
]);

/** Reference hyper-parameters (ContainerHIDS `chids/conf/config.py`). */
export const CHIDS_DEFAULTS = Object.freeze({
  epochs: 120,
  batchSize: 50,
  validationSplit: 0.2,
  learningRate: KERAS_ADAM.learningRate,
  activityL1: 0.01,
});

/** One training run, as trainChids hands it to an engine. */
export interface ChidsEngineRun {
  /** n × 3 anomaly vectors; the first `trainRows` train, the rest validate. */
  avs: Float64Array;
  n: number;
  trainRows: number;
  valRows: number;
  o: { epochs: number; batchSize: number; learningRate: number; activityL1: number };
  /** Seed of the initial weights (one Glorot sub-seed per layer is drawn from it). */
  modelSeed: number;
  /** The epoch loop's settings (epochs, shuffled order, cancellation, progress); the engine adds its steps. */
  loop: Omit<EpochLoop, 'trainEpoch' | 'validate'>;
}

/** What an engine returns: the trained weights [k1, b1, k2, b2, …] and the per-epoch losses. */
export interface ChidsEngineResult {
  params: Float32Array[];
  history: TrainHistory;
}
