#!/usr/bin/env node
/**
 * `npm test`: Node's test runner over test/*.test.ts (tsx as the loader), its report passed through
 * unchanged. Under CI (CI=true) a skipped test fails the run: CI installs everything the suite
 * needs, so a skip there means a missing install step, not a missing tool on a laptop.
 * Extra arguments go to the test runner (e.g. `npm test -- --test-name-pattern=golden`).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const files = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => `test/${f}`);
// Files run in parallel child processes. The runner's default (cores − 1) leaves a 2-core machine
// running one file at a time, though most of the slow files wait on real processes (strace, the
// lab's victims, servers) rather than compute: one file more than there are cores keeps the CPU busy.
const concurrency = process.env.CHIDS_TEST_CONCURRENCY ?? String(availableParallelism() + 1);
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...process.argv.slice(2), ...files];
const child = spawn(process.execPath, args, {
  stdio: ['inherit', 'pipe', 'inherit'],
});
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code, signal) => {
  const skipped = Number(/^# skipped (\d+)$/m.exec(tail)?.[1] ?? 0);
  if (code === 0 && process.env.CI && skipped > 0) {
    process.stderr.write(`npm test: ${skipped} test(s) skipped under CI: every tool the suite needs must be installed (.ci/run)\n`);
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
