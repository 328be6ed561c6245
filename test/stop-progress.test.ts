/**
 * What a stopping run waits for (src/app/stop-progress.ts): nothing is logged until the stop
 * request; from then on, the current phase every period, until the run is over.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopProgress } from '../src/app/stop-progress.js';
import { silentLogger, type Logger } from '../src/util/log.js';
import { sleep } from '../src/util/sleep.js';

function recorder() {
  const lines: { msg: string; phase: unknown }[] = [];
  const log: Logger = { ...silentLogger, warn: (msg, f) => lines.push({ msg, phase: f?.phase }) };
  return { lines, log };
}

test('stop progress: silent while running; after the stop request, the phase it waits on, until done', async () => {
  const { lines, log } = recorder();
  const ac = new AbortController();
  const p = stopProgress(ac.signal, log, 40);
  await sleep(120);
  assert.equal(lines.length, 0, 'nothing before the stop request');
  ac.abort();
  await sleep(100);
  assert.ok(lines.length >= 1, 'reported while stopping');
  assert.ok(lines.every((l) => l.msg === 'still stopping' && l.phase === 'source'), JSON.stringify(lines));
  p.phase('alert outputs');
  const before = lines.length;
  await sleep(100);
  assert.ok(lines.slice(before).some((l) => l.phase === 'alert outputs'), JSON.stringify(lines));
  p.done();
  const atDone = lines.length;
  await sleep(120);
  assert.equal(lines.length, atDone, 'nothing after the run is over');
});

test('stop progress: a run over before any stop request never reports; an already aborted signal starts at once', async () => {
  const { lines, log } = recorder();
  const ac = new AbortController();
  const p = stopProgress(ac.signal, log, 30);
  p.done();
  ac.abort();
  await sleep(100);
  assert.equal(lines.length, 0);
  const q = stopProgress(AbortSignal.abort(), log, 30);
  await sleep(100);
  q.done();
  assert.ok(lines.length >= 1);
});
