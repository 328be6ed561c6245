/**
 * Node-wide eBPF (`--all-containers`) and the container attribution behind it, without bpftrace:
 * the converter fed the lines the program prints (fork lines included), runtime identities from
 * podman's JSON, and the program built for several `--pid` targets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { containerFrom, pidNamespaceOf, type ContainerInfo } from '../src/capture/containers.js';
import { buildScript, EbpfConverter, EbpfSource } from '../src/capture/ebpf.js';
import { IdentityResolver } from '../src/capture/runtime/identity.js';
import { parsePodmanPs } from '../src/capture/runtime/podman.js';
import { splitImage, type RuntimeContainer } from '../src/capture/runtime/types.js';
import { buildAlert } from '../src/outputs/alerts.js';
import { EnteredSpan } from '../src/capture/entered.js';
import { jsonLogger } from '../src/util/log.js';

const OWN = 4026531836;
const HOST = containerFrom(OWN, null, OWN);
const CNS = 4026532327;
const ID = 'f0606ace14a29abaf678b288fdd77dc365f9aefd4b864938c776b0862fe4792b';
const quiet = { info: () => undefined, warn: () => undefined };

function converter(mode: 'targets' | 'all' = 'all', identities: IdentityResolver | null = null) {
  const out: { c: ContainerInfo; line: string }[] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, OWN, HOST, (c, line) => out.push({ c, line }), false, { mode, identities });
  conv.knowNamespace(CNS, ID);
  return { conv, out };
}

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
    out.map((e) => [e.c.id, e.c.entered ?? false, e.line.split(' ').slice(3, 7).join(' ')]),
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

test('--all-containers leaves out pid namespaces that belong to no container; --include-host keeps them', () => {
  const { conv, out } = converter('all');
  conv.line(`8000000001 500 500 0 0 > 4026532999 1\tstrace\t`);
  conv.line(`8000000002 100 100 0 0 > ${CNS} 253\thttpd\t`);
  assert.deepEqual(out.map((e) => e.c.id), [ID.slice(0, 12)]);
  assert.equal(conv.stats.excluded, 1);
  const o2: string[] = [];
  const c2 = new EbpfConverter({ sec: 0, nsec: 0 }, OWN, HOST, (c) => o2.push(c.id), false, { mode: 'all', includeHost: true });
  c2.line(`8000000001 500 500 0 0 > 4026532999 1\tstrace\t`);
  c2.line(`8000000001 500 500 0 0 > ${OWN} 1\tbash\t`);
  assert.deepEqual(o2, ['pidns-4026532999', 'host']);
});

test('the program: every --pid namespace (D1), fork lines, and the node-wide filter', () => {
  const t = buildScript({ scope: { kind: 'targets', pidns: [4026532001, 4026532002], tids: [] }, btf: true, pathProbes: [] });
  assert.match(t, /raw_syscalls:sys_enter \/\(curtask->nsproxy->pid_ns_for_children->ns\.inum == 4026532001 \|\| curtask->nsproxy->pid_ns_for_children->ns\.inum == 4026532002\)\//);
  assert.match(t, /sched_process_fork .*args->child_pid, \$cross, \$init/);
  const all = buildScript({ scope: { kind: 'all', includeHost: false, self: 42, skipRootCgroup: true }, btf: true, pathProbes: [] });
  assert.match(all, /sys_enter \/curtask->thread_pid->level > 0 && \(cgroup != 1 \|\| @e\[pid\]\)\//);
  assert.match(all, /@e\[args->child_pid\] = 1/);
  const host = buildScript({ scope: { kind: 'all', includeHost: true, self: 42 }, btf: true, pathProbes: [] });
  assert.match(host, /sys_enter \/pid != 42 && comm != "bpftrace"\//);
  assert.throws(() => buildScript({ scope: { kind: 'all', includeHost: false, self: 1 }, btf: false, pathProbes: [] }), /BTF/);
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

test('podman identities: names, images split Falco-style, CRI pod labels; resolved off the event path', async () => {
  const ps = JSON.stringify([
    { Id: ID, Names: ['web1'], Image: 'localhost/chids-web:1', ImageID: 'ff'.repeat(32), Labels: null, Pid: 4242, State: 'running' },
    { Id: 'cd'.repeat(32), Names: ['k8s_app_pod'], Image: 'registry:5000/team/app', Labels: { 'io.kubernetes.pod.name': 'app-7d9', 'io.kubernetes.pod.namespace': 'prod' }, Pid: 0, State: 'exited' },
  ]);
  const list = parsePodmanPs(ps);
  assert.equal(list[0].name, 'web1');
  assert.equal(list[1].running, false);
  assert.deepEqual(splitImage('localhost/chids-web:1'), { repository: 'localhost/chids-web', tag: '1' });
  assert.deepEqual(splitImage('registry:5000/team/app'), { repository: 'registry:5000/team/app', tag: 'latest' });
  assert.deepEqual(splitImage('nginx@sha256:abc'), { repository: 'nginx', tag: 'sha256:abc' });
  let calls = 0;
  const rt = { name: 'podman', list: async (): Promise<RuntimeContainer[]> => (calls++, list) };
  const r = new IdentityResolver([rt], quiet, 0);
  const { conv, out } = converter('all', r);
  conv.line(`9000000001 100 100 0 0 > ${CNS} 253\thttpd\t`);
  const c = out[0].c;
  assert.equal(c.identity?.state, 'pending', 'the event is not held up by the lookup');
  await r.settle();
  assert.equal(calls, 1);
  assert.equal(c.identity?.name, 'web1');
  assert.equal(c.identity?.repository, 'localhost/chids-web');
  assert.equal(c.identity?.tag, '1');
  const k8s = r.identity('cd'.repeat(32));
  assert.equal(k8s.state, 'resolved', 'known from the last listing: no second call');
  assert.equal(calls, 1);
  assert.equal(k8s.podName, 'app-7d9');
  assert.equal(k8s.podNamespace, 'prod');
  // In an alert, with Falco's field names, and whether entered processes were in the window.
  const span = new EnteredSpan();
  span.mark(Buffer.from('1700000005000000000 0 1 sh 1 read >\n1700000005100000000 0 1 sh 1 read <\n'));
  const a = buildAlert({
    container: c, index: 5, startNs: 1700000005000000000n, windowNs: 1e9, events: 10, av: [1, 0, 0], score: 2, threshold: 1, theta: 1,
    criticalThreshold: 3, unseenSyscalls: [], unseenArgs: [], model: 'ae', entered: span.overlaps(1700000005000000000n, 1e9),
  });
  assert.equal(a.output_fields['container.name'], 'web1');
  assert.equal(a.output_fields['container.image.repository'], 'localhost/chids-web');
  assert.equal(a.output_fields['container.image.tag'], '1');
  assert.equal(a.output_fields['proc.is_exec'], true);
  assert.match(a.output, /web1, localhost\/chids-web:1/);
  assert.equal(span.overlaps(1700000007000000000n, 1e9), false);
  const failing = new IdentityResolver([{ name: 'podman', list: () => Promise.reject(new Error('not installed')) }], quiet, 0);
  const u = failing.identity(ID);
  await failing.settle();
  assert.equal(u.state, 'unknown');
});
