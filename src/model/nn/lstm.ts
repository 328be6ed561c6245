/**
 * `lstm`: an LSTM sequence-to-sequence autoencoder over T anomaly vectors.
 *
 *     (T, 3) → masking (padded steps, value −1, are skipped)
 *            → LSTM ENCODING_DIM (all steps) → layer norm
 *            → LSTM BOTTLENECK (last step only: the sequence's code)
 *            → repeat vector T
 *            → LSTM ENCODING_DIM (all steps)
 *            → time-distributed Dense 3, sigmoid
 *
 * Kernels Glorot-uniform and recurrent kernels orthogonal (Keras' defaults), seeded.
 */
import { mulberry32, nextUint32 } from '../../util/rng.js';
import type { SeqArchitecture, SeqHyper } from './seq-autoencoder.js';
import { AV_FEATURES } from '../scorer.js';
import { tf } from './tf.js';

/** AVs are never negative, so −1 cannot be a real step. */
export const LSTM_PAD = -1;

export const LSTM: SeqArchitecture = {
  name: 'lstm',
  kind: 'lstm-autoencoder',
  padValue: LSTM_PAD,
  summary: 'Masking → LSTM(ENC) → LayerNorm → LSTM(BOTTLENECK) → RepeatVector(T) → LSTM(ENC) → TimeDistributed(Dense(3) sigmoid)',
  constants: { mask_value: LSTM_PAD, output_activation: 'sigmoid' },
  build(hp: SeqHyper, seed: number) {
    const rng = mulberry32(seed);
    const glorot = () => tf.initializers.glorotUniform({ seed: nextUint32(rng) });
    const orth = () => tf.initializers.orthogonal({ seed: nextUint32(rng), gain: 1 });
    const T = hp.seqLen;
    const model = tf.sequential({ name: 'lstm_autoencoder' });
    model.add(tf.layers.masking({ name: 'mask', maskValue: LSTM_PAD, inputShape: [T, AV_FEATURES] }));
    model.add(tf.layers.lstm({ name: 'encoder', units: hp.encodingDim, returnSequences: true, kernelInitializer: glorot(), recurrentInitializer: orth() }));
    model.add(tf.layers.layerNormalization({ name: 'encoder_norm' }));
    model.add(tf.layers.lstm({ name: 'bottleneck', units: hp.bottleneck, returnSequences: false, kernelInitializer: glorot(), recurrentInitializer: orth() }));
    model.add(tf.layers.repeatVector({ name: 'repeat', n: T }));
    model.add(tf.layers.lstm({ name: 'decoder', units: hp.encodingDim, returnSequences: true, kernelInitializer: glorot(), recurrentInitializer: orth() }));
    model.add(
      tf.layers.timeDistributed({
        name: 'reconstruction',
        layer: tf.layers.dense({ units: AV_FEATURES, activation: 'sigmoid', kernelInitializer: glorot() }),
      }),
    );
    return { model, activityLayer: null, l2: null };
  },
};
