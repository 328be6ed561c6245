import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ChidsError } from '../src/util/errors.js';
import {
  AV_FEATURES,
  CHIDS_KIND,
  KerasAdam,
  MODEL_DIR,
  THETAS,
  buildChidsModel,
  chidsForward,
  chidsLoss,
  deriveSeeds,
  ensureTf,
  loadChids,
  maxOf,
  mulberry32,
  packAVs,
  tf,
  thresholdsFrom,
  trainChids,
  trainRowCount,
} from '../src/model/nn/index.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'chids-model-test-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** AVs shaped like real ones (fi small, usi/uai mostly 0), reproducible. */
function synthetic(n: number, seed = 1): Float64Array {
  const rng = mulberry32(seed);
  const avs = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    avs[i * 3] = rng() * 0.3;
    avs[i * 3 + 1] = rng() < 0.1 ? 1 : 0;
    avs[i * 3 + 2] = rng() < 0.05 ? rng() : 0;
  }
  return avs;
}

/** Float64 forward pass of the 5 sigmoid Dense layers from raw weights [k1, b1, …]. */
function manualForward(w: Float32Array[], x: number[]): { a1: number[]; out: number[] } {
  let h = x;
  let a1: number[] = [];
  for (let l = 0; l < 5; l++) {
    const k = w[2 * l];
    const b = w[2 * l + 1];
    const units = b.length;
    const next: number[] = [];
    for (let u = 0; u < units; u++) {
      let s = b[u];
      for (let i = 0; i < h.length; i++) s += h[i] * k[i * units + u];
      next.push(1 / (1 + Math.exp(-s)));
    }
    h = next;
    if (l === 0) a1 = h;
  }
  return { a1, out: h };
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((t) => Float32Array.from(t.dataSync() as Float32Array));
}

async function expectChidsError(p: Promise<unknown>, re: RegExp): Promise<ChidsError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ChidsError, `expected a ChidsError, got ${String(err)}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), `message must be one line: ${JSON.stringify(err.message)}`);
    return err;
  }
  assert.fail(`expected a ChidsError matching ${re}`);
}

describe('thresholds', () => {
  test('THETAS are numpy.arange(0.2, 2.2, 0.2), bit for bit', () => {
    assert.deepEqual(
      [...THETAS],
      [0.2, 0.4, 0.6000000000000001, 0.8, 1, 1.2, 1.4000000000000001, 1.6, 1.8, 2],
    );
    // numpy fills start + i*delta with delta = (start + step) - start
    const delta = 0.2 + 0.2 - 0.2;
    THETAS.forEach((t, i) => assert.equal(t, i === 0 ? 0.2 : i === 1 ? 0.2 + 0.2 : 0.2 + i * delta));
  });

  test('thresholdsFrom multiplies the max error by every θ', () => {
    const m = 0.012345678901234;
    assert.deepEqual(
      thresholdsFrom(m),
      THETAS.map((t) => m * t),
    );
    assert.equal(thresholdsFrom(m)[2], m * 0.6000000000000001);
  });
});

describe('trainChids', () => {
  test('shapes, split sizes, thresholds = max error over ALL rows × θ', async () => {
    const n = 57;
    const avs = synthetic(n);
    const epochsSeen: number[] = [];
    const r = await trainChids(avs, n, {
      epochs: 3,
      seed: 7,
      onEpoch: (e, loss, val) => {
        epochsSeen.push(e);
        assert.ok(Number.isFinite(loss));
        assert.ok(val !== null && Number.isFinite(val));
      },
    });
    try {
      assert.deepEqual(epochsSeen, [1, 2, 3]);
      assert.equal(r.trainRows, Math.floor(57 * 0.8));
      assert.equal(r.trainRows, 45);
      assert.equal(r.valRows, 12);
      assert.equal(r.epochs, 3);
      assert.equal(r.seed, 7);
      assert.equal(r.history.loss.length, 3);
      assert.equal(r.finalLoss, r.history.loss[2]);
      assert.equal(r.finalValLoss, r.history.valLoss[2]);
      assert.equal(r.trainErrors.length, n);
      assert.equal(r.scorer.kind, CHIDS_KIND);
      // errors of every row, training and validation ones, as the reference predicts on all input
      assert.deepEqual(r.trainErrors, r.scorer.scoreAVs(avs, n));
      assert.equal(r.maxError, maxOf(r.trainErrors));
      assert.deepEqual(
        r.thresholds,
        THETAS.map((t) => r.maxError * t),
      );
      assert.equal(r.thresholds.length, 10);
      // weight shapes: 3→2→1→1→2→3
      assert.deepEqual(
        r.scorer.weights().map((w) => w.length),
        [6, 2, 2, 1, 1, 1, 2, 2, 6, 3],
      );
      assert.equal(r.scorer.reconstruct(avs, n).length, n * AV_FEATURES);
    } finally {
      r.scorer.dispose();
    }
  });

  test('Keras validation_split row counts', () => {
    assert.equal(trainRowCount(2, 0.2), 1);
    assert.equal(trainRowCount(5, 0.2), 4);
    assert.equal(trainRowCount(7, 0.2), 5);
    assert.equal(trainRowCount(10, 0.2), 8);
    assert.equal(trainRowCount(10, 0), 10);
  });

  test('loss decreases on a simple data set', async () => {
    const n = 300;
    const r = await trainChids(synthetic(n, 3), n, { epochs: 25, seed: 11 });
    try {
      const first = r.history.loss[0];
      assert.ok(r.finalLoss < first * 0.8, `loss ${first} → ${r.finalLoss}`);
      assert.ok(r.finalValLoss !== null && r.finalValLoss < r.history.valLoss[0]!);
      for (let i = 1; i < r.history.loss.length; i++) assert.ok(r.history.loss[i] <= r.history.loss[i - 1] + 1e-6);
    } finally {
      r.scorer.dispose();
    }
  });

  test('the last 20 % of rows are the validation rows (split before shuffling)', async () => {
    const n = 100;
    const avs = new Float64Array(n * 3);
    for (let i = 80; i < n; i++) avs.fill(5, i * 3, i * 3 + 3); // only the held-out rows are far off
    const r = await trainChids(avs, n, { epochs: 3, seed: 5 });
    try {
      assert.ok(r.finalValLoss! > 10 * r.finalLoss, `val ${r.finalValLoss} vs train ${r.finalLoss}`);
      // thresholds still come from all rows, so the held-out rows dominate the max error
      assert.equal(maxOf(r.trainErrors.subarray(80)), r.maxError);
    } finally {
      r.scorer.dispose();
    }
  });

  test('same seed ⇒ identical weights and thresholds; different seed ⇒ different', async () => {
    const n = 120;
    const avs = synthetic(n, 9);
    const a = await trainChids(avs, n, { epochs: 4, seed: 1234 });
    const b = await trainChids(avs, n, { epochs: 4, seed: 1234 });
    const c = await trainChids(avs, n, { epochs: 4, seed: 1235 });
    try {
      assert.deepEqual(a.scorer.weights(), b.scorer.weights());
      assert.deepEqual(a.thresholds, b.thresholds);
      assert.deepEqual(a.history, b.history);
      assert.notDeepEqual(a.scorer.weights(), c.scorer.weights());
      assert.notDeepEqual(a.thresholds, c.thresholds);
    } finally {
      for (const r of [a, b, c]) r.scorer.dispose();
    }
  });

  test('without a seed, a random one is drawn and reported; replaying it reproduces the run', async () => {
    const n = 40;
    const avs = synthetic(n, 2);
    const a = await trainChids(avs, n, { epochs: 2 });
    const b = await trainChids(avs, n, { epochs: 2, seed: a.seed });
    try {
      assert.ok(Number.isInteger(a.seed));
      assert.deepEqual(a.thresholds, b.thresholds);
    } finally {
      a.scorer.dispose();
      b.scorer.dispose();
    }
  });

  test('the TF.js engine leaks no tensors per epoch or after training', async () => {
    await ensureTf();
    const before = tf.memory().numTensors;
    const perEpoch: number[] = [];
    const r = await trainChids(synthetic(230, 4), 230, {
      epochs: 6,
      seed: 3,
      engine: 'tfjs',
      onEpoch: () => perEpoch.push(tf.memory().numTensors),
    });
    assert.equal(new Set(perEpoch).size, 1, `tensor count per epoch: ${perEpoch.join(',')}`);
    r.scorer.scoreAVs(synthetic(50), 50);
    r.scorer.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('loss and optimizer', () => {
  test('the step loss is MSE + 0.01·Σ|a1| / batch size (Keras activity regularization)', async () => {
    await ensureTf();
    const model = buildChidsModel(99);
    try {
      const w = weightsOf(model);
      const rows = 17;
      const avs = synthetic(rows, 8);
      let mse = 0;
      let l1 = 0;
      for (let i = 0; i < rows; i++) {
        const x = [avs[i * 3], avs[i * 3 + 1], avs[i * 3 + 2]].map(Math.fround);
        const { a1, out } = manualForward(w, x);
        for (let f = 0; f < 3; f++) mse += (out[f] - x[f]) ** 2;
        for (const a of a1) l1 += Math.abs(a);
      }
      mse /= rows * 3;
      const manual = mse + (0.01 * l1) / rows;
      const vars = model.trainableWeights.map((v: { read(): tf.Tensor }) => v.read());
      const [withPenalty, without] = tf.tidy(() => {
        const x = tf.tensor2d(Float32Array.from(avs), [rows, 3]);
        return [chidsLoss(vars, x, 0.01).dataSync()[0], chidsLoss(vars, x, 0).dataSync()[0]];
      });
      assert.ok(Math.abs(withPenalty - manual) < 1e-6, `${withPenalty} vs ${manual}`);
      assert.ok(Math.abs(without - mse) < 1e-6, `${without} vs ${mse}`);
      assert.ok(withPenalty - without > 1e-4, 'the penalty must be part of the loss');
    } finally {
      model.dispose();
    }
  });

  test('the loss trainChids reports for a one-batch epoch is the manual loss at the initial weights', async () => {
    const n = 30; // 24 training rows, one batch of 50 ⇒ one step per epoch
    const avs = synthetic(n, 21);
    const seed = 4242;
    const r = await trainChids(avs, n, { epochs: 1, seed });
    const init = buildChidsModel(deriveSeeds(seed).model);
    try {
      const w = weightsOf(init);
      let mse = 0;
      let l1 = 0;
      const rows = r.trainRows;
      for (let i = 0; i < rows; i++) {
        const x = [avs[i * 3], avs[i * 3 + 1], avs[i * 3 + 2]].map(Math.fround);
        const { a1, out } = manualForward(w, x);
        for (let f = 0; f < 3; f++) mse += (out[f] - x[f]) ** 2;
        for (const a of a1) l1 += Math.abs(a);
      }
      const manual = mse / (rows * 3) + (0.01 * l1) / rows;
      assert.ok(Math.abs(r.finalLoss - manual) < 1e-6, `${r.finalLoss} vs ${manual}`);
      // one Adam step moves every weight with a non-negligible gradient by ≈ lr = 0.001
      const after = r.scorer.weights().flatMap((a) => [...a]);
      const before = w.flatMap((a) => [...a]);
      const moved = after.map((v, i) => Math.abs(v - before[i]));
      assert.ok(Math.max(...moved) <= 0.001 + 1e-6, `max step ${Math.max(...moved)}`);
      assert.ok(moved.filter((d) => d > 0.0009).length >= 20, `steps ${moved.join(',')}`);
    } finally {
      init.dispose();
      r.scorer.dispose();
    }
  });

  test('KerasAdam follows Keras/TensorFlow ApplyAdam (ε outside the bias correction)', async () => {
    await ensureTf();
    const v = tf.variable(tf.tensor1d([1, 2, -3, 0.5]));
    const g = tf.tensor1d([0.5, -0.25, 1e-6, 0]);
    const adam = new KerasAdam([v]);
    const gv = [0.5, -0.25, 1e-6, 0];
    const ref = [1, 2, -3, 0.5];
    const m = [0, 0, 0, 0];
    const s = [0, 0, 0, 0];
    try {
      for (let t = 1; t <= 3; t++) {
        adam.apply([g]);
        const alpha = (0.001 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
        for (let j = 0; j < 4; j++) {
          m[j] += (gv[j] - m[j]) * 0.1;
          s[j] += (gv[j] ** 2 - s[j]) * 0.001;
          ref[j] -= (alpha * m[j]) / (Math.sqrt(s[j]) + 1e-7);
        }
        const got = v.dataSync();
        for (let j = 0; j < 4; j++) assert.ok(Math.abs(got[j] - ref[j]) < 1e-6, `t=${t} j=${j}: ${got[j]} vs ${ref[j]}`);
      }
      assert.equal(adam.steps, 3);
      // TF.js' tf.train.adam would move the 1e-6 gradient's weight by a different amount (ε placement)
      const tiny = ref[2] - -3;
      assert.ok(tiny < -1e-4, `tiny-gradient weight moved ${tiny}`);
    } finally {
      v.dispose();
      g.dispose();
      adam.dispose();
    }
  });

  test('the raw forward pass equals the TF.js Dense layers (model.predict)', async () => {
    await ensureTf();
    const model = buildChidsModel(5);
    try {
      const avs = synthetic(64, 6);
      const [raw, pred] = tf.tidy(() => {
        const x = tf.tensor2d(Float32Array.from(avs), [64, 3]);
        const vars = model.trainableWeights.map((v: { read(): tf.Tensor }) => v.read());
        return [chidsForward(vars, x).out.dataSync(), (model.predict(x) as tf.Tensor).dataSync()];
      });
      assert.deepEqual(raw, pred);
    } finally {
      model.dispose();
    }
  });
});

describe('edge cases', () => {
  test('too few windows is a clear ChidsError', async () => {
    await expectChidsError(trainChids(new Float64Array(0), 0), /need at least 2 windows to train, got 0/);
    await expectChidsError(trainChids(new Float64Array(3), 1), /need at least 2 windows to train, got 1/);
    await expectChidsError(trainChids(new Float64Array(3), 1, { validationSplit: 0.5 }), /need at least 2 windows/);
  });

  test('two windows train (1 training row, 1 validation row)', async () => {
    const r = await trainChids(new Float64Array([0.1, 0, 0, 0.2, 0, 0]), 2, { epochs: 2, seed: 1 });
    try {
      assert.equal(r.trainRows, 1);
      assert.equal(r.valRows, 1);
      assert.equal(r.trainErrors.length, 2);
    } finally {
      r.scorer.dispose();
    }
  });

  test('one window trains when nothing is held out', async () => {
    const r = await trainChids(new Float64Array([0.1, 0, 0]), 1, { epochs: 2, seed: 1, validationSplit: 0 });
    try {
      assert.equal(r.valRows, 0);
      assert.equal(r.finalValLoss, null);
      assert.deepEqual(r.history.valLoss, [null, null]);
    } finally {
      r.scorer.dispose();
    }
  });

  test('all-identical AVs give equal errors and finite, positive thresholds', async () => {
    const { avs, n } = packAVs(Array.from({ length: 40 }, () => [0.05, 0, 0]));
    const r = await trainChids(avs, n, { epochs: 3, seed: 2 });
    try {
      assert.equal(new Set(r.trainErrors).size, 1);
      for (const t of r.thresholds) assert.ok(Number.isFinite(t) && t > 0);
    } finally {
      r.scorer.dispose();
    }
  });

  test('NaN / Infinity in the AVs is a ChidsError naming the vector', async () => {
    const avs = synthetic(10);
    avs[3 * 4 + 1] = NaN;
    await expectChidsError(trainChids(avs, 10), /anomaly vector 4 has a non-finite value \(NaN\)/);
    const good = await trainChids(synthetic(10), 10, { epochs: 1, seed: 1 });
    try {
      const bad = synthetic(5);
      bad[14] = Infinity;
      assert.throws(() => good.scorer.scoreAVs(bad, 5), (e: unknown) => e instanceof ChidsError && /anomaly vector 4/.test(e.message));
      assert.equal(good.scorer.scoreAVs(new Float64Array(0), 0).length, 0);
    } finally {
      good.scorer.dispose();
    }
  });

  test('bad options are ChidsErrors', async () => {
    const avs = synthetic(10);
    await expectChidsError(trainChids(avs, 10, { epochs: 0 }), /epochs must be a positive integer/);
    await expectChidsError(trainChids(avs, 10, { batchSize: 2.5 }), /batch size must be a positive integer/);
    await expectChidsError(trainChids(avs, 10, { validationSplit: 1 }), /validation split/);
    await expectChidsError(trainChids(avs, 10, { seed: -1 }), /seed must be an integer/);
  });

  test('a wrong buffer length is a programming error (RangeError)', async () => {
    await assert.rejects(trainChids(new Float64Array(7), 2), RangeError);
  });
});

describe('save / load', () => {
  test('round trip gives identical weights and scores', async () => {
    const n = 80;
    const avs = synthetic(n, 12);
    const r = await trainChids(avs, n, { epochs: 3, seed: 77 });
    const dir = tmp();
    await r.scorer.save(dir);
    assert.deepEqual(readdirSync(dir), [MODEL_DIR]);
    assert.deepEqual(readdirSync(join(dir, MODEL_DIR)).sort(), ['model.json', 'weights.bin']);
    const json = JSON.parse(readFileSync(join(dir, MODEL_DIR, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    assert.equal(readFileSync(join(dir, MODEL_DIR, 'weights.bin')).length, 26 * 4);
    const loaded = await loadChids(dir);
    try {
      assert.equal(loaded.kind, CHIDS_KIND);
      assert.equal(loaded.activityL1, 0.01);
      assert.deepEqual(json.userDefinedMetadata.chids.activityRegularization, { layer: 'encoder', l1: 0.01, appliedBy: 'chids training loop' });
      assert.deepEqual(loaded.weights(), r.scorer.weights());
      const fresh = synthetic(500, 13);
      assert.deepEqual(loaded.scoreAVs(fresh, 500), r.scorer.scoreAVs(fresh, 500));
      assert.deepEqual(loaded.scoreAVs(avs, n), r.trainErrors);
      // saving again over an existing model replaces it and leaves no temp files
      await loaded.save(dir);
      assert.deepEqual(readdirSync(dir), [MODEL_DIR]);
    } finally {
      loaded.dispose();
      r.scorer.dispose();
    }
  });

  test('a failed save leaves nothing behind and names the path', async () => {
    const r = await trainChids(synthetic(10), 10, { epochs: 1, seed: 1 });
    const dir = tmp();
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    try {
      await expectChidsError(r.scorer.save(notADir), /file.*cannot write/);
      assert.deepEqual(readdirSync(dir), ['file']);
    } finally {
      r.scorer.dispose();
    }
  });

  describe('corrupt or missing files are one-line ChidsErrors naming the file', async () => {
    const r = await trainChids(synthetic(20), 20, { epochs: 1, seed: 3 });
    const good = tmp();
    await r.scorer.save(good);
    r.scorer.dispose();
    const goodJson = readFileSync(join(good, MODEL_DIR, 'model.json'), 'utf8');
    const goodBin = readFileSync(join(good, MODEL_DIR, 'weights.bin'));

    async function variant(edit: (modelDir: string) => void): Promise<string> {
      const dir = tmp();
      const md = join(dir, MODEL_DIR);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(md);
      writeFileSync(join(md, 'model.json'), goodJson);
      writeFileSync(join(md, 'weights.bin'), goodBin);
      edit(md);
      return dir;
    }
    const mutateJson = (f: (j: any) => void) => (md: string) => {
      const j = JSON.parse(goodJson);
      f(j);
      writeFileSync(join(md, 'model.json'), JSON.stringify(j));
    };

    test('intact copy loads', async () => {
      (await loadChids(await variant(() => undefined))).dispose();
    });
    test('missing directory / model.json', async () => {
      const dir = tmp();
      await expectChidsError(loadChids(dir), /model\/model\.json: missing/);
      await expectChidsError(loadChids(await variant((md) => unlinkSync(join(md, 'model.json')))), /model\.json: missing/);
    });
    test('missing weights.bin', async () => {
      await expectChidsError(loadChids(await variant((md) => unlinkSync(join(md, 'weights.bin')))), /weights\.bin: missing/);
    });
    test('bad JSON', async () => {
      await expectChidsError(
        loadChids(await variant((md) => writeFileSync(join(md, 'model.json'), goodJson.slice(0, 100)))),
        /model\.json: not valid JSON/,
      );
    });
    test('JSON that is not a layers model', async () => {
      await expectChidsError(loadChids(await variant((md) => writeFileSync(join(md, 'model.json'), '[1,2]'))), /model\.json: not a TF\.js layers model/);
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.weightsManifest[0].paths = ['../../etc/passwd'])))),
        /model\.json: not a TF\.js layers model: weightsManifest\.0\.paths/,
      );
    });
    test('wrong weight byte length', async () => {
      await expectChidsError(
        loadChids(await variant((md) => writeFileSync(join(md, 'weights.bin'), goodBin.subarray(0, 100)))),
        /weights\.bin: has 100 bytes, expected 104/,
      );
      await expectChidsError(
        loadChids(await variant((md) => writeFileSync(join(md, 'weights.bin'), Buffer.concat([goodBin, Buffer.alloc(4)])))),
        /weights\.bin: has 108 bytes, expected 104/,
      );
    });
    test('non-finite weights', async () => {
      const bad = Buffer.from(goodBin);
      bad.writeFloatLE(NaN, 8);
      await expectChidsError(loadChids(await variant((md) => writeFileSync(join(md, 'weights.bin'), bad))), /weights\.bin: weight 2 is not finite/);
    });
    test('wrong topology', async () => {
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.modelTopology.config.layers[1].config.units = 3)))),
        /model\.json: wrong topology: Dense units 2,3,1,2,3, expected 2,1,1,2,3/,
      );
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => j.modelTopology.config.layers.pop()))),
        /model\.json: wrong topology/,
      );
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.modelTopology.config.layers[2].config.activation = 'relu')))),
        /model\.json: wrong topology: layer 3 must be sigmoid/,
      );
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.modelTopology.config.layers[0].class_name = 'Conv1D')))),
        /model\.json: wrong topology: layer 1/,
      );
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.modelTopology.config.layers[0].config.batch_input_shape = [null, 4])))),
        /model\.json: wrong topology: input shape/,
      );
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.weightsManifest[0].weights[0].shape = [2, 3])))),
        /model\.json: wrong topology: weight shapes/,
      );
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.weightsManifest[0].weights[0].name = 'nope/kernel')))),
        /model\.json: cannot load the model/,
      );
    });
    test('a different model kind', async () => {
      await expectChidsError(
        loadChids(await variant(mutateJson((j) => (j.userDefinedMetadata.chids.kind = 'lstm-autoencoder')))),
        /model\.json: holds a "lstm-autoencoder" model, expected "chids-autoencoder"/,
      );
    });
  });
});

describe('performance and hygiene', () => {
  test('scoring 100k AVs gives one finite score each (its speed: npm run bench)', async () => {
    const r = await trainChids(synthetic(50), 50, { epochs: 1, seed: 1 });
    try {
      const n = 100_000;
      const avs = synthetic(n, 31);
      r.scorer.scoreAVs(avs.subarray(0, 3000), 1000); // warm up
      const e = r.scorer.scoreAVs(avs, n);
      assert.equal(e.length, n);
      assert.ok(e.every(Number.isFinite), 'every score is finite');
    } finally {
      r.scorer.dispose();
    }
  });

  test('errors are float64 means of squared differences against the float32 reconstruction', async () => {
    const r = await trainChids(synthetic(30), 30, { epochs: 1, seed: 1 });
    try {
      const avs = synthetic(25, 40);
      const rec = r.scorer.reconstruct(avs, 25);
      const e = r.scorer.scoreAVs(avs, 25);
      for (let i = 0; i < 25; i++) {
        const d = [0, 1, 2].map((f) => rec[i * 3 + f] - avs[i * 3 + f]);
        assert.equal(e[i], (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / 3);
      }
    } finally {
      r.scorer.dispose();
    }
  });

  test('importing src/model, training, saving and loading print nothing (no tfjs-node banner)', () => {
    const dir = tmp();
    const code =
      "const m = await import('./src/model/nn/index.ts');" +
      'const r = await m.trainChids(new Float64Array(30).fill(0.1), 10, { epochs: 1, seed: 1 });' +
      'r.scorer.scoreAVs(new Float64Array(3), 1);' +
      `await r.scorer.save(${JSON.stringify(dir)}); r.scorer.dispose();` +
      `const l = await m.loadChids(${JSON.stringify(dir)}); l.scoreAVs(new Float64Array(3), 1); l.dispose();`;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: join(import.meta.dirname, '..'),
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, '');
  });
});
