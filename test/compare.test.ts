/**
 * `chids compare`: the column rules (bestAtFar), runCompare on a tiny LID-DS scenario written
 * at test time, and the command end to end (table and --json).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bestAtFar, runCompare, type CompareResult } from '../src/app/compare.js';
import { renderComparison } from '../src/report/compare-html.js';
import { ChidsError } from '../src/util/errors.js';
import { assertOk, jsonOf, runCli } from './helpers/cli.js';
import { recordingText, writeDataset } from './helpers/lidds-dataset.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'chids-compare-test-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

let dataset: string;
before(() => {
  dataset = writeDataset(tmp(), { training: 4, normal: 3, attack: 2, seconds: 16, seed: 3 });
});

describe('bestAtFar', () => {
  test('the best detection rate among θ within the false-alarm budget; ties go to the larger θ', () => {
    const dr = [1, 1, 0.9, 0.9, 0.5];
    const far = [0.5, 0.04, 0.01, 0, 0];
    assert.deepEqual(bestAtFar(dr, far, 0.05), { rate: 1, index: 1 });
    assert.deepEqual(bestAtFar(dr, far, 0.01), { rate: 0.9, index: 3 });
    assert.deepEqual(bestAtFar(dr, [1, 1, 1, 1, 1], 0.05), { rate: null, index: null });
    // no normal recordings: every θ is within budget
    assert.deepEqual(bestAtFar([0.5, 0.7], [null, null], 0.01), { rate: 0.7, index: 1 });
  });
});

describe('runCompare', () => {
  test('trains and evaluates each model on the same split; one row per model, in order', async () => {
    const out = tmp();
    const r: CompareResult = await runCompare({
      dataset,
      models: ['chids', 'tcn', 'stide', 'bosc'],
      seed: 8,
      epochs: 4,
      hyper: { seqLen: 4, ngram: 5 },
      outDir: out,
    });
    assert.deepEqual(
      r.models.map((m) => m.model),
      ['chids', 'tcn', 'stide', 'bosc'],
    );
    assert.deepEqual(r.recordings, { training: 4, normal: 3, attack: 2 });
    assert.equal(r.seed, 8);
    for (const m of r.models) {
      assert.equal(m.seed, 8);
      assert.equal(m.detection_rate.length, 10);
      assert.ok(m.training_ms > 0);
      assert.ok(m.windows_scored >= 5 * 15);
      assert.ok(m.windows_per_s > 0);
      assert.ok(m.auc !== null && m.auc >= 0 && m.auc <= 1);
      assert.ok(existsSync(path.join(out, m.model, 'manifest.json')), 'baselines kept with --out');
      assert.equal(m.baseline, path.join(out, m.model));
    }
    const by = Object.fromEntries(r.models.map((m) => [m.model, m]));
    assert.equal(by['chids'].epochs, 4);
    assert.equal(by['tcn'].epochs, 4);
    assert.equal(by['tcn'].settings['seq_len'], 4);
    assert.equal(by['stide'].settings['ngram'], 5);
    assert.equal(by['stide'].epochs, 0);
    assert.equal(by['chids'].settings['seq_len'], undefined, 'hyper-parameters only go to the models that take them');
    // The web shell is obvious to the syscall-level detectors.
    for (const m of ['stide', 'bosc']) {
      assert.equal(by[m].auc, 1);
      assert.equal(by[m].dr_at_far_5, 1);
      assert.ok(by[m].mean_latency_s !== null && by[m].mean_latency_s! > 0 && by[m].mean_latency_s! <= 2, `${m} latency ${by[m].mean_latency_s}`);
      assert.deepEqual(by[m].roc.at(-1), { fpr: 1, tpr: 1 });
      // The per-θ LID-DS figures agree with the summary columns at the FAR ≤ 5 % θ.
      const k = r.theta.indexOf(by[m].theta_at_far_5!);
      assert.equal(by[m].lidds!.recall.length, 10);
      assert.equal(by[m].lidds!.recall[k], by[m].recall_at_far_5);
      assert.equal(by[m].lidds!.mean_latency_s[k], by[m].mean_latency_s);
      assert.equal(by[m].lidds!.detected[k], 2);
    }
    // FAR resolution, and the figures at θ 1.0 with their counts, agree with the per-θ arrays.
    assert.equal(r.far_resolution, 1 / 3);
    const k1 = r.theta.indexOf(1);
    for (const m of r.models) {
      const a = m.at_theta_1!;
      assert.equal(a.theta, 1);
      assert.equal(a.flagged_normal / 3, m.false_alarm_rate[k1]);
      assert.equal(a.flagged_attack / 2, m.detection_rate[k1]);
      assert.deepEqual(m.flagged_normal.map((f) => f / 3), m.false_alarm_rate);
      const l = m.lidds!;
      for (const [key, per] of [['detected', 'detected'], ['cfa', 'cfa'], ['precision', 'precision_cfa'], ['mean_latency_s', 'mean_latency_s']] as const) {
        assert.equal(l[per].length, 10);
        assert.equal(a[key], l[per][k1]);
      }
      const p = l.precision_cfa[k1];
      if (p !== null) assert.equal(p, a.detected / (a.detected + a.cfa));
    }
    // The HTML page: the table and two SVG charts (ROC per detector, cost).
    const html = renderComparison(r);
    assert.equal(html.match(/<svg/g)?.length, 2);
    for (const m of r.models) assert.ok(html.includes(`<td>${m.model}</td>`));
    assert.ok(!/<script/i.test(html), 'self-contained, no script');
  });

  test("a model that cannot train gets a row saying why; the others still run", async () => {
    // Traces of exit events only: no calls for STIDE and BoSC to read, windows for CHIDS.
    const root = tmp();
    let seed = 50;
    for (const [split, n] of [['training', 3], ['test/normal', 1], ['test/normal_and_attack', 1]] as const) {
      mkdirSync(path.join(root, split), { recursive: true });
      for (let i = 0; i < n; i++) {
        const text = recordingText({ name: 'x', seconds: 8, exploitAt: null, seed: seed++, startSec: 1_700_000_000 + seed * 100 });
        writeFileSync(path.join(root, split, `r${i}.sc`), text.split('\n').filter((l) => !l.includes(' > ')).join('\n'));
      }
    }
    const r = await runCompare({ dataset: root, models: ['bosc', 'chids'], seed: 1, epochs: 2 });
    assert.match(r.models[0].error ?? '', /bosc: the training recordings hold no system call/);
    assert.equal(r.models[1].error, null);
    assert.ok(r.models[1].windows_scored > 0);
    await assert.rejects(runCompare({ dataset: root, models: ['bosc', 'stide'], seed: 1 }), /every model failed/);
  });

  test('bad requests are refused before any work', async () => {
    await assert.rejects(runCompare({ dataset, models: [], seed: 1 }), ChidsError);
    await assert.rejects(runCompare({ dataset, models: ['stide', 'stide'], seed: 1 }), /twice/);
    await assert.rejects(runCompare({ dataset: path.join(dataset, 'training'), models: ['stide'], seed: 1 }), /missing/);
  });
});

describe('chids compare (CLI)', () => {
  test('--json: one object with a row per model', async () => {
    const r = await runCli(['compare', '--dataset', dataset, '--models', 'stide,bosc', '--seed', '3', '--json']);
    assertOk(r);
    const j = jsonOf<CompareResult>(r);
    assert.deepEqual(
      j.models.map((m) => m.model),
      ['stide', 'bosc'],
    );
    assert.equal(j.seed, 3);
  });

  test('the table, the --report page, and an unknown model named in one line', async () => {
    const page = path.join(tmp(), 'cmp.html');
    const r = await runCli(['compare', '--dataset', dataset, '--models', 'bosc', '-q', '--report', page]);
    assertOk(r);
    assert.match(readFileSync(page, 'utf8'), /ROC over recordings, per detector/);
    for (const col of ['model', 'DR @ FAR ≤ 1 %', 'DR @ FAR ≤ 5 %', 'AUC', 'latency', 'training', 'windows/s', 'bosc', 'At θ 1.0', 'LID-DS detected', 'CFA', 'precision', 'mean latency']) {
      assert.ok(r.stdout.includes(col), `table lacks ${col}:\n${r.stdout}`);
    }
    // Every false-alarm rate with its counts and resolution (3 normal recordings).
    assert.match(r.stdout, /FAR resolution 1\/3/);
    assert.match(r.stdout, /│ bosc +│ [\d.]+ % \(\d\/2\) +│ [\d.]+ % \(\d\/3, resolution 1\/3\) +│ +\d\/2 +│ +\d+ +│/);
    assert.match(readFileSync(page, 'utf8'), /resolution 1\/3\)<\/td>/);
    const bad = await runCli(['compare', '--dataset', dataset, '--models', 'chids,svm']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^chids: unknown model svm in --models/);
  });
});
