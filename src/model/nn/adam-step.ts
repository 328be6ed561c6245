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
 * Every operation is rounded to float32 with Math.fround, which gives the same bits as float32
 * tensor arithmetic (a double result of +, −, ×, ÷, √ rounded to float32 is the correctly
 * rounded float32 result). Plain arrays, no TF.js: used by the hand-written CHIDS training
 * (dense-net.ts) and by the TF.js optimizer of the sequence models (adam.ts).
 */

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

/** The per-step constants of update `t` (counting from 1). */
export interface AdamStep {
  alpha: number;
  c1: number;
  c2: number;
  eps: number;
}

export function adamStep(opts: AdamOptions, t: number): AdamStep {
  const b1p = f32(Math.pow(f32(opts.beta1), t));
  const b2p = f32(Math.pow(f32(opts.beta2), t));
  return {
    alpha: f32(f32(opts.learningRate * f32(Math.sqrt(f32(1 - b2p)))) / f32(1 - b1p)),
    c1: f32(1 - opts.beta1),
    c2: f32(1 - opts.beta2),
    eps: f32(opts.epsilon),
  };
}

/**
 * One update of one variable: `m`, `v` (the moments) are updated in place and the new weights
 * written to `out` (which may be `w` itself).
 */
export function adamUpdate(s: AdamStep, w: ArrayLike<number>, g: ArrayLike<number>, m: Float32Array, v: Float32Array, out: Float32Array): void {
  for (let j = 0; j < w.length; j++) {
    const gj = g[j];
    m[j] = f32(m[j] + f32(f32(gj - m[j]) * s.c1));
    v[j] = f32(v[j] + f32(f32(f32(gj * gj) - v[j]) * s.c2));
    out[j] = f32(w[j] - f32(f32(m[j] * s.alpha) / f32(f32(Math.sqrt(v[j])) + s.eps)));
  }
}
