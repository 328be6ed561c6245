/**
 * Layers TF.js 4.22 lacks, written as serializable custom layers (registered on import, so a
 * saved model that uses them loads through tf.loadLayersModel).
 *
 * CausalConv1D: Keras `Conv1D(padding='causal', dilation_rate=d)`. TF.js has neither causal
 * padding for conv1d ("not implemented yet") nor gradients for dilated convolutions, so the
 * layer computes the convolution directly: the input is left-padded with (k−1)·d zero steps and
 *
 *     y[t] = b + Σ_{j=0}^{k−1} x_pad[t + j·d] · K[j]      (K: kernel × in × out, as Keras)
 *
 * i.e. output t sees only inputs t − (k−1)·d … t, every d-th. Built from pad, slice and
 * matMul, which all have gradients. Weights are named and shaped like Keras Conv1D's
 * (`kernel` [k, in, out], `bias` [out]).
 */
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { tf } from './tf.js';

export interface CausalConv1DArgs {
  filters: number;
  kernelSize: number;
  dilationRate?: number;
  /** 'relu' or 'linear'. */
  activation?: 'relu' | 'linear';
  /** Seed of the Glorot-uniform kernel initializer. */
  seed?: number;
  name?: string;
  inputShape?: number[];
  batchInputShape?: (number | null)[];
  trainable?: boolean;
  dtype?: 'float32';
}

export class CausalConv1D extends tf.layers.Layer {
  static className = 'ChidsCausalConv1D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly dilationRate: number;
  readonly activation: 'relu' | 'linear';
  readonly seed: number | undefined;
  private kernel: LayerVariable | null = null;
  private bias: LayerVariable | null = null;

  constructor(args: CausalConv1DArgs) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.dilationRate = args.dilationRate ?? 1;
    this.activation = args.activation ?? 'linear';
    this.seed = args.seed;
    if (!(Number.isInteger(this.filters) && this.filters > 0)) throw new Error(`CausalConv1D: filters must be a positive integer`);
    if (!(Number.isInteger(this.kernelSize) && this.kernelSize > 0)) throw new Error(`CausalConv1D: kernelSize must be a positive integer`);
    if (!(Number.isInteger(this.dilationRate) && this.dilationRate > 0)) throw new Error(`CausalConv1D: dilationRate must be a positive integer`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error('CausalConv1D: the channel dimension must be known');
    this.kernel = this.addWeight(
      'kernel',
      [this.kernelSize, channels, this.filters],
      'float32',
      tf.initializers.glorotUniform({ seed: this.seed }),
    );
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], shape[1], this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [batch, steps, channels] = x.shape;
      const k = this.kernelSize;
      const d = this.dilationRate;
      const pad = (k - 1) * d;
      const xp = pad > 0 ? tf.pad(x, [[0, 0], [pad, 0], [0, 0]]) : x;
      const kernel = this.kernel!.read();
      let y: tf.Tensor | null = null;
      for (let j = 0; j < k; j++) {
        const xs = tf.reshape(tf.slice(xp, [0, j * d, 0], [batch, steps, channels]), [batch * steps, channels]) as tf.Tensor2D;
        const kj = tf.reshape(tf.slice(kernel, [j, 0, 0], [1, channels, this.filters]), [channels, this.filters]) as tf.Tensor2D;
        const term = tf.matMul(xs, kj);
        y = y === null ? term : tf.add(y, term);
      }
      let out: tf.Tensor = tf.add(y!, this.bias!.read());
      if (this.activation === 'relu') out = tf.relu(out);
      return tf.reshape(out, [batch, steps, this.filters]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      filters: this.filters,
      kernelSize: this.kernelSize,
      dilationRate: this.dilationRate,
      activation: this.activation,
    };
    if (this.seed !== undefined) config['seed'] = this.seed;
    return { ...super.getConfig(), ...config };
  }
}

tf.serialization.registerClass(CausalConv1D);
