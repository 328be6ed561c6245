/**
 * The `programs` similarity (src/model/replicas/compare.ts): what no sibling showed, as a share of
 * each program's own items, on small constructed windows: hand-computed shares, the sibling's
 * other programs and neighbouring windows explaining items, the nearest sibling, the aspects
 * kept per program, the program cap, and a quiet program doing something new in a busy replica
 * (flagged with `programs`, not with `counted`), offline and live.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ASPECTS, AspectSets, addEvent, PROGRAM_ASPECTS, PROGRAM_CAP } from '../src/model/replicas/aspects.js';
import { compareWindow, programDissimilarities, ReplicaComparison } from '../src/model/replicas/compare.js';
import { ReplicaWatch, type ReplicaDeviation } from '../src/engine/replica-watch.js';
import { buildReplicaAlert } from '../src/outputs/replica-alert.js';
import type { SyscallEvent } from '../src/trace/event.js';
import { NameTable } from '../src/trace/names.js';
import { TraceParser } from '../src/trace/parse.js';

function eachEvent(text: string, fn: (ev: SyscallEvent, name: string) => void): void {
  const names = new NameTable();
  const p = new TraceParser({ file: 't.sc', format: 'lidds', faithful: false, names, onEvent: (ev) => fn(ev, names.name(ev.nameId)) });
  p.push(Buffer.from(text));
  p.end();
}

const S = (...xs: string[]) => new Set(xs);
const none = { before: S(), after: S() };
const progs = (m: Record<string, string[]>) => new Map(Object.entries(m).map(([p, xs]) => [p, S(...xs)]));

test('per-program share, hand-computed: two new items are 2 of 22 of the replica, half of the quiet program', () => {
  const web = Array.from({ length: 18 }, (_, i) => `/srv/www/${String.fromCharCode(97 + i)}`);
  const mine = [...web, '/srv/redis', '/var/log', '/root', '/root/.ssh'];
  const sibling = [...web, '/srv/redis', '/var/log'];
  const r = programDissimilarities(
    [S(...mine), S(...sibling), S(...sibling)],
    [progs({ nginx: web, redis: ['/srv/redis', '/var/log', '/root', '/root/.ssh'] }), progs({ nginx: web, redis: ['/srv/redis', '/var/log'] }), progs({ nginx: web, redis: ['/srv/redis', '/var/log'] })],
    [none, none, none],
  );
  assert.deepEqual(r.dissimilarity, [0.5, 0, 0]);
  assert.deepEqual(r.top[0], { program: 'redis', unexplained: 2, items: 4 });
  assert.equal(r.top[1], null);
});

test('an item another program of the sibling showed, or the sibling showed a window before or after, is not new', () => {
  // Replica 1's child still carries its parent's name (redis) when it opens what the sibling's sh opened.
  let r = programDissimilarities([S('a', 'b'), S('a', 'b')], [progs({ redis: ['a', 'b'] }), progs({ redis: ['a'], sh: ['b'] })], [none, none]);
  assert.deepEqual(r.dissimilarity, [0, 0]);
  // b shows up in the sibling's next window: explained.
  r = programDissimilarities([S('a', 'b'), S('a')], [progs({ redis: ['a', 'b'] }), progs({ redis: ['a'] })], [none, { before: S(), after: S('b') }]);
  assert.deepEqual(r.dissimilarity, [0, 0]);
  // The nearest sibling counts: replica 3 showed b too.
  r = programDissimilarities([S('a', 'b'), S('a'), S('a', 'b')], [progs({ redis: ['a', 'b'] }), progs({ redis: ['a'] }), progs({ redis: ['a', 'b'] })], [none, none, none]);
  assert.equal(r.dissimilarity[0], 0);
  // No per-program sets (windows from fleet messages) or no items: 0.
  r = programDissimilarities([S('a', 'b'), S('a'), S()], [null, progs({ redis: ['a'] }), progs({})], [none, none, none]);
  assert.deepEqual(r.dissimilarity, [0, 0, 0]);
});

/** LID-DS lines: `n` events of `proc` touching `path` with `call`, 1 ms apart from `ms`. */
function lines(sec: number, ms: number, proc: string, tid: number, call: string, paths: string[]): string[] {
  const t = (i: number) => BigInt(1_700_000_000 + sec) * 1_000_000_000n + BigInt(ms + i) * 1_000_000n;
  return paths.map((p, i) => `${t(i)} 0 ${tid} ${proc} ${tid} ${call} < fd=3(<f>${p}) name=${p}`);
}

/**
 * A busy replica for one second: nginx reads 60 files in 30 directories, Redis saves its
 * snapshot in /srv/redis; the attacked one (from second 103 on) has Redis write it into
 * /root/.ssh instead, a handful of items against the replica's hundreds.
 */
function second(sec: number, attacked: boolean): string {
  // Names without digits (digits are removed from items): d<letter>/p<letter><letter>.html.
  const letter = (i: number) => String.fromCharCode(97 + i);
  const pages = Array.from({ length: 60 }, (_, i) => `/srv/www/d${letter(i % 30)}/p${letter(i % 26)}${letter(Math.floor(i / 26))}.html`);
  const redis = attacked && sec >= 103 ? ['/root/.ssh/temp.rdb', '/root/.ssh/authorized_keys'] : ['/srv/redis/temp.rdb', '/srv/redis/dump.rdb'];
  return [...lines(sec, 1, 'nginx', 7, 'openat', pages), ...lines(sec, 100, 'nginx', 7, 'read', pages), ...lines(sec, 300, 'redis-server', 9, 'openat', redis)].join('\n') + '\n';
}

test('a quiet program doing something new in a busy replica: flagged with programs, not with counted; the driver names the program', () => {
  const run = (similarity: 'counted' | 'programs') => {
    const cmp = new ReplicaComparison(3, { windowNs: 1e9, threshold: 0.15, similarity });
    for (let r = 0; r < 3; r++) {
      for (let sec = 100; sec <= 106; sec++) eachEvent(second(sec, r === 1), (ev, name) => cmp.event(r, ev, name));
      cmp.finish(r);
    }
    return cmp.verdicts();
  };
  const counted = run('counted');
  assert.deepEqual(counted.map((v) => v.flagged), [false, false, false]);
  const v = run('programs');
  assert.deepEqual(v.map((x) => x.flagged), [false, true, false]);
  assert.ok(v[1].max_score > counted[1].max_score);
  const dirs = v[1].aspects.find((a) => a.aspect === 'directories');
  // Redis's directories: /root/.ssh is all of them (against /srv/redis in the siblings); the replica's: 1 of 31.
  assert.deepEqual(dirs?.by_program, { program: 'redis-server', unexplained: 1, items: 1 });
  assert.equal(dirs?.max_dissimilarity, 1);
  // File names carry request data: not taken per program (the replica's share only).
  const files = v[1].aspects.find((a) => a.aspect === 'files');
  assert.equal(files?.by_program, undefined);
  assert.ok((files?.max_dissimilarity ?? 0) < 0.1);
});

test('aspects kept per program: syscalls, categories, directories; the sets are made only when asked for', () => {
  assert.deepEqual(
    ASPECTS.filter((_, i) => PROGRAM_ASPECTS[i]),
    ['syscalls', 'categories', 'directories'],
  );
  const plain = new AspectSets();
  eachEvent(second(100, false), (ev, name) => addEvent(plain, ev, name));
  assert.equal(plain.programs, null);
  const s = new AspectSets(undefined, { byProgram: true });
  eachEvent(second(100, false), (ev, name) => addEvent(s, ev, name));
  assert.deepEqual([...(s.programs?.keys() ?? [])].sort(), ['nginx', 'redis-server']);
  const redis = s.programs?.get('redis-server');
  assert.deepEqual([...(redis?.[ASPECTS.indexOf('directories')] ?? [])], ['/srv/redis']);
  assert.deepEqual([...(redis?.[ASPECTS.indexOf('syscalls')] ?? [])], ['openat']);
  assert.equal(redis?.[ASPECTS.indexOf('files')].size, 0);
});

test('programs beyond the cap are counted, not kept; per-program items stay within the set cap', () => {
  const s = new AspectSets(3, { byProgram: true });
  const d = ASPECTS.indexOf('directories');
  for (let p = 0; p < PROGRAM_CAP + 5; p++) {
    s.setProgram(`prog${p}`);
    for (const x of ['/a', '/b', '/c', '/d']) s.add(d, x);
  }
  assert.equal(s.programs?.size, PROGRAM_CAP);
  assert.equal(s.programsCut, 5);
  assert.deepEqual([...(s.programs?.get('prog0')?.[d] ?? [])], ['/a', '/b', '/c']);
  assert.equal(s.sets[d].size, 3);
});

test('compareWindow with programs is never below counted (it takes the larger share)', () => {
  const mk = (evs: string) => {
    const s = new AspectSets(undefined, { byProgram: true });
    eachEvent(evs, (ev, name) => addEvent(s, ev, name));
    return s;
  };
  const ws = [mk(second(104, false)), mk(second(104, true)), mk(second(104, false))];
  const a = compareWindow(ws, 'counted');
  const b = compareWindow(ws, 'programs');
  for (let i = 0; i < 3; i++) for (let k = 0; k < ASPECTS.length; k++) assert.ok(b.dissimilarity[i][k] >= a.dissimilarity[i][k]);
  assert.deepEqual(b.scores.map((x) => x > 0.15), [false, true, false]);
});

test('live (ReplicaWatch) with programs: the container whose Redis writes into /root/.ssh is alerted, the alert names the program', () => {
  const watch = new ReplicaWatch({ windowNs: 1e9, threshold: 0.15, similarity: 'programs' });
  const members = ['a', 'b', 'c'].map((id) => ({ key: `key-${id}`, id }));
  const out: ReplicaDeviation[] = [];
  for (let sec = 100; sec <= 107; sec++) {
    members.forEach((m, i) => eachEvent(second(sec, i === 2), (ev, name) => watch.event('img', m, ev, name)));
    out.push(...watch.tick(1_700_000_000 + sec + 1, 0));
  }
  out.push(...watch.tick(1_700_000_000 + 112, 0));
  assert.ok(out.length > 0, 'alerts');
  assert.deepEqual([...new Set(out.map((d) => d.member.id))], ['c']);
  const alert = buildReplicaAlert(out[0]);
  assert.match(alert.output, /directories 1\.00 \(only here: \/root\/\.ssh\) \(by redis-server: 1 of its 1 new\)/);
});
