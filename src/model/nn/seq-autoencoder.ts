/**
 * What the four sequence autoencoders (dense-seq, enhanced, lstm, tcn) share: hyper-parameters,
 * the training loop, scoring over sliding sequences, save and load. Each architecture file only
 * builds its network (a tf.Sequential from `(T, 3)` to `(T, 3)`).
 *
 * Training (the same as the CHIDS autoencoder's where it can be, see chids.ts):
 * - examples: the sequence ending at each window of every training recording (sequences.ts:
 *   the T windows up to it, padded and masked at the start of a recording);
 * - the last `validation_split` of the sequences are held out (Keras), before shuffling;
 * - shuffled every epoch by the seeded PRNG, batches of `batch_size`, the last one partial;
 * - loss = masked MSE (mean of (x̂ − x)² over the real steps and the 3 features of the batch)
 *   + reg_rate · Σ|a| / batch_size for the layer with an L1 activity penalty (Keras' activity
 *   regularizer, which TF.js cannot run, written out as in chids.ts)
 *   + Σ rate · ‖W‖² for kernels with an L2 penalty (Keras' kernel_regularizer);
 * - Keras' Adam (adam.ts), in float32;
 * - layers run in training mode (batch statistics in batch norm, dropout on); TF.js's
 *   `model.apply` cannot pass `training` through a model, so the layers are applied one by one
 *   (every architecture here is a chain), carrying masks the way TF.js does.
 *
 * Reproducibility: every initializer takes a sub-seed of `--seed`; dropout draws its masks from
 * TF.js's unseeded generator, which seeds itself from Math.random(), so each training step
 * runs with Math.random temporarily replaced by the run's seeded PRNG (a synchronous section:
 * nothing else can observe it).
 *
 * Scores: a window's score is the masked mean squared reconstruction error of the sequence
 * that ends at it (sequences.ts), so it reads no window after it (causal).
 */
import { ChidsError, InputError } from '../../util/errors.js';
import { readJsonFile } from '../../util/json.js';
import { KerasAdam, KERAS_ADAM } from './adam.js';
import { type ClosedWindow, type Detector, type FitResult, type ModelName, type RecordingInput, type TrainHooks, type TrainingRecording } from '../detector.js';
import { loadLayersModelAny, saveLayersModel } from './io.js';
import { isSeed, mulberry32, nextUint32, randomSeed, type Rng } from '../../util/rng.js';
import { batchSizes, identityOrder, runEpochs, type TrainHistory } from '../epochs.js';
import { AV_FEATURES, checkAVShape } from '../scorer.js';
import { buildSequences, sequenceErrors, type SequenceBatch } from './sequences.js';
import { maxOf, thresholdsFrom } from '../thresholds.js';
import { ensureTf, tf } from './tf.js';

/** Hyper-parameters every sequence autoencoder takes (defaults: the reference configuration's). */
export interface SeqHyper {
  /** T: windows per sequence. */
  seqLen: number;
  /** ENCODING_DIM: width of the encoding layers (per step, or units / filters; see each model). */
  encodingDim: number;
  /** BOTTLENECK: width of the bottleneck. */
  bottleneck: number;
  /** REG_RATE: L1 activity regularization rate (models that have one). */
  regRate: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  validationSplit: number;
  /**
   * When > 0 (epochs not given by the user), train at least this many gradient steps: small
   * training sets (a few dozen sequences, one batch per epoch) get more epochs, up to
   * MAX_AUTO_EPOCHS. 0: exactly `epochs`.
   */
  minSteps: number;
}

/** Upper bound of the epochs minSteps can ask for. */
export const MAX_AUTO_EPOCHS = 2000;

/** Epochs a fit runs: `epochs`, or more when minSteps asks for them. */
export function epochsFor(hp: Pick<SeqHyper, 'epochs' | 'minSteps'>, batchesPerEpoch: number): number {
  if (!(hp.minSteps > 0) || batchesPerEpoch < 1) return hp.epochs;
  return Math.max(hp.epochs, Math.min(MAX_AUTO_EPOCHS, Math.ceil(hp.minSteps / batchesPerEpoch)));
}

export const SEQ_DEFAULTS: Readonly<Omit<SeqHyper, 'epochs' | 'batchSize' | 'minSteps'>> = Object.freeze({
  seqLen: 10,
  encodingDim: 2,
  bottleneck: 1,
  regRate: 0.01,
  learningRate: KERAS_ADAM.learningRate,
  validationSplit: 0.2,
});

/** A built network and where its penalties apply. */
export interface BuiltNet {
  model: tf.Sequential;
  /** Index (in model.layers) of the layer whose output carries the L1 activity penalty, or null. */
  activityLayer: number | null;
  /** Layers whose `kernel` carries an L2 penalty, and the rate. */
  l2: { layers: readonly number[]; rate: number } | null;
}

export interface SeqArchitecture {
  name: Extract<ModelName, 'dense-seq' | 'enhanced' | 'lstm' | 'tcn'>;
  /** Kind recorded with the saved model. */
  kind: string;
  /** Value of padded steps (the LSTM's Masking layer skips it; others never see it in the loss). */
  padValue: number;
  /** One line for the README and --help. */
  summary: string;
  /** Builds the network; `seed` fixes every initializer. */
  build(hp: SeqHyper, seed: number): BuiltNet;
  /** Fixed architecture constants, for the manifest. */
  constants: Readonly<Record<string, unknown>>;
}

/** Rows per forward pass when scoring. */
const SCORE_CHUNK = 4096;

type Kwargs = { training: boolean; mask?: tf.Tensor };

/**
 * Runs the chain of layers on `x`, carrying masks like TF.js's graph executor, in training or
 * inference mode. Returns the output and, if asked, the output of layer `capture`.
 */
export function forwardLayers(model: tf.LayersModel, x: tf.Tensor, training: boolean, capture: number | null = null): { out: tf.Tensor; captured: tf.Tensor | null } {
  let h = x;
  let mask: tf.Tensor | undefined;
  let captured: tf.Tensor | null = null;
  const layers = model.layers;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const kwargs: Kwargs = { training };
    if (mask !== undefined) kwargs.mask = mask;
    const y = layer.apply(h, kwargs) as tf.Tensor;
    const m = layer.computeMask(h, mask) as tf.Tensor | tf.Tensor[] | null;
    mask = m === null || Array.isArray(m) ? undefined : m;
    h = y;
    if (i === capture) captured = y;
  }
  return { out: h, captured };
}

/** Runs `fn` with Math.random replaced by `rng` (TF.js seeds its unseeded ops from it). */
function withRandom<T>(rng: Rng, fn: () => T): T {
  const saved = Math.random;
  Math.random = rng;
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}

function checkFinite(avs: Float64Array, n: number): void {
  for (let i = 0; i < n * AV_FEATURES; i++) {
    if (!Number.isFinite(avs[i])) {
      throw new ChidsError(`anomaly vector ${Math.floor(i / AV_FEATURES)} has a non-finite value (${avs[i]}) in feature ${i % AV_FEATURES}`);
    }
  }
}

/**
 * Longest sequence a model may have. Scoring costs T model steps per window, so a hand-edited
 * model.json asking for T = 1000 made an LSTM spend seconds on 80 windows (and T = 10⁵ ran out
 * of memory): the length is bounded where it is read, not trusted. 256 is 25× the default.
 */
export const MAX_SEQ_LEN = 256;

export function checkSeqHyper(hp: SeqHyper): void {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new ChidsError(`${name} must be a positive integer, got ${v}`);
  };
  posInt('sequence length', hp.seqLen);
  if (hp.seqLen > MAX_SEQ_LEN) throw new ChidsError(`sequence length must be at most ${MAX_SEQ_LEN}, got ${hp.seqLen}`);
  posInt('encoding dim', hp.encodingDim);
  posInt('bottleneck', hp.bottleneck);
  posInt('epochs', hp.epochs);
  posInt('batch size', hp.batchSize);
  if (!(hp.regRate >= 0 && Number.isFinite(hp.regRate))) throw new ChidsError(`reg rate must be a non-negative number, got ${hp.regRate}`);
  if (!(hp.learningRate > 0 && Number.isFinite(hp.learningRate))) throw new ChidsError(`learning rate must be a positive number, got ${hp.learningRate}`);
  if (!(hp.validationSplit >= 0 && hp.validationSplit < 1)) throw new ChidsError(`validation split must be in [0, 1), got ${hp.validationSplit}`);
}

/** The manifest's record of a sequence model: hyper-parameters plus the architecture's constants. */
export function seqSettings(arch: SeqArchitecture, hp: SeqHyper): Record<string, unknown> {
  return {
    seq_len: hp.seqLen,
    encoding_dim: hp.encodingDim,
    bottleneck: hp.bottleneck,
    reg_rate: hp.regRate,
    optimizer: 'adam',
    learning_rate: hp.learningRate,
    loss: 'masked mse',
    epochs: hp.epochs,
    ...(hp.minSteps > 0 ? { min_steps: hp.minSteps } : {}),
    batch_size: hp.batchSize,
    validation_split: hp.validationSplit,
    pad_value: arch.padValue,
    score: 'masked MSE of the T windows ending at the window (start of a recording: padded, masked)',
    ...arch.constants,
  };
}

/** A trained (or loaded) sequence autoencoder. */
export class SeqDetector implements Detector {
  readonly name: SeqArchitecture['name'];
  readonly kind: string;
  readonly reads = 'vectors' as const;
  private disposed = false;

  constructor(
    readonly arch: SeqArchitecture,
    readonly model: tf.LayersModel,
    readonly seqLen: number,
    readonly settings: Readonly<Record<string, unknown>>,
  ) {
    this.name = arch.name;
    this.kind = arch.kind;
  }

  /** A window's score needs the T windows that end with it. */
  get history(): number {
    return this.seqLen;
  }

  /** Streaming: only the sequence that ends at the closed window (scoreRecording's score for it). */
  scoreWindow(w: ClosedWindow): number | null {
    if (w.n === 0) return null;
    return this.sequenceErrors(w.avs.subarray(0, 3 * w.n), w.n, w.n - 1)[0];
  }

  private live(): tf.LayersModel {
    if (this.disposed) throw new Error(`${this.kind}: used after dispose()`);
    return this.model;
  }

  /** Reconstructions of a batch of sequences (`count × T × 3`, float32). */
  reconstruct(batch: SequenceBatch): Float32Array {
    const model = this.live();
    const T = batch.seqLen;
    const step = T * AV_FEATURES;
    const out = new Float32Array(batch.count * step);
    for (let start = 0; start < batch.count; start += SCORE_CHUNK) {
      const rows = Math.min(SCORE_CHUNK, batch.count - start);
      const y = tf.tidy(() => forwardLayers(model, tf.tensor3d(batch.x.subarray(start * step, (start + rows) * step), [rows, T, AV_FEATURES]), false).out);
      out.set(y.dataSync() as Float32Array, start * step);
      y.dispose();
    }
    return out;
  }

  /** Errors of the sequences ending at windows from … n−1 (one per window). */
  sequenceErrors(avs: Float64Array, n: number, from = 0): Float64Array {
    checkAVShape(avs, n);
    checkFinite(avs, n);
    const batch = buildSequences([{ avs, n }], this.seqLen, this.arch.padValue, from);
    return sequenceErrors(batch, this.reconstruct(batch));
  }

  scoreRecording(rec: RecordingInput): Float64Array {
    if (rec.n === 0) return new Float64Array(0);
    return this.sequenceErrors(rec.avs, rec.n);
  }

  save(dir: string): Promise<void> {
    this.live();
    return saveLayersModel(this.model, dir, {
      chids: { kind: this.kind, model: this.name, features: AV_FEATURES, seq_len: this.seqLen, pad_value: this.arch.padValue, settings: this.settings },
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Sub-seeds: initial weights, shuffles, dropout. */
function subSeeds(seed: number): { model: number; shuffle: number; dropout: number } {
  const rng = mulberry32(seed);
  return { model: nextUint32(rng), shuffle: nextUint32(rng), dropout: nextUint32(rng) };
}

/**
 * Trains a sequence autoencoder on the training recordings' AVs and derives the thresholds
 * from the per-window scores of every training recording.
 */
export async function trainSequenceModel(
  arch: SeqArchitecture,
  hp: SeqHyper,
  recordings: readonly TrainingRecording[],
  seedOpt: number | undefined,
  hooks: TrainHooks = {},
): Promise<FitResult> {
  const t0 = performance.now();
  checkSeqHyper(hp);
  if (seedOpt !== undefined && !isSeed(seedOpt)) throw new ChidsError(`seed must be an integer in [0, 4294967295], got ${seedOpt}`);
  for (const r of recordings) {
    checkAVShape(r.avs, r.n);
    checkFinite(r.avs, r.n);
  }
  const batch = buildSequences(recordings, hp.seqLen, arch.padValue);
  const S = batch.count;
  const trainRows = Math.floor(S * (1 - hp.validationSplit));
  if (trainRows < 1) {
    throw new ChidsError(
      `need more training windows: ${S} sequence${S === 1 ? '' : 's'} of ${hp.seqLen} windows` +
        (hp.validationSplit > 0 ? `, of which ${Math.round(hp.validationSplit * 100)}% are held out for validation` : ''),
    );
  }
  const valRows = S - trainRows;
  await ensureTf();
  const seed = seedOpt ?? randomSeed();
  const sub = subSeeds(seed);
  const net = arch.build(hp, sub.model);
  const model = net.model;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const adam = new KerasAdam(vars, { learningRate: hp.learningRate });
  const shuffleRng = mulberry32(sub.shuffle);
  const dropoutRng = mulberry32(sub.dropout);
  const T = hp.seqLen;
  const l2Kernels = (net.l2?.layers ?? []).map((i) => {
    // TF.js makes variable names unique per process ("encoder/kernel_1"): match the stem.
    const k = model.layers[i].trainableWeights.find((w) => /(^|\/)kernel(_\d+)?$/.test(w.name));
    if (k === undefined) throw new Error(`${arch.name}: layer ${model.layers[i].name} has no kernel for its L2 penalty`);
    return k.read();
  });

  const x = tf.tensor3d(batch.x, [S, T, AV_FEATURES]);
  const m = tf.tensor2d(batch.mask, [S, T]);
  const xTrain = valRows > 0 ? x.slice([0, 0, 0], [trainRows, T, AV_FEATURES]) : x;
  const mTrain = valRows > 0 ? m.slice([0, 0], [trainRows, T]) : m;
  const xVal = valRows > 0 ? x.slice([trainRows, 0, 0], [valRows, T, AV_FEATURES]) : null;
  const mVal = valRows > 0 ? m.slice([trainRows, 0], [valRows, T]) : null;
  const sizes = batchSizes(trainRows, hp.batchSize);

  const loss = (xb: tf.Tensor, mb: tf.Tensor, training: boolean): tf.Scalar => {
    const { out, captured } = forwardLayers(model, xb, training, net.activityLayer);
    const se = tf.mean(tf.square(tf.sub(out, xb)), -1);
    let total: tf.Tensor = tf.div(tf.sum(tf.mul(se, mb)), tf.maximum(tf.sum(mb), 1));
    if (captured !== null && hp.regRate > 0) {
      total = tf.add(total, tf.div(tf.mul(hp.regRate, tf.sum(tf.abs(captured))), xb.shape[0]));
    }
    if (net.l2 !== null) {
      for (const k of l2Kernels) total = tf.add(total, tf.mul(net.l2.rate, tf.sum(tf.square(k))));
    }
    return total as tf.Scalar;
  };

  const epochs = epochsFor(hp, sizes.length);
  hooks.onTrainStart?.(S, epochs);
  let ok = false;
  let history: TrainHistory;
  try {
    history = await runEpochs({
      epochs,
      order: identityOrder(trainRows),
      shuffle: shuffleRng,
      signal: hooks.signal,
      onEpoch: hooks.onEpoch ? (epoch, l, v) => hooks.onEpoch!(epoch, epochs, l, v) : undefined,
      divergedHint: 'try a lower --learning-rate',
      trainEpoch: (order) => {
        const idx = tf.tensor1d(order.slice(), 'int32');
        const [xs, ms] = tf.tidy(() => [tf.gather(xTrain, idx), tf.gather(mTrain, idx)]);
        idx.dispose();
        const xbs = sizes.length === 1 ? [xs] : tf.split(xs, sizes);
        const mbs = sizes.length === 1 ? [ms] : tf.split(ms, sizes);
        let weighted = 0;
        try {
          for (let b = 0; b < xbs.length; b++) {
            const value = withRandom(dropoutRng, () =>
              tf.tidy(() => {
                const { value, grads } = tf.variableGrads(() => loss(xbs[b], mbs[b], true), vars);
                adam.apply(vars.map((v) => grads[v.name]));
                return value;
              }),
            );
            weighted += (value.dataSync()[0] ?? NaN) * xbs[b].shape[0];
            value.dispose();
          }
        } finally {
          if (xbs.length > 1) tf.dispose([...xbs, ...mbs]);
          tf.dispose([xs, ms]);
        }
        return weighted;
      },
      validate: () => {
        if (xVal === null || mVal === null) return null;
        const v = tf.tidy(() => loss(xVal, mVal, false));
        const value = v.dataSync()[0] ?? NaN;
        v.dispose();
        return value;
      },
    });
    ok = true;
  } finally {
    adam.dispose();
    if (xVal !== null) tf.dispose([xTrain, mTrain, xVal, mVal!]);
    tf.dispose([x, m]);
    if (!ok) model.dispose();
  }

  const detector = new SeqDetector(arch, model, T, seqSettings(arch, { ...hp, epochs }));
  const parts: Float64Array[] = [];
  let total = 0;
  for (const r of recordings) {
    const s = detector.scoreRecording({ avs: r.avs, n: r.n, tap: null });
    parts.push(s);
    total += s.length;
  }
  const trainScores = new Float64Array(total);
  let o = 0;
  for (const p of parts) {
    trainScores.set(p, o);
    o += p.length;
  }
  const maxScore = maxOf(trainScores);
  return {
    detector,
    trainScores,
    maxScore,
    thresholds: thresholdsFrom(maxScore),
    examples: S,
    finalLoss: history.loss[history.loss.length - 1] ?? null,
    finalValLoss: history.valLoss[history.valLoss.length - 1] ?? null,
    epochs,
    seed,
    ms: performance.now() - t0,
  };
}

/** Loads a sequence autoencoder saved by SeqDetector.save. */
export async function loadSequenceModel(arch: SeqArchitecture, dir: string): Promise<SeqDetector> {
  await ensureTf();
  // The TCN's custom layer must be registered before its model is deserialized.
  await import('./layers.js');
  const jsonPath = `${dir}/model/model.json`;
  const peek = await readSeqLen(jsonPath);
  const { model, meta } = await loadLayersModelAny(dir, { kind: arch.kind, ioShape: [peek, AV_FEATURES] });
  const settings = meta['settings'];
  const det = new SeqDetector(arch, model, peek, settings !== null && typeof settings === 'object' ? (settings as Record<string, unknown>) : { seq_len: peek });
  trialRun(det, jsonPath);
  return det;
}

/**
 * Scores a small made-up recording with a freshly loaded model. A model.json whose shapes agree
 * at both ends can still fail inside (a layer dropped, swapped or turned into a Masking layer)
 * or give NaN (a layer-norm epsilon of 0 on a constant input): TF.js only finds out when the
 * model runs, so it runs here once, and a failure is a problem of this file, not a crash in
 * the middle of scoring. The windows: zeros, a constant, ordinary values and very large ones,
 * padded at the start like the first windows of any recording.
 */
function trialRun(det: SeqDetector, jsonPath: string): void {
  const rows = [0, 0, 0, 0.5, 0.5, 0.5, 1, 0.2, 3, 0, 1, 0, 1e6, 1e6, 1e6, 0.1, 0.9, 0.3];
  const n = Math.max(rows.length / AV_FEATURES, det.seqLen + 1);
  const avs = new Float64Array(n * AV_FEATURES);
  for (let i = 0; i < avs.length; i++) avs[i] = rows[i % rows.length];
  let errs: Float64Array;
  try {
    errs = det.sequenceErrors(avs, n);
  } catch (err) {
    det.dispose();
    throw new InputError(jsonPath, `cannot run the model: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`);
  }
  const bad = errs.findIndex((e) => !Number.isFinite(e));
  if (bad >= 0) {
    det.dispose();
    throw new InputError(jsonPath, `the model gives a non-finite score (${errs[bad]}) on a trial input: its architecture or weights are damaged`);
  }
}

/** The sequence length recorded in model.json (validated again, with everything else, on load). */
async function readSeqLen(jsonPath: string): Promise<number> {
  const doc = await readJsonFile(jsonPath);
  const T = (doc as { userDefinedMetadata?: { chids?: { seq_len?: unknown } } } | null)?.userDefinedMetadata?.chids?.seq_len;
  if (typeof T !== 'number' || !Number.isInteger(T) || T < 1) throw new InputError(jsonPath, 'records no valid sequence length (userDefinedMetadata.chids.seq_len)');
  if (T > MAX_SEQ_LEN) throw new InputError(jsonPath, `records a sequence length of ${T} (userDefinedMetadata.chids.seq_len), more than the ${MAX_SEQ_LEN} chids allows`);
  return T;
}
