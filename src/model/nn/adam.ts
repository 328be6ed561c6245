/**
 * Adam exactly as Keras 2.9 (the reference's version) applies it, via TensorFlow's
 * `ResourceApplyAdam`, in float32:
 *
 *     t     = iterations + 1
 *     α_t   = lr · √(1 − β2^t) / (1 − β1^t)
 *     m     = m + (g − m)(1 − β1)
 *     v     = v + (g² − v)(1 − β2)
 *     var   = var − α_t · m / (√v + ε)
 *
 * TF.js' own `tf.train.adam` puts ε inside the bias correction (`m̂ / (√v̂ + ε)`), i.e. it uses
 * an effective ε of `ε·√(1 − β2^t)`; the difference only shows when gradients are ~1e-7, but
 * we keep the reference's formula.
 *
 * The update runs in plain JS on the CPU backend's buffers: the CHIDS net has 26 parameters,
 * and a few dozen float ops in JS cost far less than the ~150 tiny tensor ops (each with
 * TF.js' bookkeeping) an on-device update would take. Every operation is rounded to float32
 * with Math.fround, which gives the same bits as float32 tensor arithmetic (a double result
 * of +, −, ×, ÷, √ rounded to float32 is the correctly rounded float32 result). Reading the
 * gradients with dataSync() is free on the CPU backend; on an accelerator backend this class
 * would have to move on-device.
 */
import { tf } from './tf.js';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Keras defaults: `keras.optimizers.Adam()` = lr 0.001, β1 0.9, β2 0.999, ε 1e-7. */
export const KERAS_ADAM: Readonly<AdamOptions> = Object.freeze({
  learningRate: 0.001,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
});

const f32 = Math.fround;

export class KerasAdam {
  private iterations = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly opts: AdamOptions;

  constructor(
    private readonly vars: readonly tf.Variable[],
    opts: Partial<AdamOptions> = {},
  ) {
    this.opts = { ...KERAS_ADAM, ...opts };
    this.m = vars.map((v) => new Float32Array(v.size));
    this.v = vars.map((v) => new Float32Array(v.size));
  }

  /** Number of updates applied so far (Keras `optimizer.iterations`). */
  get steps(): number {
    return this.iterations;
  }

  /** Applies one update; `grads[i]` is the gradient of `vars[i]`. */
  apply(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.vars.length) throw new Error('KerasAdam: one gradient per variable expected');
    const t = ++this.iterations;
    const { beta1, beta2 } = this.opts;
    const b1p = f32(Math.pow(f32(beta1), t));
    const b2p = f32(Math.pow(f32(beta2), t));
    const alpha = f32(f32(this.opts.learningRate * f32(Math.sqrt(f32(1 - b2p)))) / f32(1 - b1p));
    const c1 = f32(1 - beta1);
    const c2 = f32(1 - beta2);
    const eps = f32(this.opts.epsilon);
    for (let i = 0; i < this.vars.length; i++) {
      const variable = this.vars[i];
      const g = grads[i].dataSync();
      const w = variable.dataSync();
      const m = this.m[i];
      const v = this.v[i];
      // A fresh buffer: a tensor made from a typed array may share it.
      const next = new Float32Array(w.length);
      for (let j = 0; j < w.length; j++) {
        const gj = g[j];
        m[j] = f32(m[j] + f32(f32(gj - m[j]) * c1));
        v[j] = f32(v[j] + f32(f32(f32(gj * gj) - v[j]) * c2));
        next[j] = f32(w[j] - f32(f32(m[j] * alpha) / f32(f32(Math.sqrt(v[j])) + eps)));
      }
      tf.tidy(() => variable.assign(tf.tensor(next, variable.shape, 'float32')));
    }
  }

  dispose(): void {
    // State lives in JS arrays; nothing to free. Kept for symmetry with tensor optimizers.
  }
}
