/**
 * The CHIDS autoencoder (the paper's model; reference: ContainerHIDS `chids/ML/train_model.py`).
 *
 *     AV [fi, usi, uai]
 *       → Dense 2 sigmoid   (L1 activity regularization 0.01, training only)
 *       → Dense 1 sigmoid
 *       → Dense 1 sigmoid
 *       → Dense 2 sigmoid
 *       → Dense 3 sigmoid   = reconstruction
 *
 * Kernels are Glorot-uniform (Keras `glorot_uniform`), biases zero.
 *
 * Shape: the reference feeds AVs as `(N, 1, 3)`. A Keras Dense layer acts on the last axis
 * only, so `(N, 1, 3)` and `(N, 3)` give the same outputs, the same MSE (mean over the 3
 * features, then over the N·1 samples) and the same activity penalty (sum over all
 * activations, divided by the batch dimension N). We use `(N, 3)`.
 *
 * Training (Keras `model.fit(x, x, epochs=120, batch_size=50, validation_split=0.2)`):
 * - the last `n − floor(n·0.8)` rows are held out for validation, before any shuffling;
 * - the training rows are shuffled every epoch and cut into batches of 50, the last one partial;
 * - per batch: loss = MSE + 0.01·Σ|a1| / batch_size, where a1 is the first layer's output;
 *   this is how Keras adds an activity regularizer (TF.js Layers refuses to run a layer that
 *   has one, so a saved model records it in its metadata, and both engines add the penalty
 *   themselves);
 * - Adam with Keras' formula and defaults (adam-step.ts);
 * - the epoch's `loss` is the batch-size-weighted mean of the batch losses, each taken before
 *   its update (Keras' running mean); `val_loss` is the same loss on the held-out rows after
 *   the epoch.
 * Thresholds: the trained model reconstructs *all* input rows (training and validation, as
 * the reference predicts on its whole input); error = mean over the 3 features of the squared
 * difference, computed in float64 from the float32 prediction; threshold_i = max error × θ_i.
 *
 * Training, scoring, saving and loading run without TF.js (dense-net.ts, glorot.ts,
 * layers-json.ts): the net has 26 parameters, and TF.js's per-op bookkeeping cost ~20× the
 * arithmetic, besides ~0.45 s CPU and ~45 MB to load. The files are TF.js's layers-model format,
 * and the numbers are TF.js's: the same initial weights for a seed, scores equal to a TF.js
 * `predict` bit for bit, training within float32 tolerance of the TF.js engine (chids-tf.ts,
 * `engine: 'tfjs'`), which the tests compare.
 */
import { join } from 'node:path';
import { ChidsError, InputError } from '../../util/errors.js';
import { chidsVersion } from '../../util/package.js';
import { isSeed, mulberry32, nextUint32, randomSeed } from '../../util/rng.js';
import { identityOrder, runEpochs } from '../epochs.js';
import { AV_FEATURES, checkAVShape } from '../scorer.js';
import { maxOf, thresholdsFrom } from '../thresholds.js';
import { CHIDS_DEFAULTS, CHIDS_KIND, CHIDS_LAYERS, type ChidsEngineResult, type ChidsEngineRun } from './chids-spec.js';
import { DenseNet } from './dense-net.js';
import { glorotUniform } from './glorot.js';
import { checkDenseStack, readModelJson, readWeightsBin, writeModelDir, WEIGHTS_BIN, type LayersModelJson, type ModelCheck } from './layers-json.js';

export { CHIDS_DEFAULTS, CHIDS_KIND, CHIDS_LAYERS };

/** Layer widths, input first: 3 → 2 → 1 → 1 → 2 → 3. */
const WIDTHS: readonly number[] = [AV_FEATURES, ...CHIDS_LAYERS.map((l) => l.units)];

/**
 * The version of TF.js's layers format our model.json follows (its `keras_version` field):
 * the one the TF.js we depend on writes (a test compares our topology with TF.js's).
 */
const TFJS_LAYERS_FORMAT = 'tfjs-layers 4.22.0';

export interface ChidsTrainOptions {
  /** Default 120. */
  epochs?: number;
  /** Default 50. */
  batchSize?: number;
  /** Share of rows held out, taken from the end (Keras `validation_split`). Default 0.2; 0 = none. */
  validationSplit?: number;
  /** Adam learning rate. Default 0.001. */
  learningRate?: number;
  /** L1 activity regularization rate on the first layer. Default 0.01. */
  activityL1?: number;
  /**
   * uint32 seed for the initial weights and the per-epoch shuffles. Same seed and data ⇒
   * identical weights and thresholds. Omitted ⇒ a random seed, reported in the result.
   */
  seed?: number;
  /** Called after every epoch; `epoch` counts from 1. `valLoss` is null without validation rows. */
  onEpoch?: (epoch: number, loss: number, valLoss: number | null) => void;
  /** Aborting stops training after the current epoch with a ChidsError. */
  signal?: AbortSignal;
  /**
   * 'dense' (default): the training steps run in dense-net.ts, plain float32 loops, without
   * TF.js; 'tfjs': the same steps as TF.js ops (chids-tf.ts, loads TF.js). Both start from the
   * same weights, use the same shuffles and Keras' Adam, and agree within float32 tolerance
   * (test/dense-net.test.ts).
   */
  engine?: 'dense' | 'tfjs';
}

export interface ChidsTrainResult {
  scorer: ChidsScorer;
  /** `max(trainErrors) × θ` for θ in THETAS. */
  thresholds: number[];
  /** Reconstruction error of every input row (training and validation rows). */
  trainErrors: Float64Array;
  maxError: number;
  /** Training loss of the last epoch (MSE + activity penalty). */
  finalLoss: number;
  /** Validation loss after the last epoch; null without validation rows. */
  finalValLoss: number | null;
  /** Per-epoch losses, like Keras' `History`. */
  history: { loss: number[]; valLoss: (number | null)[] };
  epochs: number;
  trainRows: number;
  valRows: number;
  /** The seed used (the given one, or the random one drawn). */
  seed: number;
  /** Wall time of the whole call, including scoring for the thresholds. */
  ms: number;
}

/** Rows Keras trains on: `floor(n × (1 − validation_split))`. */
export function trainRowCount(n: number, validationSplit: number): number {
  return Math.floor(n * (1 - validationSplit));
}

/** The smallest row count that leaves at least one training row. */
export function minTrainingRows(validationSplit: number): number {
  let n = 1;
  while (trainRowCount(n, validationSplit) < 1) n++;
  return n;
}

/** The sub-seeds trainChids uses for the initial weights and for the shuffles. */
export function deriveSeeds(seed: number): { model: number; shuffle: number } {
  const rng = mulberry32(seed);
  const model = nextUint32(rng);
  return { model, shuffle: nextUint32(rng) };
}

/** The Glorot sub-seed of each layer's kernel, drawn from the model seed (as chids-tf.ts `buildChidsModel`). */
function layerSeeds(modelSeed: number): number[] {
  const rng = mulberry32(modelSeed);
  return CHIDS_LAYERS.map(() => nextUint32(rng));
}

/** The initial weights [k1, b1, …] for a model seed: Glorot-uniform kernels as TF.js draws them, zero biases. */
export function chidsInitialWeights(modelSeed: number): Float32Array[] {
  return layerSeeds(modelSeed).flatMap((s, i) => [glorotUniform(WIDTHS[i], WIDTHS[i + 1], s), new Float32Array(WIDTHS[i + 1])]);
}

/**
 * The model.json topology of the net, field for field as TF.js serialises its Sequential of
 * Dense layers (the initializers record their seeds; null when unknown).
 */
function chidsTopology(seeds: readonly (number | null)[]): LayersModelJson['modelTopology'] {
  return {
    class_name: 'Sequential',
    config: {
      name: 'chids_autoencoder',
      layers: CHIDS_LAYERS.map((l, i) => ({
        class_name: 'Dense',
        config: {
          units: l.units,
          activation: 'sigmoid',
          use_bias: true,
          kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: seeds[i] ?? null } },
          bias_initializer: { class_name: 'Zeros', config: {} },
          kernel_regularizer: null,
          bias_regularizer: null,
          activity_regularizer: null,
          kernel_constraint: null,
          bias_constraint: null,
          name: l.name,
          trainable: true,
          ...(i === 0 ? { batch_input_shape: [null, AV_FEATURES], dtype: 'float32' } : {}),
        },
      })),
    },
    keras_version: TFJS_LAYERS_FORMAT,
    backend: 'tensor_flow.js',
  };
}

function checkFinite(avs: Float64Array): void {
  for (let i = 0; i < avs.length; i++) {
    if (!Number.isFinite(avs[i])) {
      const row = Math.floor(i / AV_FEATURES);
      throw new ChidsError(`anomaly vector ${row} has a non-finite value (${avs[i]}) in feature ${i % AV_FEATURES}`);
    }
  }
}

function checkTrainOptions(o: Required<Omit<ChidsTrainOptions, 'onEpoch' | 'signal' | 'seed' | 'engine'>>): void {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new ChidsError(`${name} must be a positive integer, got ${v}`);
  };
  posInt('epochs', o.epochs);
  posInt('batch size', o.batchSize);
  if (!(o.validationSplit >= 0 && o.validationSplit < 1)) {
    throw new ChidsError(`validation split must be in [0, 1), got ${o.validationSplit}`);
  }
  if (!(o.learningRate > 0 && Number.isFinite(o.learningRate))) {
    throw new ChidsError(`learning rate must be a positive number, got ${o.learningRate}`);
  }
  if (!(o.activityL1 >= 0 && Number.isFinite(o.activityL1))) {
    throw new ChidsError(`activity L1 rate must be a non-negative number, got ${o.activityL1}`);
  }
}

/** Reconstruction errors: mean over the 3 features of (x̂ − x)², in float64 as numpy does. */
export function reconstructionErrors(avs: Float64Array, predicted: Float32Array, n: number, out = new Float64Array(n), offset = 0): Float64Array {
  for (let i = 0; i < n; i++) {
    const p = i * 3;
    const a = (offset + i) * 3;
    const d0 = predicted[p] - avs[a];
    const d1 = predicted[p + 1] - avs[a + 1];
    const d2 = predicted[p + 2] - avs[a + 2];
    out[offset + i] = (d0 * d0 + d1 * d1 + d2 * d2) / 3;
  }
  return out;
}

/** A trained (or loaded) CHIDS autoencoder. */
export class ChidsScorer {
  readonly kind = CHIDS_KIND;
  private net: DenseNet | null;

  /**
   * Use trainChids or loadChids. `params` are the weights [k1, b1, …] of the CHIDS topology;
   * `activityL1` the rate it was trained with, if known (recorded on save); `topology` what
   * model.json records of the layers (a loaded model keeps its own).
   */
  constructor(
    params: readonly Float32Array[],
    readonly activityL1: number | null = null,
    /**
     * Improved mode: each AV feature is divided by this before the network sees it (the
     * feature's largest calibration value), so the sigmoid outputs can reach the normal range
     * of every feature. Null: raw AVs, as the reference.
     */
    public inputScale: readonly [number, number, number] | null = null,
    private readonly topology: LayersModelJson['modelTopology'] = chidsTopology([]),
  ) {
    this.net = new DenseNet(WIDTHS, params.map((p) => Float32Array.from(p)));
  }

  private live(): DenseNet {
    if (this.net === null) throw new Error('ChidsScorer: used after dispose()');
    return this.net;
  }

  /** The reconstructions (float32), `n × 3` row-major. */
  reconstruct(avs: Float64Array, n: number): Float32Array {
    const net = this.live();
    checkAVShape(avs, n);
    checkFinite(avs);
    const out = new Float32Array(n * AV_FEATURES);
    net.predict(Float32Array.from(avs.subarray(0, n * AV_FEATURES)), n, out);
    return out;
  }

  scoreAVs(avs: Float64Array, n: number): Float64Array {
    const x = this.inputScale === null ? avs : scaleAVs(avs, this.inputScale);
    return reconstructionErrors(x, this.reconstruct(x, n), n);
  }

  /** Current weights, [kernel1, bias1, …] (copies). */
  weights(): Float32Array[] {
    return this.live().params.map((p) => Float32Array.from(p));
  }

  /**
   * Writes `dir/model/model.json` + `dir/model/weights.bin` in TF.js's layers-model format.
   * model.json's `userDefinedMetadata.chids` records the kind and, when known, the L1 activity
   * rate the first layer was trained with (the layer config cannot carry it: TF.js cannot run it).
   */
  save(dir: string): Promise<void> {
    const params = this.live().params;
    const chids: Record<string, unknown> = { kind: CHIDS_KIND, features: AV_FEATURES };
    if (this.activityL1 !== null) {
      chids['activityRegularization'] = { layer: CHIDS_LAYERS[0].name, l1: this.activityL1, appliedBy: 'chids training loop' };
    }
    if (this.inputScale !== null) chids['inputScale'] = [...this.inputScale];
    const names = layerNames(this.topology);
    const json: LayersModelJson = {
      modelTopology: this.topology,
      format: 'layers-model',
      generatedBy: `chids ${chidsVersion()}`,
      convertedBy: null,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs(names) }],
      userDefinedMetadata: { chids },
    };
    const bytes = new Uint8Array(params.reduce((a, p) => a + p.byteLength, 0));
    let o = 0;
    for (const p of params) {
      bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o);
      o += p.byteLength;
    }
    return writeModelDir(dir, json, bytes);
  }

  dispose(): void {
    this.net = null;
  }
}

/** Layer names of a CHIDS topology (ours, or a loaded model.json's). */
function layerNames(topology: LayersModelJson['modelTopology']): string[] {
  const layers = (topology.config as { layers?: { config?: { name?: unknown } }[] }).layers ?? [];
  return CHIDS_LAYERS.map((l, i) => {
    const name = layers[i]?.config?.name;
    return typeof name === 'string' ? name : l.name;
  });
}

/** The weights manifest: kernel and bias of each layer, named as TF.js names them. */
function weightSpecs(names: readonly string[]): LayersModelJson['weightsManifest'][0]['weights'] {
  return CHIDS_LAYERS.flatMap((l, i) => [
    { name: `${names[i]}/kernel`, shape: [WIDTHS[i], l.units], dtype: 'float32' as const },
    { name: `${names[i]}/bias`, shape: [l.units], dtype: 'float32' as const },
  ]);
}

/**
 * Trains the CHIDS autoencoder on `n` anomaly vectors (`avs`: n × 3, row-major) and derives the
 * ten thresholds. Throws a ChidsError for too few rows, non-finite values or bad options.
 */
export async function trainChids(avs: Float64Array, n: number, opts: ChidsTrainOptions = {}): Promise<ChidsTrainResult> {
  const t0 = performance.now();
  checkAVShape(avs, n);
  const o = {
    epochs: opts.epochs ?? CHIDS_DEFAULTS.epochs,
    batchSize: opts.batchSize ?? CHIDS_DEFAULTS.batchSize,
    validationSplit: opts.validationSplit ?? CHIDS_DEFAULTS.validationSplit,
    learningRate: opts.learningRate ?? CHIDS_DEFAULTS.learningRate,
    activityL1: opts.activityL1 ?? CHIDS_DEFAULTS.activityL1,
  };
  checkTrainOptions(o);
  if (opts.seed !== undefined && !isSeed(opts.seed)) {
    throw new ChidsError(`seed must be an integer in [0, 4294967295], got ${opts.seed}`);
  }
  const trainRows = trainRowCount(n, o.validationSplit);
  if (trainRows < 1) {
    throw new ChidsError(
      `need at least ${minTrainingRows(o.validationSplit)} windows to train, got ${n}` +
        (o.validationSplit > 0 ? ` (${Number((o.validationSplit * 100).toFixed(2))}% are held out for validation)` : ''),
    );
  }
  const valRows = n - trainRows;
  checkFinite(avs);

  const seed = opts.seed ?? randomSeed();
  const sub = deriveSeeds(seed);
  const run: ChidsEngineRun = {
    avs,
    n,
    trainRows,
    valRows,
    o,
    modelSeed: sub.model,
    loop: {
      epochs: o.epochs,
      order: identityOrder(trainRows),
      shuffle: mulberry32(sub.shuffle),
      signal: opts.signal,
      onEpoch: opts.onEpoch,
      divergedHint: 'are the anomaly vectors in range?',
    },
  };
  const { params, history } = opts.engine === 'tfjs' ? await (await import('./chids-tf.js')).trainChidsTfjs(run) : await trainDense(run);

  const scorer = new ChidsScorer(params, o.activityL1, null, chidsTopology(layerSeeds(sub.model)));
  const trainErrors = scorer.scoreAVs(avs, n);
  const maxError = maxOf(trainErrors);
  return {
    scorer,
    thresholds: thresholdsFrom(maxError),
    trainErrors,
    maxError,
    finalLoss: history.loss[history.loss.length - 1],
    finalValLoss: history.valLoss[history.valLoss.length - 1],
    history,
    epochs: o.epochs,
    trainRows,
    valRows,
    seed,
    ms: performance.now() - t0,
  };
}

/** trainChids's epochs with the steps in plain float32 (dense-net.ts). */
async function trainDense(run: ChidsEngineRun): Promise<ChidsEngineResult> {
  const { trainRows, valRows, o } = run;
  const net = new DenseNet(WIDTHS, chidsInitialWeights(run.modelSeed), { learningRate: o.learningRate });
  const x = Float32Array.from(run.avs);
  const history = await runEpochs({
    ...run.loop,
    trainEpoch: (order) => {
      // Σ batch_loss × batch_size in float32, as the TF.js engine sums it on the device.
      let weighted = 0;
      for (let s = 0; s < trainRows; s += o.batchSize) {
        const bs = Math.min(o.batchSize, trainRows - s);
        const value = net.trainBatch(x, order, s, bs, o.activityL1);
        weighted = Math.fround(weighted + Math.fround(value * bs));
      }
      return weighted;
    },
    validate: () => (valRows > 0 ? net.evalLoss(x, trainRows, valRows, o.activityL1) : null),
  });
  return { params: net.params, history };
}

/** What a loaded model must be: exactly the CHIDS topology. */
const chidsCheck: ModelCheck = {
  expectedWeightShapes: CHIDS_LAYERS.flatMap((l, i) => [[WIDTHS[i], l.units], [l.units]]),
  layerUnits: CHIDS_LAYERS.map((l) => l.units),
  inputWidth: AV_FEATURES,
  activation: 'sigmoid',
  kind: CHIDS_KIND,
};

/**
 * Loads a CHIDS autoencoder saved by `ChidsScorer.save(dir)` (`dir/model/model.json` +
 * `dir/model/weights.bin`), without TF.js. Any problem is a one-line ChidsError naming the file.
 */
export async function loadChids(dir: string): Promise<ChidsScorer> {
  const { jsonPath, binPath, mj } = await readModelJson(dir);
  const { names, specs } = checkDenseStack(jsonPath, mj, chidsCheck);
  // TF.js finds each weight by its name: a manifest naming another layer's weight cannot load.
  const expected = weightSpecs(names);
  specs.forEach((s, i) => {
    if (s.name !== expected[i].name) {
      throw new InputError(jsonPath, `cannot load the model: weight ${i + 1} is named "${s.name}", expected "${expected[i].name}"`);
    }
  });
  const data = await readWeightsBin(binPath, specs);
  const params: Float32Array[] = [];
  let offset = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    params.push(new Float32Array(data, offset, size));
    offset += size * 4;
  }
  const meta = (mj.userDefinedMetadata as { chids?: { activityRegularization?: { l1?: unknown }; inputScale?: unknown } } | undefined)?.chids;
  const l1 = meta?.activityRegularization?.l1;
  const scale = meta?.inputScale;
  if (scale !== undefined && !(Array.isArray(scale) && scale.length === AV_FEATURES && scale.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0))) {
    throw new InputError(join(dir, 'model', 'model.json'), 'userDefinedMetadata.chids.inputScale must be 3 positive numbers');
  }
  return new ChidsScorer(
    params,
    typeof l1 === 'number' && Number.isFinite(l1) ? l1 : null,
    (scale as [number, number, number] | undefined) ?? null,
    mj.modelTopology as LayersModelJson['modelTopology'],
  );
}

/** AVs (`n × 3`) with each feature divided by its scale. */
export function scaleAVs(avs: Float64Array, scale: readonly number[]): Float64Array {
  const out = new Float64Array(avs.length);
  for (let i = 0; i < avs.length; i += 3) {
    out[i] = avs[i] / scale[0];
    out[i + 1] = avs[i + 1] / scale[1];
    out[i + 2] = avs[i + 2] / scale[2];
  }
  return out;
}
