#!/usr/bin/env node
// `npm run bench`: the speed figures of the README, measured as whole processes.
//
//  1. encode against a bare newline scan of the same file (the floor for reading it), on
//     generated LID-DS traces of 1 M and 4 M events: default mode, --faithful, the .zip of the
//     trace, and the trace piped on stdin; CPU time (user + system), wall time, peak RSS;
//  2. training the CHIDS autoencoder (`chids baseline --model chids`, default and --faithful) on
//     a trace of ~10 k one-second windows against `chids encode` of the same trace in the same mode;
//  3. the live path (bench/live.mjs): monitor replay events/s, scoring latency p50/p99;
//  4. training and scoring of every detector (bench/models.ts; BENCH_MODELS=0 skips it).
//
// Pairing: every repetition runs the floor and the command back to back and the ratio is
// taken per pair; the median of the ratios is reported (with the medians of each side). The
// machine may be shared: CPU time is what the ratios use, since it is far less sensitive to
// other load than wall time, and the load average is printed with the results.
// Environment: BENCH_RUNS (default 5), BENCH_SIZES (default "1000000,4000000"; "" skips the
// encode and live figures), BENCH_MODELS.
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Zip, ZipDeflate } from 'fflate';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, 'bench', '.data');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const sizes = (process.env.BENCH_SIZES ?? '1000000,4000000').split(',').filter(Boolean).map(Number);
const cli = path.join(root, 'dist', 'bin', 'chids.js');
const node = process.execPath;
mkdirSync(dataDir, { recursive: true });
if (!existsSync(cli)) {
  console.error('bench/run.mjs: build first (npm run build)');
  process.exit(1);
}

function generate(file, events, gapScale = 1) {
  if (existsSync(file)) return;
  process.stderr.write(`generating ${file} …\n`);
  const g = spawnSync(node, [path.join(root, 'bench', 'gen-lidds.mjs'), file, String(events), String(gapScale)], { stdio: 'inherit' });
  if (g.status !== 0) process.exit(1);
}

/** NAME.zip holding NAME.sc, as LID-DS ships recordings (deflate level 6). */
async function zipOf(sc) {
  const out = sc.replace(/\.sc$/, '.zip');
  if (existsSync(out)) return out;
  const fd = openSync(out + '.tmp', 'w');
  const zip = new Zip((err, chunk) => {
    if (err) throw err;
    writeSync(fd, chunk);
  });
  const entry = new ZipDeflate(path.basename(sc), { level: 6 });
  zip.add(entry);
  for await (const c of createReadStream(sc, { highWaterMark: 1 << 20 })) entry.push(c, false);
  entry.push(new Uint8Array(0), true);
  zip.end();
  closeSync(fd);
  rmSync(out, { force: true });
  spawnSync('mv', [out + '.tmp', out]);
  return out;
}

// A training vocabulary for the generated traces: everything but execve and the PHP pages.
const vocabDir = path.join(dataDir, 'vocab');
mkdirSync(vocabDir, { recursive: true });
const seen = ['epoll_wait', 'accept', 'fcntl', 'read', 'stat', 'open', 'fstat', 'mmap', 'writev', 'munmap', 'close', 'shutdown', 'poll', 'clone'];
writeFileSync(path.join(vocabDir, 'seen_syscalls.json'), JSON.stringify(seen));
writeFileSync(path.join(vocabDir, 'seen_args.json'), JSON.stringify(['/var/www/html', '/etc/ld.so.cache', '/usr/sbin/apache', '']));
writeFileSync(path.join(vocabDir, 'max_freq.json'), '60000');
const vocabFlags = ['--ss', path.join(vocabDir, 'seen_syscalls.json'), '--sa', path.join(vocabDir, 'seen_args.json'), '--fm', path.join(vocabDir, 'max_freq.json')];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rusageFile = path.join(dataDir, 'rusage.json');
/** One run of argv: CPU seconds (user + system, from the process's own rusage), wall seconds, peak RSS MB. */
function once(label, argv, input) {
  rmSync(rusageFile, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
    env: { ...process.env, CHIDS_RUSAGE: rusageFile },
    maxBuffer: 1 << 26,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    process.stderr.write(`${label} failed (exit ${r.status}): ${r.stderr}\n`);
    process.exit(1);
  }
  const u = JSON.parse(readFileSync(rusageFile, 'utf8'));
  return { cpu: (u.userCPUTime + u.systemCPUTime) / 1e6, wall, rss: (u.vmHWMkB ?? u.maxRSS) / 1024 };
}

/** Runs floor and cmd back to back, once to warm up and then `runs` times; medians and the median per-pair CPU ratio floor/cmd. */
function paired(label, floor, cmd, cmdInput) {
  const f = [];
  const c = [];
  for (let i = 0; i <= runs; i++) {
    const a = once(`${label} (floor)`, floor);
    const b = once(label, cmd, cmdInput);
    if (i > 0) {
      f.push(a);
      c.push(b);
    }
  }
  const pick = (xs, k) => median(xs.map((x) => x[k]));
  return {
    label,
    floor_cpu_s: pick(f, 'cpu'),
    cpu_s: pick(c, 'cpu'),
    cpu_min_s: Math.min(...c.map((x) => x.cpu)),
    cpu_max_s: Math.max(...c.map((x) => x.cpu)),
    wall_s: pick(c, 'wall'),
    ratio: median(f.map((x, i) => x.cpu / c[i].cpu)),
    peak_rss_mb: Math.round(Math.max(...c.map((x) => x.rss))),
  };
}

const load0 = os.loadavg();
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const result = {
  machine: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`,
  runs,
  load_average_before: load0.map((x) => Number(x.toFixed(1))),
  encode: [],
  training: null,
};

for (const events of sizes) {
  const trace = path.join(dataDir, `lidds-${events}.sc`);
  generate(trace, events);
  const zip = await zipOf(trace);
  const scan = [node, path.join(root, 'bench', 'newline-scan.mjs'), trace];
  const enc = (...extra) => [node, cli, 'encode', '-q', ...vocabFlags, ...extra];
  const stdinData = readFileSync(trace);
  const cases = [
    paired('encode', scan, enc(trace)),
    paired('encode --faithful', scan, enc('--faithful', trace)),
    paired('encode (.zip)', scan, enc(zip)),
    paired('encode (stdin pipe)', scan, enc('-'), stdinData),
  ];
  result.encode.push({ events, bytes: statSync(trace).size, cases });
}

// Training the CHIDS autoencoder on ~10 k one-second windows vs encoding the same trace (both
// whole processes, same mode): `baseline` reads the trace, trains, derives the thresholds and
// writes the baseline directory.
const trainEvents = 200_000;
const trainTrace = path.join(dataDir, `lidds-${trainEvents}-10k-windows.sc`);
generate(trainTrace, trainEvents, 2500);
result.training = [];
for (const mode of [[], ['--faithful']]) {
  const od = path.join(dataDir, 'train-od');
  const label = `baseline --model chids${mode.length ? ' ' + mode.join(' ') : ''}`;
  const tr = paired(label, [node, cli, 'encode', '-q', ...mode, ...vocabFlags, trainTrace], [node, cli, 'baseline', '-q', ...mode, '--model', 'chids', '--seed', '1', '--td', trainTrace, '--od', od]);
  const manifest = JSON.parse(readFileSync(path.join(od, 'manifest.json'), 'utf8'));
  result.training.push({ events: trainEvents, windows: manifest.training?.examples ?? null, ...tr, cost_vs_encode: 1 / tr.ratio });
}
result.load_average_after = os.loadavg().map((x) => Number(x.toFixed(1)));

const f = (x, d = 3) => Number(x).toFixed(d);
console.log(`machine: ${result.machine}`);
console.log(`load average before ${result.load_average_before.join(' ')}, after ${result.load_average_after.join(' ')}; medians of ${runs} paired runs (whole processes)\n`);
console.log('| trace | command | CPU s (min–max) | wall s | newline scan CPU s | scan/command (CPU) | peak RSS |');
console.log('|---|---|---|---|---|---|---|');
for (const { events, bytes, cases } of result.encode) {
  for (const c of cases) {
    console.log(`| ${(events / 1e6).toFixed(0)} M events, ${(bytes / 1e6).toFixed(0)} MB | ${c.label} | ${f(c.cpu_s, 2)} (${f(c.cpu_min_s, 2)}–${f(c.cpu_max_s, 2)}) | ${f(c.wall_s, 2)} | ${f(c.floor_cpu_s, 2)} | ${f(c.ratio, 2)} | ${c.peak_rss_mb} MB |`);
  }
}
console.log(`\n| training trace | command | encode CPU s | baseline CPU s (min–max) | baseline / encode (CPU) | peak RSS |`);
console.log('|---|---|---|---|---|---|');
for (const t of result.training) {
  console.log(`| ${(t.events / 1e3).toFixed(0)} k events, ${t.windows} windows | ${t.label} | ${f(t.floor_cpu_s, 2)} | ${f(t.cpu_s, 2)} (${f(t.cpu_min_s, 2)}–${f(t.cpu_max_s, 2)}) | ${f(t.cost_vs_encode, 2)}× | ${t.peak_rss_mb} MB |`);
}
writeFileSync(path.join(dataDir, 'results.json'), JSON.stringify(result, null, 2) + '\n');

const one = result.encode.find((e) => e.events === 1_000_000)?.cases[0];
const four = result.encode.find((e) => e.events === 4_000_000)?.cases[0];
const checks = [
  one && [`1 M events scan/encode ≥ 0.25 (goal 0.35): ${f(one.ratio, 2)}`, one.ratio >= 0.25],
  one && [`1 M events peak RSS ≤ 80 MB: ${one.peak_rss_mb} MB`, one.peak_rss_mb <= 80],
  four && [`4 M events scan/encode ≥ 0.2: ${f(four.ratio, 2)}`, four.ratio >= 0.2],
  ...result.training.map((t) => [`${t.label}, 10 k windows ≤ 3× encode of the same trace: ${f(t.cost_vs_encode, 2)}×`, t.cost_vs_encode <= 3]),
].filter(Boolean);
console.log('\ntargets:');
for (const [text, ok] of checks) console.log(`  ${ok ? 'met    ' : 'NOT MET'}  ${text}`);

// The live path (bench/live.mjs): `cat trace | chids monitor --source stdin` as a whole
// pipeline, and the scoring latency per window.
if (sizes.length > 0) {
  process.stderr.write('timing the live path (bench/live.mjs) …\n');
  const lv = spawnSync(node, [path.join(root, 'bench', 'live.mjs'), String(sizes[0])], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (lv.status === 0) console.log(`\nLive path (bench/live.mjs):\n\n| figure | value |\n|---|---|\n${lv.stdout.trim()}`);
  else process.stderr.write(`live bench failed (exit ${lv.status})\n`);
}

// 4. (optional; BENCH_MODELS=0 skips it) training time and scoring throughput of every
// detector on the bundled dataset data/example, or on a generated one (bench/models.ts).
if (process.env.BENCH_MODELS !== '0') {
  process.stderr.write('timing the detectors (bench/models.ts) …\n');
  const md = spawnSync(node, ['--import', 'tsx', path.join(root, 'bench', 'models.ts')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (md.status === 0) console.log(`\nDetectors (bench/models.ts):\n\n${md.stdout.trim()}`);
  else process.stderr.write(`detector bench failed (exit ${md.status})\n`);
}
