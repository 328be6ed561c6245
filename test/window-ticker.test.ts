/**
 * The window ticker (src/capture/window-ticker.ts): quiet windows close on the source's clock,
 * until the run is stopping; then the source's last events still land in the windows open.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWindowTicker } from '../src/capture/window-ticker.js';
import { sleep } from '../src/util/sleep.js';

test('the ticker closes windows on the clock minus the grace, not while events are queued, and stops when the run stops', async () => {
  let sec = 1_700_000_010;
  const source = { clock: 'wall' as const, now: () => ({ sec, nsec: 100_000_000 }) };
  const queue = { length: 0 };
  const ticks: [number, number][] = [];
  const ac = new AbortController();
  startWindowTicker(source, queue, 250, 5, (s, n) => ticks.push([s, n]), ac.signal);
  await sleep(30);
  assert.ok(ticks.length > 0);
  // 100 ms minus 250 ms of grace: the second before, at 850 ms.
  assert.deepEqual(ticks[0], [1_700_000_009, 850_000_000]);
  queue.length = 3;
  const queued = ticks.length;
  await sleep(30);
  assert.equal(ticks.length, queued, 'no tick while events wait in the queue: their arrival closes the windows');
  queue.length = 0;
  ac.abort();
  const atStop = ticks.length;
  sec += 5;
  await sleep(30);
  assert.equal(ticks.length, atStop, 'no window closed on the clock once stopping');
  // Already stopping when it starts: never ticks.
  const late: unknown[] = [];
  startWindowTicker(source, { length: 0 }, 250, 5, () => late.push(1), ac.signal);
  await sleep(30);
  assert.deepEqual(late, []);
});
