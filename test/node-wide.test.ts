/**
 * Node-wide eBPF (`--all-containers`) and the container attribution behind it, without bpftrace:
 * the converter fed the lines the program prints (fork lines included), and the program built
 * for several `--pid` targets. (Only the converter's and the source's existing entry points are
 * used, so that D1, D3 and D4 read as behaviour: each fails on the code before the fix.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { pidNamespaceOf } from '../src/capture/containers.js';
import { buildScript, EbpfConverter, EbpfSource } from '../src/capture/ebpf.js';
import { EBPF, converter } from './helpers/ebpf.js';
import { jsonLogger } from '../src/util/log.js';

const { OWN, HOST, CNS, ID } = EBPF;
/** An emitted event's process, tid, call and direction. */
const head = (e: { line: string }) => e.line.split(' ').slice(3, 7).join(' ');

test('D3: runc\'s own exec/init steps are not the container\'s activity; the exec\'d command is, marked as entered', () => {
  const { conv, out } = converter();
  // httpd, the container's own process (in its cgroup, id 253 in the kernel).
  conv.line(`5000000001 100 100 0 0 > ${CNS} 253\thttpd\t`);
  conv.line(`5000000002 100 100 0 0 < ${CNS} 253\thttpd\t5`);
  // podman exec: runc:[1:CHILD] (outside the namespace) forks runc:[2:INIT] into it (cross = 1, not its init) …
  conv.line(`5000000003 200 200 0 -3 > ${CNS} 1\trunc:[1:CHILD]\t201 1 0`);
  // … whose Go start-up (and its threads' forks) is runc's, not the container's …
  conv.line(`5000000004 201 201 0 -3 > ${CNS} 253\trunc:[2:INIT]\t202 0 0`);
  for (let i = 0; i < 20; i++) conv.line(`50000001${String(i).padStart(2, '0')} 201 201 0 9 > ${CNS} 253\trunc:[2:INIT]\t`);
  conv.line(`5000000200 201 201 0 59 > ${CNS} 253\trunc:[2:INIT]\t-100 /bin/cat`);
  // … until it execs the command: from its execve's return on, the events are the container's.
  conv.line(`5000000201 201 201 0 59 < ${CNS} 253\tcat\t0`);
  conv.line(`5000000202 201 201 0 257 > ${CNS} 253\tcat\t-100 /www/index.html`);
  conv.line(`5000000203 201 201 0 257 < ${CNS} 253\tcat\t3`);
  assert.ok(out.every((e) => !e.line.includes('runc:')), out.map((e) => e.line).join('\n'));
  assert.ok(out.every((e) => !/syscall_-3|clone/.test(e.line)));
  assert.deepEqual(
    out.map((e) => [e.c.id, e.c.entered ?? false, head(e)]),
    [
      [ID.slice(0, 12), false, 'httpd 100 read >'],
      [ID.slice(0, 12), false, 'httpd 100 read <'],
      [ID.slice(0, 12), true, 'cat 201 execve <'],
      [ID.slice(0, 12), true, 'cat 201 openat >'],
      [ID.slice(0, 12), true, 'cat 201 openat <'],
    ],
  );
  assert.equal(new Set(out.map((e) => e.c.key)).size, 1, 'one container, one key');
  assert.equal(conv.stats.runtime, 21, 'runc:[2:INIT]\'s 20 reads and its execve call');
});

test('D4: a process that nsenter put into a container\'s namespaces, from a host cgroup, is that container\'s, marked entered', () => {
  const { conv, out } = converter();
  // nsenter (host pid namespace, root cgroup) has joined the container's pid namespace and forks sh.
  conv.line(`6000000001 300 300 0 -3 > ${CNS} 1\tnsenter\t301 1 0`);
  conv.line(`6000000002 301 301 0 59 > ${CNS} 1\tnsenter\t-100 /bin/sh`);
  conv.line(`6000000003 301 301 0 59 < ${CNS} 1\tsh\t0`);
  conv.line(`6000000004 301 301 0 -3 > ${CNS} 1\tsh\t302 0 0`);
  conv.line(`6000000005 302 302 0 257 > ${CNS} 1\tcat\t-100 /etc/shadow`);
  conv.line(`6000000006 302 302 0 257 < ${CNS} 1\tcat\t3`);
  assert.equal(out.length, 3);
  for (const e of out) {
    assert.equal(e.c.id, ID.slice(0, 12));
    assert.equal(e.c.containerId, ID);
    assert.equal(e.c.entered, true);
  }
  assert.match(out[1].line, /cat 302 openat > $/);
});

test('a container starting (its init forked into a new namespace) is not "entered"; its runc init steps are skipped', () => {
  const { conv, out } = converter();
  const ns = 4026532400;
  conv.line(`7000000001 400 400 0 -3 > ${ns} 1\trunc:[1:CHILD]\t401 1 1`);
  // (live, the container is found from the process's cgroup; here it is told, after the fork line
  // that made the namespace new and dropped whatever an earlier namespace of that inode was.)
  conv.knowNamespace(ns, 'ab'.repeat(32));
  conv.line(`7000000002 401 401 0 9 > ${ns} 1\trunc:[2:INIT]\t`);
  conv.line(`7000000003 401 401 0 59 < ${ns} 700\thttpd\t0`);
  conv.line(`7000000004 401 401 0 0 > ${ns} 700\thttpd\t`);
  assert.deepEqual(out.map((e) => [e.c.id, e.c.entered ?? false]), [
    ['abababababab', false],
    ['abababababab', false],
  ]);
});

test('a fork line printed late (another CPU\'s buffer): runc\'s init steps are still skipped, and its exec\'d program is not dropped', () => {
  const { conv, out } = converter();
  const ns = 4026532401;
  conv.knowNamespace(ns, 'cd'.repeat(32));
  // runc:[2:INIT]'s Go start-up (futex, …) and its exec arrive before the fork line that says the
  // process is the runtime's; they wait for it (failed on the code before: futex was the new
  // container's).
  conv.line(`7100000002 411 411 0 202 > ${ns} 1\trunc:[2:INIT]\t`);
  conv.line(`7100000003 411 411 0 202 < ${ns} 1\trunc:[2:INIT]\t0`);
  conv.line(`7100000004 411 411 0 59 > ${ns} 1\trunc:[2:INIT]\t-100 /bin/httpd`);
  conv.line(`7100000005 411 411 0 59 < ${ns} 700\thttpd\t0`);
  conv.line(`7100000006 411 411 0 0 > ${ns} 700\thttpd\t`);
  // The fork line, from before the exec, printed now: it must not make httpd the runtime's (failed
  // on the code before: httpd's later calls were dropped until it exec'd again).
  conv.line(`7100000001 410 410 0 -3 > ${ns} 1\trunc:[1:CHILD]\t411 1 1`);
  conv.line(`7100000007 411 411 0 0 < ${ns} 700\thttpd\t12`);
  assert.deepEqual(out.map(head), ['httpd 411 execve <', 'httpd 411 read >', 'httpd 411 read <']);
  assert.equal(conv.stats.runtime, 3, "runc:[2:INIT]'s futex call (enter, exit) and its execve call");
});

test('a container\'s own process named like runc\'s init is still watched: its lines wait for a fork line at most a second', () => {
  let now = 0;
  const { conv, out } = converter('all', null, () => now);
  // sh, forked inside the container long ago (its fork line said so, cross = 0), renames itself.
  conv.line(`7200000001 500 500 0 -3 > ${CNS} 253\tsh\t501 0 0`);
  conv.line(`7200000002 501 501 0 0 > ${CNS} 253\trunc:[2:INIT]\t`);
  conv.line(`7200000003 501 501 0 0 < ${CNS} 253\trunc:[2:INIT]\t4`);
  assert.equal(out.length, 0, 'waiting for a fork line');
  now = 999;
  conv.line(`7200000004 100 100 0 0 > ${CNS} 253\thttpd\t`);
  assert.deepEqual(out.map(head), ['httpd 100 read >']);
  now = 1000;
  conv.line(`7200000005 100 100 0 0 < ${CNS} 253\thttpd\t1`);
  assert.deepEqual(
    out.map(head),
    ['httpd 100 read >', 'runc:[2:INIT] 501 read >', 'runc:[2:INIT] 501 read <', 'httpd 100 read <'],
    'after a second they are the container\'s (their times raised to keep the stream in order)',
  );
  // A fork line from inside (cross = 0) settles it at once; the end of the stream too.
  conv.line(`7200000006 502 502 0 0 > ${CNS} 253\trunc:[x]\t`);
  conv.line(`7200000007 100 100 0 -3 > ${CNS} 253\thttpd\t502 0 0`);
  assert.equal(head(out.at(-1)!), 'runc:[x] 502 read >');
  conv.line(`7200000008 503 503 0 0 > ${CNS} 253\trunc:[x]\t`);
  conv.drain();
  assert.equal(head(out.at(-1)!), 'runc:[x] 503 read >');
  assert.equal(conv.stats.runtime, 0);
});

test('runc:[1:CHILD]\'s calls in the new namespace are the runtime\'s: its fork of the init shows it outside', () => {
  const { conv, out } = converter();
  const ns = 4026532402;
  conv.knowNamespace(ns, 'ef'.repeat(32));
  conv.line(`7300000001 420 420 0 1 > ${ns} 1\trunc:[1:CHILD]\t`);
  conv.line(`7300000002 420 420 0 1 < ${ns} 1\trunc:[1:CHILD]\t8`);
  conv.line(`7300000003 420 420 0 -3 > ${ns} 1\trunc:[1:CHILD]\t421 1 1`);
  conv.knowNamespace(ns, 'ef'.repeat(32));
  conv.line(`7300000004 421 421 0 59 < ${ns} 700\thttpd\t0`);
  assert.deepEqual(out.map(head), ['httpd 421 execve <']);
  assert.equal(conv.stats.runtime, 2);
});

test('--all-containers leaves out pid namespaces that belong to no container; --include-host keeps them', () => {
  const { conv, out } = converter('all');
  conv.line(`8000000001 500 500 0 0 > 4026532999 1\tstrace\t`);
  conv.line(`8000000002 100 100 0 0 > ${CNS} 253\thttpd\t`);
  assert.deepEqual(out.map((e) => e.c.id), [ID.slice(0, 12)]);
  assert.equal(conv.stats.excluded, 1);
  const o2: string[] = [];
  const c2 = new EbpfConverter({ sec: 0, nsec: 0 }, OWN, HOST, (c) => o2.push(c.id), false, { mode: 'all', includeHost: true } as never);
  c2.line(`8000000001 500 500 0 0 > 4026532999 1\tstrace\t`);
  c2.line(`8000000001 500 500 0 0 > ${OWN} 1\tbash\t`);
  assert.deepEqual(o2, ['pidns-4026532999', 'host']);
});

test('the program: every --pid namespace (D1), fork lines, and the node-wide filter', () => {
  const t = buildScript({ scope: { kind: 'targets', pidns: [4026532001, 4026532002], tids: [] } as never, btf: true, pathProbes: [] });
  // The calls of the namespace's own tasks (not of one that joined it from outside: runc, nsenter) …
  const inside = 'curtask->thread_pid->level == curtask->nsproxy->pid_ns_for_children->level';
  const ns = (n: number) => `curtask->nsproxy->pid_ns_for_children->ns.inum == ${n}`;
  assert.ok(t.includes(`raw_syscalls:sys_enter /((${ns(4026532001)} && ${inside}) || (${ns(4026532002)} && ${inside}))/`));
  // … and every fork into it, from outside too (the converter reads the runtime's steps from them).
  assert.ok(t.includes(`sched_process_fork /(${ns(4026532001)} || ${ns(4026532002)})/`));
  assert.match(t, /sched_process_fork .*args->child_pid, \$cross, \$init/);
  const all = buildScript({ scope: { kind: 'all', includeHost: false, self: 42, skipRootCgroup: true } as never, btf: true, pathProbes: [] });
  assert.match(all, /sys_enter \/curtask->thread_pid->level > 0 && \(cgroup != 1 \|\| @e\[pid\]\)\//);
  assert.match(all, /@e\[args->child_pid\] = 1/);
  const host = buildScript({ scope: { kind: 'all', includeHost: true, self: 42 } as never, btf: true, pathProbes: [] });
  assert.match(host, /sys_enter \/pid != 42 && comm != "bpftrace"\//);
  assert.throws(() => buildScript({ scope: { kind: 'all', includeHost: false, self: 1 } as never, btf: false, pathProbes: [] }), /BTF/);
});

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
test('D1: --pid A,B in two pid namespaces watches both', { skip: !asRoot && 'needs root (unshare --pid)', timeout: 20_000 }, async (t) => {
  const kids = [0, 1].map(() => spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sleep', '30'], { stdio: 'ignore' }));
  t.after(() => kids.forEach((k) => k.kill('SIGKILL')));
  // The sleeps are unshare's children, in their new namespaces.
  const sleeps: number[] = [];
  for (let i = 0; i < 50 && sleeps.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    sleeps.length = 0;
    for (const k of kids) {
      const { execFileSync } = await import('node:child_process');
      const c = execFileSync('pgrep', ['-P', String(k.pid)], { encoding: 'utf8' }).trim();
      if (c) sleeps.push(Number(c.split('\n')[0]));
    }
  }
  assert.equal(sleeps.length, 2);
  const ns = sleeps.map((p) => pidNamespaceOf(p));
  assert.notEqual(ns[0], ns[1]);
  const log = jsonLogger({ level: 'error' });
  const src = new EbpfSource({ kind: 'ebpf', pids: sleeps, log });
  const p = src.prepare();
  for (const n of ns) assert.match(p.script, new RegExp(`ns\\.inum == ${n}`), `pid namespace ${n} is watched`);
  assert.match(p.scope, new RegExp(`pidns ${ns[0]} \\+ pidns ${ns[1]}`));
});

