#!/usr/bin/env node
// `npm run bench`: the speed figures of the README, measured as whole processes.
//
//  1. encode throughput on a generated 1 M-event LID-DS .sc trace, against a bare newline scan
//     of the same file (the floor for reading it), and the encoder's peak RSS;
//  2. the same in --faithful mode;
//  3. training time of the CHIDS autoencoder on 10 k anomaly vectors, our training loop
//     against TF.js model.fit on the same network (bench/train.ts);
//  4. training time and scoring throughput of every detector (bench/models.ts; BENCH_MODELS=0 skips).
//
// Each command runs once to warm the page cache, then RUNS times; medians are reported.
// Environment: BENCH_RUNS (default 5), BENCH_EVENTS (default 1000000), BENCH_MODELS.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, 'bench', '.data');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const events = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const cli = path.join(root, 'dist', 'cli', 'main.js');
mkdirSync(dataDir, { recursive: true });

const trace = path.join(dataDir, `lidds-${events}.sc`);
if (!existsSync(trace)) {
  process.stderr.write(`generating ${trace} …\n`);
  const g = spawnSync(process.execPath, [path.join(root, 'bench', 'gen-lidds.mjs'), trace, String(events)], { stdio: 'inherit' });
  if (g.status !== 0) process.exit(1);
}
// A training vocabulary for the generated trace: everything but execve and the PHP pages.
const vocabDir = path.join(dataDir, 'vocab');
mkdirSync(vocabDir, { recursive: true });
const seen = ['epoll_wait', 'accept', 'fcntl', 'read', 'stat', 'open', 'fstat', 'mmap', 'writev', 'munmap', 'close', 'shutdown', 'poll', 'clone'];
writeFileSync(path.join(vocabDir, 'seen_syscalls.json'), JSON.stringify(seen));
writeFileSync(path.join(vocabDir, 'seen_args.json'), JSON.stringify(['/var/www/html', '/etc/ld.so.cache', '/usr/sbin/apache', '']));
writeFileSync(path.join(vocabDir, 'max_freq.json'), '60000');
const vocabFlags = ['--ss', path.join(vocabDir, 'seen_syscalls.json'), '--sa', path.join(vocabDir, 'seen_args.json'), '--fm', path.join(vocabDir, 'max_freq.json')];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs argv RUNS times (after one warm-up); returns median wall seconds and the max peak RSS (MB). */
function time(label, argv) {
  const walls = [];
  let rss = 0;
  const rusageFile = path.join(dataDir, 'rusage.json');
  for (let i = 0; i <= runs; i++) {
    rmSync(rusageFile, { force: true });
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CHIDS_RUSAGE: rusageFile },
      maxBuffer: 1 << 26,
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) {
      process.stderr.write(`${label} failed (exit ${r.status}): ${r.stderr}\n`);
      process.exit(1);
    }
    if (existsSync(rusageFile)) rss = Math.max(rss, JSON.parse(readFileSync(rusageFile, 'utf8')).maxRSS / 1024);
    if (i > 0) walls.push(wall);
  }
  return { label, wall: median(walls), min: Math.min(...walls), max: Math.max(...walls), rssMB: rss };
}

const node = process.execPath;
const bytes = statSync(trace).size;
const scan = time('newline scan', [node, path.join(root, 'bench', 'newline-scan.mjs'), trace]);
const enc = time('chids encode', [node, cli, 'encode', '-q', ...vocabFlags, trace]);
const encF = time('chids encode --faithful', [node, cli, 'encode', '-q', '--faithful', ...vocabFlags, trace]);

process.stderr.write('timing training (10 k AVs, 120 epochs) …\n');
const tr = spawnSync(node, ['--import', 'tsx', path.join(root, 'bench', 'train.ts')], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
let train = null;
if (tr.status === 0) {
  const last = tr.stdout.trim().split('\n').pop();
  try {
    train = JSON.parse(last);
  } catch {
    train = null;
  }
} else {
  process.stderr.write(`training bench failed: ${tr.stderr}\n`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const result = {
  machine: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`,
  trace: { events, bytes },
  runs,
  newline_scan_s: scan.wall,
  encode_s: enc.wall,
  encode_events_per_s: Math.round(events / enc.wall),
  encode_ratio_to_scan: scan.wall / enc.wall,
  encode_peak_rss_mb: Math.round(enc.rssMB),
  encode_faithful_s: encF.wall,
  encode_faithful_events_per_s: Math.round(events / encF.wall),
  encode_faithful_peak_rss_mb: Math.round(encF.rssMB),
  training: train,
};

const f = (x, d = 3) => Number(x).toFixed(d);
console.log(`machine: ${result.machine}`);
console.log(`trace:   ${events.toLocaleString('en')} LID-DS events, ${(bytes / 1e6).toFixed(1)} MB; median of ${runs} runs (whole processes)\n`);
console.log('| figure | value |');
console.log('|---|---|');
console.log(`| newline scan of the trace | ${f(scan.wall)} s |`);
console.log(`| chids encode | ${f(enc.wall)} s (min ${f(enc.min)}, max ${f(enc.max)}) = ${(result.encode_events_per_s / 1e6).toFixed(2)} M events/s |`);
console.log(`| ratio encode / newline scan (throughput) | ${f(result.encode_ratio_to_scan, 2)} |`);
console.log(`| chids encode peak RSS | ${result.encode_peak_rss_mb} MB |`);
console.log(`| chids encode --faithful | ${f(encF.wall)} s = ${(result.encode_faithful_events_per_s / 1e6).toFixed(2)} M events/s, peak RSS ${result.encode_faithful_peak_rss_mb} MB |`);
if (train) {
  console.log(`| training, 10 k AVs × 120 epochs (our loop) | ${f(train.ours_ms / 1000, 1)} s |`);
  console.log(`| same with TF.js model.fit | ${f(train.fit_ms / 1000, 1)} s (ours/fit = ${f(train.ratio, 2)}) |`);
}
writeFileSync(path.join(dataDir, 'results.json'), JSON.stringify(result, null, 2) + '\n');
const ok = result.encode_events_per_s >= 1.3e6 && result.encode_ratio_to_scan >= 0.1 && result.encode_peak_rss_mb < 150;
console.log(`\ntargets (≥ 1.3 M events/s, ratio ≥ 0.10, peak RSS < 150 MB): ${ok ? 'met' : 'NOT MET'}`);

// The live path (bench/live.mjs): `cat trace | chids monitor --source stdin` as a whole
// pipeline, and the scoring latency per window.
process.stderr.write('timing the live path (bench/live.mjs) …\n');
const lv = spawnSync(node, [path.join(root, 'bench', 'live.mjs'), String(events)], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
if (lv.status === 0) console.log(`\nLive path (bench/live.mjs):\n\n| figure | value |\n|---|---|\n${lv.stdout.trim()}`);
else process.stderr.write(`live bench failed (exit ${lv.status})\n`);

// 4. (optional; BENCH_MODELS=0 skips it) training time and scoring throughput of every detector
// on the bundled dataset data/example, or on a generated one (bench/models.ts).
if (process.env.BENCH_MODELS !== '0') {
  process.stderr.write('timing the detectors (bench/models.ts) …\n');
  const md = spawnSync(node, ['--import', 'tsx', path.join(root, 'bench', 'models.ts')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (md.status === 0) console.log(`\nDetectors (bench/models.ts):\n\n${md.stdout.trim()}`);
  else process.stderr.write(`detector bench failed (exit ${md.status})\n`);
}
