/**
 * `evaluate --jobs N` / `compare --jobs N`: recordings scored on worker threads give exactly the
 * output of the in-process loop (`--jobs 1`): the same JSON (bar the timings), the same warnings
 * in the same order, the same one-line error for a bad recording. On a LID-DS scenario written at
 * test time (several detectors, TF.js included) and on the bundled data/example.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertOk, assertOneLineError, jsonOf, runCli, show, type CliResult } from './helpers/cli.js';
import { writeDataset } from './helpers/lidds-dataset.js';

const root = mkdtempSync(path.join(tmpdir(), 'chids-jobs-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const example = path.join(import.meta.dirname, '..', 'data', 'example');

/** The JSON without what measures time (the only fields allowed to differ between runs). */
function deterministic(r: CliResult): unknown {
  return JSON.parse(r.stdout, (k, v) => (['timing', 'training_ms', 'windows_per_s', 'model_windows_per_s'].includes(k) ? undefined : v));
}

let dataset: string;
before(() => {
  // More recordings than workers, so each worker scores several, out of order with the others.
  dataset = writeDataset(path.join(root, 'scenario'), { training: 3, normal: 5, attack: 4, seconds: 14, seed: 11 });
});

describe('--jobs 2 gives the output of --jobs 1', () => {
  test('compare on a generated scenario (calibrated, STIDE with its tap, a TF.js sequence model), then evaluate of each baseline', async () => {
    const out = path.join(root, 'compare-out');
    const args = ['compare', '--dataset', dataset, '--models', 'calibrated,stide,tcn', '--seed', '4', '--epochs', '2', '--seq-len', '4', '--out', out, '--json', '-q'];
    const one = await runCli([...args, '--jobs', '1'], { timeoutMs: 300_000 });
    assertOk(one);
    const two = await runCli([...args, '--jobs', '2'], { timeoutMs: 300_000 });
    assertOk(two);
    const a = deterministic(one) as { models: { model: string; error: string | null; windows_scored: number }[] };
    assert.deepEqual(deterministic(two), a);
    assert.deepEqual(
      a.models.map((m) => [m.model, m.error]),
      [
        ['calibrated', null],
        ['stide', null],
        ['tcn', null],
      ],
    );
    for (const m of a.models) assert.ok(m.windows_scored > 0, `${m.model} scored windows`);

    for (const model of ['stide', 'tcn']) {
      const ev = (jobs: string) => runCli(['evaluate', '--od', path.join(out, model), '--dataset', dataset, '--json', '--jobs', jobs], { timeoutMs: 300_000 });
      const [e1, e2] = [await ev('1'), await ev('2')];
      assertOk(e1);
      assertOk(e2);
      const j1 = jsonOf<{ recordings: { file: string }[] }>(e1);
      assert.equal(j1.recordings.length, 9, show(e1));
      // Input order: the normal recordings, then the attacks, each in path order.
      assert.deepEqual(
        j1.recordings.map((r) => path.basename(r.file)),
        [...readdirSync(path.join(dataset, 'test', 'normal')).sort(), ...readdirSync(path.join(dataset, 'test', 'normal_and_attack')).sort()],
      );
      assert.deepEqual(deterministic(e2), deterministic(e1), `${model}: --jobs 2 differs from --jobs 1`);
      assert.equal(e2.stderr, e1.stderr);
    }
  });

  test('evaluate on data/example with a baseline trained on its training recordings', { skip: !existsSync(example) && 'no data/example' }, async () => {
    const od = path.join(root, 'example-od');
    assertOk(await runCli(['baseline', '-q', '--td', path.join(example, 'training'), '--od', od, '--seed', '2'], { timeoutMs: 300_000 }));
    const ev = (jobs: string) => runCli(['evaluate', '--od', od, '--dataset', example, '--json', '--jobs', jobs], { timeoutMs: 300_000 });
    const [e1, e2, e3] = [await ev('1'), await ev('2'), await ev('3')];
    for (const e of [e1, e2, e3]) assertOk(e);
    const j1 = jsonOf<{ recordings: unknown[] }>(e1);
    assert.equal(j1.recordings.length, 13);
    assert.deepEqual(deterministic(e2), deterministic(e1));
    assert.deepEqual(deterministic(e3), deterministic(e1));
  });
});

describe('bad recordings with --jobs 2', () => {
  let od: string;
  let normalDir: string;
  before(async () => {
    od = path.join(root, 'bad-od');
    assertOk(await runCli(['baseline', '-q', '--td', path.join(dataset, 'training'), '--od', od, '--model', 'stide', '--seed', '1'], { timeoutMs: 300_000 }));
    // A directory with bad members between good ones: each is skipped with a warning.
    normalDir = path.join(root, 'bad-normal');
    mkdirSync(normalDir, { recursive: true });
    const good = readdirSync(path.join(dataset, 'test', 'normal')).sort();
    for (const f of good) copyFileSync(path.join(dataset, 'test', 'normal', f), path.join(normalDir, f));
    writeFileSync(path.join(normalDir, `${good[1].replace(/\.zip$/, '')}_x.zip`), readFileSync(path.join(normalDir, good[0])).subarray(0, 2000));
    writeFileSync(path.join(normalDir, `${good[3].replace(/\.zip$/, '')}_x.sc`), 'not a trace\n');
  });

  test('skipped directory members: the same warnings, in the same order, and the same JSON', async () => {
    const ev = (jobs: string) => runCli(['evaluate', '--od', od, '--ns', normalDir, '--ms', path.join(dataset, 'test', 'normal_and_attack'), '--json', '--jobs', jobs]);
    const [e1, e2] = [await ev('1'), await ev('2')];
    assertOk(e1);
    assertOk(e2);
    const warnings = e1.stderr.split('\n').filter((l) => l.startsWith('warning: skipped'));
    assert.equal(warnings.length, 2, show(e1));
    assert.equal(e2.stderr, e1.stderr);
    assert.deepEqual(deterministic(e2), deterministic(e1));
    assert.equal((jsonOf<{ skipped: unknown[] }>(e2)).skipped.length, 2);
  });

  test('a named bad recording: the same one-line error naming it, whichever worker read it', async () => {
    const bad = path.join(root, 'named-bad.sc');
    writeFileSync(bad, 'garbage line\n');
    const normals = readdirSync(path.join(dataset, 'test', 'normal')).sort().map((f) => path.join(dataset, 'test', 'normal', f));
    // Named second: the recordings after it are already being scored by the other worker when it fails.
    const args = ['evaluate', '--od', od, '--ns', normals[0], '--ns', bad, ...normals.slice(1).flatMap((f) => ['--ns', f]), '--json'];
    const e1 = await runCli([...args, '--jobs', '1']);
    const e2 = await runCli([...args, '--jobs', '2']);
    const line = assertOneLineError(e1, bad);
    assert.equal(assertOneLineError(e2, bad), line);
    assert.equal(e2.code, e1.code);
    assert.equal(e2.stdout, '');
  });
});
