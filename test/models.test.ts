/**
 * The seven detectors behind one interface: sequences and their attribution rule;
 * for every model: shapes, save/load round trip with identical scores, seeded reproducibility,
 * and scores that separate attack recordings (a web shell: unseen syscalls, /etc/shadow, a
 * reverse connection) from normal ones; `chids baseline --model X` + `chids evaluate` through
 * the CLI; the real LID-DS recording from ../shared when present.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathsInDir, readManifest } from '../src/engine/baseline-dir.js';
import { runBaseline } from '../src/app/train.js';
import { runEvaluate } from '../src/app/evaluate.js';
import { encodeTrace } from '../src/encode/pipeline.js';
import { fitOn } from './helpers/train.js';
import type { Vocabulary } from '../src/encode/vocabulary.js';
import { NameTable } from '../src/trace/names.js';
import { openSource } from '../src/trace/sources/readers.js';
import type { Detector, FitResult, TrainingRecording } from '../src/model/detector.js';
import { createTrainer, loadDetector, MODEL_NAMES, type ModelName, type ModelOptions } from '../src/model/registry.js';
import { buildSequences, sequenceCount, sequenceErrors } from '../src/model/nn/sequences.js';
import { THETAS } from '../src/model/thresholds.js';
import { ChidsError } from '../src/util/errors.js';
import { assertOk, jsonOf, runCli } from './helpers/cli.js';
import { writeDataset } from './helpers/lidds-dataset.js';
import { lidRecording, missing } from './helpers/paths.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'chids-models-test-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** Few epochs: enough to separate the web shell, quick on 2 cores. */
const QUICK: Partial<Record<ModelName, ModelOptions>> = {
  chids: { epochs: 60 },
  'dense-seq': { epochs: 8, seqLen: 5 },
  enhanced: { epochs: 8, seqLen: 5 },
  lstm: { epochs: 4, seqLen: 5 },
  tcn: { epochs: 8, seqLen: 5 },
  stide: { ngram: 4 },
};

const files = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.zip'))
    .sort()
    .map((f) => path.join(dir, f));

interface Split {
  root: string;
  training: string[];
  normal: string[];
  attack: string[];
}

let split: Split;
before(() => {
  const root = writeDataset(tmp(), { training: 4, normal: 2, attack: 2, seconds: 20, seed: 11 });
  split = {
    root,
    training: files(path.join(root, 'training')),
    normal: files(path.join(root, 'test', 'normal')),
    attack: files(path.join(root, 'test', 'normal_and_attack')),
  };
});


/** Scores one recording as evaluate does: encode (feeding the detector's tap), then scoreRecording. */
async function scoreFile(det: Detector, file: string, vocab: Vocabulary): Promise<Float64Array> {
  const names = new NameTable();
  const tap = det.newTap?.(names) ?? null;
  const rows: number[] = [];
  await encodeTrace(await openSource(file), vocab, { faithful: false, windowNs: 1e9, tap: tap ?? undefined }, (w) => {
    if (w.av !== null) rows.push(...w.av);
  }, names);
  const scores = det.scoreRecording({ avs: Float64Array.from(rows), n: rows.length / 3, tap });
  assert.equal(scores.length, rows.length / 3, 'one score per non-empty window');
  return scores;
}

const maxOf = (a: ArrayLike<number>) => Math.max(...Array.from(a));

describe('sequences', () => {
  test('one sequence per window, the T windows ending at it; the first T−1 are pre-padded and masked', () => {
    const rec = (n: number, base: number) => ({ avs: Float64Array.from({ length: n * 3 }, (_, i) => base + i), n });
    const b = buildSequences([rec(5, 0), rec(2, 100), rec(0, 0)], 3, -1);
    assert.equal(sequenceCount(5, 3), 5);
    assert.equal(sequenceCount(2, 3), 2);
    assert.equal(sequenceCount(0, 3), 0);
    assert.equal(b.count, 7);
    assert.equal(b.x.length, 7 * 3 * 3);
    const seq = (s: number) => Array.from(b.x.subarray(s * 9, (s + 1) * 9));
    // window 0: two padded steps, then AV 0; window 1: one padded step, AVs 0, 1
    assert.deepEqual(seq(0), [-1, -1, -1, -1, -1, -1, 0, 1, 2]);
    assert.deepEqual(seq(1), [-1, -1, -1, 0, 1, 2, 3, 4, 5]);
    // window 3 of the first recording: AVs 1, 2, 3 (nothing after it)
    assert.deepEqual(seq(3), [3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // the short recording starts afresh: window 1 reads its own two AVs, not the first recording's
    assert.deepEqual(seq(6), [-1, -1, -1, 100, 101, 102, 103, 104, 105]);
    assert.deepEqual(Array.from(b.mask), [0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1]);
    // from: only the sequences ending at windows ≥ from, still reading the windows before
    const tail = buildSequences([rec(5, 0)], 3, -1, 4);
    assert.equal(tail.count, 1);
    assert.deepEqual(Array.from(tail.x), [6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  test('without --epochs, small training sets get more epochs (at least minSteps gradient steps)', async () => {
    const { epochsFor, MAX_AUTO_EPOCHS } = await import('../src/model/nn/seq-autoencoder.js');
    assert.equal(epochsFor({ epochs: 20, minSteps: 300 }, 1), 300);
    assert.equal(epochsFor({ epochs: 20, minSteps: 300 }, 100), 20);
    assert.equal(epochsFor({ epochs: 20, minSteps: 0 }, 1), 20, 'epochs given: exactly those');
    assert.equal(epochsFor({ epochs: 20, minSteps: 1e9 }, 1), MAX_AUTO_EPOCHS);
    const trainer = await createTrainer({ model: 'tcn' });
    assert.equal((await createTrainer({ model: 'tcn', epochs: 3 })).settings['min_steps'], undefined);
    assert.equal(trainer.settings['min_steps'], 1000);
  });

  test('errors are the mean squared error over real steps only', () => {
    const b = buildSequences([{ avs: Float64Array.from([0.5, 0, 0]), n: 1 }], 2, -1);
    const pred = Float32Array.from([9, 9, 9, 0.5, 0.3, 0]); // the padded step is ignored
    assert.ok(Math.abs(sequenceErrors(b, pred)[0] - (0.3 * 0.3) / 3) < 1e-7);
  });
});

for (const name of MODEL_NAMES) {
  describe(`model ${name}`, () => {
    const opts: ModelOptions = { model: name, seed: 5, ...QUICK[name] };
    let fit: FitResult;
    let vocab: Vocabulary;
    let recordings: TrainingRecording[];

    before(async () => {
      ({ fit, vocab, recordings } = await fitOn(opts, split.training));
    });
    after(() => fit?.detector.dispose());

    test('shapes: one training score per window, ten thresholds = max × θ, settings recorded', () => {
      const windows = recordings.reduce((a, r) => a + r.n, 0);
      assert.ok(windows >= 70, `${windows} training windows`);
      assert.equal(fit.trainScores.length, windows);
      assert.ok(fit.trainScores.every((s) => Number.isFinite(s) && s >= 0));
      assert.equal(fit.maxScore, maxOf(fit.trainScores));
      // STIDE may find every training n-gram in another training recording too: then its
      // thresholds are all 0 and any unseen n-gram alarms (the classic STIDE rule).
      if (name !== 'stide') assert.ok(fit.maxScore > 0, 'a zero max would make every threshold 0');
      if (name === 'stide' || name === 'bosc') {
        // θ = 1.0 at a robust bound of the leave-one-out scores, never above their max.
        const base = (fit.detector.settings['threshold'] as { value: number }).value;
        assert.ok(base <= fit.maxScore);
        assert.deepEqual(fit.thresholds, THETAS.map((t) => base * t));
      } else {
        assert.deepEqual(fit.thresholds, THETAS.map((t) => fit.maxScore * t));
      }
      assert.equal(fit.detector.name, name);
      assert.equal(fit.seed, 5);
      assert.ok(Object.keys(fit.detector.settings).length > 0);
      if (opts.seqLen) assert.equal(fit.detector.settings['seq_len'], opts.seqLen);
      if (opts.ngram) assert.equal(fit.detector.settings['ngram'], opts.ngram);
    });

    test('save → load gives identical scores', async () => {
      const dir = tmp();
      await fit.detector.save(dir);
      const loaded = await loadDetector(dir);
      try {
        assert.equal(loaded.name, name);
        assert.equal(loaded.kind, fit.detector.kind);
        for (const f of [split.normal[0], split.attack[0]]) {
          assert.deepEqual(await scoreFile(loaded, f, vocab), await scoreFile(fit.detector, f, vocab));
        }
      } finally {
        loaded.dispose();
      }
    });

    if (name === 'stide' || name === 'bosc') {
      test('live: scoring each window as the encoder closes it gives the offline scores', async () => {
        const det = fit.detector;
        const names = new NameTable();
        const tap = det.newTap!(names);
        const live: (number | null)[] = [];
        await encodeTrace(await openSource(split.attack[0]), vocab, { faithful: false, windowNs: 1e9, tap }, (w) => {
          if (w.av !== null) live.push(det.scoreWindow({ avs: new Float64Array(0), n: 0, tap, window: w.index }));
        }, names);
        assert.deepEqual(live, Array.from(await scoreFile(det, split.attack[0], vocab)));
      });
    }

    test('the same seed gives the same model', async () => {
      const again = await fitOn(opts, split.training);
      try {
        assert.deepEqual(again.fit.thresholds, fit.thresholds);
        assert.deepEqual(Array.from(again.fit.trainScores), Array.from(fit.trainScores));
        assert.deepEqual(await scoreFile(again.fit.detector, split.attack[1], vocab), await scoreFile(fit.detector, split.attack[1], vocab));
      } finally {
        again.fit.detector.dispose();
      }
    });

    test('attack recordings outscore normal ones, from the exploit on', async () => {
      const normalMax = [];
      for (const f of split.normal) normalMax.push(maxOf(await scoreFile(fit.detector, f, vocab)));
      for (const f of split.attack) {
        const s = await scoreFile(fit.detector, f, vocab);
        const top = maxOf(s);
        assert.ok(top > Math.max(...normalMax), `${path.basename(f)}: max ${top} vs normal ${normalMax.join(', ')}`);
        // The exploit starts between 40 % and 60 % of the 20 s: the top window is not before 7 s.
        assert.ok(s.indexOf(top) >= 7, `top window ${s.indexOf(top)}`);
      }
    });
  });
}

describe('baseline --model and evaluate, in the library', () => {
  test('the manifest records the model type and settings; evaluate loads the right detector', async () => {
    const od = path.join(tmp(), 'bosc');
    const b = await runBaseline({ inputs: [path.join(split.root, 'training')], outDir: od, faithful: false, windowNs: 1e9, seed: 2, model: { model: 'bosc', maxBags: 50 } });
    assert.equal(b.model, 'bosc');
    const m = await readManifest(od);
    assert.equal(m.model.type, 'bosc');
    assert.equal(m.model['max_bags'], 50);
    assert.equal(m.model['seed'], 2);
    assert.deepEqual(readdirSync(path.join(od, 'model')), ['bosc.json']);
    const ev = await runEvaluate({ normal: split.normal, attack: split.attack, artifacts: pathsInDir(od) });
    assert.equal(ev.model, 'bosc');
    assert.deepEqual(ev.detection_rate.slice(0, 5), [1, 1, 1, 1, 1]);
    assert.equal(ev.metrics.auc, 1);
    assert.ok(ev.timing && ev.timing.windows_scored === ev.recordings.reduce((a, r) => a + r.vectors, 0));
  });

  test('chids through the common interface is the reference autoencoder, bit for bit', async () => {
    const { trainChids } = await import('../src/model/nn/chids.js');
    const { fit, recordings } = await fitOn({ model: 'chids', seed: 9, epochs: 5 }, split.training);
    const all = recordings.flatMap((r) => Array.from(r.avs));
    const direct = await trainChids(Float64Array.from(all), all.length / 3, { epochs: 5, seed: 9 });
    assert.deepEqual(fit.thresholds, direct.thresholds);
    fit.detector.dispose();
    direct.scorer.dispose();
  });

  test('a manifest that names another model than model/ holds is refused, naming the file', async () => {
    const od = path.join(tmp(), 'stide');
    await runBaseline({ inputs: split.training, outDir: od, faithful: false, windowNs: 1e9, seed: 1, model: { model: 'stide' } });
    const manifest = JSON.parse(readFileSync(path.join(od, 'manifest.json'), 'utf8'));
    manifest.model.type = 'lstm';
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(od, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(runEvaluate({ normal: split.normal, attack: [], artifacts: pathsInDir(od) }), (err: unknown) => {
      assert.ok(err instanceof ChidsError);
      assert.match(err.message, /manifest\.json: says the model is "lstm" but .* holds a "stide" model/);
      return true;
    });
  });
});

describe('chids baseline --model X, then chids evaluate (CLI)', () => {
  for (const [model, flags] of [
    ['lstm', ['--seq-len', '4', '--epochs', '2', '--encoding-dim', '3']],
    ['stide', ['--ngram', '3']],
  ] as const) {
    test(model, async () => {
      const od = path.join(tmp(), model);
      const b = await runCli(['baseline', '--dataset', split.root, '--od', od, '--model', model, '--seed', '4', '--json', ...flags]);
      assertOk(b);
      const summary = jsonOf<{ model: Record<string, unknown> }>(b);
      assert.equal(summary.model['type'], model);
      if (model === 'lstm') {
        assert.equal(summary.model['seq_len'], 4);
        assert.equal(summary.model['encoding_dim'], 3);
        assert.equal(summary.model['epochs'], 2);
      } else {
        assert.equal(summary.model['ngram'], 3);
      }
      const e = await runCli(['evaluate', '--od', od, '--ns', path.join(split.root, 'test', 'normal'), '--ms', path.join(split.root, 'test', 'normal_and_attack'), '--json']);
      assertOk(e);
      const ev = jsonOf<{ model: string; detection_rate: number[]; recordings: { window_errors: (number | null)[] }[] }>(e);
      assert.equal(ev.model, model === 'lstm' ? 'lstm-autoencoder' : 'stide');
      assert.equal(ev.recordings.length, 4);
      assert.ok(ev.recordings.every((r) => r.window_errors.length >= 19));
    });
  }

  test('a flag the model does not take, and an unknown model, are one-line errors', async () => {
    const od = path.join(tmp(), 'x');
    const r1 = await runCli(['baseline', '--td', split.training[0], '--od', od, '--model', 'lstm', '--ngram', '4']);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /^chids: --ngram does not apply to --model lstm\n$/);
    const r3 = await runCli(['baseline', '--td', split.training[0], '--od', od, '--model', 'stide', '--epochs', '3']);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /^chids: --epochs does not apply to --model stide\n$/);
    const r2 = await runCli(['baseline', '--td', split.training[0], '--od', od, '--model', 'nope']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /nope/);
    assert.equal(r2.stderr.trim().split('\n').length, 1);
  });
});

describe('the real LID-DS recording', () => {
  const skip = missing(lidRecording);
  test('stide and lstm train on one recording (block folds) and score every window', { skip }, async () => {
    for (const model of ['stide', 'lstm'] as const) {
      const { fit, vocab } = await fitOn({ model, seed: 1, ...(model === 'lstm' ? { epochs: 2 } : {}) }, [lidRecording]);
      try {
        const s = await scoreFile(fit.detector, lidRecording, vocab);
        assert.equal(s.length, fit.trainScores.length);
        assert.ok(s.length >= 17, `${s.length} windows`);
        assert.ok(fit.maxScore > 0);
      } finally {
        fit.detector.dispose();
      }
    }
  });
});
