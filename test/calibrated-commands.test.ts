/**
 * The calibrated detector's split of unseen activity (calibrated.json version 4): unseen command
 * shapes (execve exits' `<exe> <shape>`) and the other unseen arguments and syscalls are two
 * features, each with its own leave-one-recording-out reference, because a service's commands
 * vary with its users (a per-user upload path in a spawned `sha256sum`) far more than the files
 * it opens. Models saved before (versions 1–3) load and score as they did.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_WINDOW_NS } from '../src/encode/windows.js';
import { CalibratedDetector, CalibratedTrainer, REFERENCE_FLOOR, loadCalibrated } from '../src/model/calibrated.js';
import type { TrainingRecording } from '../src/model/detector.js';
import type { StideTrainingTap } from '../src/model/classic/stide.js';
import { encodeAgainst } from './helpers/encode-text.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'chids-cal-commands-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const b64 = (...a: string[]) => Buffer.from(a.map((x) => x + '\0').join('')).toString('base64');

/**
 * One window: a request read, a `sha256sum FILE` spawned (enter + exit with argv; `file` as an
 * array is the whole argv), the uploads directory opened, and `extra` opened too.
 */
function trace(file: string | string[], extra?: string): string {
  let t = 1_700_000_000_000_000_000n;
  const out = [
    `${t} 33 300 node 300 read > fd=12 size=4096`,
    `${(t += 1000n)} 33 300 node 300 read < res=200`,
    `${(t += 1000n)} 33 401 node 401 execve > filename=/usr/bin/sha256sum`,
    `${(t += 1000n)} 33 401 sha256sum 401 execve < res=0 exe=sha256sum args=${b64(...(typeof file === 'string' ? [file] : file))} tid=401(sha256sum) pid=401(sha256sum)`,
    `${(t += 1000n)} 33 401 sha256sum 401 openat < fd=3(<f>/srv/app/uploads) dirfd=-100 name=/srv/app/uploads flags=0`,
  ];
  if (extra) out.push(`${(t += 1000n)} 33 300 node 300 openat < fd=4(<f>${extra}) dirfd=-100 name=${extra} flags=0`);
  out.push(`${(t += 1000n)} 33 300 node 300 write > fd=12 size=10`);
  return out.join('\n') + '\n';
}

/** `test` encoded against the vocabulary of `train` (improved mode unless `faithful`). */
const encode = (train: string, test: string, faithful = false) => encodeAgainst(train, test, faithful);

const TRAIN = trace('/srv/app/uploads/alice/a.txt');
// Another user's upload hashed with an option the service never passed: an unseen command shape
// (another user's file alone is the same shape, `<path>`: a value, not code).
const BOB = ['-b', '/srv/app/uploads/bob/b.txt'];

test('the encoder splits unseen activity: an unseen command shape goes to commands, an unseen path to unseen', async () => {
  const [same] = await encode(TRAIN, TRAIN);
  assert.deepEqual(same.split, [0, 0]);
  const [other] = await encode(TRAIN, trace('/srv/app/uploads/bob/b.txt'));
  assert.deepEqual(other.unseenArgs, [], "another user's upload, the same command: nothing unseen");
  // An option the service never passed: the command's shape is unseen, no path is.
  const [cmd] = await encode(TRAIN, trace(BOB));
  assert.equal(cmd.unseenArgs?.length, 1);
  assert.equal(cmd.unseenArgs![0], 'shasum -b <path>');
  assert.ok(cmd.av![2] > 0, 'uai');
  // Only command shapes are unseen: the commands view is the AV's graph, the paths view has none.
  assert.deepEqual(cmd.split, [0, cmd.av![1] + cmd.av![2]]);
  // The same command, and a file the service never opened: all of it is unseen (paths), none commands.
  const [file] = await encode(TRAIN, trace('/srv/app/uploads/alice/a.txt', '/etc/shadow'));
  assert.deepEqual(file.unseenArgs, ['/etc/shadow']);
  assert.ok(file.av![2] > 0);
  assert.deepEqual(file.split, [file.av![1] + file.av![2], 0]);
  // Both: each view measures its own kind, as if the other were seen.
  const [both] = await encode(TRAIN, trace(BOB, '/etc/shadow'));
  assert.equal(both.unseenArgs?.length, 2);
  assert.ok(both.split![0] > 0 && both.split![1] > 0, `split ${both.split}`);
  // The paths view of `both` is the window `file` (same graph, the command taken as seen).
  assert.equal(both.split![0], file.split![0]);
});

test('faithful mode has no split (the reference reads no command line)', async () => {
  const [w] = await encode(TRAIN, trace(BOB, '/etc/shadow'), true);
  assert.equal(w.split, undefined);
});

/** A training recording of AV features only, with its calibration vectors and their split. */
function rec(file: string, cal: number[], split: number[] | undefined): TrainingRecording<StideTrainingTap> {
  const n = cal.length / 3;
  const avs = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) avs[3 * i] = cal[3 * i];
  return { avs, n, tap: null, file, calibration: Float64Array.from(cal), calibrationSplit: split && Float64Array.from(split) };
}

test('fit: unseen and commands each get the largest calibration value as reference; scores and explanations name the feature', async () => {
  // Normal calibration: one window with an unseen per-user command (0.9), one with an unseen path (0.08).
  const recs = [rec('a', [0.1, 0, 0.9, 0.2, 0, 0], [0, 0.9, 0, 0]), rec('b', [0.15, 0, 0.08], [0.08, 0])];
  const r = await new CalibratedTrainer(1, { ngrams: false, commands: true }).fit(recs);
  const d = r.detector as CalibratedDetector;
  assert.deepEqual(d.refs, { fi: 0.2, unseen: 0.08, commands: 0.9 });
  assert.deepEqual([...r.trainScores], [1, 1, 1], "each window is the largest of one feature");
  assert.deepEqual(d.settings.features, ['fi', 'unseen', 'commands']);
  // A path twice the normal largest alarms although, pooled, it would be below the command reference.
  const av = Float64Array.from([0.01, 0, 0.16, 0.01, 0, 1.8]);
  const split = Float64Array.from([0.16, 0, 0, 1.8]);
  assert.deepEqual([...d.scoreRecording({ avs: av, n: 2, tap: null, split })], [0.16 / 0.08, 1.8 / 0.9]);
  assert.deepEqual(d.explain(av.subarray(0, 3), 2, split.subarray(0, 2)), { feature: 'unseen', value: 0.16, reference: 0.08, ratio: 0.16 / 0.08 });
  assert.deepEqual(d.explain(av.subarray(3, 6), 2, split.subarray(2, 4)), { feature: 'commands', value: 1.8, reference: 0.9, ratio: 2 });
  assert.equal(d.scoreWindow({ avs: av.subarray(3, 6), n: 1, tap: null, window: 0, split: split.subarray(2, 4) }), 2);
  // Without the encoder's split, usi + uai is read against the larger reference.
  assert.equal(d.score(0.01, 0, 0.16), 0.16 / 0.9);
  // No normal unseen command at all: its reference is the floor, so any unseen command alarms.
  const quiet = (await new CalibratedTrainer(1, { ngrams: false, commands: true }).fit([rec('a', [0.1, 0, 0.08], [0.08, 0]), rec('b', [0.2, 0, 0], [0, 0])])).detector as CalibratedDetector;
  assert.equal(quiet.refs.commands, REFERENCE_FLOOR);
  // `commands: false`, or calibration without a split (faithful mode): the pooled feature, as before.
  const pooled = (await new CalibratedTrainer(1, { ngrams: false, commands: false }).fit(recs)).detector as CalibratedDetector;
  assert.deepEqual(pooled.refs, { fi: 0.2, unseen: 0.9 });
  const noSplit = (await new CalibratedTrainer(1, { ngrams: false, commands: true }).fit([rec('a', [0.1, 0, 0.9], undefined)])).detector as CalibratedDetector;
  assert.deepEqual(noSplit.refs, { fi: 0.1, unseen: 0.9 });
});

test('version 4 saves and loads with scores unchanged; versions 1 and 3 load and score usi + uai against ref_unseen as before', async () => {
  const dir = path.join(tmp, 'v4');
  mkdirSync(dir);
  const d = new CalibratedDetector({ fi: 0.2, unseen: 0.08, commands: 0.9 });
  await d.save(dir);
  const file = path.join(dir, 'model', 'calibrated.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(doc.version, 4);
  assert.deepEqual(doc.references, { fi: 0.2, unseen: 0.08, commands: 0.9 });
  const back = await loadCalibrated(dir);
  const avs = Float64Array.from([0.01, 0, 0.16, 0.01, 0, 1.8]);
  const split = Float64Array.from([0.16, 0, 0, 1.8]);
  assert.deepEqual([...back.scoreRecording({ avs, n: 2, tap: null, split })], [...d.scoreRecording({ avs, n: 2, tap: null, split })]);
  // A version-1 file: fi and the pooled unseen; the split is ignored.
  writeFileSync(file, JSON.stringify({ format: 'chids-calibrated', version: 1, kind: 'calibrated-av', references: { fi: 0.2, unseen: 0.9 } }));
  const v1 = await loadCalibrated(dir);
  assert.equal(v1.refs.commands, undefined);
  assert.deepEqual([...v1.scoreRecording({ avs, n: 2, tap: null, split })], [0.16 / 0.9, 1.8 / 0.9]);
  assert.equal(v1.explain(avs.subarray(0, 3), 0.16 / 0.9, split.subarray(0, 2)).feature, 'unseen');
  // A version-3 file (fi bound, no n-grams here): as before.
  const bound = { rule: 'r', windows: 30, maximum: 0.15, tail: 5, threshold: 0.1, scale: 0.01, risk: 1e-4, value: 0.2 };
  writeFileSync(file, JSON.stringify({ format: 'chids-calibrated', version: 3, kind: 'calibrated-av', references: { fi: 0.2, unseen: 0.9 }, fi_bound: bound }));
  const v3 = await loadCalibrated(dir);
  assert.deepEqual([...v3.scoreRecording({ avs, n: 2, tap: null, split })], [0.16 / 0.9, 1.8 / 0.9]);
  // Version 4 with an fi bound loads; version 4 without commands, or 3 with them, is refused.
  writeFileSync(file, JSON.stringify({ ...doc, fi_bound: bound }));
  assert.equal((await loadCalibrated(dir)).fiRule?.value, 0.2);
  writeFileSync(file, JSON.stringify({ ...doc, references: { fi: 0.2, unseen: 0.08 } }));
  await assert.rejects(loadCalibrated(dir), /version 4 has references\.commands/);
  writeFileSync(file, JSON.stringify({ ...doc, version: 3, fi_bound: bound }));
  await assert.rejects(loadCalibrated(dir), /version 4 has references\.commands/);
});

test('baseline: the default (splitCommands 1) writes version 4 with each reference from the calibration windows; splitCommands 0 (--no-split-commands) keeps unseen pooled (version 1 or 2)', async () => {
  // Two recordings hashing with different options: leaving one out, each one's command shape is unseen.
  const a = path.join(tmp, 'a.sc');
  const b = path.join(tmp, 'b.sc');
  writeFileSync(a, trace('/srv/app/uploads/alice/a.txt'));
  writeFileSync(b, trace(BOB));
  const pooledDir = path.join(tmp, 'pooled');
  const splitDir = path.join(tmp, 'split');
  const { runBaseline } = await import('../src/app/train.js');
  let cal: readonly TrainingRecording[] = [];
  await runBaseline({ inputs: [a, b], outDir: pooledDir, faithful: false, windowNs: DEFAULT_WINDOW_NS, seed: 1, model: { model: 'calibrated', splitCommands: 0 } });
  await runBaseline({ inputs: [a, b], outDir: splitDir, faithful: false, windowNs: DEFAULT_WINDOW_NS, seed: 1, hooks: { onTrainingSet: (r) => (cal = r) } });
  const pooled = JSON.parse(readFileSync(path.join(pooledDir, 'model', 'calibrated.json'), 'utf8'));
  const split = JSON.parse(readFileSync(path.join(splitDir, 'model', 'calibrated.json'), 'utf8'));
  assert.equal(pooled.version, 1, 'too few calls per thread for a 6-gram: the AV features only');
  assert.equal(split.version, 4);
  // Only command shapes were unseen in calibration: the pooled reference is the commands one, paths have none.
  const uai = Math.max(cal[0].calibration![2], cal[1].calibration![2]);
  assert.ok(uai > 0);
  assert.deepEqual([...cal[0].calibrationSplit!], [0, cal[0].calibration![2]]);
  assert.equal(pooled.references.unseen, uai);
  assert.equal(split.references.commands, uai);
  assert.equal(split.references.unseen, REFERENCE_FLOOR);
  const d = await loadCalibrated(splitDir);
  assert.deepEqual(d.settings.features, ['fi', 'unseen', 'commands']);
});
