/**
 * The CHIDS autoencoder trains, scores, saves and loads without TF.js (src/model/nn/chids.ts);
 * these tests hold it to TF.js's numbers and files: the same initial weights for a seed, scores
 * equal to TF.js `predict` bit for bit, a model.json TF.js itself would write (and can load),
 * and no TF.js in a process that only trains or loads the CHIDS model.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { syntheticAVs as synthetic } from './helpers/avs.js';
import {
  CHIDS_LAYERS,
  MODEL_DIR,
  buildChidsModel,
  chidsInitialWeights,
  deriveSeeds,
  ensureTf,
  loadChids,
  loadLayersModelDir,
  saveLayersModel,
  tf,
  trainChids,
} from '../src/model/nn/index.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'chids-tf-free-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((t) => Float32Array.from(t.dataSync() as Float32Array));

test('initial weights equal TF.js glorotUniform for the same seed, bit for bit', async () => {
  await ensureTf();
  for (const seed of [0, 1, 7, 4242, 2 ** 32 - 1, 123456789, deriveSeeds(99).model]) {
    const m = buildChidsModel(seed);
    try {
      assert.deepEqual(chidsInitialWeights(seed), weightsOf(m), `seed ${seed}`);
    } finally {
      m.dispose();
    }
  }
});

test('scores equal a TF.js predict of the same weights, bit for bit', async () => {
  await ensureTf();
  const r = await trainChids(synthetic(300, 1), 300, { epochs: 5, seed: 8 });
  const m = buildChidsModel(0);
  try {
    m.setWeights(r.scorer.weights().map((w, i) => tf.tensor(w, m.getWeights()[i].shape)));
    const n = 2000;
    const avs = synthetic(n, 2);
    const pred = tf.tidy(() => (m.predict(tf.tensor2d(Float32Array.from(avs), [n, 3])) as tf.Tensor).dataSync() as Float32Array);
    assert.deepEqual(r.scorer.reconstruct(avs, n), Float32Array.from(pred));
  } finally {
    m.dispose();
  }
});

test('the saved model is the one TF.js writes (topology, manifest, bytes) and TF.js loads it', async () => {
  await ensureTf();
  const seed = 31;
  const r = await trainChids(synthetic(120, 3), 120, { epochs: 3, seed });
  const ours = tmp();
  await r.scorer.save(ours);
  // TF.js's own save of the same model: built from the same seed, given the trained weights.
  const m = buildChidsModel(deriveSeeds(seed).model);
  const theirs = tmp();
  try {
    m.setWeights(r.scorer.weights().map((w, i) => tf.tensor(w, m.getWeights()[i].shape)));
    const meta = JSON.parse(readFileSync(join(ours, MODEL_DIR, 'model.json'), 'utf8')).userDefinedMetadata;
    await saveLayersModel(m, theirs, meta);
  } finally {
    m.dispose();
  }
  const a = JSON.parse(readFileSync(join(ours, MODEL_DIR, 'model.json'), 'utf8'));
  const b = JSON.parse(readFileSync(join(theirs, MODEL_DIR, 'model.json'), 'utf8'));
  assert.match(a.generatedBy, /^chids /);
  assert.match(b.generatedBy, /^TensorFlow\.js/);
  delete a.generatedBy;
  delete b.generatedBy;
  assert.deepEqual(a, b);
  assert.deepEqual(readFileSync(join(ours, MODEL_DIR, 'weights.bin')), readFileSync(join(theirs, MODEL_DIR, 'weights.bin')));

  const check = {
    expectedWeightShapes: CHIDS_LAYERS.flatMap((l, i) => [[i === 0 ? 3 : CHIDS_LAYERS[i - 1].units, l.units], [l.units]]),
    layerUnits: CHIDS_LAYERS.map((l) => l.units),
    inputWidth: 3,
    activation: 'sigmoid',
    kind: 'chids-autoencoder',
  };
  const loadedByTf = await loadLayersModelDir(ours, check);
  try {
    assert.deepEqual(weightsOf(loadedByTf), r.scorer.weights());
  } finally {
    loadedByTf.dispose();
  }
  // And a TF.js-written model loads here, with its own topology kept on a re-save.
  const back = await loadChids(theirs);
  assert.deepEqual(back.weights(), r.scorer.weights());
  const again = tmp();
  await back.save(again);
  assert.deepEqual(JSON.parse(readFileSync(join(again, MODEL_DIR, 'model.json'), 'utf8')).modelTopology, b.modelTopology);
});

/** Runs `code` (an ES module body) in a child; it prints whether TF.js got loaded. */
function tfLoadedAfter(code: string): boolean {
  const probe =
    "const { createRequire } = await import('node:module');" +
    "const loaded = Object.keys(createRequire(process.cwd() + '/').cache).some((k) => k.includes('@tensorflow')) || globalThis._tfengine !== undefined;" +
    'console.log(JSON.stringify({ loaded }));';
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code + probe], {
    cwd: join(import.meta.dirname, '..'),
    encoding: 'utf8',
  });
  assert.equal(res.status, 0, res.stderr);
  return JSON.parse(res.stdout.trim().split('\n').pop()!).loaded;
}

test('training, saving, loading and scoring the CHIDS model through the registry load no TF.js', () => {
  const dir = tmp();
  const avs = 'const avs = new Float64Array(300); for (let i = 0; i < 300; i++) avs[i] = (i % 7) / 20;';
  const trainAndScore =
    avs +
    "const reg = await import('./src/model/registry.ts');" +
    "const t = await reg.createTrainer({ model: 'chids', epochs: 2, seed: 1 });" +
    "const r = await t.fit([{ avs, n: 100, tap: null, file: 'a' }]);" +
    `await r.detector.save(${JSON.stringify(dir)});` +
    `const d = await reg.loadDetector(${JSON.stringify(dir)}, 'chids');` +
    'const s = d.scoreRecording({ avs, n: 100, tap: null });' +
    "if (!(s.length === 100 && s.every(Number.isFinite))) throw new Error('bad scores');";
  assert.equal(tfLoadedAfter(trainAndScore), false);
  // The probe sees TF.js when it is loaded (a sequence model needs it).
  assert.equal(tfLoadedAfter("const tfm = await import('./src/model/nn/tf.ts'); await tfm.ensureTf();"), true);
});
