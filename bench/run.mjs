#!/usr/bin/env node
// `npm run bench`: the speed figures of the README, measured as whole processes.
//
//  1. encode against a bare newline scan of the same file (the floor for reading it), on
//     generated LID-DS traces of 1 M and 4 M events: default mode, --faithful, the .zip of the
//     trace, and the trace piped on stdin; CPU time (user + system), wall time, peak RSS;
//  2. training the CHIDS autoencoder (`chids baseline --model chids`, default and --faithful) on
//     a trace of ~10 k one-second windows against `chids encode` of the same trace in the same mode;
//  3. start-up: `chids encode` of a 20-event trace against `node -e 0` (CPU of each, per-pair ratio);
//  4. `chids evaluate` of many recordings in this thread (--jobs 1) and on two worker threads
//     (--jobs 2): wall time, CPU, per-pair wall ratio (BENCH_EVAL=0 skips it);
//  5. the live path (bench/live.mjs): monitor replay events/s, scoring latency p50/p99;
//  6. training and scoring of every detector (bench/models.ts; BENCH_MODELS=0 skips it).
//
// Pairing: every repetition runs the floor and the command back to back and the ratio is
// taken per pair; the median of the ratios is reported (with the medians of each side). The
// machine may be shared: CPU time is what the ratios use, since it is far less sensitive to
// other load than wall time, and the load average is printed with the results.
// Environment: BENCH_RUNS (default 5), BENCH_SIZES (default "1000000,4000000"; "" skips the
// encode and live figures), BENCH_TRAIN, BENCH_EVAL (and BENCH_EVAL_RECORDINGS, default 16), BENCH_MODELS
// (0 skips the section).
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, statSync } from 'node:fs';
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
if (process.env.BENCH_TRAIN !== '0') generate(trainTrace, trainEvents, 2500);
result.training = [];
for (const mode of process.env.BENCH_TRAIN === '0' ? [] : [[], ['--faithful']]) {
  const od = path.join(dataDir, 'train-od');
  const label = `baseline --model chids${mode.length ? ' ' + mode.join(' ') : ''}`;
  const tr = paired(label, [node, cli, 'encode', '-q', ...mode, ...vocabFlags, trainTrace], [node, cli, 'baseline', '-q', ...mode, '--model', 'chids', '--seed', '1', '--td', trainTrace, '--od', od]);
  const manifest = JSON.parse(readFileSync(path.join(od, 'manifest.json'), 'utf8'));
  result.training.push({ events: trainEvents, windows: manifest.training?.examples ?? null, ...tr, cost_vs_encode: 1 / tr.ratio });
}

/**
 * CPU seconds (user + system) and wall seconds of argv, for commands that cannot write
 * CHIDS_RUSAGE (`node -e 0`): bash's `times` after the command gives its children's CPU.
 */
function cpuOfShell(argv) {
  const q = (a) => `'${String(a).replace(/'/g, "'\\''")}'`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `${argv.map(q).join(' ')} >/dev/null || exit 97; times`], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    process.stderr.write(`${argv.join(' ')} failed (exit ${r.status}): ${r.stderr}\n`);
    process.exit(1);
  }
  const children = r.stdout.trim().split('\n')[1];
  const [user, sys] = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { cpu: user + sys, wall };
}

// 3. Start-up: `chids encode` of a 20-event trace against `node -e 0`, alternating which runs
// first; N = 3 × BENCH_RUNS pairs (a run is short, and start-up is what other load disturbs most).
{
  const tiny = path.join(dataDir, 'tiny-20.sc');
  const big = path.join(dataDir, 'tiny-source.sc');
  generate(big, 100);
  writeFileSync(tiny, readFileSync(big, 'utf8').split('\n').slice(0, 20).join('\n') + '\n');
  const bare = [node, '-e', '0'];
  const enc = [node, cli, 'encode', ...vocabFlags, tiny];
  const pairs = [];
  for (let i = 0; i <= 3 * runs; i++) {
    const [a, b] = i % 2 ? [cpuOfShell(bare), cpuOfShell(enc)] : [cpuOfShell(enc), cpuOfShell(bare)].reverse();
    if (i > 0) pairs.push({ bare: a, enc: b });
  }
  result.startup = {
    pairs: pairs.length,
    node_e0_cpu_s: median(pairs.map((p) => p.bare.cpu)),
    encode_cpu_s: median(pairs.map((p) => p.enc.cpu)),
    ratio_cpu: median(pairs.map((p) => p.enc.cpu / p.bare.cpu)),
    node_e0_wall_s: median(pairs.map((p) => p.bare.wall)),
    encode_wall_s: median(pairs.map((p) => p.enc.wall)),
    ratio_wall: median(pairs.map((p) => p.enc.wall / p.bare.wall)),
  };
}

// 4. `chids evaluate` of many recordings: in this thread (--jobs 1) against two worker threads
// (--jobs 2), alternating which runs first. The recordings are hard links to one generated trace
// of 250 k events (same work each, no extra disk); the baseline is the default detector trained
// on it. Wall time is what the threads save; CPU (the whole process, threads included) shows
// what they cost.
if (process.env.BENCH_EVAL !== '0') {
  const evalEvents = 250_000;
  const count = Number(process.env.BENCH_EVAL_RECORDINGS ?? 16);
  const src = path.join(dataDir, `lidds-${evalEvents}.sc`);
  generate(src, evalEvents);
  const dir = path.join(dataDir, `eval-${count}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) linkSync(src, path.join(dir, `rec-${String(i).padStart(3, '0')}.sc`));
  const od = path.join(dataDir, 'eval-od');
  once('baseline for evaluate', [node, cli, 'baseline', '-q', '--seed', '1', '--td', src, '--od', od]);
  const ev = (jobs) => [node, cli, 'evaluate', '-q', '--od', od, '--ns', dir, '--json', '--jobs', String(jobs)];
  const pairs = [];
  for (let i = 0; i <= runs; i++) {
    const [one, two] = i % 2 ? [once('evaluate --jobs 1', ev(1)), once('evaluate --jobs 2', ev(2))] : [once('evaluate --jobs 2', ev(2)), once('evaluate --jobs 1', ev(1))].reverse();
    if (i > 0) pairs.push({ one, two });
  }
  result.evaluate_jobs = {
    recordings: count,
    events_each: evalEvents,
    jobs1_wall_s: median(pairs.map((p) => p.one.wall)),
    jobs2_wall_s: median(pairs.map((p) => p.two.wall)),
    speedup_wall: median(pairs.map((p) => p.one.wall / p.two.wall)),
    jobs1_cpu_s: median(pairs.map((p) => p.one.cpu)),
    jobs2_cpu_s: median(pairs.map((p) => p.two.cpu)),
    jobs1_rss_mb: Math.round(Math.max(...pairs.map((p) => p.one.rss))),
    jobs2_rss_mb: Math.round(Math.max(...pairs.map((p) => p.two.rss))),
  };
}

result.load_average_after = os.loadavg().map((x) => Number(x.toFixed(1)));

const f = (x, d = 3) => Number(x).toFixed(d);
console.log(`machine: ${result.machine}`);
console.log(`load average before ${result.load_average_before.join(' ')}, after ${result.load_average_after.join(' ')}; medians of ${runs} paired runs (whole processes)\n`);
if (result.encode.length > 0) {
  console.log('| trace | command | CPU s (min–max) | wall s | newline scan CPU s | scan/command (CPU) | peak RSS |');
  console.log('|---|---|---|---|---|---|---|');
}
for (const { events, bytes, cases } of result.encode) {
  for (const c of cases) {
    console.log(`| ${(events / 1e6).toFixed(0)} M events, ${(bytes / 1e6).toFixed(0)} MB | ${c.label} | ${f(c.cpu_s, 2)} (${f(c.cpu_min_s, 2)}–${f(c.cpu_max_s, 2)}) | ${f(c.wall_s, 2)} | ${f(c.floor_cpu_s, 2)} | ${f(c.ratio, 2)} | ${c.peak_rss_mb} MB |`);
  }
}
if (result.training.length > 0) {
  console.log(`\n| training trace | command | encode CPU s | baseline CPU s (min–max) | baseline / encode (CPU) | peak RSS |`);
  console.log('|---|---|---|---|---|---|');
}
for (const t of result.training) {
  console.log(`| ${(t.events / 1e3).toFixed(0)} k events, ${t.windows} windows | ${t.label} | ${f(t.floor_cpu_s, 2)} | ${f(t.cpu_s, 2)} (${f(t.cpu_min_s, 2)}–${f(t.cpu_max_s, 2)}) | ${f(t.cost_vs_encode, 2)}× | ${t.peak_rss_mb} MB |`);
}
{
  const st = result.startup;
  console.log(`\nStart-up (${st.pairs} pairs): \`node -e 0\` ${f(st.node_e0_cpu_s)} s CPU (${f(st.node_e0_wall_s)} s wall), \`chids encode\` of 20 events ${f(st.encode_cpu_s)} s CPU (${f(st.encode_wall_s)} s wall): ${f(st.ratio_cpu, 2)}× CPU, ${f(st.ratio_wall, 2)}× wall`);
}
if (result.evaluate_jobs) {
  const e = result.evaluate_jobs;
  console.log(`\n| evaluate, ${e.recordings} recordings of ${e.events_each / 1e3} k events | wall s | CPU s | peak RSS |`);
  console.log('|---|---|---|---|');
  console.log(`| --jobs 1 (this thread) | ${f(e.jobs1_wall_s, 2)} | ${f(e.jobs1_cpu_s, 2)} | ${e.jobs1_rss_mb} MB |`);
  console.log(`| --jobs 2 (two workers) | ${f(e.jobs2_wall_s, 2)} | ${f(e.jobs2_cpu_s, 2)} | ${e.jobs2_rss_mb} MB |`);
  console.log(`\n--jobs 2 wall speed-up (median of per-pair ratios): ${f(e.speedup_wall, 2)}×`);
}
writeFileSync(path.join(dataDir, 'results.json'), JSON.stringify(result, null, 2) + '\n');

const one = result.encode.find((e) => e.events === 1_000_000)?.cases[0];
const four = result.encode.find((e) => e.events === 4_000_000)?.cases[0];
const checks = [
  one && [`1 M events scan/encode ≥ 0.25 (goal 0.35): ${f(one.ratio, 2)}`, one.ratio >= 0.25],
  one && [`1 M events peak RSS ≤ 80 MB: ${one.peak_rss_mb} MB`, one.peak_rss_mb <= 80],
  four && [`4 M events scan/encode ≥ 0.2: ${f(four.ratio, 2)}`, four.ratio >= 0.2],
  ...result.training.map((t) => [`${t.label}, 10 k windows ≤ 3× encode of the same trace: ${f(t.cost_vs_encode, 2)}×`, t.cost_vs_encode <= 3]),
  [`chids encode of 20 events ≤ 1.5× node -e 0 (CPU): ${f(result.startup.ratio_cpu, 2)}×`, result.startup.ratio_cpu <= 1.5],
].filter(Boolean);
console.log('\ntargets:');
for (const [text, ok] of checks) console.log(`  ${ok ? 'met    ' : 'NOT MET'}  ${text}`);

// 5. The live path (bench/live.mjs): `cat trace | chids monitor --source stdin` as a whole
// pipeline, and the scoring latency per window.
if (sizes.length > 0) {
  process.stderr.write('timing the live path (bench/live.mjs) …\n');
  const lv = spawnSync(node, [path.join(root, 'bench', 'live.mjs'), String(sizes[0])], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (lv.status === 0) console.log(`\nLive path (bench/live.mjs):\n\n| figure | value |\n|---|---|\n${lv.stdout.trim()}`);
  else process.stderr.write(`live bench failed (exit ${lv.status})\n`);
}

// 6. (optional; BENCH_MODELS=0 skips it) training time and scoring throughput of every
// detector on the bundled dataset data/example, or on a generated one (bench/models.ts).
if (process.env.BENCH_MODELS !== '0') {
  process.stderr.write('timing the detectors (bench/models.ts) …\n');
  const md = spawnSync(node, ['--import', 'tsx', path.join(root, 'bench', 'models.ts')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (md.status === 0) console.log(`\nDetectors (bench/models.ts):\n\n${md.stdout.trim()}`);
  else process.stderr.write(`detector bench failed (exit ${md.status})\n`);
}
