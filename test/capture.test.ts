/**
 * The live sources' pure parts (src/capture/): strace → LID-DS conversion, bpftrace program and
 * line conversion, container attribution, the bounded queue, line splitting, and the LID-DS
 * recorder read back by chids' own reader. No strace, bpftrace or root needed here.
 */
import { test } from 'node:test';
import { readFileSync, readlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { containerFrom, isAlive, pickCgroupPath, pidNamespaceOf, STDIN_CONTAINER } from '../src/capture/containers.js';
import { ARGV_MAX, buildScript, EbpfConverter } from '../src/capture/ebpf.js';
import { commandShape } from '../src/trace/command.js';
import { BoundedQueue } from '../src/capture/queue.js';
import { LiddsRecorder } from '../src/capture/recorder.js';
import { BatchBuilder, LineSplitter, type SourceSink } from '../src/capture/source.js';
import { lineTime } from '../src/capture/stdin-source.js';
import { ContainerTracker } from '../src/capture/attribution.js';
import { StraceToLidds } from '../src/trace/strace/to-lidds.js';
import { encodeTrace } from '../src/encode/pipeline.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';
import { openSource } from '../src/trace/sources/readers.js';

const HOST = containerFrom(4026531836, null, 4026531836);
const OTHER = containerFrom(4026532999, '/docker/' + 'ab'.repeat(32), 4026531836);

/** strace -f output (strace 6.1, -yy, ns timestamps) of a shell whose vfork child runs cat. */
const STRACE = [
  '100 1700000000.000010000 vfork( <unfinished ...>',
  '101 1700000000.000020000 execve("/usr/bin/cat", ["cat", "/etc/shadow"], 0x55 /* 3 vars */ <unfinished ...>',
  '100 1700000000.000030000 <... vfork resumed>) = 101 <0.000020000>',
  '101 1700000000.000040000 <... execve resumed>) = 0 <0.000020000>',
  '101 1700000000.000045000 openat(AT_FDCWD</tmp>, "/etc/shadow", O_RDONLY) = 3</etc/shadow> <0.000001000>',
  '101 1700000000.000060000 exit_group(0) = ?',
  '101 1700000000.000070000 +++ exited with 0 +++',
];

test('strace lines through the lab converter, attributed by thread: a child gone before /proc is read inherits its parent', () => {
  // The parent (100) is known to be in another container; the child (101) is never seen in /proc.
  const t2 = new ContainerTracker({ ownPidns: 4026531836, fallback: HOST, procfs: false });
  (t2 as unknown as { byTid: Map<number, unknown> }).byTid.set(100, OTHER);
  const conv = new StraceToLidds({ rootUid: 0, rootProc: 'sh' });
  const out: string[] = [];
  const who: string[] = [];
  for (const l of STRACE) {
    const start = out.length;
    conv.push(l, out);
    for (const sc of out.slice(start)) who.push(t2.ofLine(sc).id);
  }
  assert.ok(out.some((l) => / 101 openat < fd=3\(<f>\/etc\/shadow\) name=\/etc\/shadow /.test(l)), out.join('\n'));
  assert.ok(out.some((l) => / execve > filename=\/usr\/bin\/cat/.test(l)));
  assert.deepEqual(new Set(who), new Set([OTHER.id]), 'every event of the tree is in the parent\'s container');
  t2.exit(101);
  assert.equal(t2.of(101), HOST, 'a forgotten thread falls back to the target\'s container');
});

test('ContainerTracker reads clone exits in the parent (res=CHILD) and in the child (res=0 ptid=PARENT)', () => {
  const t = new ContainerTracker({ ownPidns: 1, fallback: HOST, procfs: false });
  (t as unknown as { byTid: Map<number, unknown> }).byTid.set(7, OTHER);
  assert.equal(t.ofLine('1700000000000000000 0 7 sh 7 clone < res=8 exe=/bin/sh tid=7(sh) pid=7(sh) ptid=1(init)'), OTHER);
  assert.equal(t.of(8), OTHER);
  assert.equal(t.ofLine('1700000000000000000 0 9 sh 9 clone3 < res=0 exe=/bin/sh tid=9(sh) pid=9(sh) ptid=7(sh)'), OTHER);
  assert.equal(t.ofLine('garbage'), HOST);
  assert.equal(t.container(4026532001, null).id, 'pidns-4026532001');
});

test('containers: ids from cgroup paths, keys from pid namespaces', () => {
  const id = 'f'.repeat(64);
  assert.equal(pickCgroupPath(`12:pids:/docker/${id}\n0::/system.slice/docker-${id}.scope\n`), `/docker/${id}`);
  assert.equal(pickCgroupPath('0::/user.slice\n1:cpu:/\n'), '/user.slice');
  assert.equal(pickCgroupPath('1:cpu:/\n0::/\n'), null);
  const c = containerFrom(4026532000, `/kubepods/pod1/${id}`, 4026531836);
  assert.equal(c.id, 'f'.repeat(12));
  assert.equal(c.key, `pidns:4026532000/${id}`);
  assert.equal(containerFrom(4026531836, '/user.slice', 4026531836).id, 'host');
  assert.equal(containerFrom(4026532001, null, 4026531836).id, 'pidns-4026532001');
  assert.equal(typeof pidNamespaceOf('self'), 'number');
});

test('ebpf: the bpftrace program filters by pid namespace or process tree and reads paths on their own probes', () => {
  const probes = [{ name: 'openat', nr: 257, tp: 'openat', field: 'filename', dfd: true }];
  const ns = buildScript({ scope: { kind: 'pidns', inum: 4026532000 }, btf: true, pathProbes: probes });
  assert.ok(ns.includes('tracepoint:raw_syscalls:sys_enter /(curtask->nsproxy->pid_ns_for_children->ns.inum == 4026532000 && curtask->thread_pid->level == curtask->nsproxy->pid_ns_for_children->level) && args->id != 257/'));
  assert.match(ns, /tracepoint:syscalls:sys_enter_openat .*args->dfd, str\(args->filename\)/);
  assert.doesNotMatch(ns, /@t\[/);
  // Ready when BEGIN runs (after every probe is attached), not at bpftrace's "Attaching N probes".
  assert.match(ns, /^BEGIN \{ printf\("@@B %llu\\n", nsecs\); \}$/m);
  const tree = buildScript({ scope: { kind: 'tree', tids: [10, 11] }, btf: false, pathProbes: [] });
  assert.match(tree, /BEGIN \{ printf\("@@B %llu\\n", nsecs\); @t\[10\] = 1; @t\[11\] = 1; \}/);
  assert.match(tree, /sched_process_fork \/@t\[args->parent_pid\]\//);
  assert.match(tree, /END \{ clear\(@t\); \}/);
});

test('ebpf: bpftrace lines become LID-DS lines in epoch time, per container', () => {
  const out: [string, string][] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 999_999_000 }, 4026531836, HOST, (c, l) => out.push([c.id, l]), false);
  assert.equal(conv.line('5000000002 7 7 0 257 > 4026532999 42\tcat\t-100 /etc/shadow'), true);
  assert.equal(conv.line('5000000003 7 7 0 257 < 4026532999 42\tcat\t3'), true);
  assert.equal(conv.line('5000000004 7 7 0 0 < 4026531836 1\tmy proc\t-11'), true);
  assert.equal(conv.line('5000000005 7 7 0 262 > 4026531836 1\tcat\t3 /tmp/a b'), true);
  assert.equal(conv.line('5000000006 7 7 0 262 < 4026531836 1\tcat\t0'), true);
  // fstatat(fd, "") is named after the path the fd was opened with; an exit reported as -1 takes its enter's number.
  conv.line('5000000007 7 7 0 257 > 4026531836 1\tcat\t-100 /etc/ld.so.cache');
  conv.line('5000000008 7 7 0 257 < 4026531836 1\tcat\t3');
  conv.line('5000000009 7 7 0 262 > 4026531836 1\tcat\t3 ');
  conv.line('5000000010 7 7 0 262 < 4026531836 1\tcat\t0');
  conv.line('5000000011 7 7 0 58 > 4026531836 1\tsh\t');
  conv.line('5000000012 7 7 0 -1 < 4026531836 1\tsh\t8');
  conv.line('5000000013 7 7 0 -2 > 4026531836 1\tsh\t256');
  assert.equal(conv.line('Attaching 24 probes...'), false);
  assert.deepEqual(out, [
    ['pidns-4026532999', '1700000005999999002 0 7 cat 7 openat > '],
    ['pidns-4026532999', '1700000005999999003 0 7 cat 7 openat < fd=3 name=/etc/shadow'],
    ['host', '1700000005999999004 0 7 my\\x20proc 7 read < res=-11'],
    ['host', '1700000005999999005 0 7 cat 7 newfstatat > '],
    ['host', '1700000005999999006 0 7 cat 7 newfstatat < res=0 path=/tmp/a\\x20b'],
    ['host', '1700000005999999007 0 7 cat 7 openat > '],
    ['host', '1700000005999999008 0 7 cat 7 openat < fd=3 name=/etc/ld.so.cache'],
    ['host', '1700000005999999009 0 7 cat 7 newfstatat > '],
    ['host', '1700000005999999010 0 7 cat 7 newfstatat < res=0 path=/etc/ld.so.cache'],
    ['host', '1700000005999999011 0 7 sh 7 vfork > '],
    ['host', '1700000005999999012 0 7 sh 7 vfork < res=8'],
    ['host', '1700000005999999013 0 7 sh 7 procexit > status=1'],
  ]);
});

test('ebpf: a forked child reports its parent\'s executable as read from /proc; malformed headers are not events', () => {
  const out: string[] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, 4026531836, HOST, (_c, l) => out.push(l), true);
  const NS = 4026532999;
  // This process (its /proc exe is readable) forks CHILD, a pid with no /proc entry (gone: a
  // readlink of it finds nothing); a fork line: child pid, not from outside, not the namespace's init.
  const me = process.pid;
  const exe = readlinkSync('/proc/self/exe');
  const CHILD = 4194000 + (me % 1000);
  conv.line(`5000000003 ${me} ${me} 0 -3 > ${NS} 7\tnode\t${CHILD} 0 0`);
  conv.line(`5000000004 ${me} ${me} 0 56 < ${NS} 7\tnode\t${CHILD}`);
  // The child's clone exit (res=0) names the parent's executable, as the parent's own does.
  conv.line(`5000000005 ${CHILD} ${CHILD} 0 56 < ${NS} 7\tnode\t0`);
  // It execs a script: a child of it is not given the script's name (its /proc exe would be the interpreter).
  conv.line(`5000000006 ${CHILD} ${CHILD} 0 59 > ${NS} 7\tnode\t-100 /cgi-bin/run`);
  conv.line(`5000000007 ${CHILD} ${CHILD} 0 59 < ${NS} 7\trun\t0`);
  conv.line(`5000000008 ${CHILD} ${CHILD} 0 -3 > ${NS} 7\trun\t${CHILD + 1} 0 0`);
  conv.line(`5000000009 ${CHILD + 1} ${CHILD + 1} 0 56 < ${NS} 7\trun\t0`);
  // A nanosecond count of fewer than 10 digits still reads as seconds + nanoseconds.
  conv.line(`5 ${me} ${me} 0 0 > ${NS} 7\tnode\t`);
  assert.deepEqual(out, [
    `1700000005000000004 0 ${me} node ${me} clone < res=${CHILD} exe=${exe}`,
    `1700000005000000005 0 ${CHILD} node ${CHILD} clone < res=0 exe=${exe}`,
    `1700000005000000006 0 ${CHILD} node ${CHILD} execve > filename=/cgi-bin/run`,
    `1700000005000000007 0 ${CHILD} run ${CHILD} execve < res=0 exe=/cgi-bin/run args=`,
    `1700000005000000009 0 ${CHILD + 1} run ${CHILD + 1} clone < res=0`,
    `1700000005000000009 0 ${me} node ${me} read > `,
  ]);
  for (const bad of [
    `5000000010 ${me} ${me} 0 0 >> ${NS} 7\tnode\t`,
    `5000000010 ${me} ${me} 0 0 > ${NS} 7 9\tnode\t`,
    `5000000010 ${me} ${me} 0 > ${NS} 7\tnode\t`,
    `5000000010 ${me} ${me} 0 0 ? ${NS} 7\tnode\t`,
  ]) assert.equal(conv.line(bad), false, bad);
  assert.equal(conv.line(`50x0000010 ${me} ${me} 0 0 > ${NS} 7\tnode\t`), true);
  assert.equal(conv.stats.unparsed, 1);
  assert.equal(out.length, 6);
});

test('LineSplitter keeps partial lines; BatchBuilder groups by container', () => {
  const s = new LineSplitter();
  const got: string[] = [];
  s.push('a\nb', (l) => got.push(l));
  s.push('c\n\nd', (l) => got.push(l));
  s.end((l) => got.push(l));
  assert.deepEqual(got, ['a', 'bc', '', 'd']);
  const b = new BatchBuilder();
  b.add(HOST, 'x');
  b.add(OTHER, 'y');
  b.add(HOST, 'z');
  const seen: [string, string, number][] = [];
  const sink = { data: (c, d, n) => (seen.push([c.id, d.toString(), n]), true) } as SourceSink;
  b.flush(sink);
  assert.deepEqual(seen, [
    ['host', 'x\nz\n', 2],
    ['abababababab', 'y\n', 1],
  ]);
});

test('BoundedQueue: drop policy counts what it drops; block policy makes the producer wait', async () => {
  const q = new BoundedQueue(10, 'drop');
  assert.equal(q.push({ container: HOST, data: Buffer.alloc(8), lines: 2 }), true);
  assert.equal(q.push({ container: HOST, data: Buffer.alloc(8), lines: 3 }), false);
  assert.equal(q.droppedEvents, 3);
  assert.equal(q.shift()?.lines, 2);
  assert.equal(q.length, 0);
  const b = new BoundedQueue(10, 'block');
  b.push({ container: HOST, data: Buffer.alloc(12), lines: 0 });
  assert.equal(b.full, true);
  let released = false;
  const w = b.whenSpace().then(() => (released = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(released, false);
  b.shift();
  await w;
  assert.equal(released, true);
});

test('lineTime reads LID-DS and sysdig timestamps', () => {
  assert.deepEqual(lineTime('1631078867467766934 33 1 a 1 open >', 'lidds'), { sec: 1631078867, nsec: 467766934 });
  assert.deepEqual(lineTime('12 05:27:47.467766934 0 apache2 (1) > open', 'sysdig'), { sec: 5 * 3600 + 27 * 60 + 47, nsec: 467766934 });
  assert.equal(lineTime('garbage', 'lidds'), null);
});

test('LiddsRecorder writes a LID-DS zip that chids reads back, labels included', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-rec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'sub', 'normal_1.zip');
  const rec = new LiddsRecorder(out);
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(`${1700000000000000000n + BigInt(i) * 1_000_000n} 0 7 cat 7 ${i % 2 ? 'read' : 'openat'} ${i % 2 ? '<' : '>'} `);
  rec.write(Buffer.from(lines.slice(0, 1000).join('\n') + '\n'));
  rec.write(Buffer.from(lines.slice(1000).join('\n') + '\n'));
  rec.finish({
    container: [{ name: 'host', role: 'victim' }],
    exploit: false,
    image: 'test',
    recording_time: 3,
    time: {
      container_ready: { absolute: 1700000000, relative: 0, source: 'CHIDS' },
      exploit: [],
      warmup_end: { absolute: 1700000000, relative: 0, source: 'CHIDS' },
    },
  });
  const src = await openSource(out);
  assert.equal(src.name, 'normal_1');
  const labels = await src.labels();
  assert.equal(labels?.exploit, false);
  assert.equal(labels?.exploitStartSec, null);
  const windows: number[] = [];
  const sum = await encodeTrace(src, makeVocabulary(['read', 'openat'], [], 1000), { faithful: false, windowNs: 1e9 }, (w) => windows.push(w.events));
  assert.equal(sum.events, 3000);
  assert.deepEqual(windows, [1000, 1000, 1000]);
  assert.throws(() => new LiddsRecorder(path.join(dir, 'x.sc')), /is a \.zip/);
  assert.equal(STDIN_CONTAINER.id, 'stdin');
});

test('LineSplitter drops a line longer than its bound whole, counts it, and reads on', () => {
  const s = new LineSplitter(1000);
  const got: string[] = [];
  s.push('first\n' + 'x'.repeat(600), (l) => got.push(l));
  for (let i = 0; i < 50; i++) s.push('y'.repeat(100), (l) => got.push(l));
  s.push('z\nlast', (l) => got.push(l));
  s.end((l) => got.push(l));
  assert.deepEqual(got, ['first', 'last']);
  assert.equal(s.overlong, 1);
});

test("ebpf: an exec's arguments come on lines of their own and leave on its exit as chids' strace converter writes them", () => {
  const probes = [{ name: 'execve', nr: 59, tp: 'execve', field: 'filename', argv: true }];
  const script = buildScript({ scope: { kind: 'pidns', inum: 4026532000 }, btf: true, pathProbes: probes });
  // One printf per argument (several 200-byte strings in one exceed BPF's stack), up to the first NULL.
  assert.match(script, /sys_enter_execve [^\n]*\$v = args->argv; \$a1 = \*\(\$v \+ 1\); if \(\$a1 == 0\) \{ return; \} printf\([^\n]*, -4, [^\n]*, 1, str\(\$a1\)\);/);
  assert.match(script, new RegExp(`\\$a${ARGV_MAX} = `));
  assert.doesNotMatch(script, new RegExp(`\\$a${ARGV_MAX + 1} = `));
  assert.doesNotMatch(buildScript({ scope: { kind: 'pidns', inum: 4026532000 }, btf: true, pathProbes: [{ ...probes[0], argv: false }] }), /argv/);

  const out: string[] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, 4026531836, HOST, (_c, l) => out.push(l), false);
  const NS = 4026531836;
  conv.line(`5000000001 9 9 0 59 > ${NS} 1\tsh\t-100 /bin/sh`);
  conv.line(`5000000001 9 9 0 -4 > ${NS} 1\tsh\t1 -c`);
  // An argument holding a newline continues on the next line; a tab and spaces stay in it.
  conv.line(`5000000001 9 9 0 -4 > ${NS} 1\tsh\t2 echo a\tb`);
  assert.equal(conv.line('cat /etc/passwd'), true, 'the continuation is taken, not reported as bpftrace output');
  assert.equal(conv.line('id'), true, 'and the one after it (a script of several lines)');
  assert.equal(conv.line(' '.repeat(40)), false, "a blank line (the program's flush) is no part of it");
  assert.equal(conv.line('Attaching 3 probes...'), false, 'nor what follows that');
  conv.line(`5000000002 9 9 0 59 < ${NS} 1\tsh\t0`);
  // A failed exec with no arguments: args= empty, as strace's converter writes it.
  conv.line(`5000000003 10 10 0 59 > ${NS} 1\tsh\t-100 /nope`);
  conv.line(`5000000004 10 10 0 59 < ${NS} 1\tsh\t-2`);
  // An argument line out of sequence (a lost line) is not taken as the next one.
  conv.line(`5000000005 11 11 0 59 > ${NS} 1\tsh\t-100 /bin/ls`);
  conv.line(`5000000005 11 11 0 -4 > ${NS} 1\tsh\t2 /tmp`);
  conv.line(`5000000006 11 11 0 59 < ${NS} 1\tls\t0`);
  const exits = out.filter((l) => / execve < /.test(l));
  assert.equal(exits.length, 3);
  const b64 = (l: string) => /args=(\S*)/.exec(l)![1];
  assert.equal(Buffer.from(b64(exits[0]), 'base64').toString(), '-c\0echo a\tb\ncat /etc/passwd\nid\0');
  assert.match(commandShape(b64(exits[0]), '/bin/sh'), /^-c echo/);
  assert.match(exits[1], / res=-2 args=$/);
  assert.match(exits[2], / args=$/);
  assert.equal(out.filter((l) => / -4 | argv/.test(l)).length, 0, 'argument lines are not events');
});

test('isAlive: a running process is, an exited one is not, nor a zombie (exited, not yet reaped)', async () => {
  const { spawn } = await import('node:child_process');
  assert.equal(isAlive(process.pid), true);
  // sh starts `sleep 0` in the background and execs `sleep 3`, which never reaps it: a zombie.
  const sh = spawn('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number((await new Promise<string>((r) => sh.stdout.once('data', (d) => r(String(d))))).trim());
    for (let i = 0; i < 100 && !readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, 'the background sleep is a zombie');
    assert.equal(isAlive(zombie), false);
    assert.equal(isAlive(sh.pid!), true);
  } finally {
    sh.kill('SIGKILL');
  }
  await new Promise((r) => sh.once('close', r));
  assert.equal(isAlive(sh.pid!), false);
});
