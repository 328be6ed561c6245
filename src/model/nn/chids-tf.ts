/**
 * The CHIDS autoencoder as TF.js ops: the Keras-shaped model, its forward pass and training
 * loss, and the TF.js engine of trainChids. Not used to train or score by default (chids.ts
 * does both in plain float32 without loading TF.js); kept as the reference the hand-written
 * path is tested against, and as `engine: 'tfjs'`.
 */
import { mulberry32, nextUint32 } from '../../util/rng.js';
import { batchSizes, runEpochs } from '../epochs.js';
import { AV_FEATURES } from '../scorer.js';
import { KerasAdam } from './adam.js';
import { CHIDS_LAYERS, type ChidsEngineResult, type ChidsEngineRun } from './chids-spec.js';
import { ensureTf, tf } from './tf.js';

/**
 * Builds the network (without the activity regularizer, which TF.js cannot run; see chids.ts).
 * `seed` fixes the Glorot-uniform kernels: each layer gets its own sub-seed.
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

/**
 * trainChids's epochs with the steps as TF.js ops, from the TF.js-initialised weights of the
 * same seed; returns the trained weights [k1, b1, …].
 */
export async function trainChidsTfjs(run: ChidsEngineRun): Promise<ChidsEngineResult> {
  await ensureTf();
  const { avs, n, trainRows, valRows, o } = run;
  const model = buildChidsModel(run.modelSeed);
  const vars = modelVariables(model);
  const adam = new KerasAdam(vars, { learningRate: o.learningRate });
  const x = tf.tensor2d(Float32Array.from(avs), [n, AV_FEATURES]);
  const xTrain = valRows > 0 ? x.slice([0, 0], [trainRows, AV_FEATURES]) : x;
  const xVal = valRows > 0 ? x.slice([trainRows, 0], [valRows, AV_FEATURES]) : null;
  const sizes = batchSizes(trainRows, o.batchSize);
  const bsScalars = new Map<number, tf.Scalar>();
  for (const bs of sizes) if (!bsScalars.has(bs)) bsScalars.set(bs, tf.scalar(bs));
  const l1 = tf.scalar(o.activityL1);
  try {
    const history = await runEpochs({
      ...run.loop,
      trainEpoch: (order) => {
        const batches = tf.tidy(() => {
          const shuffled = tf.gather(xTrain, tf.tensor1d(order.slice(), 'int32'));
          return sizes.length === 1 ? [shuffled] : tf.split(shuffled, sizes);
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
          return weighted.dataSync()[0] ?? NaN;
        } finally {
          weighted.dispose();
          for (const b of batches) b.dispose();
        }
      },
      validate: () => {
        if (xVal === null) return null;
        const v = tf.tidy(() => chidsLoss(vars, xVal, o.activityL1));
        const value = v.dataSync()[0] ?? NaN;
        v.dispose();
        return value;
      },
    });
    return { params: vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)), history };
  } finally {
    adam.dispose();
    for (const s of bsScalars.values()) s.dispose();
    l1.dispose();
    if (xVal !== null) {
      xVal.dispose();
      xTrain.dispose();
    }
    x.dispose();
    model.dispose();
  }
}
