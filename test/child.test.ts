/**
 * A live source's tool run as a child (src/capture/child.ts), stopped when the run stops: SIGTERM,
 * and after a grace period SIGKILL, which the caller hears of (the sources log it, so a slow stop
 * says which tool held it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChild } from '../src/capture/child.js';

test('runChild: a child that ignores SIGTERM is killed after the grace period, and the caller is told', async () => {
  const ac = new AbortController();
  const forced: number[] = [];
  let pid = 0;
  // exec keeps the ignored SIGTERM and leaves no other process holding the pipes.
  const run = runChild(
    {
      argv: ['/bin/sh', '-c', 'trap "" TERM; echo ready; exec sleep 30'],
      out: 'stdout',
      killGroup: false,
      onSpawn: (p) => {
        pid = p;
      },
      onOutput: () => ac.abort(),
      onStderrLine: () => undefined,
      onForcedKill: (ms) => forced.push(ms),
    },
    ac.signal,
  );
  const ex = await run;
  assert.ok(pid > 0);
  assert.equal(ex.stopped, true);
  assert.equal(ex.signal, 'SIGKILL');
  assert.deepEqual(forced, [2000]);
});

test('runChild: a child that stops on SIGTERM is not reported as killed', async () => {
  const ac = new AbortController();
  const forced: number[] = [];
  const ex = await runChild(
    {
      argv: ['/bin/sh', '-c', 'echo ready; exec sleep 30'],
      out: 'stdout',
      killGroup: false,
      onOutput: () => ac.abort(),
      onStderrLine: () => undefined,
      onForcedKill: (ms) => forced.push(ms),
    },
    ac.signal,
  );
  assert.equal(ex.stopped, true);
  assert.equal(ex.signal, 'SIGTERM');
  assert.deepEqual(forced, []);
});
