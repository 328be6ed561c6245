/**
 * `dense-seq`: a dense autoencoder over a whole sequence of T anomaly vectors, flattened.
 *
 *     (T, 3) → flatten (3T)
 *       → Dense ENCODING_DIM → batch norm → leaky ReLU (α 0.3)
 *       → Dense BOTTLENECK, linear, L1 activity penalty REG_RATE      (the sparse bottleneck)
 *       → Dense ENCODING_DIM → batch norm → leaky ReLU (α 0.3)
 *       → Dense 3T, sigmoid → reshape (T, 3)
 *
 * Every Dense kernel carries an L2 penalty of 1e-4 (added by the training loop). Widths are the
 * brief's hyper-parameters taken literally (defaults 2 and 1): the net must squeeze a whole
 * sequence through BOTTLENECK numbers, so it can only learn what normal sequences have in common.
 */
import { mulberry32, nextUint32 } from '../../util/rng.js';
import type { SeqArchitecture, SeqHyper } from './seq-autoencoder.js';
import { AV_FEATURES } from '../scorer.js';
import { tf } from './tf.js';

export const DENSE_SEQ_L2 = 1e-4;
export const DENSE_SEQ_ALPHA = 0.3;

export const DENSE_SEQ: SeqArchitecture = {
  name: 'dense-seq',
  kind: 'dense-seq-autoencoder',
  padValue: 0,
  summary: 'flatten → Dense(ENC) BN LeakyReLU → Dense(BOTTLENECK) linear, L1 → Dense(ENC) BN LeakyReLU → Dense(3T) sigmoid → (T, 3); L2 1e-4 kernels',
  constants: { l2: DENSE_SEQ_L2, leaky_alpha: DENSE_SEQ_ALPHA, output_activation: 'sigmoid', activity_l1_layer: 'bottleneck' },
  build(hp: SeqHyper, seed: number) {
    const rng = mulberry32(seed);
    const init = () => tf.initializers.glorotUniform({ seed: nextUint32(rng) });
    const T = hp.seqLen;
    const model = tf.sequential({ name: 'dense_seq_autoencoder' });
    model.add(tf.layers.flatten({ name: 'flatten', inputShape: [T, AV_FEATURES] })); // 0
    model.add(tf.layers.dense({ name: 'encoder', units: hp.encodingDim, kernelInitializer: init() })); // 1
    model.add(tf.layers.batchNormalization({ name: 'encoder_bn' })); // 2
    model.add(tf.layers.leakyReLU({ name: 'encoder_act', alpha: DENSE_SEQ_ALPHA })); // 3
    model.add(tf.layers.dense({ name: 'bottleneck', units: hp.bottleneck, kernelInitializer: init() })); // 4
    model.add(tf.layers.dense({ name: 'decoder', units: hp.encodingDim, kernelInitializer: init() })); // 5
    model.add(tf.layers.batchNormalization({ name: 'decoder_bn' })); // 6
    model.add(tf.layers.leakyReLU({ name: 'decoder_act', alpha: DENSE_SEQ_ALPHA })); // 7
    model.add(tf.layers.dense({ name: 'reconstruction', units: T * AV_FEATURES, activation: 'sigmoid', kernelInitializer: init() })); // 8
    model.add(tf.layers.reshape({ name: 'unflatten', targetShape: [T, AV_FEATURES] })); // 9
    return { model, activityLayer: 4, l2: { layers: [1, 4, 5, 8], rate: DENSE_SEQ_L2 } };
  },
};
