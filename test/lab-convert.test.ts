/**
 * The strace → LID-DS converter (src/trace/strace/to-lidds.ts): hand-written cases from real
 * strace 6.1 output, property tests with fast-check (random and truncated lines never crash it
 * and always give well-formed, time-ordered `.sc` lines), a round trip through chids' own
 * LID-DS reader, and the zip writer (src/trace/lidds/recording-zip.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { StraceToLidds, parseCall } from '../src/trace/strace/to-lidds.js';
import { decodeCString, fdValue, sockaddrValue, splitArgs, stringArray, tokenSafe } from '../src/trace/strace/args.js';
import { writeRecordingZip } from '../src/trace/lidds/recording-zip.js';
import { collectTrace } from '../src/encode/pipeline.js';
import { openSource } from '../src/trace/sources/readers.js';
import { bufferSource } from './helpers/file-source.js';

/** strace -f -yy --absolute-timestamps=format:unix,precision:ns --syscall-times=ns output (strace 6.1, shortened). */
const SAMPLE = `13924 1795747227.228896521 execve("/usr/bin/sh", ["sh", "-c", "cat /etc/hostname; ls"], 0x7ffd290e20a0 /* 39 vars */) = 0 <0.000353968>
13924 1795747227.229383147 brk(NULL)    = 0x55a5ce09c000 <0.000025408>
13924 1795747227.229708293 access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory) <0.000026670>
13924 1795747227.229791427 openat(AT_FDCWD</tmp>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache> <0.000029534>
13924 1795747227.229927330 newfstatat(3</etc/ld.so.cache>, "", {st_mode=S_IFREG|0644, st_size=41087, ...}, AT_EMPTY_PATH) = 0 <0.000025528>
13924 1795747227.230074810 close(3</etc/ld.so.cache>) = 0 <0.000025268>
13924 1795747227.236895568 newfstatat(AT_FDCWD</tmp>, "/tmp", {st_mode=S_IFDIR|S_ISVTX|0777, st_size=4096, ...}, 0) = 0 <0.000030506>
13924 1795747227.241723863 vfork( <unfinished ...>
13925 1795747227.241847382 rt_sigprocmask(SIG_SETMASK, [], ~[KILL STOP RTMIN RT_1], 8) = 0 <0.000008613>
13925 1795747227.241889816 execve("/usr/bin/cat", ["cat", "/etc/hostname"], 0x55a5ce09cdd8 /* 39 vars */ <unfinished ...>
13924 1795747227.242052048 <... vfork resumed>) = 13925 <0.000321615>
13924 1795747227.242112443 wait4(-1,  <unfinished ...>
13925 1795747227.244673239 <... execve resumed>) = 0 <0.002769733>
13925 1795747227.245020848 openat(AT_FDCWD</tmp>, "/etc/hostname", O_RDONLY) = 3</etc/hostname> <0.000010000>
13925 1795747227.245100000 read(3</etc/hostname>, "vm\\n", 131072) = 3 <0.000005000>
13925 1795747227.245200000 write(1</dev/pts/0>, "vm\\n", 3) = 3 <0.000005000>
13925 1795747227.253730866 +++ exited with 0 +++
13924 1795747227.253776424 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 13925 <0.011658162>
13924 1795747227.253818106 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=13925, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
13924 1795747227.296883330 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7efc7c7eea10) = 13927 <0.000185466>
13927 1795747227.297089238 set_robust_list(0x7efc7c7eea20, 24 <unfinished ...>
13924 1795747227.297118041 wait4(-1,  <unfinished ...>
13927 1795747227.297130990 <... set_robust_list resumed>) = 0 <0.000034922>
13927 1795747227.299974233 openat(AT_FDCWD</tmp>, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0666 <unfinished ...>
13927 1795747227.300257395 <... openat resumed>) = 3</tmp/x> <0.000254620>
13927 1795747227.300303404 setuid(33) = 0 <0.000010000>
13927 1795747227.300403404 getpid() = 13927 <0.000010000>
13927 1795747227.305346636 +++ exited with 0 +++
13924 1795747227.405387617 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 13927 <0.108263748>
13924 1795747227.405766743 +++ exited with 0 +++`;

const SC_LINE = /^\d{19,21} \d+ \d+ \S+ \d+ [A-Za-z_][A-Za-z0-9_]* [<>] (\S+ )*$/;

function convert(text: string, opts = {}) {
  const c = new StraceToLidds({ rootProc: 'strace', ...opts });
  const out = c.convertText(text);
  return { out, c };
}

function fields(line: string) {
  const t = line.split(' ');
  return { ts: t[0], uid: t[1], pid: t[2], proc: t[3], tid: t[4], name: t[5], dir: t[6], params: t.slice(7).filter(Boolean) };
}

function find(out: string[], pred: (f: ReturnType<typeof fields>) => boolean) {
  return out.map(fields).filter(pred);
}

test('a complete call becomes an enter at its time and an exit at time + duration', () => {
  const { out } = convert(SAMPLE);
  const brk = find(out, (f) => f.name === 'brk');
  assert.equal(brk.length, 2);
  assert.equal(brk[0].dir, '>');
  assert.equal(brk[0].ts, '1795747227229383147');
  assert.deepEqual(brk[0].params, ['addr=NULL']);
  assert.equal(brk[1].dir, '<');
  assert.equal(brk[1].ts, String(1795747227229383147n + 25408n));
  assert.deepEqual(brk[1].params, ['res=55A5CE09C000']);
  for (const l of out) assert.match(l, SC_LINE);
});

test('open family: fd with its path, name= and flags on the exit, nothing on the enter', () => {
  const { out } = convert(SAMPLE);
  const opens = find(out, (f) => f.name === 'openat' && f.tid === '13924');
  assert.deepEqual(opens[0].params, []);
  assert.deepEqual(opens[1].params, ['fd=3(<f>/etc/ld.so.cache)', 'name=/etc/ld.so.cache', 'flags=O_RDONLY|O_CLOEXEC', 'mode=0', 'dirfd=-100(<f>/tmp)']);
  // unfinished + resumed: the exit has the arguments of both halves, at the resumed time
  const x = find(out, (f) => f.name === 'openat' && f.tid === '13927');
  assert.equal(x[0].ts, '1795747227299974233');
  assert.equal(x[1].ts, '1795747227300257395');
  assert.deepEqual(x[1].params.slice(0, 4), ['fd=3(<f>/tmp/x)', 'name=/tmp/x', 'flags=O_WRONLY|O_CREAT|O_TRUNC', 'mode=0666']);
});

test('stat family: res and path= on the exit; an AT_EMPTY_PATH fstat names its file', () => {
  const { out } = convert(SAMPLE);
  const st = find(out, (f) => f.name === 'newfstatat' && f.dir === '<');
  assert.deepEqual(st[0].params, ['res=0', 'path=/etc/ld.so.cache']);
  assert.deepEqual(st[1].params, ['res=0', 'path=/tmp']);
});

test('execve: filename= on the enter, exe/args on the exit, and the process takes the new name', () => {
  const { out } = convert(SAMPLE);
  const ex = find(out, (f) => f.name === 'execve' && f.tid === '13925');
  assert.equal(ex[0].proc, 'sh');
  assert.deepEqual(ex[0].params, ['filename=/usr/bin/cat']);
  assert.equal(ex[1].proc, 'cat');
  assert.equal(ex[1].params[0], 'res=0');
  assert.equal(ex[1].params[1], 'exe=cat');
  assert.equal(Buffer.from(ex[1].params[2].slice('args='.length), 'base64').toString(), '/etc/hostname\0');
  const first = fields(out[0]);
  assert.equal(first.proc, 'strace'); // the root before its first exec
  assert.equal(fields(out[1]).proc, 'sh');
  // later events of the child carry its new name
  assert.ok(find(out, (f) => f.tid === '13925' && f.name === 'read').every((f) => f.proc === 'cat'));
});

test('clone family: the child appears with its parent name and pid, and a clone exit of its own', () => {
  const { out } = convert(SAMPLE);
  // vfork: the child ran before the parent's vfork returned
  const vf = find(out, (f) => f.name === 'vfork' && f.dir === '<');
  assert.equal(vf.length, 2);
  assert.equal(vf[0].tid, '13925');
  assert.equal(vf[0].params[0], 'res=0');
  assert.equal(vf[1].tid, '13924');
  assert.equal(vf[1].params[0], 'res=13925');
  assert.equal(vf[1].params[1], 'exe=/usr/bin/sh');
  // clone: returned before the child ran; the child's clone exit is written with it
  const cl = find(out, (f) => f.name === 'clone' && f.dir === '<');
  assert.deepEqual(
    cl.map((f) => [f.tid, f.pid, f.params[0]]),
    [
      ['13924', '13924', 'res=13927'],
      ['13927', '13927', 'res=0'],
    ],
  );
  assert.ok(cl[0].params.includes('flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD'));
});

test('threads (CLONE_THREAD) keep the pid of their process', () => {
  const text = `100 1700000000.000000100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f, parent_tid=0x7f, exit_signal=0, stack=0x7f, stack_size=0x7fff00, tls=0x7f} => {parent_tid=[101]}, 88) = 101 <0.000050000>
101 1700000000.000000300 futex(0x7f, FUTEX_WAIT_PRIVATE, 0, NULL) = 0 <0.000010000>
100 1700000000.000000400 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x7f, exit_signal=0, stack=0x7f, stack_size=0x7fff00, tls=0x7f} <unfinished ...>
102 1700000000.000000500 gettid() = 102 <0.000001000>
100 1700000000.000000600 <... clone3 resumed> => {parent_tid=[102]}, 88) = 102 <0.000000200>`;
  const { out } = convert(text);
  for (const f of out.map(fields).filter((x) => x.tid !== '100')) assert.equal(f.pid, '100', out.join('\n'));
});

// Two processes inside clone at once (a server spawning while a script forks): the child that
// shows up first is the earlier clone's. Named after the latest cloner, it ran as `sh` for its
// first calls, a program only this replica showed.
const TWO_CLONES = `100 1700000000.000000100 execve("/usr/bin/node", ["node"], 0x7f /* 0 vars */) = 0 <0.000000010>
200 1700000000.000000200 execve("/bin/sh", ["sh", "status.cgi"], 0x7f /* 0 vars */) = 0 <0.000000010>
100 1700000000.000001000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f <unfinished ...>
200 1700000000.000001100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f <unfinished ...>
101 1700000000.000001200 execve("/usr/bin/sqlite3", ["sqlite3"], 0x7f /* 0 vars */ <unfinished ...>
201 1700000000.000001300 getpid() = 201 <0.000000010>`;

test('a child that shows up while two threads are in clone waits for the clone that returns it', () => {
  const { out, c } = convert(`${TWO_CLONES}
100 1700000000.000001400 <... clone resumed>) = 101 <0.000000400>
200 1700000000.000001500 <... clone resumed>) = 201 <0.000000400>
101 1700000000.000001600 <... execve resumed>) = 0 <0.000000400>`);
  const child = find(out, (f) => f.tid === '101');
  assert.deepEqual(
    child.map((f) => [f.name, f.dir, f.proc]),
    [
      ['clone', '<', 'node'],
      ['execve', '>', 'node'],
      ['execve', '<', 'sqlite3'],
    ],
    out.join('\n'),
  );
  assert.ok(child[0].params.includes('ptid=100(node)'), child[0].params.join(' '));
  const other = find(out, (f) => f.tid === '201');
  assert.deepEqual(
    other.map((f) => [f.name, f.dir, f.proc]),
    [
      ['clone', '<', 'sh'],
      ['getpid', '>', 'sh'],
      ['getpid', '<', 'sh'],
    ],
  );
  assert.ok(other[0].params.includes('ptid=200(sh)'), other[0].params.join(' '));
  assert.ok(!out.some((l) => fields(l).proc === 'sh' && fields(l).tid !== '200' && fields(l).tid !== '201'), 'no other thread named sh');
  assert.equal(c.stats.heldChildren, 2);
  assert.equal(c.stats.guessedParents, 0);
  // Written in time order still: held lines come at the time of the line that released them.
  const ts = out.map((l) => BigInt(fields(l).ts));
  assert.ok(ts.every((t, i) => i === 0 || t >= ts[i - 1]));
});

test('a child whose parent\'s clone never returns is written at the end, the latest clone taken as its parent', () => {
  const { out, c } = convert(TWO_CLONES);
  // Both children: 101 waited to the end with two possible parents (guessed: the latest clone,
  // 200), then 201 had only 100 left.
  assert.deepEqual(
    find(out, (f) => f.tid === '101').map((f) => [f.name, f.dir, f.proc]),
    [
      ['clone', '<', 'sh'],
      ['execve', '>', 'sh'],
    ],
  );
  assert.equal(find(out, (f) => f.tid === '201').length, 3);
  assert.equal(c.stats.heldChildren, 2);
  assert.equal(c.stats.guessedParents, 1);
});

test('a held child is released after HOLD_NS of trace time without its parent\'s return', () => {
  const c = new StraceToLidds({ rootProc: 'strace' });
  const out: string[] = [];
  for (const l of TWO_CLONES.split('\n')) c.push(l, out);
  assert.equal(out.filter((l) => fields(l).tid === '101').length, 0, 'held');
  // 0.1 s later: still within the bound.
  c.push('100 1700000000.100001000 getppid() = 1 <0.000000010>', out);
  assert.equal(out.filter((l) => fields(l).tid === '101').length, 0, 'still held');
  c.push('100 1700000000.300001000 getppid() = 1 <0.000000010>', out);
  assert.equal(out.filter((l) => fields(l).tid === '101').length, 2, out.join('\n'));
  assert.equal(c.stats.guessedParents, 1);
});

test('procexit for exits and kills; signals are dropped', () => {
  const { out, c } = convert(`${SAMPLE}\n13990 1795747228.000000000 +++ killed by SIGKILL +++`);
  const ex = find(out, (f) => f.name === 'procexit');
  assert.deepEqual(
    ex.map((f) => [f.tid, f.dir, f.params[0]]),
    [
      ['13925', '>', 'status=0'],
      ['13927', '>', 'status=0'],
      ['13924', '>', 'status=0'],
      ['13990', '>', 'status=9(SIGKILL)'],
    ],
  );
  assert.equal(c.stats.signals, 1);
  assert.ok(!out.some((l) => l.includes('si_signo')));
});

test('uid follows setuid; errors read res=-N(ENAME)', () => {
  const { out } = convert(SAMPLE);
  const su = find(out, (f) => f.name === 'setuid');
  assert.equal(su[0].uid, '0');
  assert.equal(su[1].uid, '33');
  assert.equal(find(out, (f) => f.name === 'getpid')[0].uid, '33');
  const acc = find(out, (f) => f.name === 'access' && f.dir === '<');
  assert.deepEqual(acc[0].params, ['res=-2(ENOENT)', 'name=/etc/ld.so.preload', 'mode=R_OK']);
});

test('µs timestamps (-ttt -T) and lines without a pid', () => {
  const { out } = convert('1700000000.123456 getpid() = 7 <0.000010>');
  assert.deepEqual(
    out.map((l) => fields(l).ts),
    ['1700000000123456000', '1700000000123466000'],
  );
  assert.match(out[0], SC_LINE);
});

test('only events inside [fromNs, toNs) are written; state is followed before it', () => {
  const { out, c } = convert(SAMPLE, { fromNs: 1795747227244000000n, toNs: 1795747227300000000n });
  assert.ok(out.length > 0);
  for (const l of out) {
    const ts = BigInt(fields(l).ts);
    assert.ok(ts >= 1795747227244000000n && ts < 1795747227300000000n);
  }
  assert.ok(c.stats.outside > 0);
  // the exec before the window still named the process
  assert.equal(find(out, (f) => f.tid === '13925' && f.name === 'read')[0].proc, 'cat');
});

test('output stays in time order (crossing clock readings are clamped)', () => {
  const text = `1 1700000000.000000500 getpid() = 1 <0.000001000>
2 1700000000.000000400 getpid() = 2 <0.000000100>`;
  const { out, c } = convert(text);
  const ts = out.map((l) => BigInt(fields(l).ts));
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i] >= ts[i - 1]);
  assert.equal(c.stats.clamped, 2);
});

test('comm is cut at 15 characters and whitespace never splits a field', () => {
  const { out } = convert(`5 1700000000.000000001 execve("/opt/a very long program name", ["x y"], 0x1 /* 0 vars */) = 0 <0.000001000>
5 1700000000.000000009 openat(AT_FDCWD</a b>, "/tmp/with space\\ttab", O_RDONLY) = 3</tmp/with space\\ttab> <0.000001000>`);
  for (const l of out) assert.match(l, SC_LINE);
  assert.equal(fields(out[1]).proc, 'a\\x20very\\x20long\\x20pro');
  assert.ok(out[3].includes('name=/tmp/with\\x20space\\x09tab'));
});

test('helpers: splitArgs, decodeCString, fdValue, stringArray, parseCall', () => {
  assert.deepEqual(splitArgs('a, "b,c)", {x=1, y=[2, 3]}, 3</p,a>th>) = 0').args, ['a', '"b,c)"', '{x=1, y=[2, 3]}', '3</p,a>th>']);
  assert.equal(splitArgs('unterminated("x').end, -1);
  assert.equal(decodeCString('"a\\nb\\x41\\101\\303\\251"...').toString('utf8'), 'a\nbAAé');
  assert.equal(fdValue('5<TCP:[127.0.0.1:8080->127.0.0.1:40000]>'), '5(<4t>127.0.0.1:8080->127.0.0.1:40000)');
  assert.equal(fdValue('7<UNIX-STREAM:[123->456]>'), '7(<u>)');
  assert.equal(fdValue('8<pipe:[99]>'), '8(<p>)');
  assert.equal(fdValue('9<anon_inode:[eventpoll]>'), '9(<l>)');
  assert.deepEqual(stringArray('["sh", "-c", "echo \\"hi\\""]').map((b) => b.toString()), ['sh', '-c', 'echo "hi"']);
  assert.equal(tokenSafe('a b\\c'), 'a\\x20b\\x5cc');
  assert.equal(fdValue('2</dev/null<char 1:3>>'), '2(<f>/dev/null)');
  assert.equal(fdValue('3<TCP:[368798]>'), '3(<4t>)');
  assert.equal(sockaddrValue('{sa_family=AF_INET, sin_port=htons(4444), sin_addr=inet_addr("127.0.0.1")}'), '127.0.0.1:4444');
  assert.equal(sockaddrValue('{sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}'), '::1:80');
  assert.equal(sockaddrValue('{sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}'), '/var/run/nscd/socket');
  assert.equal(sockaddrValue('{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}'), 'AF_NETLINK');
  const pc = parseCall('1, 2) = ? ERESTARTNOHAND (To be restarted if no handler) <0.5>');
  assert.equal(pc?.ret.text, '-514(ERESTARTNOHAND)');
  assert.equal(pc?.durNs, 500_000_000n);
  assert.equal(parseCall('0) = ?')?.ret.unknown, true);
  assert.equal(parseCall('no close paren'), null);
});

// ---- properties ------------------------------------------------------------------------------

const SAMPLE_LINES = SAMPLE.split('\n');

function checkWellFormed(out: string[]): void {
  let last = -1n;
  for (const l of out) {
    assert.match(l, SC_LINE, l);
    const ts = BigInt(l.slice(0, l.indexOf(' ')));
    assert.ok(ts >= last, 'time order');
    last = ts;
  }
}

test('property: random text never crashes the converter and yields well-formed lines', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 80 })), { maxLength: 30 }), (lines) => {
      const c = new StraceToLidds();
      const out: string[] = [];
      for (const l of lines) c.push(l, out);
      checkWellFormed(out);
    }),
    { numRuns: 300 },
  );
});

test('property: truncated and spliced strace lines never crash it; output stays well-formed and ordered', () => {
  const arb = fc.array(
    fc.tuple(fc.nat(SAMPLE_LINES.length - 1), fc.nat(400), fc.nat(400), fc.constantFrom('', 'x', ')', '"', '<', '>', '{', ' = ', ' <unfinished ...>', '\\')),
    { maxLength: 40 },
  );
  fc.assert(
    fc.property(arb, (ops) => {
      const c = new StraceToLidds();
      const out: string[] = [];
      for (const [i, cut, cut2, junk] of ops) {
        const line = SAMPLE_LINES[i];
        const a = Math.min(cut, line.length);
        const b = Math.min(a + cut2, line.length);
        c.push(line.slice(0, a) + junk + line.slice(b), out);
      }
      checkWellFormed(out);
    }),
    { numRuns: 400 },
  );
});

test('property: any prefix of the sample, line by line, is converted without errors', () => {
  fc.assert(
    fc.property(fc.nat(SAMPLE.length), (n) => {
      const c = new StraceToLidds();
      const out = c.convertText(SAMPLE.slice(0, n));
      checkWellFormed(out);
      assert.ok(c.stats.skipped <= 1, 'only the cut last line may be unreadable');
    }),
    { numRuns: 200 },
  );
});

// ---- round trip through chids' reader ------------------------------------------------------------

test("the converted trace reads with chids' LID-DS reader, with the arguments found by name", async () => {
  const { out } = convert(SAMPLE);
  const sc = out.join('\n') + '\n';
  const v = await collectTrace(bufferSource('x.sc', sc, 'lidds', 97), { faithful: false, windowNs: 1e9 });
  assert.equal(v.summary.events, out.length);
  assert.equal(v.summary.malformed, 0);
  for (const s of ['execve', 'openat', 'newfstatat', 'vfork', 'clone', 'procexit']) assert.ok(v.seenSyscalls.has(s), s);
  // open/stat/execve/clone arguments (after process_path)
  for (const a of ['/etc/ld.so.cache', '/etc/hostname', '/tmp/x', '/usr/bin/cat', '/usr/bin/sh']) assert.ok(v.seenArgs.has(a), `${a} in ${[...v.seenArgs].join(', ')}`);
});

test('writeRecordingZip: NAME.zip with NAME.sc and NAME.json, readable by openSource, no temp file left', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-labzip-'));
  try {
    const trace = path.join(dir, 'strace.txt');
    await writeFile(trace, SAMPLE + '\n');
    const file = path.join(dir, 'brave_turing_1234.zip');
    const stats = await writeRecordingZip({
      traceFile: trace,
      outFile: file,
      converter: { rootProc: 'sh' },
      mtime: new Date(1795747227000),
      metadata: (st) => ({ exploit: true, exploit_name: 'x', recording_time: 1, time: { exploit: [{ absolute: 1795747227.25, name: 'x', relative: 0.02, source: 'CONTROL_SCRIPT' }], warmup_end: { absolute: 1795747227.2, relative: 0 } }, events: st.events }),
    });
    const src = await openSource(file);
    const labels = await src.labels();
    assert.equal(labels?.exploit, true);
    assert.equal(labels?.exploitStartSec, 1795747227.25);
    assert.equal((labels!.raw as { events: number }).events, stats.events);
    let text = '';
    for await (const c of src.chunks()) text += c.toString('utf8');
    assert.equal(text.trim().split('\n').length, stats.events);
    assert.deepEqual(await readdir(dir), ['brave_turing_1234.zip', 'strace.txt']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeRecordingZip: a failure leaves neither the archive nor its temp file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-labzip-'));
  try {
    await assert.rejects(
      writeRecordingZip({ traceFile: path.join(dir, 'missing.txt'), outFile: path.join(dir, 'a.zip'), converter: {}, mtime: new Date(), metadata: () => ({}) }),
    );
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
