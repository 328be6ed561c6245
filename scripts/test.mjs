#!/usr/bin/env node
/**
 * `npm test`: Node's test runner over test/*.test.ts (tsx as the loader), one TAP report on stdout.
 * Under CI (CI=true) a skipped test fails the run: CI installs everything the suite needs, so a
 * skip there means a missing install step, not a missing tool on a laptop.
 * Extra arguments go to the test runner (e.g. `npm test -- --test-name-pattern=golden`).
 *
 * Why the suite's wall time is what it is, and what this script does about it:
 *  - Most of the slow files wait on real processes (recordings of N seconds, strace, bpftrace,
 *    podman, the lab's victims, nats-server) rather than compute. They run in a pool of their own
 *    (LIVE below), 4 × cores at a time; the rest, mostly CPU, runs beside them in a pool of
 *    cores + 1.
 *    Two `node --test` processes, their reports merged into one (top-level tests renumbered, one
 *    plan, one summary whose counts are the sums).
 *  - Within a pool, files start in the order given: the longest first, so that none of them
 *    starts last and holds the run up alone.
 *  - The `chids` executable is bundled once (scripts/bundle.mjs) and the tests' child processes
 *    run the bundle (CHIDS_TEST_CLI, read by test/helpers/paths.ts) instead of loading every
 *    module through tsx again: ~0.9 s of CPU saved per child process (`chids --version`: 1.2 s
 *    through tsx, 0.3 s bundled), and the suite starts many.
 *
 * CHIDS_TEST_CONCURRENCY sets the CPU pool's size; CHIDS_TEST_LIVE_CONCURRENCY the live pool's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

// Files that mostly wait on real processes and time (recordings, realtime replays, containers,
// brokers), longest first, as measured alone on a 2-core machine; a file not named here runs in
// the CPU pool.
const LIVE = [
  'test/fleet.test.ts',
  'test/monitor-replay.test.ts',
  'test/ebpf-aggregate-monitor.test.ts',
  'test/node-wide-live.test.ts',
  'test/learn.test.ts',
  'test/lab-replicas.test.ts',
  'test/lab-replicas-upload-exec.test.ts',
  'test/lab-replicas-none.test.ts',
  'test/monitor-strace.test.ts',
  'test/monitor-replicas.test.ts',
  'test/lab.test.ts',
  'test/metrics-live.test.ts',
  'test/strace-containers.test.ts',
  'test/monitor-container-restart.test.ts',
  'test/monitor-ebpf.test.ts',
  'test/ebpf-aggregate.test.ts',
  'test/nats-publisher.test.ts',
  'test/nats-cluster.test.ts',
  'test/nats-harness.test.ts',
  'test/lab-cgroup.test.ts',
  'test/lab-sandbox.test.ts',
  'test/reliability-monitor.test.ts',
  'test/capture.test.ts',
];
// The longest files of the CPU pool first (the fuzz slice alone takes minutes), the rest in name order.
const CPU_FIRST = [
  'test/fuzz.test.ts',
  'test/layers.test.ts',
  'test/models.test.ts',
  'test/cli.test.ts',
  'test/bad-inputs.test.ts',
  'test/calibrated.test.ts',
  'test/demo.test.ts',
  'test/parse-property.test.ts',
  'test/report.test.ts',
  'test/reliability.test.ts',
  'test/model.test.ts',
  'test/compare.test.ts',
  'test/chids-tf-free.test.ts',
  'test/causal.test.ts',
  'test/golden.test.ts',
];

const all = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => `test/${f}`);
const rank = (list) => (f) => (list.includes(f) ? list.indexOf(f) : list.length);
const byRank = (list) => (a, b) => rank(list)(a) - rank(list)(b);
const live = all.filter((f) => LIVE.includes(f)).sort(byRank(LIVE));
const cpu = all.filter((f) => !LIVE.includes(f)).sort(byRank(CPU_FIRST));

const cores = availableParallelism();
const cpuConcurrency = process.env.CHIDS_TEST_CONCURRENCY ?? String(cores + 1);
const liveConcurrency = process.env.CHIDS_TEST_LIVE_CONCURRENCY ?? String(4 * cores);

// The bundle sits two levels below the root, as dist/bin does (its `../..` paths must hold).
mkdirSync('.tmp', { recursive: true });
const cliDir = mkdtempSync(path.join('.tmp', 'test-cli-'));
const built = spawnSync(process.execPath, ['scripts/bundle.mjs', cliDir], { stdio: 'inherit' });
if (built.status !== 0) {
  rmSync(cliDir, { recursive: true, force: true });
  process.stderr.write('npm test: bundling the chids executable failed\n');
  process.exit(1);
}
const env = { ...process.env, CHIDS_TEST_CLI: path.resolve(cliDir, 'chids.js') };

// A signal to this script goes to both runners, which stop their tests and report; the report is
// then written and the bundle removed as after any run.
const children = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => children.forEach((c) => c.kill(sig)));

/** One `node --test` over `files`; its TAP lines go to `onLine`. Resolves with its exit code. */
function runPool(files, concurrency, { line: onLine, end }) {
  if (files.length === 0) return Promise.resolve(0);
  const args = ['--import', 'tsx', '--test', '--test-reporter=tap', `--test-concurrency=${concurrency}`, ...process.argv.slice(2), ...files];
  const child = spawn(process.execPath, args, { stdio: ['inherit', 'pipe', 'inherit'], env });
  children.add(child);
  let carry = '';
  child.stdout.on('data', (chunk) => {
    const parts = (carry + chunk.toString('utf8')).split('\n');
    carry = parts.pop() ?? '';
    for (const l of parts) onLine(l);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      if (carry !== '') onLine(carry);
      end();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

// The merged report. A top-level test's block (its `# Subtest:` line to the end of its YAML) is
// written whole, so two pools never interleave inside one; top-level `ok N` lines get one
// numbering; each pool's plan and summary are held back and summed at the end.
const SUMMARY = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) (\d+(?:\.\d+)?)$/;
const totals = { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
let number = 0;
const out = (l) => process.stdout.write(`${l}\n`);
out('TAP version 13');

function merger() {
  let block = null; // lines of the top-level test being reported
  let closed = false; // its `ok N` line was seen
  let planned = false;
  const flush = () => {
    for (const l of block ?? []) {
      const ok = /^(not ok|ok) \d+( .*)?$/.exec(l);
      out(ok ? `${ok[1]} ${++number}${ok[2] ?? ''}` : l);
    }
    block = null;
    closed = false;
  };
  const line = (l) => {
    if (closed && !l.startsWith(' ')) flush(); // an ok line without YAML
    const m = SUMMARY.exec(l);
    if (planned && m) {
      if (m[1] in totals) totals[m[1]] += Number(m[2]);
      return;
    }
    if (/^TAP version /.test(l)) return;
    if (/^1\.\.\d+$/.test(l)) {
      planned = true;
      return;
    }
    const ok = /^(not ok|ok) \d+( .*)?$/.test(l);
    if (ok) closed = true;
    if (block === null && (ok || l.startsWith('# Subtest: '))) block = [];
    if (block === null) return out(l);
    block.push(l);
    if (closed && l === '  ...') flush();
  };
  return { line, end: flush };
}

const started = Date.now();
const codes = await Promise.all([runPool(live, liveConcurrency, merger()), runPool(cpu, cpuConcurrency, merger())]);
rmSync(cliDir, { recursive: true, force: true });
out(`1..${number}`);
for (const [k, v] of Object.entries(totals)) out(`# ${k} ${v}`);
out(`# duration_ms ${Date.now() - started}`);

const failed = codes.find((c) => c !== 0);
if (failed !== undefined) process.exit(failed);
if (process.env.CI && totals.skipped > 0) {
  process.stderr.write(`npm test: ${totals.skipped} test(s) skipped under CI: every tool the suite needs must be installed (.ci/run)\n`);
  process.exit(1);
}
