#!/usr/bin/env node
/**
 * `npm test`: Node's test runner over test/*.test.ts (tsx as the loader), its report passed through
 * unchanged. Under CI (CI=true) a skipped test fails the run: CI installs everything the suite
 * needs, so a skip there means a missing install step, not a missing tool on a laptop.
 * Extra arguments go to the test runner (e.g. `npm test -- --test-name-pattern=golden`).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

const files = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => `test/${f}`);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...process.argv.slice(2), ...files], {
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
