/**
 * A small fully-connected sigmoid network trained by hand, in float32: the CHIDS autoencoder's
 * training step without a tensor framework.
 *
 * The CHIDS net has ~40 parameters and trains on batches of 50 rows of 3 numbers. Through TF.js
 * each step is dozens of tensor ops whose bookkeeping (allocation, disposal, gradient tape)
 * costs ~100× the arithmetic. Here a step is a few loops over Float32Arrays. The math is the
 * one of chids-tf.ts `chidsLoss` and adam-step.ts, op for op (every intermediate rounded to
 * float32 with Math.fround, as TF.js's CPU backend stores it); sums may be taken in another
 * order than TF.js's, so results agree within float32 tolerance, not bit for bit (a test trains
 * both ways and compares).
 *
 * loss = mean((out − x)²) + l1 · Σ|a1| / batch, where a1 is the first layer's activation.
 */
import { adamStep, adamUpdate, KERAS_ADAM, type AdamOptions } from './adam-step.js';

const f32 = Math.fround;

export class DenseNet {
  /** Layer widths, input first: e.g. [3, 2, 1, 1, 2, 3]. */
  readonly widths: readonly number[];
  /** Kernels (row-major [fanIn][units]) and biases, [k1, b1, k2, b2, …] as TF.js orders them. */
  readonly params: Float32Array[];
  private readonly grads: Float32Array[];
  /** Activations per layer for the current batch (index 0 = input). */
  private acts: Float32Array[] = [];
  private deltas: Float32Array[] = [];
  private capacity = 0;
  // Adam state (Keras' formula, see adam.ts).
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private step = 0;
  private readonly adam: AdamOptions;

  constructor(widths: readonly number[], params: Float32Array[], adam: Partial<AdamOptions> = {}) {
    this.widths = widths;
    this.params = params.map((p) => Float32Array.from(p));
    this.grads = params.map((p) => new Float32Array(p.length));
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
    this.adam = { ...KERAS_ADAM, ...adam };
  }

  private ensure(rows: number): void {
    if (rows <= this.capacity) return;
    this.capacity = rows;
    this.acts = this.widths.map((w) => new Float32Array(rows * w));
    this.deltas = this.widths.map((w) => new Float32Array(rows * w));
  }

  /** Forward pass over rows [row0, row0 + rows) of x (or the rows listed in `order`); fills the activations. */
  private forward(x: Float32Array, rows: number, order: Int32Array | null, row0: number): void {
    this.ensure(rows);
    const w0 = this.widths[0];
    const a0 = this.acts[0];
    for (let r = 0; r < rows; r++) {
      const src = (order === null ? row0 + r : order[row0 + r]) * w0;
      for (let j = 0; j < w0; j++) a0[r * w0 + j] = x[src + j];
    }
    for (let l = 1; l < this.widths.length; l++) {
      const fanIn = this.widths[l - 1];
      const units = this.widths[l];
      const k = this.params[2 * l - 2];
      const b = this.params[2 * l - 1];
      const prev = this.acts[l - 1];
      const out = this.acts[l];
      for (let r = 0; r < rows; r++) {
        for (let u = 0; u < units; u++) {
          let z = 0;
          for (let i = 0; i < fanIn; i++) z = f32(z + f32(prev[r * fanIn + i] * k[i * units + u]));
          z = f32(z + b[u]);
          out[r * units + u] = f32(1 / (1 + Math.exp(-z)));
        }
      }
    }
  }

  /** The batch loss of the current activations against their inputs. */
  private loss(rows: number, l1: number): number {
    const L = this.widths.length - 1;
    const n = this.widths[0];
    const out = this.acts[L];
    const x = this.acts[0];
    let se = 0;
    for (let i = 0; i < rows * n; i++) {
      const d = f32(out[i] - x[i]);
      se = f32(se + f32(d * d));
    }
    const mse = f32(se / (rows * n));
    if (l1 === 0) return mse;
    const a1 = this.acts[1];
    let s = 0;
    for (let i = 0; i < rows * this.widths[1]; i++) s = f32(s + Math.abs(a1[i]));
    return f32(mse + f32(f32(f32(l1) * s) / rows));
  }

  /** One training step on a batch (rows `order[row0 … row0+rows)` of x); returns the loss before the update. */
  trainBatch(x: Float32Array, order: Int32Array, row0: number, rows: number, l1: number): number {
    this.forward(x, rows, order, row0);
    const value = this.loss(rows, l1);
    const L = this.widths.length - 1;
    const n = this.widths[0];
    // d loss / d out, through the sigmoid: δ_L = 2(out − x)/(rows·n) · out(1 − out)
    {
      const out = this.acts[L];
      const x0 = this.acts[0];
      const d = this.deltas[L];
      const scale = f32(2 / (rows * n));
      for (let i = 0; i < rows * n; i++) {
        const o = out[i];
        d[i] = f32(f32(f32(f32(o - x0[i]) * scale)) * f32(o * f32(1 - o)));
      }
    }
    for (let l = L; l >= 1; l--) {
      const fanIn = this.widths[l - 1];
      const units = this.widths[l];
      const k = this.params[2 * l - 2];
      const gk = this.grads[2 * l - 2];
      const gb = this.grads[2 * l - 1];
      const prev = this.acts[l - 1];
      const d = this.deltas[l];
      gk.fill(0);
      gb.fill(0);
      for (let r = 0; r < rows; r++) {
        for (let u = 0; u < units; u++) {
          const du = d[r * units + u];
          gb[u] = f32(gb[u] + du);
          for (let i = 0; i < fanIn; i++) gk[i * units + u] = f32(gk[i * units + u] + f32(prev[r * fanIn + i] * du));
        }
      }
      if (l === 1) break;
      // δ_{l−1} = (δ_l Kᵀ [+ l1/rows · sign(a1) for the first layer]) · a(1 − a)
      const dp = this.deltas[l - 1];
      const pen = l - 1 === 1 && l1 !== 0 ? f32(f32(l1) / rows) : 0;
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < fanIn; i++) {
          let s = 0;
          for (let u = 0; u < units; u++) s = f32(s + f32(d[r * units + u] * k[i * units + u]));
          const a = prev[r * fanIn + i];
          if (pen !== 0) s = f32(s + f32(pen * Math.sign(a)));
          dp[r * fanIn + i] = f32(s * f32(a * f32(1 - a)));
        }
      }
    }
    this.applyAdam();
    return value;
  }

  /** Keras' Adam update (adam-step.ts), on the gradients of the last batch. */
  private applyAdam(): void {
    const s = adamStep(this.adam, ++this.step);
    for (let p = 0; p < this.params.length; p++) adamUpdate(s, this.params[p], this.grads[p], this.m[p], this.v[p], this.params[p]);
  }

  /** The loss on rows [row0, row0 + rows) of x, without training (validation). */
  evalLoss(x: Float32Array, row0: number, rows: number, l1: number): number {
    this.forward(x, rows, null, row0);
    return this.loss(rows, l1);
  }

  /**
   * Inference: the outputs for `rows` rows of `x` (row-major, float32) into `out`, with the
   * arithmetic of TF.js's CPU kernels, so scores equal a TF.js `model.predict` of the same
   * weights bit for bit: each dot product summed in double and stored as float32 (MatMul), the
   * bias added in float32 (Add), then `1 / (1 + e^−z)` stored as float32 (Sigmoid).
   */
  predict(x: Float32Array, rows: number, out: Float32Array): void {
    const L = this.widths.length - 1;
    let width = 0;
    for (const w of this.widths) width = Math.max(width, w);
    let prev = new Float32Array(width);
    let cur = new Float32Array(width);
    for (let r = 0; r < rows; r++) {
      const w0 = this.widths[0];
      for (let j = 0; j < w0; j++) prev[j] = x[r * w0 + j];
      for (let l = 1; l <= L; l++) {
        const fanIn = this.widths[l - 1];
        const units = this.widths[l];
        const k = this.params[2 * l - 2];
        const b = this.params[2 * l - 1];
        for (let u = 0; u < units; u++) {
          let z = 0;
          for (let i = 0; i < fanIn; i++) z += prev[i] * k[i * units + u];
          cur[u] = f32(1 / (1 + Math.exp(-f32(f32(z) + b[u]))));
        }
        const t = prev;
        prev = cur;
        cur = t;
      }
      const wL = this.widths[L];
      for (let j = 0; j < wL; j++) out[r * wL + j] = prev[j];
    }
  }
}
