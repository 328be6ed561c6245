/**
 * The `chids` CLI end to end: the real program as a child process, on the golden traces and the
 * real LID-DS recording. Training is kept short (--epochs 5 --seed 1).
 *
 *   baseline  writes exactly the files of a baseline directory, a summary table or --json, is
 *             reproducible with --seed, records --faithful in the manifest;
 *   evaluate  table and --json, --od ≡ the reference's --ss --sa --fm --tm --tl, directories;
 *   encode    one JSON line per window (empty ones too), the golden AVs bit for bit with
 *             --faithful, stdin / .zip / .scap, and it never resolves @tensorflow;
 *   help, --version, usage errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  assertOk,
  jsonLines,
  jsonOf,
  pool,
  runCli,
  sha256File,
  show,
  traceLoads,
  type CliResult,
} from './helpers/cli.js';
import { goldenDir, goldenInputs, lidRecording, missing, repoRoot } from './helpers/paths.js';

const TRAIN = ['--model', 'chids', '--epochs', '5', '--seed', '1'];
const g = (name: string) => path.join(goldenInputs, name);
const skipGolden = missing(g('train_nginx.txt')) || missing(path.join(goldenDir, 'expected.json'));
const skipZip = missing(lidRecording);
const hasSysdig = !(spawnSync(process.env.CHIDS_SYSDIG || 'sysdig', ['--version'], { stdio: 'ignore' }).error);
const skipScap = skipGolden || (hasSysdig ? false : (console.warn('!!! SKIPPED: sysdig is not installed (Debian package sysdig); .scap tests need it !!!'), 'sysdig not installed'));

// Improved-mode baselines (these tests' chids baselines) also hold calibration.json: the autoencoder trains on LORO vectors.
const ARTIFACT_FILES = ['calibration.json', 'manifest.json', 'max_freq.json', 'model', 'seen_args.json', 'seen_syscalls.json', 'thresh_list.json'];
const THETAS = [0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2];

interface Scenario {
  training: string[];
  seen_syscalls: string[];
  seen_args: string[];
  max_freq: number;
  files: Record<string, { avs?: (number[] | [])[]; window_event_counts?: number[]; error?: string }>;
}
interface Line {
  file: string;
  window: number;
  start_ns: number;
  events: number;
  av: number[];
}
interface Evaluation {
  theta: number[];
  thresholds: number[];
  detection_rate: (number | null)[];
  false_alarm_rate: (number | null)[];
  counts: { normal: { recordings: number; flagged: number[] }; attack: { recordings: number; flagged: number[] } };
  skipped: { path: string; reason: string; class: string }[];
  recordings: { file: string; class: string; max_error: number; windows: number; events: number }[];
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

let tmp = '';
/** Improved-mode baseline on the native-name strace traces, text output. */
let improved = '';
let improvedRun: CliResult;
/** The same inputs and seed again, with --json (for reproducibility and the JSON fields). */
let improvedJson = '';
let improvedJsonRun: CliResult;
/** Faithful baseline on the golden strace_sysdignames training files. */
let faithful = '';
let faithfulRun: CliResult;

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'chids-cli-'));
  if (skipGolden) return;
  improved = path.join(tmp, 'improved');
  improvedJson = path.join(tmp, 'improved-json');
  faithful = path.join(tmp, 'faithful');
  const nativeTraining = ['--td', g('train_nginx.txt'), '--td', g('train_shell.txt')];
  [improvedRun, improvedJsonRun, faithfulRun] = await pool([
    () => runCli(['baseline', ...nativeTraining, '--od', improved, ...TRAIN]),
    () => runCli(['baseline', ...nativeTraining, '--od', improvedJson, ...TRAIN, '--json']),
    () =>
      runCli([
        'baseline',
        '--td',
        g('train_nginx_sysdignames.txt'),
        '--td',
        g('train_shell_sysdignames.txt'),
        '--od',
        faithful,
        '--faithful',
        ...TRAIN,
        '--json',
      ]),
  ]);
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('chids baseline', { skip: skipGolden }, () => {
  it('writes exactly the files of a baseline directory, atomically (no temp dir left)', () => {
    assertOk(improvedRun);
    assert.deepEqual(readdirSync(improved).sort(), ARTIFACT_FILES);
    assert.deepEqual(readdirSync(path.join(improved, 'model')).sort(), ['model.json', 'weights.bin']);
    // Nothing but the three baselines next to them: the temp directories were renamed or removed.
    assert.deepEqual(readdirSync(tmp).sort(), ['faithful', 'improved', 'improved-json']);

    const seenSyscalls = readJson(path.join(improved, 'seen_syscalls.json'));
    const seenArgs = readJson(path.join(improved, 'seen_args.json'));
    const maxFreq = readJson(path.join(improved, 'max_freq.json'));
    const thresholds = readJson(path.join(improved, 'thresh_list.json'));
    assert.ok(Array.isArray(seenSyscalls) && seenSyscalls.length > 10 && seenSyscalls.every((s: unknown) => typeof s === 'string'));
    assert.ok(seenSyscalls.includes('execve'));
    assert.ok(Array.isArray(seenArgs) && seenArgs.every((s: unknown) => typeof s === 'string'));
    assert.ok(Number.isInteger(maxFreq) && maxFreq > 0);
    assert.equal(thresholds.length, 10);
    assert.ok(thresholds.every((t: unknown) => typeof t === 'number' && Number.isFinite(t) && t >= 0));
    for (let i = 1; i < 10; i++) assert.ok(thresholds[i] >= thresholds[i - 1], 'thresholds grow with θ');

    const model = readJson(path.join(improved, 'model', 'model.json'));
    assert.equal(model.format, 'layers-model');
    assert.deepEqual(model.weightsManifest[0].paths, ['weights.bin']);

    const m = readJson(path.join(improved, 'manifest.json'));
    assert.equal(m.format, 'chids-baseline');
    assert.equal(m.version, 2);
    assert.ok(!Number.isNaN(Date.parse(m.created)), 'created is a date');
    // The fold plan is recorded; in improved mode the autoencoder trains on the scaled calibration vectors.
    assert.equal(m.calibration.folds.kind, 'recordings');
    assert.equal(m.calibration.used, true);
    assert.equal(m.model.input, 'loro-calibration-scaled');
    assert.equal(m.encoding.faithful, false);
    assert.equal(m.encoding.window_ns, 1e9);
    assert.equal(m.model.type, 'chids');
    assert.equal(m.model.epochs, 5);
    assert.equal(m.model.seed, 1);
    assert.equal(m.model.batch_size, 50);
    assert.deepEqual(m.counts, {
      recordings: 2,
      skipped: 0,
      windows: m.counts.windows,
      vectors: m.counts.vectors,
      seen_syscalls: seenSyscalls.length,
      seen_args: seenArgs.length,
      max_freq: maxFreq,
    });
    assert.equal(m.counts.windows, 14 + 9, 'train_nginx has 14 windows, train_shell 9');
    assert.equal(m.thetas.length, 10);
    assert.deepEqual(
      m.inputs.map((i: { path: string; sha256: string }) => [path.basename(i.path), i.sha256]),
      ['train_nginx.txt', 'train_shell.txt'].map((f) => [f, sha256File(g(f))]),
    );
  });

  it('prints a training summary table', () => {
    assertOk(improvedRun);
    const out = improvedRun.stdout;
    const m = readJson(path.join(improved, 'manifest.json'));
    for (const what of [/recordings/, /windows/, /seen syscalls/, /seen arg/, /max_freq/, /threshold/, /training time/, /final loss/]) {
      assert.match(out, what);
    }
    assert.match(out, new RegExp(`max_freq\\s*│\\s*${m.counts.max_freq}\\b`));
    assert.match(out, new RegExp(`seen syscalls\\s*│\\s*${m.counts.seen_syscalls}\\b`));
    // One row per θ in the threshold table.
    for (const theta of ['0.2', '1', '2']) assert.match(out, new RegExp(`│\\s*${theta.replace('.', '\\.')}\\s*│\\s*\\d`));
    assert.equal(improvedRun.stderr, '', 'nothing on stderr when it is not a terminal');
  });

  it('--json prints the summary as one JSON object', () => {
    assertOk(improvedJsonRun);
    const j = jsonOf<Record<string, unknown> & { thresholds: number[]; skipped: unknown[] }>(improvedJsonRun);
    for (const k of ['recordings', 'windows', 'seen_syscalls', 'seen_args', 'max_freq', 'theta', 'thresholds', 'training_ms', 'final_loss', 'skipped']) {
      assert.ok(k in j, `--json has ${k}: ${Object.keys(j)}`);
    }
    assert.equal(j.recordings, 2);
    assert.deepEqual(j.skipped, []);
    assert.deepEqual(j.thresholds, readJson(path.join(improvedJson, 'thresh_list.json')));
    assert.equal(j.max_freq, readJson(path.join(improvedJson, 'max_freq.json')));
    assert.equal(typeof j.final_loss, 'number');
  });

  it('same --seed, same inputs ⇒ identical thresholds and weights', () => {
    assertOk(improvedRun);
    assertOk(improvedJsonRun);
    assert.deepEqual(readJson(path.join(improved, 'thresh_list.json')), readJson(path.join(improvedJson, 'thresh_list.json')));
    assert.equal(sha256File(path.join(improved, 'model', 'weights.bin')), sha256File(path.join(improvedJson, 'model', 'weights.bin')));
    for (const f of ['seen_syscalls.json', 'seen_args.json', 'max_freq.json']) {
      assert.equal(readFileSync(path.join(improved, f), 'utf8'), readFileSync(path.join(improvedJson, f), 'utf8'), f);
    }
  });

  it('--faithful is recorded in the manifest, and its vocabulary is the reference\'s', () => {
    assertOk(faithfulRun);
    const m = readJson(path.join(faithful, 'manifest.json'));
    assert.equal(m.encoding.faithful, true);
    assert.deepEqual(m.encoding.arg_syscalls.slice().sort(), ['clone', 'execve', 'open', 'stat']);
    const sc: Scenario = readJson(path.join(goldenDir, 'expected.json')).scenarios.strace_sysdignames;
    assert.deepEqual(readJson(path.join(faithful, 'seen_syscalls.json')), [...sc.seen_syscalls].sort());
    assert.deepEqual(readJson(path.join(faithful, 'seen_args.json')), [...sc.seen_args].sort());
    assert.equal(readJson(path.join(faithful, 'max_freq.json')), sc.max_freq);
  });

  it('replaces an existing baseline directory', async () => {
    const od = path.join(tmp, 'replace-me');
    const first = await runCli(['baseline', '--td', g('train_nginx.txt'), '--od', od, ...TRAIN]);
    assertOk(first);
    const before = readJson(path.join(od, 'manifest.json')).counts;
    const second = await runCli(['baseline', '--td', g('train_nginx.txt'), '--td', g('train_shell.txt'), '--od', od, ...TRAIN, '--json']);
    assertOk(second);
    assert.equal(before.recordings, 1);
    assert.equal(readJson(path.join(od, 'manifest.json')).counts.recordings, 2);
    assert.deepEqual(readdirSync(od).sort(), ARTIFACT_FILES);
    assert.deepEqual(
      readdirSync(tmp).filter((n) => n.includes('replace-me')),
      ['replace-me'],
      'no temp or old directory left beside it',
    );
    rmSync(od, { recursive: true });
  });
});

describe('chids evaluate', { skip: skipGolden }, () => {
  const recordings = ['--ns', g('test_nginx.txt'), '--ns', g('test_shell.txt'), '--ms', g('test_attack.txt')];
  let table: CliResult;
  let json: CliResult;
  let individual: CliResult;
  let viaModelJson: CliResult;
  let dirs: CliResult;

  before(async () => {
    if (skipGolden) return;
    const normalDir = path.join(tmp, 'eval-normal');
    const attackDir = path.join(tmp, 'eval-attack', 'nested');
    mkdirSync(normalDir, { recursive: true });
    mkdirSync(attackDir, { recursive: true });
    copyFileSync(g('test_nginx.txt'), path.join(normalDir, 'test_nginx.txt'));
    copyFileSync(g('test_shell.txt'), path.join(normalDir, 'test_shell.txt'));
    copyFileSync(g('test_attack.txt'), path.join(attackDir, 'test_attack.txt'));
    const files = (flag: string) =>
      ['seen_syscalls.json', 'seen_args.json', 'max_freq.json', 'thresh_list.json'].map((f) => path.join(improved, f)).flatMap((f, i) => [['--ss', '--sa', '--fm', '--tl'][i], f]).concat(['--tm', flag]);
    [table, json, individual, viaModelJson, dirs] = await pool([
      () => runCli(['evaluate', '--od', improved, ...recordings]),
      () => runCli(['evaluate', '--od', improved, ...recordings, '--json']),
      () => runCli(['evaluate', ...files(path.join(improved, 'model')), ...recordings, '--json']),
      () => runCli(['evaluate', ...files(path.join(improved, 'model', 'model.json')), ...recordings, '--json']),
      () => runCli(['evaluate', '--od', improved, '--ns', normalDir, '--ms', path.join(tmp, 'eval-attack'), '--json']),
    ]);
  });

  it('--json has θ, thresholds, rates (10 each), counts per class and skipped', () => {
    assertOk(json);
    const j = jsonOf<Evaluation>(json);
    assert.equal(j.theta.length, 10);
    j.theta.forEach((t, i) => assert.ok(Math.abs(t - THETAS[i]) < 1e-9, `θ[${i}] = ${t}`));
    assert.deepEqual(j.thresholds, readJson(path.join(improved, 'thresh_list.json')));
    assert.equal(j.detection_rate.length, 10);
    assert.equal(j.false_alarm_rate.length, 10);
    for (const r of [...j.detection_rate, ...j.false_alarm_rate]) assert.ok(typeof r === 'number' && r >= 0 && r <= 1, `rate ${r}`);
    assert.equal(j.counts.normal.recordings, 2);
    assert.equal(j.counts.attack.recordings, 1);
    assert.equal(j.counts.normal.flagged.length, 10);
    j.detection_rate.forEach((r, i) => assert.equal(r, j.counts.attack.flagged[i] / 1));
    j.false_alarm_rate.forEach((r, i) => assert.equal(r, j.counts.normal.flagged[i] / 2));
    assert.deepEqual(j.skipped, []);
    // Rates can only fall as θ (and the threshold) grows.
    for (let i = 1; i < 10; i++) {
      assert.ok(j.detection_rate[i]! <= j.detection_rate[i - 1]!);
      assert.ok(j.false_alarm_rate[i]! <= j.false_alarm_rate[i - 1]!);
    }
  });

  it('prints the θ / threshold / detection rate / false-alarm rate table', () => {
    assertOk(table);
    const j = jsonOf<Evaluation>(json);
    const out = table.stdout;
    assert.match(out, /θ/);
    assert.match(out, /detection rate/i);
    assert.match(out, /false.alarm rate/i);
    // The first table: ten rows whose cells agree with --json.
    const first = out.slice(0, out.indexOf('└'));
    const rows = first
      .split('\n')
      .filter((l) => /^│\s*[\d.]+\s*│/.test(l))
      .map((l) => l.split('│').slice(1, -1).map((c) => c.trim()));
    assert.equal(rows.length, 10, `ten θ rows:\n${first}`);
    rows.forEach((cells, i) => {
      assert.ok(Math.abs(Number(cells[0]) - THETAS[i]) < 1e-9, `θ cell ${cells[0]}`);
      assert.ok(Math.abs(Number(cells[1]) - j.thresholds[i]) <= 1e-5 * j.thresholds[i] + 1e-12, `threshold cell ${cells[1]}`);
      // Rates with their counts; a false-alarm rate also with its resolution (1 / normal recordings).
      const dr = /^[\d.]+ % \((\d+)\/(\d+)\)$/.exec(cells[2]);
      assert.ok(dr, `detection cell ${cells[2]}`);
      assert.equal(Number(dr[1]) / Number(dr[2]), j.detection_rate[i]);
      assert.equal(Number(dr[1]), j.counts.attack.flagged[i]);
      const far = /^[\d.]+ % \((\d+)\/(\d+), resolution 1\/(\d+)\)$/.exec(cells[3]);
      assert.ok(far, `false alarm cell ${cells[3]}`);
      assert.equal(Number(far[1]), j.counts.normal.flagged[i]);
      assert.equal(Number(far[2]), 2);
      assert.equal(Number(far[3]), 2);
      assert.equal(Number(far[1]) / Number(far[2]), j.false_alarm_rate[i]);
    });
    assert.match(out, /1 attack, 2 normal/);
  });

  it("the reference's --ss --sa --fm --tm --tl give the same numbers as --od", () => {
    assertOk(json);
    const a = jsonOf<Evaluation>(json);
    for (const r of [individual, viaModelJson]) {
      assertOk(r);
      const b = jsonOf<Evaluation>(r);
      for (const k of ['theta', 'thresholds', 'detection_rate', 'false_alarm_rate', 'counts', 'skipped'] as const) {
        assert.deepEqual(b[k], a[k], k);
      }
      assert.deepEqual(
        b.recordings.map((x) => [x.file, x.class, x.max_error, x.windows]),
        a.recordings.map((x) => [x.file, x.class, x.max_error, x.windows]),
      );
    }
  });

  it('evaluates directories of recordings (recursively) like the files themselves', () => {
    assertOk(dirs);
    const a = jsonOf<Evaluation>(json);
    const d = jsonOf<Evaluation>(dirs);
    assert.equal(d.counts.normal.recordings, 2);
    assert.equal(d.counts.attack.recordings, 1);
    assert.deepEqual(d.skipped, []);
    for (const k of ['detection_rate', 'false_alarm_rate', 'counts'] as const) assert.deepEqual(d[k], a[k], k);
    const score = (e: Evaluation) => Object.fromEntries(e.recordings.map((r) => [path.basename(r.file), r.max_error]));
    assert.deepEqual(score(d), score(a));
  });
});

describe('chids encode', { skip: skipGolden }, () => {
  const scenario = (): Scenario => readJson(path.join(goldenDir, 'expected.json')).scenarios.strace_sysdignames;

  it('--faithful reproduces expected.json (strace_sysdignames) bit for bit, every file', async () => {
    assertOk(faithfulRun);
    const sc = scenario();
    const names = Object.keys(sc.files);
    const r = await runCli(['encode', '--od', faithful, '--faithful', ...names.map(g)]);
    assertOk(r);
    assert.equal(r.stderr, '');
    const lines = jsonLines<Line>(r);
    for (const name of names) {
      const exp = sc.files[name];
      assert.ok(exp.avs, `${name} has AVs in expected.json`);
      const mine = lines.filter((l) => l.file === g(name));
      assert.deepEqual(
        mine.map((l) => l.window),
        exp.avs!.map((_, i) => i),
        `${name}: windows in order`,
      );
      assert.deepEqual(
        mine.map((l) => l.av),
        exp.avs,
        `${name}: anomaly vectors`,
      );
      assert.deepEqual(
        mine.map((l) => l.events),
        exp.window_event_counts,
        `${name}: events per window`,
      );
    }
    // Files come out in the order given.
    assert.deepEqual([...new Set(lines.map((l) => l.file))], names.map(g));
    const attack = lines.filter((l) => l.file === g('test_attack_sysdignames.txt'));
    assert.deepEqual(attack[2].av, [0.2723304526146184, 1.4, 18]);
  });

  it('prints one JSON line per window in order, empty windows included ("av":[])', async () => {
    const r = await runCli(['encode', '--od', faithful, g('quirks.txt')]);
    assertOk(r);
    const raw = r.stdout.split('\n').filter(Boolean);
    const lines = jsonLines<Line>(r);
    assert.equal(lines.length, 7);
    lines.forEach((l, i) => {
      assert.deepEqual(Object.keys(l), ['file', 'window', 'start_ns', 'events', 'av']);
      assert.equal(l.window, i);
      assert.equal(l.file, g('quirks.txt'));
    });
    assert.deepEqual(
      lines.map((l) => l.events),
      [7, 1, 0, 0, 9, 0, 1],
    );
    lines.forEach((l, i) => {
      if (l.events === 0) {
        assert.deepEqual(l.av, []);
        assert.match(raw[i], /"av":\[\]\}$/);
      } else assert.equal(l.av.length, 3);
    });
    // start_ns: exact integers, one window length apart (checked on the text: they exceed 2^53 for LID-DS).
    const starts = raw.map((l) => BigInt(/"start_ns":(\d+),/.exec(l)![1]));
    starts.forEach((s, i) => assert.equal(s - starts[0], BigInt(i) * 1_000_000_000n));
  });

  it('reads stdin (-) like the file', async () => {
    const r = await runCli(['encode', '--od', faithful, '-'], { input: readFileSync(g('test_attack_sysdignames.txt')) });
    assertOk(r);
    const lines = jsonLines<Line>(r);
    assert.ok(lines.every((l) => l.file === '-'));
    assert.deepEqual(
      lines.map((l) => l.av),
      scenario().files['test_attack_sysdignames.txt'].avs,
    );
  });

  it('reads a LID-DS .zip recording whole', { skip: skipZip }, async () => {
    const r = await runCli(['encode', '--od', improved, lidRecording]);
    assertOk(r);
    const lines = jsonLines<Line>(r);
    assert.equal(
      lines.reduce((n, l) => n + l.events, 0),
      23468,
      'all events of the recording',
    );
    lines.forEach((l, i) => {
      assert.equal(l.window, i);
      assert.equal(l.file, lidRecording);
    });
    const raw = r.stdout.split('\n').filter(Boolean);
    const starts = raw.map((l) => BigInt(/"start_ns":(\d+),/.exec(l)![1]));
    assert.ok(starts[0] > 1_600_000_000_000_000_000n, 'epoch ns');
    starts.forEach((s, i) => assert.equal(s - starts[0], BigInt(i) * 1_000_000_000n));
    // The real recording's syscalls were never seen by a strace-trained baseline: unseen > 0.
    assert.ok(lines.some((l) => l.av.length === 3 && l.av[1] > 0));
  });

  it('reads .scap captures through sysdig, like their sysdig -r text', { skip: skipScap }, async () => {
    const names = ['syscall', 'cat_write', 'ping_sendto'];
    const [scap, text] = await pool([
      () => runCli(['encode', '--od', faithful, ...names.map((n) => g(`${n}.scap`))]),
      () => runCli(['encode', '--od', faithful, ...names.map((n) => g(`${n}.txt`))]),
    ]);
    assertOk(scap);
    assertOk(text);
    const strip = (r: CliResult) => jsonLines<Line>(r).map((l) => ({ ...l, file: path.basename(l.file, path.extname(l.file)) }));
    const fromScap = strip(scap);
    assert.ok(fromScap.length >= 12, show(scap));
    assert.deepEqual(fromScap, strip(text));
  });

  it('never loads TF.js, nor does evaluate of a CHIDS-autoencoder baseline (while a TF.js import is seen, so the tracer works)', async () => {
    const encLog = path.join(tmp, 'loads-encode.txt');
    const evalLog = path.join(tmp, 'loads-evaluate.txt');
    const tfLog = path.join(tmp, 'loads-tf.txt');
    const [enc, ev] = await pool([
      () => runCli(['encode', '--od', improved, g('syscall.txt')], { preload: [traceLoads], env: { CHIDS_TRACE_LOADS: encLog } }),
      () => runCli(['evaluate', '--od', improved, '--ns', g('syscall.txt'), '--json'], { preload: [traceLoads], env: { CHIDS_TRACE_LOADS: evalLog } }),
    ]);
    assertOk(enc);
    assertOk(ev);
    // The control: the one module that loads TF.js, loaded under the same tracer.
    const control = spawnSync(process.execPath, ['--import', 'tsx', '--import', traceLoads, '--input-type=module', '-e', "await import('./src/model/nn/tf.ts')"], {
      cwd: path.join(import.meta.dirname, '..'),
      env: { ...process.env, CHIDS_TRACE_LOADS: tfLog },
      encoding: 'utf8',
    });
    assert.equal(control.status, 0, control.stderr);
    assert.ok(existsSync(encLog) && existsSync(evalLog) && existsSync(tfLog), 'the tracer wrote its logs');
    const resolved = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    const encLoads = resolved(encLog);
    const evalLoads = resolved(evalLog);
    assert.ok(encLoads.some((l) => l.startsWith('commander\t')), 'the tracer saw encode resolve its modules');
    assert.ok(encLoads.some((l) => /src\/app\/encode\./.test(l)), 'encode resolved its own code');
    assert.ok(evalLoads.some((l) => /src\/model\/nn\/chids\./.test(l)), 'evaluate resolved the CHIDS model');
    assert.deepEqual(
      encLoads.filter((l) => /@tensorflow/.test(l)),
      [],
      'encode resolved a TF.js module',
    );
    assert.deepEqual(
      evalLoads.filter((l) => /@tensorflow/.test(l)),
      [],
      'evaluate of a CHIDS baseline resolved a TF.js module',
    );
    assert.ok(
      resolved(tfLog).some((l) => l.startsWith('@tensorflow/')),
      'the tracer should see TF.js loaded by src/model/nn/tf.ts (else this test cannot fail)',
    );
  });
});

describe('chids help, version and usage errors', () => {
  const options: Record<string, string[]> = {
    baseline: ['--td', '--od', '--faithful', '--window', '--epochs', '--seed', '--json'],
    evaluate: ['--od', '--ss', '--sa', '--fm', '--tm', '--tl', '--ns', '--ms', '--json'],
    encode: ['--od', '--ss', '--sa', '--fm', '--faithful'],
    replicas: ['--window', '--threshold', '--align-starts', '--json'],
  };

  it('--help of each command lists its options and has examples', async () => {
    const cmds = Object.keys(options);
    const runs = await pool([...cmds.map((c) => () => runCli([c, '--help'])), () => runCli(['--help'])]);
    cmds.forEach((c, i) => {
      const r = runs[i];
      assertOk(r);
      assert.match(r.stdout, new RegExp(`Usage: chids ${c}`));
      for (const o of options[c]) assert.match(r.stdout, new RegExp(`^\\s+${o}\\b`, 'm'), `${c} --help lists ${o}`);
      assert.match(r.stdout, /^Examples:\n\s+\$ chids /m, `${c} --help has examples`);
    });
    const top = runs[cmds.length];
    assertOk(top);
    for (const c of cmds) assert.match(top.stdout, new RegExp(`^\\s+${c}\\b`, 'm'));
    assert.match(top.stdout, /^Examples:/m);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    assertOk(r);
    assert.equal(r.stdout.trim(), readJson(path.join(repoRoot, 'package.json')).version);
  });

  it('an unknown option, command or bad option value: exit ≠ 0, one line on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['encode', '--bogus', 'x.txt'], /unknown option '--bogus'/],
      [['baseline', '--td', 'x', '--od', 'y', '--bogus'], /unknown option '--bogus'/],
      [['--bogus'], /unknown option '--bogus'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['baseline', '--td', 'x', '--od', 'y', '--epochs', 'many'], /--epochs/],
      [['baseline', '--od', 'y'], /--td/],
      [['encode', '--od', 'y'], /argument/],
    ];
    const runs = await pool(cases.map(([args]) => () => runCli(args)));
    runs.forEach((r, i) => {
      assert.notEqual(r.code, 0, show(r));
      assert.notEqual(r.code, 70, show(r));
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      assert.equal(lines.length, 1, `one line for ${cases[i][0].join(' ')}: ${show(r)}`);
      assert.match(lines[0], cases[i][1]);
      assert.equal(r.stdout, '');
    });
  });
});
