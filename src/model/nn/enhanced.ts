/**
 * `enhanced`: the CHIDS autoencoder made deeper and regularised, applied to every step of a
 * sequence of T anomaly vectors (the same weights at each step; the sequence's error is the
 * mean over its steps).
 *
 *     (T, 3) → Dense ENCODING_DIM → batch norm → leaky ReLU (α 0.1) → dropout 0.2
 *            → Dense BOTTLENECK, linear, L1 activity penalty REG_RATE   (the second layer)
 *            → Dense ENCODING_DIM → batch norm → leaky ReLU (α 0.1) → dropout 0.2
 *            → Dense 3, sigmoid
 */
import { mulberry32, nextUint32 } from '../../util/rng.js';
import type { SeqArchitecture, SeqHyper } from './seq-autoencoder.js';
import { AV_FEATURES } from '../scorer.js';
import { tf } from './tf.js';

export const ENHANCED_ALPHA = 0.1;
export const ENHANCED_DROPOUT = 0.2;

export const ENHANCED: SeqArchitecture = {
  name: 'enhanced',
  kind: 'enhanced-autoencoder',
  padValue: 0,
  summary: 'per step: Dense(ENC) BN LeakyReLU(0.1) Dropout(0.2) → Dense(BOTTLENECK) L1 → Dense(ENC) BN LeakyReLU(0.1) Dropout(0.2) → Dense(3) sigmoid',
  constants: { leaky_alpha: ENHANCED_ALPHA, dropout: ENHANCED_DROPOUT, output_activation: 'sigmoid', activity_l1_layer: 'bottleneck (second Dense)' },
  build(hp: SeqHyper, seed: number) {
    const rng = mulberry32(seed);
    const init = () => tf.initializers.glorotUniform({ seed: nextUint32(rng) });
    const model = tf.sequential({ name: 'enhanced_autoencoder' });
    model.add(tf.layers.dense({ name: 'encoder', units: hp.encodingDim, kernelInitializer: init(), inputShape: [hp.seqLen, AV_FEATURES] })); // 0
    model.add(tf.layers.batchNormalization({ name: 'encoder_bn' })); // 1
    model.add(tf.layers.leakyReLU({ name: 'encoder_act', alpha: ENHANCED_ALPHA })); // 2
    model.add(tf.layers.dropout({ name: 'encoder_dropout', rate: ENHANCED_DROPOUT })); // 3
    model.add(tf.layers.dense({ name: 'bottleneck', units: hp.bottleneck, kernelInitializer: init() })); // 4
    model.add(tf.layers.dense({ name: 'decoder', units: hp.encodingDim, kernelInitializer: init() })); // 5
    model.add(tf.layers.batchNormalization({ name: 'decoder_bn' })); // 6
    model.add(tf.layers.leakyReLU({ name: 'decoder_act', alpha: ENHANCED_ALPHA })); // 7
    model.add(tf.layers.dropout({ name: 'decoder_dropout', rate: ENHANCED_DROPOUT })); // 8
    model.add(tf.layers.dense({ name: 'reconstruction', units: AV_FEATURES, activation: 'sigmoid', kernelInitializer: init() })); // 9
    return { model, activityLayer: 4, l2: null };
  },
};
