/**
 * The epoch loop every trained network shares (the CHIDS autoencoder, in plain float32 or
 * TF.js, and the sequence autoencoders): Keras' `fit` bookkeeping around a model's own steps.
 *
 * Per epoch: stop if aborted; shuffle the training rows' order (the rows held out for
 * validation are not in it); run the model's steps over the batches in that order; the epoch's
 * loss is Σ batch loss × batch rows / training rows (Keras' running mean); a non-finite loss
 * stops training; then the validation loss; report; yield to the event loop so timers, signals
 * and progress output run between epochs.
 */
import { ChidsError } from '../util/errors.js';
import { shuffleInPlace, type Rng } from '../util/rng.js';

export interface EpochLoop {
  epochs: number;
  /** The training rows' order, shuffled in place before every epoch. */
  order: Int32Array;
  shuffle: Rng;
  signal?: AbortSignal;
  /**
   * One epoch's steps over the rows in `order`, batch by batch; returns Σ batch loss × batch
   * rows (each model sums in its own precision, as its framework does).
   */
  trainEpoch: (order: Int32Array) => number;
  /** The loss on the held-out rows after the epoch; null when there are none. */
  validate: () => number | null;
  onEpoch?: (epoch: number, loss: number, valLoss: number | null) => void;
  /** Advice appended to the divergence error, e.g. "try a lower --learning-rate". */
  divergedHint: string;
}

export interface TrainHistory {
  loss: number[];
  valLoss: (number | null)[];
}

/** Rows per batch over `rows` training rows: full batches, the last one partial. */
export function batchSizes(rows: number, batchSize: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < rows; s += batchSize) out.push(Math.min(batchSize, rows - s));
  return out;
}

/** The identity order 0 … n−1. */
export function identityOrder(n: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

/** Runs the epochs; returns the per-epoch losses (Keras' `History`). */
export async function runEpochs(loop: EpochLoop): Promise<TrainHistory> {
  const history: TrainHistory = { loss: [], valLoss: [] };
  const rows = loop.order.length;
  for (let epoch = 1; epoch <= loop.epochs; epoch++) {
    if (loop.signal?.aborted) throw new ChidsError(`training cancelled at epoch ${epoch} of ${loop.epochs}`);
    shuffleInPlace(loop.order, loop.shuffle);
    const loss = loop.trainEpoch(loop.order) / rows;
    if (!Number.isFinite(loss)) throw new ChidsError(`training diverged at epoch ${epoch} (loss ${loss}); ${loop.divergedHint}`);
    const valLoss = loop.validate();
    history.loss.push(loss);
    history.valLoss.push(valLoss);
    loop.onEpoch?.(epoch, loss, valLoss);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return history;
}
