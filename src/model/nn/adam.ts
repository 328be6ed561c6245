/**
 * Keras' Adam (adam-step.ts) as an optimizer of TF.js variables, for the sequence models and
 * the TF.js engine of the CHIDS autoencoder.
 *
 * The update runs in plain JS on the CPU backend's buffers: a few dozen float ops in JS cost
 * far less than the ~150 tiny tensor ops (each with TF.js' bookkeeping) an on-device update
 * would take. Reading the gradients with dataSync() is free on the CPU backend; on an
 * accelerator backend this class would have to move on-device.
 */
import { adamStep, adamUpdate, KERAS_ADAM, type AdamOptions } from './adam-step.js';
import { tf } from './tf.js';

export { KERAS_ADAM, type AdamOptions };

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
    const s = adamStep(this.opts, ++this.iterations);
    for (let i = 0; i < this.vars.length; i++) {
      const variable = this.vars[i];
      const w = variable.dataSync();
      // A fresh buffer: a tensor made from a typed array may share it.
      const next = new Float32Array(w.length);
      adamUpdate(s, w, grads[i].dataSync(), this.m[i], this.v[i], next);
      tf.tidy(() => variable.assign(tf.tensor(next, variable.shape, 'float32')));
    }
  }

  dispose(): void {
    // State lives in JS arrays; nothing to free. Kept for symmetry with tensor optimizers.
  }
}
