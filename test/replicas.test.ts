/**
 * The replica comparison (src/model/replicas/): aspect extraction on real event lines, the
 * dissimilarity math against hand-computed values, identical replicas scoring 0 (property), and
 * `chids replicas` on generated LID-DS recordings of three replicas.
 */

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ASPECTS, AspectSets, addEvent, directoryOf, isRandomLooking, normalisePath, syscallCategory, windowSetsData } from '../src/model/replicas/aspects.js';
import { ReplicaGroups, type ReplicaDeviation as FleetDeviation } from '../src/model/replicas/groups.js';
import { ASPECT_ITEMS } from '../src/app/fleet-agent.js';
import { decodeArgv, normaliseCommand, normaliseToken } from '../src/trace/command.js';
import { compareWindow, coveredDissimilarities, dissimilarities, excessDissimilarities, jaccard, norm, ReplicaComparison } from '../src/model/replicas/compare.js';
import type { SyscallEvent } from '../src/trace/event.js';
import { NameTable } from '../src/trace/names.js';
import { TraceParser } from '../src/trace/parse.js';
import { ReplicaWatch, type ReplicaDeviation } from '../src/engine/replica-watch.js';
import { buildReplicaAlert } from '../src/outputs/replica-alert.js';
import { assertOk, jsonOf, runCli } from './helpers/cli.js';
import { recordingText, writeRecording } from './helpers/lidds-dataset.js';

/** Parses LID-DS lines and hands each event (with its syscall name) to `fn`. */
function eachEvent(text: string, fn: (ev: SyscallEvent, name: string) => void): void {
  const names = new NameTable();
  const p = new TraceParser({ file: 't.sc', format: 'lidds', faithful: false, names, onEvent: (ev) => fn(ev, names.name(ev.nameId)) });
  p.push(Buffer.from(text));
  p.end();
}

function setsOf(text: string): Record<string, string[]> {
  const s = new AspectSets();
  eachEvent(text, (ev, name) => addEvent(s, ev, name));
  return Object.fromEntries(ASPECTS.map((a, i) => [a, [...s.sets[i]].sort()]));
}

test('aspects of real LID-DS lines: paths, directories, files, commands, executables, digits and ids removed', () => {
  const text = [
    '1700000000000001000 33 300 nginx 300 clone < res=0 exe=/usr/sbin/nginx args= tid=300(nginx) pid=300(nginx)',
    '1700000000000002000 33 301 sh 301 execve < res=0 exe=/bin/sh args=-c.id. cwd=/var/www/',
    '1700000000000003000 33 301 sh 301 open < fd=3(<f>/etc/shadow) name=/etc/shadow flags=1(O_RDONLY) mode=0',
    '1700000000000004000 33 301 sh 301 openat < fd=4(<f>/var/lib/docker/overlay2/4f1c2d3e4b5a6978/merged/app/log2021.txt) dirfd=-100(AT_FDCWD) name=/var/lib/docker/overlay2/4f1c2d3e4b5a6978/merged/app/log2021.txt flags=1(O_RDONLY) mode=0',
    '1700000000000005000 33 301 sh 301 open < fd=5(<f>/tmp/tmpA8f3kQ2z.txt) name=/tmp/tmpA8f3kQ2z.txt flags=1(O_RDONLY) mode=0',
  ].join('\n');
  const s = setsOf(text + '\n');
  assert.deepEqual(s.syscalls, ['clone', 'execve', 'open', 'openat']);
  assert.deepEqual(s.categories, ['file', 'process']);
  assert.deepEqual(s.processes, ['nginx', 'sh']);
  assert.deepEqual(s.executables, ['/bin/sh', '/usr/sbin/nginx']);
  // sysdig's '.'-joined argv: `-c`'s code is the program the shell runs, kept.
  assert.deepEqual(s.commands, ['/bin/sh -c id']);
  assert.deepEqual(s.working_directories, ['/var/www']);
  // The container-id component is dropped, digits are removed, the random temp name is not a file name.
  assert.deepEqual(s.file_operations, ['open /etc/shadow', 'open /tmp/tmpAfkQz.txt', 'openat /var/lib/docker/overlay/merged/app/log.txt']);
  assert.deepEqual(s.directories, ['/etc', '/tmp', '/var/lib/docker']);
  assert.deepEqual(s.files, ['log.txt', 'shadow']);
  assert.ok(s.arguments.includes('open name=/etc/shadow'));
  assert.ok(s.arguments.includes('open fd=(<f>/etc/shadow)'));
  assert.ok(!s.arguments.some((a) => /\d/.test(a)), 'no digits in arguments');
  assert.ok(!s.arguments.some((a) => a.endsWith('=')), 'bare keys are dropped');
});

test('normalisation helpers', () => {
  assert.equal(normalisePath('/proc/1234/status'), '/proc/status');
  assert.equal(normalisePath('/sys/fs/cgroup/0123456789abcdef0123/cpu.max'), '/sys/fs/cgroup/cpu.max');
  assert.equal(directoryOf('/var/www/html/img/logo.png'), '/var/www/html');
  assert.equal(directoryOf('/etc/passwd'), '/etc');
  assert.equal(directoryOf('/init'), '/');
  assert.equal(directoryOf('relative/x'), null);
  for (const r of ['tmpA8f3kQ2z', 'sess_9f86d081884c7d659a2f', 'a1b2c3d4x.dat']) assert.ok(isRandomLooking(r), r);
  for (const n of ['index.html', 'passwd', 'libc.so.6', 'style2.css', 'nginx.conf', 'blog2021.html', 'upload_8273649.bin']) assert.ok(!isRandomLooking(n), n);
  assert.equal(normaliseToken('addr=0x7f3a2b1c'), 'addr=');
  assert.equal(normaliseToken('res=5612CA4000'), 'res=', 'a hex number goes whole, letters included');
  assert.equal(normaliseToken('res=-2'), 'res=');
  assert.equal(normaliseToken('comm=cafe'), 'comm=cafe', 'a word of hex letters without a digit stays');
  assert.equal(normaliseToken('args=LWpzbALWJhaWwALNydihcHA.'), 'args=*.');
  assert.equal(syscallCategory('openat'), 'file');
  assert.equal(syscallCategory('connect'), 'network');
  assert.equal(syscallCategory('no_such_call'), 'other');
});

test('set sizes are capped and what is cut is counted', () => {
  const s = new AspectSets(3);
  for (const x of ['a', 'b', 'c', 'd', 'e', 'a']) s.add(0, x);
  assert.equal(s.sets[0].size, 3);
  assert.equal(s.cut[0], 2);
});

test('dissimilarity math, hand-computed', () => {
  const A = new Set(['a', 'b']);
  const B = new Set(['a', 'b', 'c']);
  const C = new Set(['d']);
  assert.equal(jaccard(A, B), 2 / 3);
  assert.equal(jaccard(A, C), 0);
  assert.equal(jaccard(new Set(), new Set()), 1);
  // A: 1 − (2/3 + 0)/2 = 2/3; B: 1 − (2/3 + 0)/2 = 2/3; C: 1 − (0 + 0)/2 = 1; empty: 0.
  const d = dissimilarities([A, B, C, new Set()]);
  // With four replicas, each mean is over three others (the empty one counts with Jaccard 0).
  assert.deepEqual(d, [1 - (2 / 3 + 0 + 0) / 3, 1 - (2 / 3 + 0 + 0) / 3, 1, 0]);
  assert.equal(norm([3, 4]), 5);

  // Two aspects: replica 3 differs in both, so its score is the norm of two dissimilarities.
  const mk = (syscalls: string[], files: string[]) => {
    const s = new AspectSets();
    for (const x of syscalls) s.add(ASPECTS.indexOf('syscalls'), x);
    for (const x of files) s.add(ASPECTS.indexOf('files'), x);
    return s;
  };
  const w = compareWindow([mk(['read', 'write'], ['index.html']), mk(['read', 'write'], ['index.html']), mk(['read', 'write', 'execve'], ['index.html', 'shadow'])]);
  // replica 3: syscalls 1 − 2/3 = 1/3, files 1 − 1/2 = 1/2 → √(1/9 + 1/4) = √13/6
  assert.ok(Math.abs(w.scores[2] - Math.sqrt(13) / 6) < 1e-12, String(w.scores[2]));
  // replicas 1, 2: syscalls 1 − (1 + 2/3)/2 = 1/6, files 1 − (1 + 1/2)/2 = 1/4 → √(1/36 + 1/16)
  assert.ok(Math.abs(w.scores[0] - Math.sqrt(1 / 36 + 1 / 16)) < 1e-12);
  assert.equal(w.scores[0], w.scores[1]);
});

test('property: replicas with identical streams score 0 in every window', () => {
  const calls = ['read', 'write', 'open', 'openat', 'execve', 'connect', 'close'];
  const paths = ['/etc/passwd', '/var/www/html/index.html', '/tmp/x', '/usr/bin/php'];
  const line = fc.record({
    dt: fc.integer({ min: 1, max: 3_000_000_000 }),
    call: fc.constantFrom(...calls),
    proc: fc.constantFrom('nginx', 'php', 'sh'),
    path: fc.constantFrom(...paths),
  });
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 60 }), fc.integer({ min: 2, max: 4 }), (lines, n) => {
      let t = 1_700_000_000_000_000_000n;
      // Bounded by events 2 s before and after, so that whole windows are compared whatever the draws.
      const edge = (at: bigint) => `${at} 0 7 sh 7 read < fd=3(<f>/tmp/x)`;
      const body =
        lines
          .map((l) => {
            t += BigInt(l.dt);
            return `${t} 0 7 ${l.proc} 7 ${l.call} < fd=3(<f>${l.path}) name=${l.path} exe=${l.path} args=-x.`;
          })
          .join('\n');
      const text = [edge(1_699_999_998_000_000_000n), body, edge(t + 2_000_000_000n)].join('\n') + '\n';
      let compared = 0;
      const cmp = new ReplicaComparison(n, { windowNs: 1e9, threshold: 0, onWindow: (w) => {
          compared++;
          assert.deepEqual(w.scores, new Array(n).fill(0));
        } });
      for (let r = 0; r < n; r++) {
        eachEvent(text, (ev, name) => cmp.event(r, ev, name));
        cmp.finish(r);
      }
      const v = cmp.verdicts();
      assert.ok(compared > 0);
      for (const x of v) {
        assert.equal(x.max_score, 0);
        assert.equal(x.flagged, false);
      }
    }),
    { numRuns: 60 },
  );
});

test('windows are aligned on absolute time and only whole windows of the span all replicas cover are compared', () => {
  const line = (sec: number, call: string) => `${BigInt(1_700_000_000 + sec) * 1_000_000_000n + 5n} 0 7 p 7 ${call} < res=0`;
  const r0 = [line(100, 'read'), line(101, 'read'), line(102, 'read'), line(103, 'read'), line(104, 'read')].join('\n') + '\n';
  const r1 = [line(101, 'read'), line(102, 'execve'), line(103, 'read'), line(104, 'read'), line(105, 'read')].join('\n') + '\n';
  const windows: string[] = [];
  const cmp = new ReplicaComparison(2, { windowNs: 1e9, threshold: 0.1, onWindow: (w) => windows.push(w.start_ns) });
  eachEvent(r0, (ev, name) => cmp.event(0, ev, name));
  eachEvent(r1, (ev, name) => cmp.event(1, ev, name));
  cmp.finish(0);
  cmp.finish(1);
  const v = cmp.verdicts();
  const at = (sec: number) => String(BigInt(1_700_000_000 + sec) * 1_000_000_000n);
  // 100 and 105: one replica only; 101 (r1's first) and 104 (r0's last): partial windows.
  assert.deepEqual(windows, [at(102), at(103)]);
  assert.equal(cmp.outsideSpan, 4);
  // Window 102: {read} vs {execve}: both differ (syscalls and categories, file vs process); 103 is alike.
  assert.equal(v[0].first_alarm_ns, at(102));
  assert.equal(v[1].first_alarm_ns, at(102));
});

function writeReplicas(dir: string, attackIn: number | null): string[] {
  // One service, three replicas recorded over the same span (same start), each its own traffic.
  mkdirSync(dir, { recursive: true });
  return [0, 1, 2].map((i) => {
    const file = path.join(dir, `replica_${i + 1}.sc`);
    writeFileSync(file, recordingText({ name: `r${i}`, seconds: 30, exploitAt: i === attackIn ? 14 : null, seed: 500 + i, startSec: 1_700_000_000 }));
    return file;
  });
}

test('chids replicas: exactly the replica with extra file opens and execs is flagged; all normal → none', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chids-replicas-'));
  try {
    const attacked = writeReplicas(path.join(dir, 'attacked'), 1);
    const r = await runCli(['replicas', ...attacked, '--json']);
    assertOk(r);
    const j = jsonOf<{ threshold: number; window_ns: number; replicas: { file: string; flagged: boolean; max_score: number; first_alarm_ns: string | null; aspects: { aspect: string; only_here: string[] }[] }[]; windows: unknown[] }>(r);
    assert.equal(j.window_ns, 10e9);
    assert.deepEqual(
      j.replicas.map((x) => x.flagged),
      [false, true, false],
      j.replicas.map((x) => `${x.file} ${x.max_score}`).join('; '),
    );
    const bad = j.replicas[1];
    // The exploit starts 14 s in: the first alarm is the window holding it, [10 s, 20 s).
    assert.equal(bad.first_alarm_ns, String(1_700_000_010n * 1_000_000_000n));
    const files = bad.aspects.find((a) => a.aspect === 'files');
    assert.ok(files?.only_here.includes('shadow'), JSON.stringify(bad.aspects));
    const cmds = bad.aspects.find((a) => a.aspect === 'commands');
    assert.ok(cmds?.only_here.includes('/bin/sh -c id'), JSON.stringify(bad.aspects));
    // 30 s from the start of window [0, 10 s): its first and last windows are the edges, not compared.
    assert.equal(j.windows.length, 1);

    const text = await runCli(['replicas', ...attacked]);
    assertOk(text);
    assert.match(text.stdout, /replica 2 .*replica_2\.sc: FLAGGED/);
    assert.match(text.stdout, /files .*only here: .*shadow/);
    assert.match(text.stdout, /replica 1 .*: ok/);

    const normal = writeReplicas(path.join(dir, 'normal'), null);
    const n = jsonOf<{ replicas: { flagged: boolean; max_score: number }[] }>(await runCli(['replicas', ...normal, '--json']));
    assert.deepEqual(
      n.replicas.map((x) => x.flagged),
      [false, false, false],
      n.replicas.map((x) => x.max_score).join(' '),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chids replicas: one recording is refused with a one-line error', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chids-replicas-'));
  try {
    const [one] = writeReplicas(dir, null);
    const r = await runCli(['replicas', one]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^chids: comparing replicas needs at least two recordings \(got 1\)\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chids replicas: a bad recording among them fails the run naming it; recordings of different spans are refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chids-replicas-'));
  try {
    const [a, b] = writeReplicas(dir, null);
    const bad = path.join(dir, 'bad.sc');
    writeFileSync(bad, 'not a trace\n');
    const r = await runCli(['replicas', a, bad, b]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^chids: .*bad\.sc: .*\n$/);
    assert.equal(r.stdout, '');

    const later = path.join(dir, 'later.sc');
    writeFileSync(later, recordingText({ name: 'l', seconds: 25, exploitAt: null, seed: 9, startSec: 1_700_100_000 }));
    const apart = await runCli(['replicas', a, later]);
    assert.equal(apart.code, 1);
    assert.match(apart.stderr, /^chids: the recordings share no time window.*--align-starts/);
    // From their own starts they do overlap.
    assertOk(await runCli(['replicas', a, later, '--align-starts', '--json']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('covered similarity: items shown by a sibling within a window count as shared; only what no sibling showed counts', () => {
  const S = (...xs: string[]) => new Set(xs);
  const none = { before: S(), after: S() };
  // Replica 2 did y a moment later (the next window): not a difference.
  assert.deepEqual(coveredDissimilarities([S('x', 'y'), S('x'), S('x', 'y')], [none, { before: S(), after: S('y') }, none]), [0, 0, 0]);
  // Replica 1 showed z, which no sibling showed at all: half of its items; the siblings did less, which is no evidence.
  assert.deepEqual(coveredDissimilarities([S('x', 'z'), S('x'), S('x')], [none, none, none]), [0.5, 0, 0]);
  // The nearest sibling counts: z is explained by replica 3.
  assert.deepEqual(coveredDissimilarities([S('x', 'z'), S('x'), S('x', 'z')], [none, none, none]), [0, 0, 0]);
});

test('covered vs nearest on a request that lands on both sides of a window edge', () => {
  // Three replicas serve the same requests; replica 3 serves the one at the edge of window 102 a moment late (in 103).
  const ts = (sec: number, ms = 0) => BigInt(1_700_000_000 + sec) * 1_000_000_000n + BigInt(ms) * 1_000_000n;
  const line = (t: bigint, call: string, path: string) => `${t} 0 7 app 7 ${call} < fd=3(<f>${path}) name=${path}`;
  const replica = (late: boolean) =>
    [100, 101, 102, 103, 104, 105]
      .flatMap((sec) => [line(ts(sec, 100), 'openat', '/srv/index.html'), line(ts(sec, 500), 'read', '/srv/index.html')])
      .concat([late ? line(ts(103, 5), 'openat', '/srv/status.cgi') : line(ts(102, 995), 'openat', '/srv/status.cgi')])
      .sort()
      .join('\n') + '\n';
  const texts = [replica(false), replica(false), replica(true)];
  const run = (similarity: 'covered' | 'nearest') => {
    const cmp = new ReplicaComparison(3, { windowNs: 1e9, threshold: 0.05, similarity });
    texts.forEach((t, r) => {
      eachEvent(t, (ev, name) => cmp.event(r, ev, name));
      cmp.finish(r);
    });
    return cmp.verdicts().map((v) => v.flagged);
  };
  assert.deepEqual(run('nearest'), [false, false, true]);
  assert.deepEqual(run('covered'), [false, false, false]);
});

test('chids replicas --dataset: groups are directories of 2+ recordings, labels from each recording; DR and FAR with counts', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chids-replicas-ds-'));
  try {
    // Two attack groups (replica 2 attacked 14 s in) and one attack-free group, 30 s each.
    const group = (name: string, attackIn: number | null, base: number) =>
      [0, 1, 2].map((i) => writeRecording(path.join(dir, name), { name: `${name}-r${i + 1}`, seconds: 30, exploitAt: i === attackIn ? 14 : null, seed: base + i, startSec: 1_700_000_000 }));
    group('g1', 1, 600);
    group('g2', 1, 610);
    group('g3', null, 620);
    const r = await runCli(['replicas', '--dataset', dir, '--json', '-q']);
    assertOk(r);
    const j = jsonOf<{
      similarity: string;
      at: { threshold: number; detected: number; attacked: number; false_alarms: number; normal: number; groups_attack_free: number; groups_false_alarm: number; mean_latency_s: number };
      rows: { threshold: number; dr: number }[];
      groups: { exploit: boolean[]; windows: { scores: number[] }[] }[];
    }>(r);
    assert.equal(j.similarity, 'programs');
    assert.equal(j.at.threshold, 0.15);
    assert.deepEqual([j.at.detected, j.at.attacked, j.at.false_alarms, j.at.normal, j.at.groups_false_alarm, j.at.groups_attack_free], [2, 2, 0, 7, 0, 1]);
    // The alarm window [10 s, 20 s) ends 6 s after the exploit's start.
    assert.ok(Math.abs(j.at.mean_latency_s - 6) < 1e-6, String(j.at.mean_latency_s));
    // Above the attacked replicas' highest score nothing is detected, below it both are.
    const top = Math.max(...j.groups.flatMap((g) => g.windows.flatMap((w) => w.scores.filter((_, i) => g.exploit[i]))));
    assert.ok(top > 0.15, String(top));
    assert.equal(j.rows.filter((x) => x.threshold > top)[0]?.dr, 0);
    assert.equal(j.rows.filter((x) => x.threshold < top).at(-1)?.dr, 1);
    const text = await runCli(['replicas', '--dataset', dir, '-q']);
    assertOk(text);
    assert.match(text.stdout, /^3 replica groups \(2 with an attacked replica, 1 attack-free\)/);
    assert.match(text.stdout, /detection 2\/2 = 100\.0 %, false alarms 0\/7 normal replicas = 0\.0 %/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('commands: a base64 argv (the strace converter\'s) is read as text, quoted literals emptied, digits removed', () => {
  const argv = (...a: string[]) => Buffer.from(a.map((x) => x + '\0').join('')).toString('base64');
  const q = argv('-json', '/srv/shop.db', "SELECT name FROM users WHERE name = 'bob' LIMIT 5");
  assert.equal(decodeArgv(q), "-json /srv/shop.db SELECT name FROM users WHERE name = 'bob' LIMIT 5");
  // Different users, the same command shape; an injection leaves quotes outside a literal.
  assert.equal(normaliseCommand(decodeArgv(q)), normaliseCommand(decodeArgv(argv('-json', '/srv/shop.db', "SELECT name FROM users WHERE name = 'carol' LIMIT 7"))));
  assert.equal(normaliseCommand(decodeArgv(q)), "-json /srv/shop.db SELECT name FROM users WHERE name = '' LIMIT ");
  assert.equal(normaliseCommand("SELECT id FROM p WHERE name LIKE '%tea' AND 4711=4711 AND 'xY'='xY%'"), "SELECT id FROM p WHERE name LIKE '' AND = AND ''=''");
  // Not argv: sysdig's dotted form, a word that happens to be base64, base64 of binary.
  assert.equal(decodeArgv('-c.id.'), '-c.id.');
  assert.equal(decodeArgv('abcd'), 'abcd');
  assert.equal(decodeArgv(Buffer.from([1, 2, 3, 0]).toString('base64')), Buffer.from([1, 2, 3, 0]).toString('base64'));
  const line = `1700000000000002000 33 301 node 301 execve < res=0 exe=sqlite3 args=${q} tid=301(node) pid=301(node)`;
  // Element by element (version 2): the database file is a value (its class), the query keeps its structure.
  assert.deepEqual(setsOf(line + '\n').commands, ["sqlite -json <path> SELECT name FROM users WHERE name = '' LIMIT "]);
  // Replicas serving different users upload different files: one shape, so no replica stands out for it.
  const sha = (f: string) => setsOf(`1700000000000002000 33 302 sha256sum 302 execve < res=0 exe=sha256sum args=${argv(f)} tid=302(sha256sum) pid=302(sha256sum)\n`).commands;
  assert.deepEqual(sha('/srv/app/uploads/erin/photo.png'), sha('/srv/app/uploads/bob/cv.pdf'));
});

test('counted similarity: only a significant surplus over the nearest sibling counts, scaled by volume, within a window', () => {
  const W = (counts: Record<string, number>, events: number) => ({ counts: new Map(Object.entries(counts)), events });
  const none = W({}, 0);
  const around = (n: number) => Array.from({ length: n }, () => ({ before: none, after: none }));
  // Replica 1 logged in 40 times where its siblings, with the same volume, did 10: surplus 30 of its 50 items.
  let r = excessDissimilarities([W({ login: 40, page: 10 }, 1000), W({ login: 10, page: 10 }, 1000), W({ login: 10, page: 10 }, 1000)], around(3));
  assert.deepEqual(r.dissimilarity, [30 / 50, 0, 0]);
  assert.deepEqual(r.items[0], [{ item: 'login', count: 40, expected: 10 }]);
  // Twice the requests (a load balancer's share), the same mix: nothing.
  r = excessDissimilarities([W({ login: 20, page: 20 }, 2000), W({ login: 10, page: 10 }, 1000), W({ login: 10, page: 10 }, 1000)], around(3));
  assert.deepEqual(r.dissimilarity, [0, 0, 0]);
  // A surplus within counting noise (14 vs 10: 4 < 3·√11) is not evidence.
  r = excessDissimilarities([W({ login: 14 }, 1000), W({ login: 10 }, 1000)], around(2));
  assert.deepEqual(r.dissimilarity, [0, 0]);
  // The sibling did as many in the next window (a burst on the other side of the edge): explained.
  r = excessDissimilarities([W({ login: 40 }, 1000), W({ login: 5 }, 1000)], [{ before: none, after: none }, { before: none, after: W({ login: 40 }, 1000) }]);
  assert.equal(r.dissimilarity[0], 0);
  // The nearest sibling counts: replica 3 did as many.
  r = excessDissimilarities([W({ login: 40 }, 1000), W({ login: 10 }, 1000), W({ login: 38 }, 1000)], around(3));
  assert.equal(r.dissimilarity[0], 0);
  // An item no sibling showed is left to covered.
  r = excessDissimilarities([W({ shell: 40 }, 1000), W({ login: 10 }, 1000)], around(2));
  assert.equal(r.dissimilarity[0], 0);
});

test('counted vs covered on a brute force: the same requests, many more of them', () => {
  const ts = (sec: number, ms: number) => BigInt(1_700_000_000 + sec) * 1_000_000_000n + BigInt(ms) * 1_000_000n;
  const line = (t: bigint, call: string, path: string) => `${t} 0 7 app 7 ${call} < fd=3(<f>${path}) name=${path}`;
  // Every replica does 100 other things and two logins a second; replica 2 gets 30 more logins a
  // second from second 103 on (its volume grows by a third: scaled by volume, the siblings' two
  // logins would be 2.6, far from 32).
  const replica = (attacked: boolean) =>
    [100, 101, 102, 103, 104, 105, 106]
      .flatMap((sec) => {
        const logins = 2 + (attacked && sec >= 103 ? 30 : 0);
        return [
          ...Array.from({ length: 100 }, (_, i) => line(ts(sec, 1 + i), 'read', '/srv/index.html')),
          ...Array.from({ length: logins }, (_, i) => line(ts(sec, 200 + i), 'openat', '/srv/login.html')),
        ];
      })
      .join('\n') + '\n';
  const texts = [replica(false), replica(true), replica(false)];
  const run = (similarity: 'covered' | 'counted') => {
    const cmp = new ReplicaComparison(3, { windowNs: 1e9, threshold: 0.05, similarity });
    texts.forEach((t, r) => {
      eachEvent(t, (ev, name) => cmp.event(r, ev, name));
      cmp.finish(r);
    });
    return cmp.verdicts();
  };
  assert.deepEqual(run('covered').map((v) => v.flagged), [false, false, false]);
  const v = run('counted');
  assert.deepEqual(v.map((x) => x.flagged), [false, true, false]);
  const files = v[1].aspects.find((a) => a.aspect === 'files');
  assert.equal(files?.more_here?.[0].item, 'login.html');
});

test('live (ReplicaWatch) with counted: the container that logs in far more often is the one alerted, and the alert says what it did more often', () => {
  const ts = (sec: number, ms: number) => BigInt(1_700_000_000 + sec) * 1_000_000_000n + BigInt(ms) * 1_000_000n;
  const line = (t: bigint, call: string, path: string) => `${t} 0 7 app 7 ${call} < fd=3(<f>${path}) name=${path}`;
  const second = (sec: number, attacked: boolean) =>
    [
      ...Array.from({ length: 100 }, (_, i) => line(ts(sec, 1 + i), 'read', '/srv/index.html')),
      ...Array.from({ length: 2 + (attacked && sec >= 103 ? 30 : 0) }, (_, i) => line(ts(sec, 200 + i), 'openat', '/srv/login.html')),
    ].join('\n') + '\n';
  const watch = new ReplicaWatch({ windowNs: 1e9, threshold: 0.15, similarity: 'counted' });
  const members = ['a', 'b', 'c'].map((id) => ({ key: `key-${id}`, id }));
  const out: ReplicaDeviation[] = [];
  for (let sec = 100; sec <= 107; sec++) {
    members.forEach((m, i) => eachEvent(second(sec, i === 1), (ev, name) => watch.event('img', m, ev, name)));
    out.push(...watch.tick(1_700_000_000 + sec + 1, 0));
  }
  out.push(...watch.tick(1_700_000_000 + 112, 0));
  assert.ok(out.length > 0, 'alerts');
  assert.deepEqual([...new Set(out.map((d) => d.member.id))], ['b']);
  const alert = buildReplicaAlert(out[0]);
  // Each open names the file twice (fd and name): 64 against the siblings' 4, scaled by volume (132 / 102 events) to 5.2.
  assert.match(alert.output, /files [0-9.]+ \(more often here: login\.html ×64 vs ~5\.2\)/);
});

test('chids fleet scores replicas as chids replicas does: window messages carry counts and per-program items', () => {
  // Three synthetic replicas of one service, 40 s from the same second; replica 2 runs a web
  // shell 14 s in. Offline: events into ReplicaComparison. Fleet: each replica's 1 s windows
  // through the agent's message data (JSON and back), regrouped by ReplicaGroups.
  const texts = [0, 1, 2].map((i) => recordingText({ name: `r${i}`, seconds: 40, exploitAt: i === 1 ? 14 : null, seed: 700 + i, startSec: 1_700_000_000 }));
  for (const similarity of ['programs', 'counted', 'covered'] as const) {
    const offline = new Map<string, number[]>();
    const cmp = new ReplicaComparison(3, { windowNs: 10e9, threshold: 0.15, similarity, onWindow: (w) => offline.set(w.start_ns, w.scores) });
    texts.forEach((t, r) => {
      eachEvent(t, (ev, name) => cmp.event(r, ev, name));
      cmp.finish(r);
    });
    cmp.verdicts();

    let now = 0;
    const groups = new ReplicaGroups({ windowNs: 10e9, threshold: -1, idleMs: 1000, similarity, now: () => now });
    const fleet = new Map<string, number[]>();
    const take = (devs: FleetDeviation[]) => {
      for (const d of devs) {
        const row = fleet.get(d.startNs.toString()) ?? [0, 0, 0];
        row[Number(d.replica)] = d.score;
        fleet.set(d.startNs.toString(), row);
      }
    };
    // The replicas' messages arrive interleaved in time, as from agents running side by side.
    const messages: { sec: number; r: number; text: string; events: number }[] = [];
    texts.forEach((t, r) => {
      let sec = -1;
      let sets = new AspectSets(ASPECT_ITEMS, { byProgram: true });
      const publish = () => {
        if (sec >= 0) messages.push({ sec, r, text: JSON.stringify(windowSetsData(sets)), events: sets.events });
      };
      eachEvent(t, (ev, name) => {
        if (ev.sec !== sec) {
          publish();
          sec = ev.sec;
          sets = new AspectSets(ASPECT_ITEMS, { byProgram: true });
        }
        addEvent(sets, ev, name);
      });
      publish();
    });
    messages.sort((a, b) => a.sec - b.sec || a.r - b.r);
    for (const m of messages) {
      const data = JSON.parse(m.text);
      take(groups.add({ group: 'web', replica: String(m.r), startNs: BigInt(m.sec) * 1_000_000_000n, aspects: data.aspects, counts: data.counts, programs: data.programs, events: m.events }));
    }
    now += 2000;
    take(groups.tick());
    assert.ok(offline.size >= 2, `${similarity}: ${offline.size} windows compared offline`);
    assert.deepEqual([...fleet.keys()].sort(), [...offline.keys()].sort(), similarity);
    for (const [k, scores] of offline) {
      for (let i = 0; i < 3; i++) assert.ok(Math.abs((fleet.get(k) as number[])[i] - scores[i]) < 1e-12, `${similarity} window ${k} replica ${i}: fleet ${fleet.get(k)} offline ${scores}`);
    }
    // The attacked replica stands out in both, above the default threshold.
    assert.ok([...offline.values()].some((s) => s[1] > 0.15 && s[0] < 0.15 && s[2] < 0.15), `${similarity}: ${JSON.stringify([...offline])}`);
  }
});
