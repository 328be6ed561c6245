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
 *   this is how Keras adds an activity regularizer. TF.js Layers refuses to run a layer that
 *   has an activity regularizer, so the model is built without it and the training step here
 *   computes a1 explicitly and adds the penalty itself;
 * - Adam with Keras' formula and defaults (see adam.ts);
 * - the epoch's `loss` is the batch-size-weighted mean of the batch losses, each taken before
 *   its update (Keras' running mean); `val_loss` is the same loss on the held-out rows after
 *   the epoch.
 * Thresholds: the trained model reconstructs *all* input rows (training and validation, as
 * the reference predicts on its whole input); error = mean over the 3 features of the squared
 * difference, computed in float64 from the float32 prediction; threshold_i = max error × θ_i.
 */
import { join } from 'node:path';
import { ChidsError, InputError } from '../../util/errors.js';
import { KerasAdam, KERAS_ADAM } from './adam.js';
import { DenseNet } from './dense-net.js';
import { saveLayersModel, loadLayersModelDir, type ModelCheck } from './io.js';
import { isSeed, mulberry32, nextUint32, randomSeed, shuffleInPlace, type Rng } from '../../util/rng.js';
import { AV_FEATURES, checkAVShape } from '../scorer.js';
import { maxOf, thresholdsFrom } from '../thresholds.js';
import { ensureTf, tf } from './tf.js';

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

/** Rows per predict call when scoring. */
const SCORE_CHUNK = 10_000;

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
   * 'dense' (default): the training steps run in dense-net.ts, plain float32 loops (~20× less
   * CPU than TF.js on this ~40-parameter net); 'tfjs': the same steps as TF.js ops. Both start
   * from the same TF.js-initialised weights, use the same shuffles and Keras' Adam, and agree
   * within float32 tolerance (test/dense-net.test.ts).
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

/**
 * Builds the network (without the activity regularizer, which TF.js cannot run; see the file
 * comment). `seed` fixes the Glorot-uniform kernels: each layer gets its own sub-seed.
 */
export function buildChidsModel(seed: number): tf.Sequential {
  const rng = mulberry32(seed);
  const model = tf.sequential({ name: 'chids_autoencoder' });
  CHIDS_LAYERS.forEach((spec, i) => {
    model.add(
      tf.layers.dense({
        name: spec.name,
        units: spec.units,
        activation: 'sigmoid',
        useBias: true,
        kernelInitializer: tf.initializers.glorotUniform({ seed: nextUint32(rng) }),
        biasInitializer: 'zeros',
        ...(i === 0 ? { inputShape: [AV_FEATURES] } : {}),
      }),
    );
  });
  return model;
}

/** Kernel/bias variables of a CHIDS model, in layer order: [k1, b1, k2, b2, …]. */
function modelVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Forward pass with raw ops (same math as the Dense layers), exposing the first activation. */
export function chidsForward(vars: readonly tf.Tensor[], x: tf.Tensor2D): { a1: tf.Tensor2D; out: tf.Tensor2D } {
  let h = x;
  let a1: tf.Tensor2D | null = null;
  for (let l = 0; l < vars.length / 2; l++) {
    h = tf.sigmoid(tf.add(tf.matMul(h, vars[2 * l] as tf.Tensor2D), vars[2 * l + 1])) as tf.Tensor2D;
    if (l === 0) a1 = h;
  }
  return { a1: a1!, out: h };
}

/**
 * Keras' training loss for one batch: MSE(x, x̂) + l1·Σ|a1| / batch_size (the batch size is
 * the tensor's first dimension, as Keras takes `tf.shape(output)[0]`). `l1` and `batchSize`
 * may be given as ready-made scalars so the training loop does not create them every step.
 */
export function chidsLoss(
  vars: readonly tf.Tensor[],
  x: tf.Tensor2D,
  activityL1: number | tf.Scalar,
  batchSize?: tf.Scalar,
): tf.Scalar {
  const { a1, out } = chidsForward(vars, x);
  const mse = tf.mean(tf.square(tf.sub(out, x)));
  if (activityL1 === 0) return mse as tf.Scalar;
  const l1 = typeof activityL1 === 'number' ? tf.scalar(activityL1) : activityL1;
  const penalty = tf.div(tf.mul(l1, tf.sum(tf.abs(a1))), batchSize ?? tf.scalar(x.shape[0]));
  return tf.add(mse, penalty) as tf.Scalar;
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
  private disposed = false;

  /**
   * Use trainChids or loadChids; the model must have the CHIDS topology. `activityL1` is the
   * rate it was trained with, if known (recorded on save).
   */
  constructor(
    readonly model: tf.LayersModel,
    readonly activityL1: number | null = null,
    /**
     * Improved mode: each AV feature is divided by this before the network sees it (the
     * feature's largest calibration value), so the sigmoid outputs can reach the normal range
     * of every feature. Null: raw AVs, as the reference.
     */
    public inputScale: readonly [number, number, number] | null = null,
  ) {}

  private vars(): tf.Variable[] {
    if (this.disposed) throw new Error('ChidsScorer: used after dispose()');
    return modelVariables(this.model);
  }

  /** The reconstructions (float32), `n × 3` row-major. */
  reconstruct(avs: Float64Array, n: number): Float32Array {
    checkAVShape(avs, n);
    checkFinite(avs);
    const vars = this.vars();
    const out = new Float32Array(n * AV_FEATURES);
    for (let start = 0; start < n; start += SCORE_CHUNK) {
      const rows = Math.min(SCORE_CHUNK, n - start);
      const x = Float32Array.from(avs.subarray(start * 3, (start + rows) * 3));
      const y = tf.tidy(() => chidsForward(vars, tf.tensor2d(x, [rows, AV_FEATURES])).out);
      out.set(y.dataSync() as Float32Array, start * 3);
      y.dispose();
    }
    return out;
  }

  scoreAVs(avs: Float64Array, n: number): Float64Array {
    const x = this.inputScale === null ? avs : scaleAVs(avs, this.inputScale);
    return reconstructionErrors(x, this.reconstruct(x, n), n);
  }

  /** Current weights, [kernel1, bias1, …] (copies). */
  weights(): Float32Array[] {
    return this.vars().map((v) => Float32Array.from(v.dataSync() as Float32Array));
  }

  /**
   * Writes `dir/model/model.json` + `dir/model/weights.bin`. model.json's
   * `userDefinedMetadata.chids` records the kind and, when known, the L1 activity rate the
   * first layer was trained with (the layer config cannot carry it: TF.js cannot run it).
   */
  save(dir: string): Promise<void> {
    this.vars();
    const chids: Record<string, unknown> = { kind: CHIDS_KIND, features: AV_FEATURES };
    if (this.activityL1 !== null) {
      chids['activityRegularization'] = { layer: CHIDS_LAYERS[0].name, l1: this.activityL1, appliedBy: 'chids training loop' };
    }
    if (this.inputScale !== null) chids['inputScale'] = [...this.inputScale];
    return saveLayersModel(this.model, dir, { chids });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
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
  await ensureTf();

  const seed = opts.seed ?? randomSeed();
  const sub = deriveSeeds(seed);
  const model = buildChidsModel(sub.model);
  const shuffleRng = mulberry32(sub.shuffle);
  const vars = modelVariables(model);
  const adam = new KerasAdam(vars, { learningRate: o.learningRate });

  const x = tf.tensor2d(Float32Array.from(avs), [n, AV_FEATURES]);
  const xTrain = valRows > 0 ? x.slice([0, 0], [trainRows, AV_FEATURES]) : x;
  const xVal = valRows > 0 ? x.slice([trainRows, 0], [valRows, AV_FEATURES]) : null;
  const batchSizes: number[] = [];
  for (let s = 0; s < trainRows; s += o.batchSize) batchSizes.push(Math.min(o.batchSize, trainRows - s));
  const bsScalars = new Map<number, tf.Scalar>();
  for (const bs of batchSizes) if (!bsScalars.has(bs)) bsScalars.set(bs, tf.scalar(bs));
  const l1 = tf.scalar(o.activityL1);
  const order = new Int32Array(trainRows);
  for (let i = 0; i < trainRows; i++) order[i] = i;

  const history: ChidsTrainResult['history'] = { loss: [], valLoss: [] };
  let ok = false;
  try {
    if (opts.engine !== 'tfjs') {
      await trainDense(avs, n, trainRows, valRows, o, vars, order, shuffleRng, history, opts);
    } else for (let epoch = 1; epoch <= o.epochs; epoch++) {
      if (opts.signal?.aborted) throw new ChidsError(`training cancelled at epoch ${epoch} of ${o.epochs}`);
      shuffleInPlace(order, shuffleRng);
      const batches = tf.tidy(() => {
        const shuffled = tf.gather(xTrain, tf.tensor1d(order.slice(), 'int32'));
        return batchSizes.length === 1 ? [shuffled] : tf.split(shuffled, batchSizes);
      });
      // Σ batch_loss × batch_size, kept on the device: one read per epoch.
      let weighted: tf.Scalar = tf.scalar(0);
      try {
        for (const xb of batches) {
          const next = tf.tidy(() => {
            const bs = bsScalars.get(xb.shape[0])!;
            const l1OrZero = o.activityL1 === 0 ? 0 : l1;
            const { value, grads } = tf.variableGrads(() => chidsLoss(vars, xb as tf.Tensor2D, l1OrZero, bs), vars);
            adam.apply(vars.map((v) => grads[v.name]));
            return tf.add(weighted, tf.mul(value, bs)) as tf.Scalar;
          });
          weighted.dispose();
          weighted = next;
        }
      } catch (err) {
        weighted.dispose();
        throw err;
      } finally {
        for (const b of batches) b.dispose();
      }
      const loss = (weighted.dataSync()[0] ?? NaN) / trainRows;
      weighted.dispose();
      if (!Number.isFinite(loss)) {
        throw new ChidsError(`training diverged at epoch ${epoch} (loss ${loss}); are the anomaly vectors in range?`);
      }
      let valLoss: number | null = null;
      if (xVal !== null) {
        const v = tf.tidy(() => chidsLoss(vars, xVal, o.activityL1));
        valLoss = v.dataSync()[0] ?? NaN;
        v.dispose();
      }
      history.loss.push(loss);
      history.valLoss.push(valLoss);
      opts.onEpoch?.(epoch, loss, valLoss);
      // Let timers, signals and progress output run between epochs.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    ok = true;
  } finally {
    adam.dispose();
    for (const s of bsScalars.values()) s.dispose();
    l1.dispose();
    if (xVal !== null) {
      xVal.dispose();
      xTrain.dispose();
    }
    x.dispose();
    if (!ok) model.dispose();
  }

  const scorer = new ChidsScorer(model, o.activityL1);
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

/**
 * The epochs of trainChids with the steps in plain float32 (dense-net.ts): same initial
 * weights (read from the TF.js variables), same shuffles, same batches, same loss bookkeeping;
 * the trained weights are written back into the variables.
 */
async function trainDense(
  avs: Float64Array,
  n: number,
  trainRows: number,
  valRows: number,
  o: { epochs: number; batchSize: number; learningRate: number; activityL1: number },
  vars: tf.Variable[],
  order: Int32Array,
  shuffleRng: Rng,
  history: ChidsTrainResult['history'],
  opts: ChidsTrainOptions,
): Promise<void> {
  const widths = [AV_FEATURES, ...CHIDS_LAYERS.map((l) => l.units)];
  const net = new DenseNet(widths, vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)), { learningRate: o.learningRate });
  const x = Float32Array.from(avs);
  void n;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    if (opts.signal?.aborted) throw new ChidsError(`training cancelled at epoch ${epoch} of ${o.epochs}`);
    shuffleInPlace(order, shuffleRng);
    let weighted = 0;
    for (let s = 0; s < trainRows; s += o.batchSize) {
      const bs = Math.min(o.batchSize, trainRows - s);
      const value = net.trainBatch(x, order, s, bs, o.activityL1);
      weighted = Math.fround(weighted + Math.fround(value * bs));
    }
    const loss = weighted / trainRows;
    if (!Number.isFinite(loss)) {
      throw new ChidsError(`training diverged at epoch ${epoch} (loss ${loss}); are the anomaly vectors in range?`);
    }
    const valLoss = valRows > 0 ? net.evalLoss(x, trainRows, valRows, o.activityL1) : null;
    history.loss.push(loss);
    history.valLoss.push(valLoss);
    opts.onEpoch?.(epoch, loss, valLoss);
    // Let timers, signals and progress output run between epochs.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(net.params[i], v.shape, 'float32'))));
}

/** Checks a loaded model has exactly the CHIDS topology (used by loadChids). */
const chidsCheck: ModelCheck = {
  expectedWeightShapes: CHIDS_LAYERS.flatMap((l, i) => {
    const fanIn = i === 0 ? AV_FEATURES : CHIDS_LAYERS[i - 1].units;
    return [
      [fanIn, l.units],
      [l.units],
    ];
  }),
  layerUnits: CHIDS_LAYERS.map((l) => l.units),
  inputWidth: AV_FEATURES,
  activation: 'sigmoid',
  kind: CHIDS_KIND,
};

/**
 * Loads a CHIDS autoencoder saved by `ChidsScorer.save(dir)` (`dir/model/model.json` +
 * `dir/model/weights.bin`). Any problem is a one-line ChidsError naming the file.
 */
export async function loadChids(dir: string): Promise<ChidsScorer> {
  await ensureTf();
  const model = await loadLayersModelDir(dir, chidsCheck);
  const meta = (model.getUserDefinedMetadata() as { chids?: { activityRegularization?: { l1?: unknown }; inputScale?: unknown } } | undefined)?.chids;
  const l1 = meta?.activityRegularization?.l1;
  const scale = meta?.inputScale;
  if (scale !== undefined && !(Array.isArray(scale) && scale.length === AV_FEATURES && scale.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0))) {
    model.dispose();
    throw new InputError(join(dir, 'model', 'model.json'), 'userDefinedMetadata.chids.inputScale must be 3 positive numbers');
  }
  return new ChidsScorer(model, typeof l1 === 'number' && Number.isFinite(l1) ? l1 : null, (scale as [number, number, number] | undefined) ?? null);
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
