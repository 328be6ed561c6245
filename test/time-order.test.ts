/**
 * Kernel time order of live events (src/capture/time-order.ts, and the eBPF converter with it):
 * bpftrace prints its CPUs' buffers in turn, a thread's calls can come out of order, and a
 * thread's syscall sequence must be put back before its n-grams are read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TimeOrderBuffer } from '../src/capture/time-order.js';
import { containerFrom } from '../src/capture/containers.js';
import { EbpfConverter } from '../src/capture/ebpf.js';

const MS = 1e6;

test('time order: any delivery delayed by less than the hold comes out sorted, each event once, ties in arrival order', () => {
  fc.assert(
    fc.property(
      // Events 0..n at increasing times (steps of 0..3 ms, ties included), each printed up to 40 ms late.
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 300 }),
      fc.integer({ min: 0, max: 4 }),
      (steps, flushEvery) => {
        const HOLD = 50 * MS;
        let t = 1.5e9; // crosses a second boundary: times are (sec, nsec) pairs
        const events = steps.map(([step, lag], id) => {
          t += step * MS;
          return { id, at: t, printed: t + lag * MS };
        });
        const arrival = [...events].sort((a, b) => a.printed - b.printed || a.id - b.id);
        const out: { at: number; id: number }[] = [];
        const buf = new TimeOrderBuffer<number, number>(HOLD, HOLD, 200 * MS, (sec, nsec, id) => out.push({ at: sec * 1e9 + nsec, id }));
        arrival.forEach((e, i) => {
          buf.push(Math.floor(e.at / 1e9), e.at % 1e9, e.id, 0);
          // The clock of a quiet stream, as a source flushes it, is never ahead of what is printed.
          if (flushEvery > 0 && i % flushEvery === 0) buf.flush(Math.floor(e.printed / 1e9), e.printed % 1e9);
        });
        buf.drain();
        assert.equal(buf.held, 0);
        assert.deepEqual(out.map((o) => o.id).sort((a, b) => a - b), events.map((e) => e.id), 'each event once');
        assert.equal(buf.stats.late, 0, 'no event came after a later one was released (lag < hold)');
        for (let i = 1; i < out.length; i++) {
          assert.ok(out[i - 1].at <= out[i].at, `sorted at ${i}`);
          if (out[i - 1].at === out[i].at) {
            const pos = (id: number) => arrival.findIndex((e) => e.id === id);
            assert.ok(pos(out[i - 1].id) < pos(out[i].id), 'equal times keep arrival order');
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('time order: held until the hold or the idle clock passes; later-than-released events go out at once, counted', () => {
  const out: string[] = [];
  const buf = new TimeOrderBuffer<string, null>(100 * MS, 100 * MS, 250 * MS, (_s, _n, a) => out.push(a));
  buf.push(10, 0, 'a', null);
  buf.push(10, 50 * MS, 'c', null);
  buf.push(10, 20 * MS, 'b', null);
  assert.deepEqual(out, [], 'nothing is 100 ms behind the newest yet');
  assert.deepEqual(buf.oldest(), { sec: 10, nsec: 0 });
  assert.equal(buf.stats.reordered, 1);
  buf.push(10, 130 * MS, 'd', null);
  assert.deepEqual(out, ['a', 'b'], 'released up to newest − 100 ms');
  buf.flush(10, 299 * MS);
  assert.deepEqual(out, ['a', 'b'], 'c is 249 ms behind the clock');
  buf.flush(10, 300 * MS);
  assert.deepEqual(out, ['a', 'b', 'c']);
  buf.push(10, 10 * MS, 'late', null);
  assert.deepEqual(out, ['a', 'b', 'c', 'late'], 'after c was released: out at once');
  assert.equal(buf.stats.late, 1);
  buf.drain();
  assert.deepEqual(out, ['a', 'b', 'c', 'late', 'd']);
  assert.equal(buf.oldest(), null);
  assert.throws(() => new TimeOrderBuffer(0, 2e9, 0, () => undefined), /hold/);
  assert.throws(() => new TimeOrderBuffer(2, 1, 0, () => undefined), /hold/);
});

test('ebpf converter with order: a thread printed out of order comes out in its real order, times non-decreasing', () => {
  const HOST = containerFrom(4026531836, null, 4026531836);
  const out: string[] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, 4026531836, HOST, (_c, l) => out.push(l), false, { order: { minHoldNs: 100 * MS, maxHoldNs: 100 * MS, idleNs: 250 * MS } });
  // Thread 7: read, then write; CPU 1's buffer (the write, the later call) is printed before CPU 0's (the read).
  conv.line('5000000000 7 7 0 1 > 4026531836 1\tsrv\t');
  conv.line('5000000900 7 7 0 1 < 4026531836 1\tsrv\t5');
  conv.line('5000000100 7 7 0 0 > 4026531836 1\tsrv\t');
  conv.line('5000000500 7 7 0 0 < 4026531836 1\tsrv\t5');
  assert.deepEqual(out, [], 'held');
  assert.deepEqual(conv.oldestHeld(), { sec: 1_700_000_005, nsec: 0 });
  conv.flush({ sec: 1_700_000_006, nsec: 0 });
  assert.deepEqual(out, [
    '1700000005000000000 0 7 srv 7 write > ',
    '1700000005000000100 0 7 srv 7 read > ',
    '1700000005000000500 0 7 srv 7 read < res=5',
    '1700000005000000900 0 7 srv 7 write < res=5',
  ]);
  assert.deepEqual(conv.orderStats(), { reordered: 2, late: 0, maxBehindNs: 800, maxHoldNs: 100 * MS, firstLateNs: -1 });
  // An event later than what was already released is emitted at once with its time raised (never backwards).
  conv.line('5000000200 7 7 0 3 > 4026531836 1\tsrv\t');
  assert.equal(out.at(-1), '1700000005000000900 0 7 srv 7 close > ');
  assert.equal(conv.orderStats().late, 1);
  // Without order (the default) events go out as printed, their times raised.
  const plain: string[] = [];
  const p = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, 4026531836, HOST, (_c, l) => plain.push(l), false);
  p.line('5000000900 7 7 0 1 < 4026531836 1\tsrv\t5');
  p.line('5000000100 7 7 0 0 > 4026531836 1\tsrv\t');
  assert.deepEqual(plain, ['1700000005000000900 0 7 srv 7 write < res=5', '1700000005000000900 0 7 srv 7 read > ']);
});

test('time order: the hold grows with how far behind events come (capped), and shrinks back once they no longer do', () => {
  const out: number[] = [];
  const buf = new TimeOrderBuffer<number, null>(100 * MS, 900 * MS, 250 * MS, (s, n) => out.push(s * 1e9 + n));
  const at = (ms: number) => buf.push(100 + Math.floor(ms / 1000), (ms % 1000) * MS, 0, null);
  at(0);
  at(1000);
  assert.equal(buf.hold, 100 * MS);
  at(700); // 300 ms behind the newest: a lagging reader
  assert.equal(buf.hold, 450 * MS);
  at(1400);
  assert.ok(!out.includes(101e9), 'the hold now keeps 1000 while 1400 is the newest');
  at(200); // 1200 ms behind: capped (and late: 700 is out already)
  assert.equal(buf.hold, 900 * MS);
  assert.equal(buf.stats.late, 1);
  out.length = 0;
  // 10 to 20 s of event time later, with nothing behind: back to the floor.
  for (let ms = 2000; ms <= 22_000; ms += 100) at(ms);
  assert.equal(buf.hold, 100 * MS);
  assert.equal(buf.stats.maxHoldNs, 900 * MS);
  buf.drain();
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1] <= out[i]);
});

test('time order: the first seconds (warm-up) hold the longest, since nothing yet says how far behind the CPUs come', () => {
  const out: number[] = [];
  const mk = (warmupNs: number) => new TimeOrderBuffer<number, null>(100 * MS, 900 * MS, 250 * MS, (s, n) => out.push(s * 1e9 + n), warmupNs);
  // A start-up burst: one CPU's events up to 700 ms, then the other CPU's, from 0 ms on.
  const burst = (buf: TimeOrderBuffer<number, null>) => {
    for (let ms = 0; ms <= 700; ms += 10) buf.push(100, ms * MS, 0, null);
    for (let ms = 5; ms <= 705; ms += 10) buf.push(100, ms * MS, 0, null);
  };
  const cold = mk(0);
  burst(cold);
  assert.ok(cold.stats.late > 0, 'without a warm-up the second CPU comes too late for a 100-ms hold');
  assert.ok(cold.stats.firstLateNs >= 0 && cold.stats.firstLateNs < 1e9, 'and that was at the start');
  out.length = 0;
  const warm = mk(5e9);
  assert.equal(warm.hold, 900 * MS);
  burst(warm);
  assert.equal(warm.stats.late, 0);
  assert.equal(warm.stats.firstLateNs, -1);
  // After 5 s of event time it adapts as before: nothing came far behind lately, so the floor.
  for (let s = 1; s <= 25; s++) warm.push(100 + s, 0, 0, null);
  assert.equal(warm.hold, 100 * MS);
  warm.drain();
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1] <= out[i]);
});

test('time order: a read of old events (the tracer or the reader fell behind) grows the hold before the other CPU\'s events come', () => {
  const run = (observe: boolean) => {
    const buf = new TimeOrderBuffer<number, null>(100 * MS, 900 * MS, 250 * MS, () => undefined);
    // Calm: events read 50 ms after they happened.
    for (let ms = 0; ms < 3000; ms += 10) {
      if (observe) buf.observeClock(100 + Math.floor((ms + 50) / 1000), ((ms + 50) % 1000) * MS);
      buf.push(100 + Math.floor(ms / 1000), (ms % 1000) * MS, 0, null);
    }
    // Then 700 ms without a read; at 3750 ms the tracer drains CPU 0's buffer (3000–3700 ms) …
    if (observe) buf.observeClock(103, 750 * MS);
    for (let ms = 3000; ms < 3700; ms += 10) buf.push(103, (ms - 3000) * MS, 0, null);
    // … and CPU 1's (3005–3695 ms) after it, read a little later.
    for (let ms = 3005; ms < 3700; ms += 10) buf.push(103, (ms - 3000) * MS, 0, null);
    return buf;
  };
  const blind = run(false);
  assert.ok(blind.stats.late > 0, `without observing the clock: ${blind.stats.late} too late`);
  const seen = run(true);
  assert.equal(seen.stats.late, 0);
  assert.ok(seen.hold >= 700 * MS, `hold ${seen.hold / MS} ms`);
  const calm = new TimeOrderBuffer<number, null>(100 * MS, 900 * MS, 250 * MS, () => undefined);
  for (let ms = 0; ms < 2000; ms += 10) {
    calm.observeClock(100 + Math.floor((ms + 150) / 1000), ((ms + 150) % 1000) * MS);
    calm.push(100 + Math.floor(ms / 1000), (ms % 1000) * MS, 0, null);
  }
  assert.equal(calm.hold, 100 * MS, 'reads 150 ms behind (bpftrace flushes every 100 ms) leave the floor');
});
