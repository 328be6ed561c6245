/**
 * LORO calibration (src/encode/calibration.ts) and the default detector built on it
 * (src/model/calibrated.ts): the folds, the second pass, the score, save/load, and the CLI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { halveMask } from '../src/encode/anomaly.js';
import { blockOf, foldPasses, planFolds, summarize, type FoldInput } from '../src/encode/calibration.js';
import { runBaseline } from '../src/app/train.js';
import type { TrainingRecording } from '../src/model/detector.js';
import type { StideTrainingTap } from '../src/model/classic/stide.js';
import { CalibratedDetector, CalibratedTrainer, FI_TAIL_MIN_WINDOWS, REFERENCE_FLOOR, fiBound, loadCalibrated, novelReference, referencesFrom } from '../src/model/calibrated.js';
import { buildAlert } from '../src/outputs/alerts.js';
import { encodeTrace } from '../src/encode/pipeline.js';
import { NameTable } from '../src/trace/names.js';
import { bufferSource } from './helpers/file-source.js';
import { fitOn } from './helpers/train.js';
import { recordingText, writeDataset } from './helpers/lidds-dataset.js';
import { loadDetector } from '../src/model/registry.js';
import { InputError } from '../src/util/errors.js';
import { assertOk, assertOneLineError, jsonLines, jsonOf, runCli, show, traceLoads } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'chids-calibrated-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const noSegments = { perSegment: 1, syscalls: new Map<string, number>(), args: new Map<string, number>() };
function rec(syscalls: string[], args: string[] = [], windows = 5): FoldInput {
  return { seenSyscalls: new Set(syscalls), seenArgs: new Set(args), segments: noSegments, windows };
}

describe('calibration folds', () => {
  it('halveMask merges adjacent segments pairwise', () => {
    assert.equal(halveMask(0b0000), 0);
    assert.equal(halveMask(0b0001), 0b01); // segment 0 → 0
    assert.equal(halveMask(0b0010), 0b01); // segment 1 → 0
    assert.equal(halveMask(0b0100), 0b10); // segment 2 → 1
    assert.equal(halveMask(0b1001), 0b11); // segments 0, 3 → 0, 1
    assert.equal(halveMask(0x80000000), 1 << 15); // segment 31 → 15
    assert.equal(halveMask(0xffffffff), 0xffff);
  });

  it('plans one fold per recording up to 10, then round-robin', () => {
    assert.deepEqual(planFolds([rec(['a']), rec(['b']), rec(['c'])]), { kind: 'recordings', k: 3, fold_of_recording: [0, 1, 2] });
    const twelve = planFolds(Array.from({ length: 12 }, () => rec(['a'])));
    assert.deepEqual(twelve, { kind: 'recordings', k: 10, fold_of_recording: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1] });
  });

  it('plans time blocks for a single recording (about 30 windows each, 2 to 10)', () => {
    // 18 windows, 1 window per segment: round(18 / 30) = 1 → at least 2 blocks of 9.
    assert.deepEqual(planFolds([rec(['a'], [], 18)]), { kind: 'time-blocks', k: 2, block_starts: [0, 9], windows: 18 });
    // 100 windows, 4 per segment (25 segments): round(100 / 30) = 3 blocks, whole segments.
    const p = planFolds([{ ...rec(['a'], [], 100), segments: { ...noSegments, perSegment: 4 } }]);
    assert.deepEqual(p, { kind: 'time-blocks', k: 3, block_starts: [0, 36, 68], windows: 100 });
    if (p.kind !== 'time-blocks') throw new Error('unreachable');
    assert.deepEqual([0, 35, 36, 67, 68, 99].map((w) => blockOf(p, w)), [0, 0, 1, 1, 2, 2]);
    // 1000 windows: capped at 10 blocks.
    assert.equal(planFolds([{ ...rec(['a'], [], 1000), segments: { ...noSegments, perSegment: 32 } }]).k, 10);
    assert.equal(planFolds([rec(['a'], [], 1)]).kind, 'none');
  });

  it('re-reads only the recordings that own an item no other fold has, against the others’ vocabulary', () => {
    const recs = [rec(['read', 'write'], ['/etc']), rec(['read', 'write', 'getpid'], ['/etc']), rec(['read'], ['/etc', '/tmp'])];
    const plan = planFolds(recs);
    const passes = foldPasses(plan, recs, 7);
    assert.deepEqual(
      passes.map((p) => [p.recording, p.unseen]),
      [
        [1, { syscalls: 1, args: 0 }],
        [2, { syscalls: 0, args: 1 }],
      ],
    );
    const v1 = passes[0].vocabAt(0);
    assert.deepEqual([...v1.seenSyscalls].sort(), ['read', 'write']);
    assert.deepEqual([...v1.seenArgs].sort(), ['/etc', '/tmp']);
    assert.equal(v1.maxFreq, 7);
    const v2 = passes[1].vocabAt(3);
    assert.deepEqual([...v2.seenSyscalls].sort(), ['getpid', 'read', 'write']);
    assert.deepEqual([...v2.seenArgs], ['/etc']);
  });

  it('with more recordings than folds, an item of two recordings of the same fold is still unseen for that fold', () => {
    const recs = Array.from({ length: 11 }, (_, i) => rec(['read', ...(i === 0 || i === 10 ? ['mmap'] : [])]));
    const passes = foldPasses(planFolds(recs), recs, 1); // recordings 0 and 10 are both in fold 0
    assert.deepEqual(passes.map((p) => p.recording), [0, 10]);
    assert.ok(!passes[0].vocabAt(0).seenSyscalls.has('mmap'));
  });

  it('time blocks: each block is encoded against the items of the other blocks', () => {
    const segments = {
      perSegment: 1,
      syscalls: new Map([
        ['read', 0b1111],
        ['execve', 0b0100],
      ]),
      args: new Map([['/bin/sh', 0b0001]]),
    };
    const only: FoldInput = { seenSyscalls: new Set(['read', 'execve']), seenArgs: new Set(['/bin/sh']), segments, windows: 4 };
    const plan = planFolds([only]);
    assert.deepEqual(plan, { kind: 'time-blocks', k: 2, block_starts: [0, 2], windows: 4 });
    const [p] = foldPasses(plan, [only], 3);
    assert.deepEqual(p.unseen, { syscalls: 1, args: 1 });
    // Block 0 (windows 0-1) against block 1's items, and back.
    assert.deepEqual([...p.vocabAt(0).seenSyscalls].sort(), ['execve', 'read']);
    assert.deepEqual([...p.vocabAt(1).seenArgs], []);
    assert.deepEqual([...p.vocabAt(2).seenSyscalls], ['read']);
    assert.deepEqual([...p.vocabAt(3).seenArgs], ['/bin/sh']);
  });

  it('summarize: per-feature maxima and windows with unseen activity', () => {
    const s = summarize(Float64Array.from([0.1, 0, 0, 0.3, 0.5, 0, 0.2, 0.25, 0.5]), 3);
    assert.deepEqual(s, { windows: 3, windows_with_unseen: 2, max_fi: 0.3, max_usi: 0.5, max_uai: 0.5, max_unseen: 0.75 });
  });
});

describe('the calibrated detector with unseen n-grams (novel)', () => {
  it('ref_novel: the far-out fence of the fold maxima when above the largest score, else that score', () => {
    // Fold maxima 0.01, 0.02, 0.03, 0.04: Q1 0.0175, Q3 0.0325, fence 0.0325 + 3 × 0.015 = 0.0775.
    const scores = Float64Array.from([0.01, 0, 0.02, 0.005, 0.03, 0.04]);
    const fold = Int32Array.from([0, 0, 1, 1, 2, 3]);
    const r = novelReference(scores, fold);
    assert.ok(Math.abs(r.value - 0.0775) < 1e-12, `${r.value}`);
    // One fold far above the others: the fence is below it, the reference is the largest score.
    const out = novelReference(Float64Array.from([0.01, 0.011, 0.012, 0.013, 0.014, 0.015, 0.016, 0.9]), Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]));
    assert.equal(out.value, 0.9);
    // No novelty at all in calibration: the floor, so that any unseen n-gram alarms.
    assert.equal(novelReference(new Float64Array(4), Int32Array.from([0, 0, 1, 1])).value, REFERENCE_FLOOR);
  });

  it('trains on real taps, scores max of the three ratios, explains the n-gram feature, saves and loads it', async () => {
    const root = writeDataset(mkdtempSync(path.join(tmp, 'ngrams-')), { training: 3, normal: 0, attack: 0, seconds: 8, seed: 21 });
    const dir = path.join(root, 'training');
    const files = readdirSync(dir).filter((f) => f.endsWith('.zip')).sort().map((f) => path.join(dir, f));
    const { fit, vocab } = await fitOn({ model: 'calibrated' }, files);
    const d = fit.detector as CalibratedDetector;
    assert.ok(d.ngrams !== null && d.refs.novel !== undefined && d.refs.novel > 0, JSON.stringify(d.settings));
    assert.equal(d.reads, 'syscalls');
    assert.deepEqual((d.settings as { features: string[] }).features, ['fi', 'unseen', 'novel']);
    assert.ok(fit.maxScore <= 1 + 1e-12 && fit.maxScore >= 1 - 1e-12, `largest training score ${fit.maxScore}`);
    // A recording with an attack (a web shell): scores from a fresh pass, then after save + load.
    const attack = bufferSource('a.sc', recordingText({ name: 'a', seconds: 9, exploitAt: 5, seed: 4242, startSec: 1_700_100_000, attackSeconds: 2 }), 'lidds');
    const score = async (det: CalibratedDetector) => {
      const names = new NameTable();
      const tap = det.newTap!(names);
      const rows: number[] = [];
      await encodeTrace(attack, vocab, { faithful: false, windowNs: 1e9, tap }, (w) => {
        if (w.av !== null) rows.push(...w.av);
      }, names);
      const avs = Float64Array.from(rows);
      const n = rows.length / 3;
      return { avs, n, s: [...det.scoreRecording({ avs, n, tap })] };
    };
    const a = await score(d);
    for (let i = 0; i < a.n; i++) {
      const av = a.avs.subarray(3 * i, 3 * i + 3);
      assert.ok(a.s[i] >= Math.max(av[0] / d.refs.fi, (av[1] + av[2]) / d.refs.unseen), `window ${i}`);
      const x = d.explain(av, a.s[i]);
      assert.equal(x.ratio, a.s[i]);
      if (x.feature === 'novel') assert.ok(Math.abs(x.value - a.s[i] * d.refs.novel!) < 1e-12);
    }
    const saved = path.join(tmp, 'saved-ngrams');
    mkdirSync(saved);
    await d.save(saved);
    assert.ok(existsSync(path.join(saved, 'model', 'stide.json')));
    const back = (await loadDetector(saved, 'calibrated')) as CalibratedDetector;
    assert.deepEqual(back.refs, d.refs);
    assert.deepEqual((await score(back)).s, a.s);
  });
});

describe('the calibrated detector', () => {
  it('scores max(fi / ref_fi, (usi + uai) / ref_unseen) and names the feature', () => {
    const d = new CalibratedDetector({ fi: 0.2, unseen: 0.5 });
    const avs = Float64Array.from([0.1, 0, 0, 0.3, 0.1, 0.1, 0.05, 0.5, 0.25, 0, 0, 0]);
    assert.deepEqual([...d.scoreRecording({ avs, n: 4, tap: null })], [0.1 / 0.2, 0.3 / 0.2, (0.5 + 0.25) / 0.5, 0]);
    assert.deepEqual(d.explain([0.3, 0.1, 0.1]), { feature: 'fi', value: 0.3, reference: 0.2, ratio: 0.3 / 0.2 });
    assert.deepEqual(d.explain([0.05, 0.5, 0.25]), { feature: 'unseen', value: 0.75, reference: 0.5, ratio: 1.5 });
  });

  it('fit (AV features only): the references are the calibration maxima, so the largest training score is 1 and thresholds = θ', async () => {
    const recs: TrainingRecording<StideTrainingTap>[] = [
      { avs: Float64Array.from([0.1, 0, 0]), calibration: Float64Array.from([0.1, 0, 0]), n: 1, tap: null, file: 'a' },
      { avs: Float64Array.from([0.15, 0, 0, 0.05, 0, 0]), calibration: Float64Array.from([0.15, 1, 0, 0.05, 0, 0.5]), n: 2, tap: null, file: 'b' },
    ];
    const r = await new CalibratedTrainer(1, { ngrams: false }).fit(recs);
    const d = r.detector as CalibratedDetector;
    assert.deepEqual(d.refs, { fi: 0.15, unseen: 1 });
    assert.deepEqual([...r.trainScores], [0.1 / 0.15, 1, 0.5]);
    assert.equal(r.maxScore, 1);
    assert.deepEqual(r.thresholds, [0.2, 0.4, 0.6000000000000001, 0.8, 1, 1.2, 1.4000000000000001, 1.6, 1.8, 2]);
  });

  it('--fi-risk: the fi bound is the tail quantile of a known distribution, above the training maximum', () => {
    // 1000 windows whose fi are the plotting-position quantiles of an exponential of scale 0.01:
    // the level a fresh window exceeds with probability 1e-4 is 0.01·ln(1e4) = 0.0921, past the
    // sample's maximum (0.01·ln(2000) = 0.0760).
    const n = 1000;
    const b = 0.01;
    const avs = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) avs[3 * i] = -b * Math.log(1 - (i + 0.5) / n);
    const r = fiBound(avs, n, 1e-4);
    assert.equal(r.tail, 100);
    assert.ok(Math.abs(r.maximum - b * Math.log(2 * n)) < 1e-12);
    const truth = b * Math.log(1e4);
    assert.ok(Math.abs(r.value - truth) / truth < 0.03, `bound ${r.value}, true quantile ${truth}`);
    assert.ok(r.value > 1.15 * r.maximum, `headroom ${r.value / r.maximum}`);
    assert.ok(Math.abs(r.scale - b) / b < 0.05, `scale ${r.scale}`);
    // A larger risk, a lower bound; never below the maximum.
    assert.ok(fiBound(avs, n, 1e-3).value < r.value);
    assert.equal(fiBound(avs, n, 0.5).value, r.maximum);
    // A lighter (uniform) tail: the exponential extrapolation stays above the true 1e-4 quantile (conservative).
    const u = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) u[3 * i] = 0.1 + (0.1 * (i + 0.5)) / n;
    const ru = fiBound(u, n, 1e-4);
    assert.ok(ru.value > 0.2 && ru.value < 0.3, `uniform: ${ru.value}`);
    // Too few windows for a tail: the maximum.
    const few = fiBound(avs.subarray(0, 3 * (FI_TAIL_MIN_WINDOWS - 1)), FI_TAIL_MIN_WINDOWS - 1, 1e-4);
    assert.deepEqual([few.tail, few.value], [0, avs[3 * (FI_TAIL_MIN_WINDOWS - 2)]]);
    assert.throws(() => fiBound(avs, n, 0), /above 0/);
  });

  it('--fi-risk in fit: ref_fi is the bound, the largest training score stays ≤ 1, explanations and alerts name the maximum too', async () => {
    const n = 200;
    const cal = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) cal[3 * i] = 0.05 + (0.15 * ((i * 37) % n)) / n;
    const recs: TrainingRecording<StideTrainingTap>[] = [
      { avs: cal.slice(0, 300), calibration: cal.slice(0, 300), n: 100, tap: null, file: 'a' },
      { avs: cal.slice(300), calibration: cal.slice(300), n: 100, tap: null, file: 'b' },
    ];
    const plain = (await new CalibratedTrainer(1, { ngrams: false }).fit(recs)).detector as CalibratedDetector;
    const r = await new CalibratedTrainer(1, { ngrams: false, fiRisk: 1e-4 }).fit(recs);
    const d = r.detector as CalibratedDetector;
    assert.equal(plain.fiRule, null);
    assert.equal(d.fiRule!.maximum, plain.refs.fi);
    assert.equal(d.refs.fi, d.fiRule!.value);
    assert.ok(d.refs.fi > plain.refs.fi);
    assert.ok(r.maxScore < 1, `largest training score ${r.maxScore}`);
    const x = d.explain([1.1 * plain.refs.fi, 0, 0]);
    assert.deepEqual(x, { feature: 'fi', value: 1.1 * plain.refs.fi, reference: d.refs.fi, ratio: (1.1 * plain.refs.fi) / d.refs.fi, maximum: plain.refs.fi });
    assert.equal(plain.explain([0.1, 0, 0]).maximum, undefined);
    const alert = buildAlert({
      container: { id: 'c1', key: 'c1', pidns: 1, cgroup: '/x', containerId: 'c1', host: false },
      index: 3,
      startNs: 1_700_000_000_000_000_000n,
      windowNs: 1e9,
      events: 10,
      av: [0.5, 0, 0],
      score: 2,
      threshold: 1,
      theta: 1,
      criticalThreshold: 2,
      unseenSyscalls: [],
      unseenArgs: [],
      model: 'calibrated-av',
      explanation: { feature: 'fi', value: 0.5, reference: 0.25, ratio: 2, maximum: 0.2 },
    } as Parameters<typeof buildAlert>[0]);
    assert.match(alert.output, /volume \(fi\) 0\.5\d* is 2\.00× its normal bound 0\.25\d* \(largest normal 0\.2\d*\)/);
    assert.equal(alert.output_fields['chids.feature_maximum'], 0.2);
    // Saved as version 3, loaded back with the bound and its rule.
    const dir = path.join(tmp, 'fi-bound');
    mkdirSync(dir);
    await d.save(dir);
    const doc = JSON.parse(readFileSync(path.join(dir, 'model', 'calibrated.json'), 'utf8'));
    assert.equal(doc.version, 3);
    assert.deepEqual(doc.fi_bound, d.fiRule);
    const back = await loadCalibrated(dir);
    assert.deepEqual([back.refs, back.fiRule], [d.refs, d.fiRule]);
    // A bound that is not the reference: refused, naming the file.
    writeFileSync(path.join(dir, 'model', 'calibrated.json'), JSON.stringify({ ...doc, references: { ...doc.references, fi: doc.fi_bound.maximum } }));
    await assert.rejects(loadCalibrated(dir), (e: unknown) => e instanceof InputError && e.message.includes('calibrated.json') && /fi_bound\.value/.test(e.message));
    assert.throws(() => new CalibratedTrainer(1, { fiRisk: 1 }), /--fi-risk/);
  });

  it('without unseen activity in calibration, any unseen syscall or argument alarms at every θ', () => {
    const refs = referencesFrom(Float64Array.from([0.2, 0, 0, 0.1, 0, 0]), 2);
    assert.deepEqual(refs, { fi: 0.2, unseen: REFERENCE_FLOOR });
    const d = new CalibratedDetector(refs);
    // The smallest positive usi a window can have is 1 / (nodes − 1); here 1/500.
    const [s] = d.scoreRecording({ avs: Float64Array.from([0.01, 1 / 500, 0]), n: 1, tap: null });
    assert.ok(s > 2, `score ${s}`);
  });

  it('refuses a non-finite AV with a clear error', () => {
    const d = new CalibratedDetector({ fi: 1, unseen: 1 });
    assert.throws(() => d.scoreRecording({ avs: Float64Array.from([NaN, 0, 0]), n: 1, tap: null }), /non-finite/);
  });

  it('saves and loads (registry too), scores unchanged; a corrupt file is a one-line error naming it', async () => {
    const dir = path.join(tmp, 'saved');
    mkdirSync(dir);
    const d = new CalibratedDetector({ fi: 0.2, unseen: 0.328 });
    await d.save(dir);
    const file = path.join(dir, 'model', 'calibrated.json');
    assert.ok(existsSync(file));
    const back = await loadDetector(dir, 'calibrated');
    assert.equal(back.name, 'calibrated');
    const avs = Float64Array.from([0.3, 0.1, 0.2, 0.01, 0, 0]);
    assert.deepEqual([...back.scoreRecording({ avs, n: 2, tap: null })], [...d.scoreRecording({ avs, n: 2, tap: null })]);
    writeFileSync(file, JSON.stringify({ format: 'chids-calibrated', version: 1, kind: 'calibrated-av', references: { fi: -1, unseen: 1 } }));
    await assert.rejects(loadCalibrated(dir), (e: unknown) => e instanceof InputError && e.message.includes(file) && /references\.fi/.test(e.message));
    writeFileSync(file, '{"format": "chids-calib');
    await assert.rejects(loadCalibrated(dir), (e: unknown) => e instanceof InputError && /not valid JSON/.test(e.message));
  });
});

/** Writes a LID-DS `.sc` recording: one enter event per syscall, 1 ms apart, in one window. */
function sc(file: string, calls: [string, string?][]): string {
  const t0 = 1_700_000_000_000_000_000n;
  const lines = calls.map(([name, arg], i) => `${t0 + BigInt(i) * 1_000_000n} 0 10 app 10 ${name} > ${arg ? `fd=3 name=${arg} flags=0` : 'fd=3'}`);
  const p = path.join(tmp, file);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

describe('baseline with calibration', () => {
  it('encodes a recording against the other recordings’ vocabulary (hand-computed AVs)', async () => {
    // r1: read write read (seen by r2 too); r2: read write getpid read. max_freq = 4.
    const r1 = sc('r1.sc', [['read'], ['write'], ['read']]);
    const r2 = sc('r2.sc', [['read'], ['write'], ['getpid'], ['read']]);
    let seen: readonly TrainingRecording[] = [];
    const out = path.join(tmp, 'hand');
    const res = await runBaseline({ inputs: [r1, r2], outDir: out, faithful: false, windowNs: 1e9, seed: 1, hooks: { onTrainingSet: (r) => (seen = r) } });
    assert.equal(res.model, 'calibrated');
    assert.equal(res.maxFreq, 4);
    // r1: every item is in r2: calibration = training = [(3 − 1) / 20, 0, 0], not re-read.
    assert.deepEqual([...seen[0].calibration!], [0.1, 0, 0]);
    // r2 against {read, write}: getpid → USN; graph read→write→USN→read: n = 3, USN has one
    // predecessor and one successor: centrality 2 / (3 − 1) = 1, usi = |U| × 1 = 1; fi = 3 / 20.
    assert.deepEqual([...seen[1].calibration!], [0.15, 1, 0]);
    assert.deepEqual([...seen[1].avs], [0.15, 0, 0]);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.version, 2);
    assert.deepEqual(m.calibration.folds, { kind: 'recordings', k: 2, fold_of_recording: [0, 1] });
    assert.deepEqual(m.calibration.reread, [{ path: r2, unseen_syscalls: 1, unseen_args: 0 }]);
    assert.deepEqual(m.calibration.summary, { windows: 2, windows_with_unseen: 1, max_fi: 0.15, max_usi: 1, max_uai: 0, max_unseen: 1 });
    const cal = JSON.parse(readFileSync(path.join(out, 'calibration.json'), 'utf8'));
    assert.deepEqual(cal.unseen_windows, [{ recording: 1, window: 0, av: [0.15, 1, 0] }]);
    // The default splits unseen command shapes off (version 4): none here, so commands has the floor.
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'model', 'calibrated.json'), 'utf8')).references, { fi: 0.15, unseen: 1, commands: REFERENCE_FLOOR });
  });
});

describe('chids baseline + evaluate with the default detector (CLI)', () => {
  const example = path.join(repoRoot, 'data', 'example');
  const od = path.join(tmp, 'example');

  it('trains the calibrated detector with no flags, and evaluate explains every window', async () => {
    const b = await runCli(['baseline', '--td', path.join(example, 'training'), '--od', od, '--json', '-q'], { timeoutMs: 120_000 });
    assertOk(b);
    const summary = jsonOf<{ model: { type: string }; thresholds: number[] }>(b);
    assert.equal(summary.model.type, 'calibrated');
    assert.equal(summary.thresholds[4], 1, 'θ 1.0 is the largest calibration score, 1');
    const log = path.join(tmp, 'loads-evaluate.txt');
    // --jobs 1: the load tracer hooks the main thread's module loader, and Node 20 gives worker
    // threads loaders of their own that it does not see; a worker scores with the same modules.
    const e = await runCli(['evaluate', '--od', od, '--dataset', example, '--json', '-q', '--jobs', '1'], { timeoutMs: 120_000, preload: [traceLoads], env: { CHIDS_TRACE_LOADS: log } });
    assertOk(e);
    const r = jsonOf<{
      model: string;
      counts: { normal: { recordings: number; flagged: number[] }; attack: { recordings: number; flagged: number[] } };
      recordings: { window_errors: (number | null)[]; window_explanations: ({ feature: string; value: number; reference: number; ratio: number } | null)[] }[];
    }>(e);
    assert.equal(r.model, 'calibrated-av');
    for (const rec of r.recordings) {
      assert.equal(rec.window_explanations.length, rec.window_errors.length);
      rec.window_errors.forEach((err, i) => {
        const x = rec.window_explanations[i];
        if (err === null) return assert.equal(x, null);
        assert.ok(x && (x.feature === 'fi' || x.feature === 'unseen' || x.feature === 'commands' || x.feature === 'novel'));
        assert.equal(x.ratio, err, 'the explained feature gives the score');
        assert.ok(Math.abs(x.value / x.reference - err) <= 1e-12 * Math.max(1, err), `${x.value} / ${x.reference} ≠ ${err}`);
      });
    }
    // Measured (issue 9's target on the bundled data, θ 1.0): every attack, no false alarm.
    assert.equal(r.counts.attack.flagged[4], r.counts.attack.recordings, show(e).slice(0, 300));
    assert.equal(r.counts.normal.flagged[4], 0);
    const loads = readFileSync(log, 'utf8').split('\n');
    assert.ok(loads.some((l) => /src\/model\/calibrated/.test(l)), 'the tracer saw the detector load');
    assert.deepEqual(loads.filter((l) => /@tensorflow/.test(l)), [], 'evaluate with the calibrated detector loaded TF.js');
  });

  it('--fi-risk writes version 3; a version-2 model (before the fi bound) loads and scores with the maximum', async () => {
    assert.ok(existsSync(path.join(od, 'manifest.json')), 'needs the baseline of the previous test');
    assert.equal(JSON.parse(readFileSync(path.join(od, 'model', 'calibrated.json'), 'utf8')).version, 4, 'the default splits unseen command shapes off');
    // Pooled (--no-split-commands), as the default was before: version 2.
    const od2 = path.join(tmp, 'example-pooled');
    assertOk(await runCli(['baseline', '--td', path.join(example, 'training'), '--od', od2, '--no-split-commands', '--json', '-q'], { timeoutMs: 120_000 }));
    const v2 = JSON.parse(readFileSync(path.join(od2, 'model', 'calibrated.json'), 'utf8'));
    assert.equal(v2.version, 2, 'pooled, no fi bound: version 2');
    const maxFi = JSON.parse(readFileSync(path.join(od2, 'manifest.json'), 'utf8')).calibration.summary.max_fi;
    assert.equal(v2.references.fi, maxFi, 'the default ref_fi is the busiest calibration window');
    const od3 = path.join(tmp, 'example-fi-risk');
    const b = await runCli(['baseline', '--td', path.join(example, 'training'), '--od', od3, '--fi-risk', '1e-4', '--no-split-commands', '--json', '-q'], { timeoutMs: 120_000 });
    assertOk(b);
    const v3 = JSON.parse(readFileSync(path.join(od3, 'model', 'calibrated.json'), 'utf8'));
    assert.equal(v3.version, 3);
    assert.equal(v3.fi_bound.maximum, maxFi);
    assert.equal(v3.fi_bound.windows, 150);
    assert.ok(v3.references.fi > maxFi, `bound ${v3.references.fi} vs maximum ${maxFi}`);
    assert.deepEqual({ ...v3.references, fi: maxFi }, v2.references, 'only ref_fi changes');
    assert.deepEqual(jsonOf<{ model: { fi_reference_rule: unknown } }>(b).model.fi_reference_rule, v3.fi_bound);
    // The old model, as a version-2 file next to the same n-grams: ref_fi is the maximum again.
    writeFileSync(path.join(od3, 'model', 'calibrated.json'), JSON.stringify(v2));
    const old = (await loadDetector(od3, 'calibrated')) as CalibratedDetector;
    const cur = (await loadDetector(od2, 'calibrated')) as CalibratedDetector;
    assert.equal(old.fiRule, null);
    assert.deepEqual(old.refs, cur.refs);
    assert.equal(old.score(0.25, 0, 0), 0.25 / maxFi);
    assert.equal(old.score(0.1, 0.2, 0), Math.max(0.1 / maxFi, 0.2 / v2.references.unseen));
    assert.equal(old.explain([0.25, 0, 0]).maximum, undefined);
  });

  it('monitor alerts say which feature crossed and by how much, without TF.js', async () => {
    assert.ok(existsSync(path.join(od, 'manifest.json')), 'needs the baseline of the previous test');
    const zip = path.join(example, 'test', 'normal_and_attack');
    const { readdirSync } = await import('node:fs');
    const { unzipSync } = await import('fflate');
    const name = readdirSync(zip).find((f) => f.endsWith('.zip'))!;
    const files = unzipSync(readFileSync(path.join(zip, name)));
    const scText = Object.entries(files).find(([k]) => k.endsWith('.sc'))![1];
    const log = path.join(tmp, 'loads-monitor.txt');
    const m = await runCli(['monitor', '--od', od, '--source', 'stdin', '--format', 'lidds'], { input: Buffer.from(scText), timeoutMs: 120_000, preload: [traceLoads], env: { CHIDS_TRACE_LOADS: log } });
    assertOk(m);
    const alerts = jsonLines<{ output: string; output_fields: Record<string, unknown> }>(m);
    assert.ok(alerts.length > 0, show(m));
    for (const a of alerts) {
      const f = a.output_fields;
      assert.ok(f['chids.feature'] === 'fi' || f['chids.feature'] === 'unseen' || f['chids.feature'] === 'novel');
      assert.equal(f['chids.feature_ratio'], f['chids.score']);
      assert.match(a.output, /× its normal (maximum|bound)/);
    }
    assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter((l) => /@tensorflow/.test(l)), [], 'monitor loaded TF.js');
  });

  it('a corrupt model file is a one-line error naming it', async () => {
    const bad = path.join(tmp, 'corrupt');
    const b = await runCli(['baseline', '--td', path.join(example, 'training', 'adoring_swirles_6933.zip'), '--od', bad, '-q'], { timeoutMs: 120_000 });
    assertOk(b);
    const file = path.join(bad, 'model', 'calibrated.json');
    writeFileSync(file, '{"format":"chids-calibrated","version":1,"kind":"calibrated-av","references":{"fi":"x"}}');
    const e = await runCli(['evaluate', '--od', bad, '--ns', path.join(example, 'test', 'normal')], { timeoutMs: 120_000 });
    assertOneLineError(e, file, /references/);
  });

  it('--epochs does not apply to the default', async () => {
    const r = await runCli(['baseline', '--td', path.join(example, 'training'), '--od', path.join(tmp, 'x'), '--epochs', '5']);
    assertOneLineError(r, /--epochs does not apply to --model calibrated/);
  });
});
