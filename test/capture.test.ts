/**
 * The live sources' pure parts (src/capture/): strace → LID-DS conversion, bpftrace program and
 * line conversion, container attribution, the bounded queue, line splitting, and the LID-DS
 * recorder read back by chids' own reader. No strace, bpftrace or root needed here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { containerFrom, pickCgroupPath, pidNamespaceOf, STDIN_CONTAINER } from '../src/capture/containers.js';
import { buildScript, EbpfConverter } from '../src/capture/ebpf.js';
import { ProcessTable, type ProcInfo } from '../src/capture/procs.js';
import { BoundedQueue } from '../src/capture/queue.js';
import { LiddsRecorder } from '../src/capture/recorder.js';
import { BatchBuilder, LineSplitter, type SourceSink } from '../src/capture/source.js';
import { lineTime } from '../src/capture/stdin-source.js';
import { cString, splitArgs, StraceConverter } from '../src/capture/strace.js';
import { encodeTrace } from '../src/encode/pipeline.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';
import { openSource } from '../src/events/sources.js';

const HOST = containerFrom(4026531836, null, 4026531836);
const OTHER = containerFrom(4026532999, '/docker/' + 'ab'.repeat(32), 4026531836);

function table(): ProcessTable {
  const t = new ProcessTable({ ownPidns: 4026531836, fallback: HOST, procfs: false });
  t.set({ tid: 100, tgid: 100, comm: 'sh', exe: '/usr/bin/sh', uid: 0, container: HOST });
  return t;
}

function convert(lines: string[], procs = table()): { out: string[]; who: ProcInfo[]; conv: StraceConverter } {
  const out: string[] = [];
  const who: ProcInfo[] = [];
  const conv = new StraceConverter(procs, (p, l) => {
    out.push(l);
    who.push(p);
  });
  for (const l of lines) conv.line(l);
  return { out, who, conv };
}

test('strace: a complete call becomes an enter and an exit event, stamped start and start + duration', () => {
  const { out } = convert(['100 1700000000.000010 openat(AT_FDCWD</tmp>, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3</etc/passwd> <0.000005>']);
  assert.deepEqual(out, [
    '1700000000000010000 0 100 sh 100 openat > ',
    '1700000000000015000 0 100 sh 100 openat < fd=3(<f>/etc/passwd) name=/etc/passwd flags=O_RDONLY|O_CLOEXEC',
  ]);
});

test('strace: argument families get sysdig parameter names; other calls res= and fd=', () => {
  const { out } = convert([
    '100 1700000000.000100 newfstatat(AT_FDCWD</tmp>, "/usr/bin/ls", {st_mode=S_IFREG|0755, st_size=151344, ...}, 0) = 0 <0.000001>',
    '100 1700000000.000200 stat("/nope", 0x7ffd) = -1 ENOENT (No such file or directory) <0.000001>',
    '100 1700000000.000300 read(3</etc/passwd>, "root:x:0:0"..., 4096) = 10 <0.000001>',
    '100 1700000000.000400 open("/dev/null<char 1:3>", O_RDONLY) = -1 EACCES (Permission denied) <0.000001>',
    '100 1700000000.000500 getpid() = 100 <0.000001>',
  ]);
  assert.equal(out[1], '1700000000000101000 0 100 sh 100 newfstatat < res=0 path=/usr/bin/ls');
  assert.equal(out[3], '1700000000000201000 0 100 sh 100 stat < res=-1(ENOENT) path=/nope');
  assert.equal(out[4], '1700000000000300000 0 100 sh 100 read > fd=3(<f>/etc/passwd)');
  assert.equal(out[5], '1700000000000301000 0 100 sh 100 read < res=10');
  assert.equal(out[7], '1700000000000401000 0 100 sh 100 open < fd=-1(EACCES) name=/dev/null<char 1:3> flags=O_RDONLY');
  assert.equal(out[9], '1700000000000501000 0 100 sh 100 getpid < res=100');
});

test('strace: unfinished and resumed calls, vfork children, execve and exits', () => {
  const procs = table();
  const { out, who, conv } = convert(
    [
      '100 1700000000.000010 vfork( <unfinished ...>',
      '101 1700000000.000020 execve("/usr/bin/cat", ["cat", "/etc/shadow"], 0x55 /* 3 vars */ <unfinished ...>',
      '100 1700000000.000030 <... vfork resumed>) = 101 <0.000020>',
      '101 1700000000.000040 <... execve resumed>) = 0 <0.000020>',
      '101 1700000000.000050 --- SIGCHLD {si_signo=SIGCHLD} ---',
      '101 1700000000.000060 exit_group(0) = ?',
      '101 1700000000.000070 +++ exited with 0 +++',
      'strace: Process 5 detached',
    ],
    procs,
  );
  assert.deepEqual(out, [
    '1700000000000010000 0 100 sh 100 vfork > ',
    '1700000000000020000 0 101 sh 101 execve > filename=/usr/bin/cat',
    '1700000000000030000 0 100 sh 100 vfork < res=101 exe=/usr/bin/sh',
    '1700000000000040000 0 101 cat 101 execve < res=0 exe=/usr/bin/cat',
    '1700000000000060000 0 101 cat 101 exit_group > ',
  ]);
  assert.equal(who[1].container, HOST, 'a child seen before the clone returns inherits from the cloning thread');
  assert.equal(conv.stats.notices, 2);
  assert.equal(conv.stats.unparsed, 1);
  assert.equal(procs.size, 1, 'the exited thread is forgotten');
});

test('strace: clone with CLONE_THREAD joins the parent process; timestamps never go back', () => {
  const procs = table();
  const { out } = convert(
    [
      '100 1700000000.000100 clone3({flags=CLONE_VM|CLONE_THREAD|CLONE_SIGHAND, exit_signal=0}, 88) = 102 <0.000050>',
      '102 1700000000.000120 futex(0x7f, FUTEX_WAIT, 0, NULL) = 0 <0.000001>',
      '[pid 102] 1700000000.000130 gettid() = 102 <0.000001>',
    ],
    procs,
  );
  assert.equal(out[1], '1700000000000150000 0 100 sh 100 clone3 < res=102 exe=/usr/bin/sh flags=CLONE_VM|CLONE_THREAD|CLONE_SIGHAND');
  assert.equal(out[2], '1700000000000150000 0 100 sh 102 futex > ', 'the thread is in process 100; its start is clamped to the previous exit');
  assert.match(out[4], /^1700000000000150000 0 100 sh 102 gettid > $/);
});

test('strace: lines without a pid prefix use the default thread; garbage is counted, not fatal', () => {
  const procs = table();
  const out: string[] = [];
  const conv = new StraceConverter(procs, (_p, l) => out.push(l), 100);
  conv.line('1700000000.000001 getuid() = 0 <0.000001>');
  conv.line('');
  conv.line('not strace at all');
  conv.line('100 1700000000.000002 weird(');
  assert.equal(out.length, 2);
  assert.equal(conv.stats.unparsed, 3);
});

test('strace argument helpers: splitArgs nests quotes, brackets and -yy annotations; cString decodes escapes', () => {
  const { args, end } = splitArgs('3<TCP:[1.2.3.4:5->6.7.8.9:10]>, "a,b\\"c", [{fd=4</x,y>, events=POLLIN}], 2) = 1', 0);
  assert.deepEqual(args, ['3<TCP:[1.2.3.4:5->6.7.8.9:10]>', '"a,b\\"c"', '[{fd=4</x,y>, events=POLLIN}]', '2']);
  assert.ok(end > 0);
  assert.equal(cString('"/tmp/caf\\303\\251\\n"'), '/tmp/café\n');
  assert.equal(cString('"abc"...'), 'abc');
  assert.equal(cString('0x7ffd'), null);
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
  const probes = [{ name: 'openat', nr: 257, tp: 'openat', field: 'filename' }];
  const ns = buildScript({ scope: { kind: 'pidns', inum: 4026532000 }, btf: true, pathProbes: probes });
  assert.match(ns, /tracepoint:raw_syscalls:sys_enter \/curtask->nsproxy->pid_ns_for_children->ns\.inum == 4026532000 && args->id != 257\//);
  assert.match(ns, /tracepoint:syscalls:sys_enter_openat .*str\(args->filename\)/);
  assert.doesNotMatch(ns, /@t\[/);
  const tree = buildScript({ scope: { kind: 'tree', tids: [10, 11] }, btf: false, pathProbes: [] });
  assert.match(tree, /BEGIN \{ @t\[10\] = 1; @t\[11\] = 1; \}/);
  assert.match(tree, /sched_process_fork \/@t\[args->parent_pid\]\//);
  assert.match(tree, /END \{ clear\(@t\); \}/);
});

test('ebpf: bpftrace lines become LID-DS lines in epoch time, per container', () => {
  const out: [string, string][] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 999_999_000 }, 4026531836, HOST, (c, l) => out.push([c.id, l]), false);
  assert.equal(conv.line('5000000002 7 7 0 257 > 4026532999 42\tcat\t/etc/shadow'), true);
  assert.equal(conv.line('5000000003 7 7 0 257 < 4026532999 42\tcat\t3'), true);
  assert.equal(conv.line('5000000004 7 7 0 0 < 4026531836 1\tmy proc\t-11'), true);
  assert.equal(conv.line('Attaching 24 probes...'), false);
  assert.deepEqual(out, [
    ['pidns-4026532999', '1700000005999999002 0 7 cat 7 openat > '],
    ['pidns-4026532999', '1700000005999999003 0 7 cat 7 openat < fd=3 name=/etc/shadow'],
    ['host', '1700000005999999004 0 7 my_proc 7 read < res=-11'],
  ]);
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
