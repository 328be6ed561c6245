/**
 * The eBPF source end to end, where bpftrace works (root, a kernel that accepts the program):
 * `chids capture --source ebpf --pid` records a running loop, `chids baseline` learns it, and
 * `chids monitor --source ebpf --pid` on the same loop raises an alert naming /etc/shadow once
 * the loop is told to read it. Skipped with a loud message when eBPF is not available.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSource } from '../src/trace/sources/readers.js';
import { alertsOf, needsCommand, runCli, startCli } from './helpers/live.js';

const noEbpf =
  (typeof process.getuid === 'function' && process.getuid() !== 0 && (console.warn('!!! SKIPPED: the eBPF source test needs root !!!'), 'needs root')) ||
  needsCommand('bpftrace', ['-e', 'BEGIN { exit(); }'], 'the eBPF source test needs a working bpftrace (apt-get install --no-install-recommends bpftrace, as root)');

test('eBPF: capture a running loop, train, monitor it: reading /etc/shadow raises an alert', { skip: noEbpf, timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-ebpf-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'allowed'));
  await writeFile(path.join(dir, 'allowed', 'a.txt'), 'hello\n');
  const trigger = path.join(dir, 'trigger');
  // Normal work every 0.1 s; when the trigger file appears, something new, once. Bounded: 4 min.
  // (bpftrace takes tens of seconds to attach on a loaded machine, twice: capture and monitor.)
  const script =
    `i=0; while [ $i -lt 2400 ]; do ls ${dir}/allowed >/dev/null; cat ${dir}/allowed/a.txt >/dev/null; ` +
    `if [ -f ${trigger} ]; then rm -f ${trigger}; cat /etc/shadow >/dev/null; id >/dev/null; fi; sleep 0.1; i=$((i+1)); done`;
  const loop = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' });
  t.after(() => {
    loop.kill('SIGKILL');
  });

  const rec = path.join(dir, 'normal.zip');
  const cap = await runCli(['capture', '--source', 'ebpf', '--pid', String(loop.pid), '--seconds', '4', '--out', rec], { timeoutMs: 90_000 });
  assert.equal(cap.code, 0, cap.stderr);
  let events = 0;
  for await (const c of (await openSource(rec)).chunks()) for (const b of c) if (b === 10) events++;
  assert.ok(events > 500, `captured ${events} events`);
  const model = path.join(dir, 'model');
  const base = await runCli(['baseline', '--td', rec, '--od', model, '--seed', '2'], { timeoutMs: 120_000 });
  assert.equal(base.code, 0, base.stderr);

  const mon = startCli(['monitor', '--od', model, '--source', 'ebpf', '--pid', String(loop.pid)], { timeoutMs: 150_000 });
  await mon.waitLog('source ready', 90_000);
  await new Promise((r) => setTimeout(r, 1500));
  await writeFile(trigger, '');
  const hit = await mon.waitOut((l) => l.startsWith('{') && JSON.parse(l).output_fields['chids.unseen_args'].includes('/etc/shadow'), 15_000);
  const alert = JSON.parse(hit.line);
  const delay = hit.at - Date.parse(alert.output_fields['chids.window.end']);
  console.log(`eBPF alert: ${alert.output} (${delay} ms after the window ended)`);
  // How soon an alert follows its window is measured by npm run bench (live scoring latency), not asserted here.
  assert.ok(Number.isFinite(delay), 'the alert carries its window end');
  mon.child.kill('SIGTERM');
  const { code } = await mon.done;
  assert.equal(code, 0);
  const stopped = mon.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>;
  assert.equal(stopped.source, 'ebpf');
  assert.ok(alertsOf(mon).length >= 1);
});
