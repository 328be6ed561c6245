/**
 * `chids demo`, and `--dataset DIR` on baseline/evaluate, end to end on a tiny LID-DS dataset
 * that the test writes: zipped `.sc` + `.json` recordings of a web server, the attack ones with
 * a reverse shell at a known exploit time.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { runDemo } from '../src/app/demo.js';
import { writeReport } from '../src/report/html.js';
import { datasetLayout } from '../src/trace/lidds/layout.js';
import { bundledDataset } from '../src/util/package.js';
import type { EvaluationResult } from '../src/app/evaluate.js';
import { mulberry32 } from '../src/util/rng.js';
import { ChidsError } from '../src/util/errors.js';
import { runCli } from './helpers/cli.js';
import { lidRecording, missing } from './helpers/paths.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'chids-demo-test-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// A tiny LID-DS dataset

interface TinyRecording {
  name: string;
  seconds: number;
  /** Seconds after the start; null for a normal recording. */
  exploitAt: number | null;
  seed: number;
  startSec: number;
}

/** `.sc` text: an nginx-like server answering requests; the attack adds a shell and its calls for 4 s. */
function recordingText(r: TinyRecording): string {
  const rng = mulberry32(r.seed);
  const lines: string[] = [];
  const t0 = BigInt(r.startSec) * 1_000_000_000n;
  const pages = ['index.html', 'about.html', 'news.html', 'img/logo.png', 'css/site.css'];
  let t = 0;
  const call = (pid: number, proc: string, name: string, args: string) => {
    t += 1000 + Math.floor(rng() * 20000);
    lines.push(`${t0 + BigInt(t)} 33 ${pid} ${proc} ${pid} ${name} > `);
    t += 500 + Math.floor(rng() * 5000);
    lines.push(`${t0 + BigInt(t)} 33 ${pid} ${proc} ${pid} ${name} < ${args}`);
  };
  while (t < r.seconds * 1e9) {
    const pid = 200 + Math.floor(rng() * 4);
    const page = pages[Math.floor(rng() * pages.length)];
    call(pid, 'nginx', 'accept', 'fd=7(<4t>10.0.0.2:4000->10.0.0.1:80)');
    call(pid, 'nginx', 'read', 'res=312');
    if (rng() < 0.1) {
      call(pid, 'nginx', 'open', `fd=-2(ENOENT) name=/var/www/html/missing${Math.floor(rng() * 3)}.html flags=1(O_RDONLY) mode=0`);
    } else {
      call(pid, 'nginx', 'open', `fd=8(<f>/var/www/html/${page}) name=/var/www/html/${page} flags=1(O_RDONLY) mode=0`);
      call(pid, 'nginx', 'fstat', 'res=0');
      call(pid, 'nginx', 'read', 'res=2048');
      call(pid, 'nginx', 'close', 'res=0');
    }
    call(pid, 'nginx', 'writev', 'res=2300');
    call(pid, 'nginx', 'close', 'res=0');
    if (r.exploitAt !== null && t >= r.exploitAt * 1e9 && t < (r.exploitAt + 4) * 1e9) {
      call(300, 'sh', 'execve', 'res=0 exe=/bin/sh args=-c.id. tid=300(sh) pid=300(sh) ptid=200(nginx) filename=/bin/sh');
      call(300, 'sh', 'open', 'fd=3(<f>/etc/shadow) name=/etc/shadow flags=1(O_RDONLY) mode=0');
      call(300, 'sh', 'socket', 'fd=4(<4>)');
      call(300, 'sh', 'connect', 'res=0 tuple=10.0.0.1:5555->10.0.0.66:4444');
      call(300, 'sh', 'dup2', 'res=0');
      call(300, 'sh', 'setuid', 'res=-1(EPERM)');
    }
    t += Math.floor(rng() * 40_000_000); // idle up to 40 ms
  }
  return lines.join('\n') + '\n';
}

function writeRecording(dir: string, r: TinyRecording): void {
  mkdirSync(dir, { recursive: true });
  const labels = {
    exploit: r.exploitAt !== null,
    exploit_name: r.exploitAt !== null ? 'reverse-shell' : 'default',
    recording_time: r.seconds,
    time: {
      exploit: r.exploitAt !== null ? [{ absolute: r.startSec + r.exploitAt, name: 'attack', relative: r.exploitAt, source: 'TEST' }] : [],
      warmup_end: { absolute: r.startSec, relative: 0, source: 'TEST' },
    },
  };
  const zip = zipSync({ [`${r.name}.sc`]: strToU8(recordingText(r)), [`${r.name}.json`]: strToU8(JSON.stringify(labels)) });
  writeFileSync(path.join(dir, `${r.name}.zip`), zip);
}

/** training 4, validation 1, test/normal 3, test/normal_and_attack 3 (exploits at 9.5, 10.5, 11.5 s); 20 s each. */
function writeTinyDataset(root: string): string {
  let seed = 1;
  let start = 1_700_000_000;
  const add = (split: string, n: number, attack: boolean) => {
    for (let i = 0; i < n; i++) {
      writeRecording(path.join(root, split), {
        name: `${split.replace(/\W/g, '_')}_${i}`,
        seconds: 20,
        exploitAt: attack ? 9.5 + i : null,
        seed: seed++,
        startSec: (start += 100),
      });
    }
  };
  add('training', 4, false);
  add('validation', 1, false);
  add('test/normal', 3, false);
  add('test/normal_and_attack', 3, true);
  return root;
}

/** `chids ARGS…` (in-process unless `subprocess`), shaped like spawnSync's result. */
async function chids(args: string[], subprocess = false) {
  const r = await runCli(args, { subprocess, timeoutMs: 180_000 });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------------------------------------

describe('chids demo', () => {
  let dataset = '';
  before(() => {
    dataset = writeTinyDataset(path.join(tmp(), 'tiny'));
  });

  test('on a LID-DS directory: prints the θ table and the metrics, writes the report', async () => {
    const out = path.join(tmp(), 'run');
    const r = await chids(['demo', '--dataset', dataset, '--out', out, '--seed', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Evaluation summary/);
    assert.match(r.stdout, /detection rate.*false alarm rate/);
    assert.match(r.stdout, /LID-DS metrics/);
    assert.match(r.stdout, /AUC over recordings \(score = highest window error\): 1\.0;/);
    assert.match(r.stdout, /recordings: 3 attack, 3 normal/);
    const report = path.join(out, 'index.html');
    assert.ok(r.stdout.includes(`report:   ${path.resolve(report)}\n`), r.stdout);
    assert.match(r.stderr, /chids demo: training a baseline/);

    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as EvaluationResult;
    const m = results.metrics;
    assert.equal(m.attack_recordings, 3);
    assert.equal(m.timed_attacks, 3);
    assert.equal(m.auc, 1);
    for (const k of ['detected', 'recall', 'cfa', 'precision_cfa', 'f1_cfa', 'mean_latency_s', 'false_alarm_windows'] as const) {
      assert.equal(m[k].length, 10, k);
    }
    // the shell shows up in the window that holds the exploit start: every attack detected at θ = 1,
    // with latency = end of that window − exploit start ≈ 0.5 s (exploits at x.5 s; window 0 starts
    // at the first event, a few µs after the recording's start)
    assert.equal(m.detected[4], 3);
    const attacks = m.recordings.filter((x) => x.class === 'attack');
    assert.deepEqual(
      attacks.map((x) => [x.first_attack_window, x.first_detection_window[4]]),
      [
        [9, 9],
        [10, 10],
        [11, 11],
      ],
    );
    for (const x of attacks) assert.ok(Math.abs(x.latency_s[4]! - 0.5) < 1e-3, `latency ${x.latency_s[4]}`);

    const html = readFileSync(report, 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 2 + 6, 'rates, ROC, and one timeline per test recording');
    assert.ok(html.includes('ROC over recordings (AUC 1.000)'));
    assert.ok(!/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(html), 'self-contained');
    assert.ok(existsSync(path.join(out, 'baseline', 'manifest.json')));
  });

  test('the same seed gives the same results', async () => {
    const a = await runDemo({ dataset, outDir: path.join(tmp(), 'a'), seed: 7, epochs: 30 });
    const b = await runDemo({ dataset, outDir: path.join(tmp(), 'b'), seed: 7, epochs: 30 });
    assert.deepEqual(b.evaluation.thresholds, a.evaluation.thresholds);
    assert.deepEqual(
      b.evaluation.recordings.map((r) => r.window_errors),
      a.evaluation.recordings.map((r) => r.window_errors),
    );
  });

  test('the bundled example dataset: missing → a clear error; present → the whole demo under 2 minutes', async (t) => {
    const out = path.join(tmp(), 'bundled');
    if (!existsSync(bundledDataset())) {
      await assert.rejects(
        runDemo({ outDir: out, seed: 1 }),
        (e: Error) => e instanceof ChidsError && /bundled example dataset is not there.*--dataset DIR/.test(e.message),
      );
      const r = await chids(['demo', '--out', out]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^chids: the bundled example dataset is not there/);
      t.diagnostic('data/example is not in the repository yet: checked the error only');
      return;
    }
    const r = await chids(['demo', '--out', out], true);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(out, 'index.html')));
    assert.match(r.stdout, /LID-DS metrics/);
  });

  test('a directory that is not a LID-DS scenario is refused before any work', async () => {
    const d = tmp();
    mkdirSync(path.join(d, 'training'));
    assert.throws(() => datasetLayout(d, ['training', 'normal', 'attack']), /missing test\/normal\/, test\/normal_and_attack\//);
    assert.throws(() => datasetLayout(path.join(d, 'nope')), /no such directory/);
    const r = await chids(['demo', '--dataset', d, '--out', path.join(d, 'out')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^chids: .*not a LID-DS scenario directory: missing test\/normal\//);
    assert.ok(!existsSync(path.join(d, 'out')));
  });
});

describe('--dataset on baseline and evaluate', () => {
  let dataset = '';
  before(() => {
    dataset = writeTinyDataset(path.join(tmp(), 'tiny'));
  });

  test('baseline --dataset trains on training/, evaluate --dataset scores test/', async () => {
    const od = path.join(tmp(), 'bl');
    const b = await chids(['baseline', '--dataset', dataset, '--od', od, '--model', 'chids', '--seed', '1', '--epochs', '20', '--json', '-q']);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).recordings, 4);
    const e = await chids(['evaluate', '--od', od, '--dataset', dataset, '--json', '-q']);
    assert.equal(e.status, 0, e.stderr);
    const res = JSON.parse(e.stdout) as EvaluationResult;
    assert.deepEqual([res.counts.normal.recordings, res.counts.attack.recordings], [3, 3]);
    assert.ok(res.recordings.every((r) => r.file.startsWith(dataset + path.sep + 'test' + path.sep)));
    assert.equal(res.metrics.attack_recordings, 3);
    const text = await chids(['evaluate', '--od', od, '--dataset', dataset, '-q']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /LID-DS metrics[\s\S]*precision[\s\S]*AUC over recordings/);
  });

  test('--dataset does not combine with --td / --ns / --ms', async () => {
    const od = path.join(tmp(), 'bl');
    const b = await chids(['baseline', '--dataset', dataset, '--td', dataset, '--od', od]);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /either --td or --dataset/);
    const e = await chids(['evaluate', '--od', od, '--dataset', dataset, '--ns', dataset]);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /either --ns\/--ms or --dataset/);
    const none = await chids(['baseline', '--od', od]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--td PATH \(or a LID-DS scenario with --dataset DIR\)/);
  });

  test('the real LID-DS recording: its exploit time lands in window 10 and drives the metrics', { skip: missing(lidRecording) }, async () => {
    const root = path.join(tmp(), 'real');
    writeTinyDataset(root);
    symlinkSync(lidRecording, path.join(root, 'test', 'normal_and_attack', path.basename(lidRecording)));
    const r = await runDemo({ dataset: root, outDir: path.join(tmp(), 'out'), seed: 1, epochs: 20, writeReport });
    const real = r.evaluation.metrics.recordings.find((x) => x.file.endsWith('aggressive_nightingale_1018.zip'))!;
    assert.ok(real, 'evaluated');
    // first event 1631078867380457267 ns, exploit 1631078877.513988 s: 10.133530733 s in
    assert.equal(real.exploit_start_ns, '1631078877513988000');
    assert.equal(real.exploit_offset_s, 10.133530733);
    assert.equal(real.first_attack_window, 10);
    for (let k = 0; k < 10; k++) {
      const w = real.first_detection_window[k];
      if (w === null) assert.equal(real.latency_s[k], null);
      else assert.ok(Math.abs(real.latency_s[k]! - (w + 1 - 10.133530733)) < 1e-9, `θ index ${k}`);
      assert.ok(real.cfa[k] <= 1 || real.false_alarms[k] > 1, 'CFA counts runs');
    }
    const html = readFileSync(r.reportPath!, 'utf8');
    assert.ok(html.includes('aggressive_nightingale_1018.zip'));
    assert.ok(html.includes('exploit 10.13 s'));
  });
});
