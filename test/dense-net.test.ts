/**
 * The hand-written float32 training of the CHIDS autoencoder (src/model/nn/dense-net.ts, the
 * default engine of trainChids) against the TF.js path it replaces: from the same seed, the same
 * per-epoch losses, weights, reconstruction errors and thresholds within float32 tolerance
 * (sums are taken in another order, so not bit for bit).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainChids } from '../src/model/nn/index.js';
import { syntheticAVs as synthetic } from './helpers/avs.js';

function close(a: number, b: number, rel: number, what: string): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-6), `${what}: ${a} vs ${b}`);
}

for (const [n, epochs, seed, l1] of [
  [233, 30, 3, 0.01], // a last partial batch, validation rows
  [120, 40, 9, 0], // no activity penalty
] as const) {
  test(`dense engine = TF.js engine within float32 tolerance (${n} rows, ${epochs} epochs, l1 ${l1})`, async () => {
    const avs = synthetic(n, seed);
    const dense = await trainChids(avs, n, { epochs, seed, activityL1: l1, engine: 'dense' });
    const tfjs = await trainChids(avs, n, { epochs, seed, activityL1: l1, engine: 'tfjs' });
    try {
      assert.equal(dense.history.loss.length, epochs);
      for (let e = 0; e < epochs; e++) {
        close(dense.history.loss[e], tfjs.history.loss[e], 1e-4, `loss, epoch ${e + 1}`);
        close(dense.history.valLoss[e]!, tfjs.history.valLoss[e]!, 1e-4, `val_loss, epoch ${e + 1}`);
      }
      // Training moved the weights (the comparison is not of two untouched initialisations).
      assert.ok(dense.history.loss[epochs - 1] < dense.history.loss[0]);
      for (let i = 0; i < n; i++) close(dense.trainErrors[i], tfjs.trainErrors[i], 1e-3, `error of row ${i}`);
      dense.thresholds.forEach((t, i) => close(t, tfjs.thresholds[i], 1e-3, `threshold ${i}`));
    } finally {
      dense.scorer.dispose();
      tfjs.scorer.dispose();
    }
  });
}
