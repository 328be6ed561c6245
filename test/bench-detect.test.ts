// bench:detect's pure parts: the recording plan (cache reuse depends on it) and the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchPlan, defaultAttackCount, manifestMismatch, type RecordingSettings } from '../bench/detect-plan.js';
import { benchTable } from '../bench/detect-table.js';
import type { CompareResult, ModelComparison } from '../src/app/compare.js';
import { attacksFor } from '../src/lab/attacks.js';

const web: RecordingSettings = { victim: 'web', seed: 7, seconds: 10, warmupSeconds: null, attackCapSeconds: null };
const webAttacks = attacksFor('web').map((a) => a.name);

test('the plan has the asked count per split, distinct names and seeds, every attack in turn', () => {
  const n = defaultAttackCount(webAttacks.length);
  assert.equal(n % webAttacks.length, 0);
  assert.ok(n >= 20);
  const plan = benchPlan(web, webAttacks, { training: 20, validation: 3, testNormal: 50, attack: n });
  const by = (s: string) => plan.filter((p) => p.split === s);
  assert.deepEqual([by('training').length, by('validation').length, by('test/normal').length, by('test/normal_and_attack').length], [20, 3, 50, n]);
  assert.equal(new Set(plan.map((p) => p.name)).size, plan.length);
  assert.equal(new Set(plan.map((p) => p.seed)).size, plan.length);
  assert.ok(plan.every((p) => (p.split === 'test/normal_and_attack') === (p.attack !== null)));
  for (const a of webAttacks) assert.equal(by('test/normal_and_attack').filter((p) => p.attack === a).length, n / webAttacks.length, a);
});

test('raising a count keeps every planned recording (the cache stays valid); other seeds or victims change them', () => {
  const small = benchPlan(web, webAttacks, { training: 5, validation: 1, testNormal: 10, attack: 6 });
  const big = benchPlan(web, webAttacks, { training: 8, validation: 1, testNormal: 50, attack: 12 });
  for (const p of small) assert.deepEqual(big.find((q) => q.name === p.name), p);
  const other = benchPlan({ ...web, seed: 8 }, webAttacks, { training: 5, validation: 1, testNormal: 10, attack: 6 });
  assert.equal(other.filter((p) => small.some((q) => q.name === p.name)).length, 0);
  const redis = benchPlan({ ...web, victim: 'redis' }, ['redis-config-write'], { training: 5, validation: 1, testNormal: 10, attack: 4 });
  assert.equal(redis.filter((p) => small.some((q) => q.name === p.name)).length, 0);
  assert.ok(redis.filter((p) => p.attack !== null).every((p) => p.attack === 'redis-config-write'));
});

test('a cache recorded with other settings is refused, with the reason', () => {
  const m = { kind: 'chids-bench-detect', version: 1, ...web, attacks: webAttacks, counts: {}, plan: [] };
  assert.equal(manifestMismatch(m, web), null);
  assert.match(manifestMismatch(m, { ...web, seconds: 15 }) ?? '', /seconds 10.*15/);
  assert.match(manifestMismatch(m, { ...web, seed: 1 }) ?? '', /seed/);
  assert.match(manifestMismatch({ kind: 'other' }, web) ?? '', /not a bench:detect manifest/);
  // Manifests written before the attack cap lack it: their attacks stopped at the window's end.
  const { attackCapSeconds: _, ...old } = m;
  assert.equal(manifestMismatch(old, web), null);
  assert.match(manifestMismatch(old, { ...web, attackCapSeconds: 60 }) ?? '', /attackCapSeconds null.*60/);
});

function row(model: string, dr: number[], far: number[], extra: Partial<ModelComparison> = {}): ModelComparison {
  return {
    model,
    detection_rate: dr,
    false_alarm_rate: far,
    auc: 0.9,
    training_ms: 1500,
    windows_per_s: 321,
    error: null,
    lidds: {
      detected: dr.map((d) => Math.round(d * 20)),
      recall: dr,
      cfa: far.map((f) => Math.round(f * 50) * 2),
      precision_cfa: dr.map((d, k) => {
        const det = Math.round(d * 20);
        const cfa = Math.round(far[k] * 50) * 2;
        return det + cfa ? det / (det + cfa) : null;
      }),
      f1_cfa: dr.map(() => null),
      mean_latency_s: dr.map((_, k) => k / 10),
    },
    ...extra,
  } as ModelComparison;
}

test('the table takes DR at FAR 0 and FAR ≤ 2 % from the per-θ rates, with counts, and LID-DS figures at the 2 % θ', () => {
  const theta = [0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2];
  // FAR falls with θ: 3/50, 2/50, 1/50 (= 2 %), then 0; DR falls too.
  const far = [0.06, 0.04, 0.02, 0, 0, 0, 0, 0, 0, 0];
  const dr = [1, 1, 0.95, 0.8, 0.75, 0.7, 0.5, 0.5, 0.5, 0.5];
  const cmp = {
    dataset: 'x',
    theta,
    seed: 1,
    recordings: { training: 20, normal: 50, attack: 20 },
    models: [row('a', dr, far), row('b', dr, far, { error: 'boom | bad' })],
  } as unknown as CompareResult;
  const t = benchTable(cmp);
  const a = t.rows[0];
  assert.equal(a.dr_far0, 0.8);
  assert.equal(a.theta_far0, 0.8);
  assert.equal(a.detected_far0, 16);
  assert.equal(a.dr_far2, 0.95);
  assert.equal(a.theta_far2, 0.6);
  assert.equal(a.detected_far2, 19);
  assert.equal(a.false_alarms_far2, 1);
  assert.equal(a.cfa_far2, 2);
  assert.equal(a.latency_s_far2, 0.2);
  assert.match(t.markdown, /\| a \| 0\.80 = 16\/20 \(θ 0\.8\) \| 0\.95 = 19\/20 \(θ 0\.6\), 1\/50 \| 0\.900 \| 0\.90 \(19, 2\) \| 0\.20 s \| 1\.5 s \| 321 \|/);
  assert.match(t.markdown, /\| b \| failed: boom \\\| bad \|/);
});
