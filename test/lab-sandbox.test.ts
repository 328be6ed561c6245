/**
 * The lab sandbox's hardening, without a recording: a victim entry that only probes what it
 * may write. The host's file systems must be read-only inside (an attack cannot plant files on
 * the host), while /srv, /tmp, /root and strace's output stay writable; the victim runs in its
 * cgroup, as root of its own user namespace only (host ids shifted by LAB_ID_BASE). Needs root, util-linux and strace; skipped loudly otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLabCgroup } from '../src/lab/cgroup.js';
import { checkReachable, LAB_ID_BASE, Sandbox } from '../src/lab/sandbox.js';

function skipReason(): string | false {
  const probe = spawnSync('unshare', ['--pid', '--mount', '--net', '--fork', '--mount-proc', '--', 'strace', '-f', '-o', '/dev/null', 'true'], { timeout: 10_000 });
  if (process.getuid?.() !== 0 || probe.status !== 0) {
    const msg = '!!! SKIPPED: the sandbox test needs root, util-linux unshare and strace !!!';
    console.warn(msg);
    return msg;
  }
  return false;
}

test('inside the sandbox the host is read-only; /srv, /tmp, /root and the trace are writable; the victim is in its cgroup, root only in its user namespace', { skip: skipReason(), timeout: 60_000 }, async () => {
  const work = mkdtempSync('/var/tmp/chids-sbtest-');
  const hostProbe = `/var/tmp/chids-sbtest-probe-${process.pid}`;
  const name = `chids-sbtest-${process.pid}`;
  const { cgroup } = createLabCgroup(name);
  try {
    const srv = path.join(work, 'srv');
    mkdirSync(srv);
    const probes = ['/usr/chids-probe', '/etc/chids-probe', hostProbe, '/srv/probe', '/tmp/probe', '/root/probe'];
    writeFileSync(
      path.join(srv, 'run.sh'),
      // Written whole (temp file, then rename): the test reads it as soon as it exists.
      `for p in ${probes.join(' ')}; do if ( : > "$p" ) 2>/dev/null; then echo "$p writable"; else echo "$p read-only"; fi; done > /srv/result.tmp\n` +
        `cat /proc/self/cgroup >> /srv/result.tmp\necho "id $(id -u) $(id -g)" >> /srv/result.tmp\nif cat /etc/shadow > /dev/null 2>&1; then echo shadow readable; else echo shadow denied; fi >> /srv/result.tmp\nmv /srv/result.tmp /srv/result\nsleep 2\n`,
    );
    const sb = new Sandbox({ srvDir: srv, traceFile: path.join(work, 'strace.txt'), logFile: path.join(work, 'sandbox.log'), entry: '/srv/run.sh', cgroupProcs: cgroup?.procs }, null);
    await sb.start();
    for (let i = 0; i < 100 && !existsSync(path.join(srv, 'result')); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    await sb.stop();
    const result = readFileSync(path.join(srv, 'result'), 'utf8');
    for (const p of ['/usr/chids-probe', '/etc/chids-probe', hostProbe]) assert.match(result, new RegExp(`^${p} read-only$`, 'm'), result);
    for (const p of ['/srv/probe', '/tmp/probe', '/root/probe']) assert.match(result, new RegExp(`^${p} writable$`, 'm'), result);
    assert.ok(!existsSync('/usr/chids-probe') && !existsSync('/etc/chids-probe') && !existsSync(hostProbe));
    assert.ok(readFileSync(path.join(work, 'strace.txt'), 'utf8').length > 0, 'strace wrote its output');
    assert.doesNotMatch(readFileSync(path.join(work, 'sandbox.log'), 'utf8'), /stays writable/);
    if (cgroup) assert.ok(result.includes(name), result);
    // Root inside, not on the host: what it wrote belongs to the shifted ids, and a host file
    // only root may read stays closed to it.
    assert.match(result, /^id 0 0$/m, result);
    assert.equal(statSync(path.join(srv, 'probe')).uid, LAB_ID_BASE);
    assert.equal(statSync(path.join(work, 'strace.txt')).uid, LAB_ID_BASE);
    assert.match(result, /^shadow denied$/m, result);
  } finally {
    for (let i = 0; i < 50 && cgroup && cgroup.dirs.some(existsSync); i++) {
      cgroup.remove();
      await new Promise((r) => setTimeout(r, 20));
    }
    rmSync(work, { recursive: true, force: true });
    rmSync(hostProbe, { force: true });
  }
});

test('a work directory behind a 0700 parent is refused up front, naming the parent', () => {
  const parent = mkdtempSync('/var/tmp/chids-sbtest-'); // mode 0700
  try {
    const srv = path.join(parent, 'work', 'srv');
    mkdirSync(srv, { recursive: true });
    assert.throws(() => checkReachable(srv), (err: Error) => err.message.includes(`${parent} (mode 0700) does not let the victim's user namespace through`));
    chmodSync(parent, 0o711);
    assert.doesNotThrow(() => checkReachable(srv));
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
