/** The lab's recording plans (src/lab/dataset.ts): splits, attacks, seeds and names. Pure; no root needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRecordings, recordingNames } from '../src/lab/dataset.js';
import { ChidsError } from '../src/util/errors.js';

test('planRecordings --split: LID-DS layout, attacks only in normal_and_attack, every attack covered', () => {
  const plan = planRecordings({ victim: 'web', attack: 'all', count: 26, seed: 7, split: true });
  const count = (s: string) => plan.filter((p) => p.split === s).length;
  assert.equal(plan.length, 26);
  assert.equal(count('test/normal_and_attack'), 7);
  assert.equal(count('validation'), 3);
  assert.equal(count('test/normal'), 6);
  assert.equal(count('training'), 10);
  for (const p of plan) assert.equal(p.attack !== null, p.split === 'test/normal_and_attack');
  assert.deepEqual(new Set(plan.filter((p) => p.attack).map((p) => p.attack)), new Set(['bruteforce', 'sqli', 'upload-exec', 'cmd-injection', 'escape', 'redis-config-write']));
  assert.equal(new Set(plan.map((p) => p.name)).size, 26);
  assert.equal(new Set(plan.map((p) => p.seed)).size, 26);
  assert.deepEqual(planRecordings({ victim: 'web', attack: 'all', count: 26, seed: 7, split: true }), plan, 'same seed, same plan');
  for (const n of plan.map((p) => p.name)) assert.match(n, /^[a-z]+_[a-z]+_\d{4}$/);
});

test('planRecordings: no split, none, single attacks, and the errors', () => {
  const plain = planRecordings({ victim: 'redis', attack: 'none', count: 3, seed: 1, split: false });
  assert.deepEqual(plain.map((p) => [p.split, p.attack]), [[null, null], [null, null], [null, null]]);
  const one = planRecordings({ victim: 'web', attack: 'sqli', count: 5, seed: 1, split: true });
  assert.deepEqual(one.filter((p) => p.attack).map((p) => p.attack), ['sqli']);
  assert.throws(() => planRecordings({ victim: 'web', attack: 'all', count: 3, seed: 1, split: true }), ChidsError);
  assert.throws(() => planRecordings({ victim: 'redis', attack: 'sqli', count: 1, seed: 1, split: false }), /does not apply/);
  assert.throws(() => planRecordings({ victim: 'nope' as 'web', attack: 'none', count: 1, seed: 1, split: false }), /unknown victim/);
  assert.throws(() => planRecordings({ victim: 'web', attack: 'bogus', count: 1, seed: 1, split: false }), /unknown attack/);
  assert.equal(new Set(recordingNames(3, 200)).size, 200);
});
