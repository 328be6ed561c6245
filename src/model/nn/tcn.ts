/**
 * `tcn`: a temporal-convolution autoencoder over T anomaly vectors.
 *
 *     (T, 3) → causal Conv1D ENCODING_DIM, kernel 3, dilation 1, ReLU
 *            → causal Conv1D ENCODING_DIM, kernel 3, dilation 2, ReLU
 *            → causal Conv1D ENCODING_DIM, kernel 3, dilation 4, ReLU   (receptive field 15)
 *            → global average pooling → Dense BOTTLENECK, linear          (the code)
 *            → repeat vector T
 *            → transposed Conv1D ENCODING_DIM, kernel 3, ReLU  ×2
 *            → Dense 3, sigmoid (per step)
 *
 * TF.js 4.22 has no causal padding, no gradients for dilated convolutions and no
 * Conv1DTranspose: the causal dilated convolutions are a custom layer (layers.ts), and each
 * transposed 1-D convolution is a Conv2DTranspose with a (3, 1) kernel on the sequence
 * reshaped to (T, 1, C) — the same operation, computed by TF.js's own kernel.
 */
import './layers.js';
import { CausalConv1D } from './layers.js';
import { mulberry32, nextUint32 } from '../../util/rng.js';
import type { SeqArchitecture, SeqHyper } from './seq-autoencoder.js';
import { AV_FEATURES } from '../scorer.js';
import { tf } from './tf.js';

export const TCN_KERNEL = 3;
export const TCN_DILATIONS: readonly number[] = Object.freeze([1, 2, 4]);

export const TCN: SeqArchitecture = {
  name: 'tcn',
  kind: 'tcn-autoencoder',
  padValue: 0,
  summary: 'causal dilated Conv1D(ENC, k 3, d 1/2/4) ReLU → GlobalAvgPool → Dense(BOTTLENECK) → RepeatVector(T) → 2× Conv1DTranspose(ENC, k 3) ReLU → Dense(3) sigmoid',
  constants: { kernel_size: TCN_KERNEL, dilations: [...TCN_DILATIONS], output_activation: 'sigmoid', conv1d_transpose: 'conv2dTranspose on (T, 1, C)' },
  build(hp: SeqHyper, seed: number) {
    const rng = mulberry32(seed);
    const glorot = () => tf.initializers.glorotUniform({ seed: nextUint32(rng) });
    const T = hp.seqLen;
    const F = hp.encodingDim;
    const model = tf.sequential({ name: 'tcn_autoencoder' });
    TCN_DILATIONS.forEach((d, i) => {
      model.add(
        new CausalConv1D({
          name: `causal_conv_${i + 1}`,
          filters: F,
          kernelSize: TCN_KERNEL,
          dilationRate: d,
          activation: 'relu',
          seed: nextUint32(rng),
          ...(i === 0 ? { inputShape: [T, AV_FEATURES] } : {}),
        }),
      );
    });
    model.add(tf.layers.globalAveragePooling1d({ name: 'pool' }));
    model.add(tf.layers.dense({ name: 'bottleneck', units: hp.bottleneck, kernelInitializer: glorot() }));
    model.add(tf.layers.repeatVector({ name: 'repeat', n: T }));
    model.add(tf.layers.reshape({ name: 'to_2d', targetShape: [T, 1, hp.bottleneck] }));
    for (let i = 1; i <= 2; i++) {
      model.add(
        tf.layers.conv2dTranspose({
          name: `deconv_${i}`,
          filters: F,
          kernelSize: [TCN_KERNEL, 1],
          strides: 1,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: glorot(),
        }),
      );
    }
    model.add(tf.layers.reshape({ name: 'to_1d', targetShape: [T, F] }));
    model.add(tf.layers.dense({ name: 'reconstruction', units: AV_FEATURES, activation: 'sigmoid', kernelInitializer: glorot() }));
    return { model, activityLayer: null, l2: null };
  },
};
