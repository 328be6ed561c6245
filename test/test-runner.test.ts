/**
 * `npm test`'s runner (scripts/test.mjs): naming files runs those only, through the same merged
 * report, which says each file's wall time and CPU time; a name that is not a test file is an error before
 * anything is built.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const runner = path.join(repoRoot, 'scripts', 'test.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [runner, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });

test('npm test -- FILE runs that file alone, and the report gives its wall time and CPU time', () => {
  const r = run(['test/rng.test.ts']);
  assert.equal(r.status, 0, r.stderr);
  const timing = /^# test\/rng\.test\.ts: (\d+\.\d) s \(from \d+\.\d s to \d+\.\d s\), (\d+\.\d) s CPU$/m.exec(r.stdout);
  assert.ok(timing, r.stdout.slice(-500));
  // A node process that loads fast-check and runs property tests uses CPU (the counter is in
  // 1/100 s; a reading of 0 would mean the file's process was not the one counted).
  assert.ok(Number(timing[2]) > 0, `CPU ${timing[2]} s`);
  // Only that file's tests: none of another file's names.
  assert.doesNotMatch(r.stdout, /^# test\/(?!rng\.)[\w-]+\.test\.ts: /m);
  const count = Number(/^# tests (\d+)$/m.exec(r.stdout)?.[1]);
  assert.ok(count >= 1, r.stdout.slice(-500));
  assert.equal(Number(/^# fail (\d+)$/m.exec(r.stdout)?.[1]), 0);
});

test('npm test -- a name that is no test file: exit 2, one line naming it', () => {
  const r = run(['test/rng.test.ts', 'test/no-such.test.ts']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'npm test: no such test file under test/: test/no-such.test.ts\n');
  assert.equal(r.stdout, '');
});
