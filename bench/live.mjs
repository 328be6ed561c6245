#!/usr/bin/env node
// The live path's speed: run by `npm run bench` (bench/run.mjs), or alone after
// `npm run build`:  node bench/live.mjs [EVENTS]
//
//  1. replay throughput, as a whole process and pipeline:
//       cat big.sc | chids monitor --source stdin --format lidds --od MODEL
//     on the generated LID-DS trace of bench/gen-lidds.mjs (1 M events by default), median of
//     BENCH_RUNS runs after a warm-up; target ≥ 200 k events/s. Peak RSS of the monitor too.
//  2. scoring latency per window, through the monitor's own path (Monitor.feed → encoder →
//     model → alert check), on 10 000 one-second windows of a synthetic trace, with the real
//     CHIDS autoencoder; target p99 < 1 ms.
// Prints a markdown table and writes bench/.data/live-results.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, 'bench', '.data');
const cli = path.join(root, 'dist', 'bin', 'chids.js');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const events = Number(process.argv[2] ?? process.env.BENCH_EVENTS ?? 1_000_000);
if (!existsSync(cli)) {
  console.error('bench/live.mjs: build first (npm run build)');
  process.exit(1);
}
mkdirSync(dataDir, { recursive: true });
const node = process.execPath;

const trace = path.join(dataDir, `lidds-${events}.sc`);
if (!existsSync(trace)) {
  process.stderr.write(`generating ${trace} …\n`);
  const g = spawnSync(node, [path.join(root, 'bench', 'gen-lidds.mjs'), trace, String(events)], { stdio: 'inherit' });
  if (g.status !== 0) process.exit(1);
}
// A model of the same workload: trained on the first 200 k events (of the same generator).
const trainEvents = 200_000;
const trainTrace = path.join(dataDir, `lidds-${trainEvents}.sc`);
if (!existsSync(trainTrace)) {
  const g = spawnSync(node, [path.join(root, 'bench', 'gen-lidds.mjs'), trainTrace, String(trainEvents)], { stdio: 'inherit' });
  if (g.status !== 0) process.exit(1);
}
const model = path.join(dataDir, 'live-model');
if (!existsSync(path.join(model, 'manifest.json'))) {
  process.stderr.write('training the live-bench model …\n');
  const b = spawnSync(node, [cli, 'baseline', '--td', trainTrace, '--od', model, '--seed', '1', '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (b.status !== 0) process.exit(1);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// 1. cat big.sc | chids monitor …, timed as a whole (the shell pipeline, both processes),
// pinned to one core with taskset when there is one.
const rusageFile = path.join(dataDir, 'live-rusage.json');
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pipeline = `cat ${q(trace)} | ${q(node)} ${q(cli)} monitor --source stdin --format lidds --od ${q(model)} -q > /dev/null`;
const walls = [];
let rss = 0;
let summary = null;
for (let i = 0; i <= runs; i++) {
  rmSync(rusageFile, { force: true });
  const t0 = process.hrtime.bigint();
  const sh = ['/bin/sh', '-c', pipeline.replace(' -q ', ' --log-level info ')];
  const argv = pinned ? ['taskset', '-c', '0', ...sh] : sh;
  const r = spawnSync(argv[0], argv.slice(1), {
    env: { ...process.env, CHIDS_RUSAGE: rusageFile },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    console.error(`monitor replay failed (exit ${r.status}): ${r.stderr}`);
    process.exit(1);
  }
  const last = r.stderr.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.msg === 'monitor stopped');
  if (!last || last.events !== events) {
    console.error(`monitor replay read ${last?.events} events, expected ${events}`);
    process.exit(1);
  }
  summary = last;
  if (existsSync(rusageFile)) rss = Math.max(rss, JSON.parse(readFileSync(rusageFile, 'utf8')).maxRSS / 1024);
  if (i > 0) walls.push(wall);
}
const wall = median(walls);

// 2. Scoring latency per window through the monitor's path, in this process.
const { Monitor } = await import(pathToFileURL(path.join(root, 'dist', 'app', 'monitor.js')).href);
const { loadDetector } = await import(pathToFileURL(path.join(root, 'dist', 'model', 'registry.js')).href);
const { readBaselineData, pathsInDir } = await import(pathToFileURL(path.join(root, 'dist', 'engine', 'baseline-dir.js')).href);
const { STDIN_CONTAINER } = await import(pathToFileURL(path.join(root, 'dist', 'capture', 'containers.js')).href);
const { silentLogger } = await import(pathToFileURL(path.join(root, 'dist', 'util', 'log.js')).href);
const data = await readBaselineData(pathsInDir(model));
const scorer = await loadDetector(model, data.manifest?.model.type);
let alerts = 0;
const monitor = new Monitor({
  vocab: data.vocab,
  scorer,
  theta: 1,
  thresholds: data.thresholds,
  faithful: false,
  windowNs: 1e9,
  sinks: [{ name: 'count', send: () => alerts++, close: async () => {} }],
  log: silentLogger,
});
const WINDOWS = 10_000;
const T0 = 1_631_078_867_000_000_000n;
const names = ['read', 'open', 'fstat', 'mmap', 'close', 'writev', 'poll', 'epoll_wait'];
const args = { open: 'fd=3(<f>/var/www/html/index0.php) name=/var/www/html/index0.php flags=1(O_RDONLY)' };
let chunk = [];
for (let w = 0; w < WINDOWS; w++) {
  const n = 20 + (w % 40);
  for (let e = 0; e < n; e++) {
    // every 50th window does something new (an unseen syscall and path): the alert path too
    const name = w % 50 === 7 && e === 3 ? 'ptrace' : names[(w + e) % names.length];
    const a = w % 50 === 7 && name === 'open' ? 'fd=3(<f>/etc/shadow) name=/etc/shadow flags=1(O_RDONLY)' : (args[name] ?? 'res=0');
    chunk.push(`${T0 + BigInt(w) * 1_000_000_000n + BigInt(e) * 1_000_000n} 33 7 apache2 7 ${name} < ${a}`);
  }
  if (chunk.length > 20_000) {
    monitor.feed(STDIN_CONTAINER, Buffer.from(chunk.join('\n') + '\n'), 'lidds');
    chunk = [];
  }
}
monitor.feed(STDIN_CONTAINER, Buffer.from(chunk.join('\n') + '\n'), 'lidds');
monitor.finish();
const lat = monitor.scoringLatency();
scorer.dispose();

const result = {
  events,
  bytes: statSync(trace).size,
  runs,
  replay_s: wall,
  replay_min_s: Math.min(...walls),
  replay_max_s: Math.max(...walls),
  replay_events_per_s: Math.round(events / wall),
  replay_one_core: pinned,
  replay_peak_rss_mb: Math.round(rss),
  replay_windows: summary.windows,
  scoring: { windows: lat.n, p50_ms: lat.p50, p99_ms: lat.p99, max_ms: lat.max, alerts },
};
writeFileSync(path.join(dataDir, 'live-results.json'), JSON.stringify(result, null, 2) + '\n');
const f = (x, d = 3) => Number(x).toFixed(d);
console.log(`| cat trace \\| chids monitor --source stdin (whole pipeline${pinned ? ' on one core' : ''}, ${(events / 1e6).toFixed(1)} M events) | ${f(wall)} s (min ${f(result.replay_min_s)}, max ${f(result.replay_max_s)}) = ${(result.replay_events_per_s / 1e6).toFixed(2)} M events/s, peak RSS ${result.replay_peak_rss_mb} MB |`);
console.log(`| scoring one window (monitor path, ${lat.n} windows, CHIDS autoencoder) | p50 ${f(lat.p50 * 1000, 0)} µs, p99 ${f(lat.p99 * 1000, 0)} µs, max ${f(lat.max, 2)} ms |`);
const ok = result.replay_events_per_s >= 200_000 && lat.p99 < 1;
console.log(`\nlive targets (≥ 200 k events/s from stdin replay, p99 scoring < 1 ms): ${ok ? 'met' : 'NOT MET'}`);
