/**
 * Finding a followed container again after it restarted (src/capture/follow.ts): its processes
 * are the ones whose cgroup path holds its id, but not while the runtime is still setting it up.
 * The real case: runc's first process runs for a few milliseconds as `exe` (it is started as
 * `/proc/self/exe init`), only its executable naming runc; taken for the container's, strace was
 * pointed at it, lost it at once, and the monitor counted two restarts for one `podman restart`.
 * The group test needs a writable cgroup file system (root); skipped loudly otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRuntimeSetup, processesOfContainer } from '../src/capture/follow.js';
import { createLabCgroup } from '../src/lab/cgroup.js';

test('isRuntimeSetup: runc, crun and youki at each stage of their setup; the entry point is not', () => {
  // What /proc showed during a real `podman restart` (comm, readlink of exe).
  assert.equal(isRuntimeSetup('exe', '/usr/sbin/runc'), true);
  assert.equal(isRuntimeSetup('runc', '/'), true);
  assert.equal(isRuntimeSetup('runc:[0:PARENT]', '/'), true);
  assert.equal(isRuntimeSetup('runc:[1:CHILD]', null), true);
  assert.equal(isRuntimeSetup('runc:[2:INIT]', '/bin/busybox'), true);
  assert.equal(isRuntimeSetup('exe', '/memfd:runc_cloned:/proc/self/exe (deleted)'), true);
  assert.equal(isRuntimeSetup('exe', '/usr/sbin/runc (deleted)'), true);
  assert.equal(isRuntimeSetup('exe', '/memfd:sealed-91 (deleted)'), false);
  assert.equal(isRuntimeSetup('crun', '/usr/bin/crun'), true);
  assert.equal(isRuntimeSetup('exe', '/usr/local/bin/youki'), true);
  assert.equal(isRuntimeSetup('httpd', '/bin/busybox'), false);
  assert.equal(isRuntimeSetup('exe', '/usr/lib/jvm/bin/java'), false);
  assert.equal(isRuntimeSetup('runcible', '/opt/runcible'), false);
  assert.equal(isRuntimeSetup('sh', null), false);
});

test('processesOfContainer: nothing while a runtime process is in the group, then the container processes', async (t) => {
  const id = 'c0ffee'.padEnd(64, '5');
  const { cgroup, problem } = createLabCgroup(`chids-test-libpod-${id}`, { memoryBytes: 64 << 20, pids: 16 });
  if (cgroup === null) {
    console.warn(`!!! SKIPPED: cannot create a cgroup here (${problem}) !!!`);
    t.skip(String(problem));
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-follow-'));
  const sleepBin = ['/usr/bin/sleep', '/bin/sleep'].find(existsSync)!;
  // A stand-in for runc's first process: executed through a link named `exe`, so its name is
  // `exe` and its executable a file named runc.
  copyFileSync(sleepBin, path.join(dir, 'runc'));
  symlinkSync(path.join(dir, 'runc'), path.join(dir, 'exe'));
  const join = (cmd: string) =>
    spawn('/bin/sh', ['-c', `for f in ${cgroup.procs.join(' ')}; do echo $$ > "$f"; done; exec ${cmd} 30`], { stdio: 'ignore' });
  const entry = join(sleepBin);
  const runtime = join(path.join(dir, 'exe'));
  const inGroup = (pid: number) => existsSync(`/proc/${pid}/cgroup`) && readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(id);
  const named = (pid: number, comm: string) => existsSync(`/proc/${pid}/comm`) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
  try {
    for (let i = 0; i < 200 && !(inGroup(entry.pid!) && inGroup(runtime.pid!) && named(entry.pid!, 'sleep') && named(runtime.pid!, 'exe')); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(named(runtime.pid!, 'exe') && inGroup(runtime.pid!), 'the stand-in runs in the group as `exe`');
    assert.deepEqual(processesOfContainer(id), { pids: [], settingUp: true });
    runtime.kill('SIGKILL');
    await new Promise((r) => runtime.once('close', r));
    assert.deepEqual(processesOfContainer(id), { pids: [entry.pid], settingUp: false });
    assert.deepEqual(processesOfContainer('f'.repeat(64)), { pids: [], settingUp: false }, 'another id finds nothing');
  } finally {
    for (const c of [entry, runtime]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all([entry, runtime].map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('close', r)) : null)));
    for (let i = 0; i < 100 && cgroup.dirs.some(existsSync); i++) {
      cgroup.remove();
      if (cgroup.dirs.some(existsSync)) await new Promise((r) => setTimeout(r, 50));
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
