/** Replica comparison from window messages (chids fleet): regrouping, readiness, the common span. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplicaGroups, type ReplicaDeviation } from '../src/model/replicas/groups.js';

const S = 10_000_000_000n;
const normal = { syscalls: ['read', 'write', 'epoll_wait'], processes: ['nginx'], files: ['index.html'] };
const shell = { syscalls: ['read', 'write', 'epoll_wait', 'execve', 'connect', 'dup2'], processes: ['nginx', 'sh'], files: ['index.html', 'shadow'], commands: ['/bin/sh -c.id.'] };

test('a replica whose sets differ from its siblings is reported once every replica has moved past the window', () => {
  let now = 0;
  const g = new ReplicaGroups({ windowNs: 10e9, threshold: 0.8, idleMs: 30_000, now: () => now });
  const add = (replica: string, sec: number, aspects: Record<string, string[]>) => g.add({ group: 'img', replica, startNs: BigInt(sec) * 1_000_000_000n, aspects, events: 10 });
  // 1 s windows of 3 replicas over 0-19 s; r3 runs a shell at 12 s.
  const out: ReplicaDeviation[] = [];
  for (let s = 0; s < 20; s++) {
    out.push(...add('r1', s, normal), ...add('r2', s, normal));
    out.push(...add('r3', s, s === 12 ? shell : normal));
  }
  assert.equal(g.compared, 0, 'bucket 0 is where they started (not a whole window of the span); bucket 1 waits');
  out.push(...add('r1', 20, normal), ...add('r2', 20, normal));
  assert.equal(g.compared, 0, 'r3 still holds bucket 1 back');
  out.push(...add('r3', 20, normal));
  assert.equal(g.compared, 1);
  assert.equal(out.length, 1);
  assert.equal(out[0].replica, 'r3');
  assert.equal(out[0].startNs, S);
  assert.deepEqual(out[0].siblings.sort(), ['r1', 'r2']);
  assert.ok(out[0].score > 0.8);
  const cmds = out[0].aspects.find((a) => a.aspect === 'commands');
  assert.deepEqual(cmds?.only_here, ['/bin/sh -c.id.']);
  // A window for a bucket already compared is counted, not compared again.
  add('r1', 5, normal);
  assert.equal(g.late, 1);
  // A quiet replica stops holding the others back after idleMs (and, gone, is not compared).
  for (const r of ['r1', 'r2']) add(r, 31, normal);
  assert.equal(g.compared, 1);
  now += 30_000;
  g.tick();
  assert.equal(g.compared, 2, 'bucket 2 compared between r1 and r2 once r3 has been quiet for idleMs');
});

test('covered: a window waits for the one after it, and an item a sibling shows in a neighbouring window is shared', () => {
  const g = new ReplicaGroups({ windowNs: 10e9, threshold: 0.05, idleMs: 1e9, similarity: 'covered' });
  const add = (replica: string, sec: number, aspects: Record<string, string[]>) => g.add({ group: 'img', replica, startNs: BigInt(sec) * 1_000_000_000n, aspects, events: 1 });
  const cgi = { ...normal, processes: ['nginx', 'php'] };
  const devs: ReplicaDeviation[] = [];
  for (const r of ['a', 'b', 'c']) devs.push(...add(r, 5, normal));
  // a runs the CGI child near the end of bucket 1, b at the start of bucket 2: the same work.
  devs.push(...add('a', 19, cgi), ...add('b', 15, normal), ...add('c', 15, normal));
  devs.push(...add('a', 21, normal), ...add('b', 21, cgi), ...add('c', 21, normal));
  assert.equal(g.compared, 0, 'bucket 1 waits for bucket 2 to be passed');
  for (const r of ['a', 'b', 'c']) devs.push(...add(r, 31, normal));
  assert.equal(g.compared, 1);
  assert.ok(!devs.some((d) => d.replica === 'b'), JSON.stringify(devs));
  for (const r of ['a', 'b', 'c']) devs.push(...add(r, 41, r === 'c' ? shell : normal));
  for (const r of ['a', 'b', 'c']) devs.push(...add(r, 51, normal));
  for (const r of ['a', 'b', 'c']) devs.push(...add(r, 61, normal));
  assert.ok(devs.some((d) => d.replica === 'c' && d.startNs === 4n * S), 'the shell in c (bucket 4) deviates');
});

test('a window message with damaged counts or programs is read for what it holds, never thrown on', () => {
  const g = new ReplicaGroups({ windowNs: 10e9, threshold: 0.5, idleMs: 1e9, similarity: 'programs' });
  const bad = [
    { counts: null, programs: null },
    { counts: { syscalls: 'x' }, programs: 5 },
    { counts: { syscalls: [-1, 'a', 2.5] }, programs: { nginx: 'x', sh: { syscalls: [7, 'read'] } } },
  ];
  for (const [i, extra] of bad.entries()) {
    for (const r of ['a', 'b', 'c']) {
      // biome-ignore lint/suspicious/noExplicitAny: damaged on purpose
      assert.doesNotThrow(() => g.add({ group: 'img', replica: r, startNs: BigInt(i * 10 + 5) * 1_000_000_000n, aspects: normal, events: 3, ...(extra as any) }));
    }
  }
});
