/**
 * STIDE's and BoSC's thresholds (issue 9): θ = 1.0 is a robust upper bound of their
 * leave-one-out training scores, not their maximum, and one short training recording works
 * (its time blocks are the folds).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { strFromU8, unzipSync } from 'fflate';
import { pathsInDir, readManifest } from '../src/engine/baseline-dir.js';
import { runBaseline } from '../src/app/train.js';
import { runEvaluate } from '../src/app/evaluate.js';
import { blockFold, MAX_BLOCK_FOLDS } from '../src/model/classic/syscall-stream.js';
import { foldMaxima, noveltyCalibration, THETAS } from '../src/model/thresholds.js';
import { writeRecording } from './helpers/lidds-dataset.js';
import { lidRecording, missing } from './helpers/paths.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'chids-novelty-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

const THETA_1 = THETAS.findIndex((t) => t === 1);

describe('noveltyCalibration', () => {
  test('one outlying window does not set θ = 1.0', () => {
    const scores = [0.004, 0.004, 0.004, 0.005, 0.005, 0.006, 0.015, 0.017, 0.036, 0.985];
    const c = noveltyCalibration(scores);
    assert.equal(c.max, 0.985);
    assert.ok(c.value > 0.036 && c.value < 0.1, `θ 1.0 at ${c.value}`);
    // The fence: Q3 + 3·IQR with numpy's linear quantiles.
    assert.ok(Math.abs(c.value - (c.q3 + 3 * (c.q3 - c.q1))) < 1e-15);
    assert.equal(c.positive, 10);
  });

  test('windows that score 0 are left out; never above the largest score; all 0 gives 0', () => {
    const withZeros = noveltyCalibration([0, 0, 0, 0, 0, 0, 0.01, 0.02, 0.03, 0.04]);
    assert.equal(withZeros.positive, 4);
    assert.ok(withZeros.value > 0, 'mostly-zero scores do not give a zero threshold');
    assert.equal(withZeros.value, 0.04, 'no outlier: the fence is above the max, the max stands');
    assert.equal(noveltyCalibration([0, 0, 0]).value, 0);
    assert.equal(noveltyCalibration([0.2]).value, 0.2);
  });
});

test('the bound is taken over the highest score of each fold (what decides a recording’s verdict)', () => {
  assert.deepEqual(Array.from(foldMaxima([0.1, 0.3, 0, 0.2, 0.05], [0, 0, 1, 2, 2])), [0.3, 0, 0.2]);
});

test('time blocks of one recording: at most ten, contiguous, covering every window', () => {
  for (const n of [1, 2, 9, 10, 11, 18, 95, 1000]) {
    const folds = Array.from({ length: n }, (_, w) => blockFold(w, n));
    assert.equal(new Set(folds).size, Math.min(MAX_BLOCK_FOLDS, n), `n = ${n}`);
    for (let w = 1; w < n; w++) assert.ok(folds[w] === folds[w - 1] || folds[w] === folds[w - 1] + 1);
    assert.equal(folds[0], 0);
  }
});

describe('one short training recording', () => {
  for (const model of ['stide', 'bosc'] as const) {
    test(`${model}: 12 s of traffic give thresholds below 1, and an attack recording is detected at θ 1.0`, async () => {
      const dir = tmp();
      const train = writeRecording(path.join(dir, 'train'), { name: 'train', seconds: 12, exploitAt: null, seed: 71, startSec: 1_700_200_000 });
      const attack = writeRecording(path.join(dir, 'attack'), { name: 'attack', seconds: 12, exploitAt: 6, seed: 72, startSec: 1_700_201_000 });
      const od = path.join(dir, 'baseline');
      const b = await runBaseline({ inputs: [train], outDir: od, faithful: false, windowNs: 1e9, seed: 1, model: { model, ...(model === 'stide' ? { ngram: 4 } : {}) } });
      // Before time blocks, the recording was one fold and every training score was 1.
      assert.ok(b.thresholds[THETA_1] < 0.5, `θ 1.0 threshold ${b.thresholds[THETA_1]}`);
      const m = await readManifest(od);
      const cal = m.model['threshold'] as { value: number; max: number };
      assert.equal(cal.value, b.thresholds[THETA_1]);
      assert.ok(cal.value <= cal.max);
      const ev = await runEvaluate({ normal: [], attack: [attack], artifacts: pathsInDir(od) });
      assert.equal(ev.metrics.detected[THETA_1], 1, 'the web shell is detected after its start at θ 1.0');
    });
  }
});

describe('the real LID-DS recording', () => {
  const skip = missing(lidRecording);
  test('STIDE and BoSC trained on its first 9 s (before the exploit) detect the attack at θ 1.0', { skip }, async () => {
    const dir = tmp();
    const files = unzipSync(new Uint8Array(readFileSync(lidRecording)));
    const scName = Object.keys(files).find((f) => f.endsWith('.sc'))!;
    const meta = JSON.parse(strFromU8(files[scName.replace(/\.sc$/, '.json')])) as { time: { exploit: { absolute: number }[] } };
    const exploitNs = BigInt(Math.round(meta.time.exploit[0].absolute * 1e3)) * 1_000_000n;
    const lines = strFromU8(files[scName]).split('\n').filter((l) => l !== '');
    // Everything up to 1 s before the exploit starts: one short normal recording.
    const before = lines.filter((l) => BigInt(l.slice(0, l.indexOf(' '))) < exploitNs - 1_000_000_000n);
    assert.ok(before.length > 1000 && before.length < lines.length);
    const train = path.join(dir, 'before-exploit.sc');
    writeFileSync(train, before.join('\n') + '\n');
    for (const model of ['stide', 'bosc'] as const) {
      const od = path.join(dir, model);
      const b = await runBaseline({ inputs: [train], outDir: od, faithful: false, windowNs: 1e9, seed: 1, model: { model } });
      const ev = await runEvaluate({ normal: [], attack: [lidRecording], artifacts: pathsInDir(od) });
      assert.equal(ev.metrics.detected[THETA_1], 1, `${model}: detected at θ 1.0 (threshold ${b.thresholds[THETA_1]})`);
      assert.equal(ev.metrics.cfa[THETA_1], 0, `${model}: no alarm before the exploit`);
    }
  });
});
