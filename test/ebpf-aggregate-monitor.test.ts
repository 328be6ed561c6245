/**
 * eBPF aggregate mode through `chids monitor --ebpf-mode aggregate`, where eBPF works (root): a
 * baseline captured from a busybox httpd in a pid namespace of its own (a container to eBPF),
 * then an attack through its CGI (a shell reading /etc/passwd) raises an alert naming the file.
 * Its own file (the program and its agreement with the per-event encoding are in
 * ebpf-aggregate.test.ts) so that its capture and training run beside them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { alertsOf, runCli, startCli } from './helpers/live.js';
import { freePort } from './helpers/nats.js';
import { get, nsHttpdMissing, startNsHttpd } from './helpers/ns-httpd.js';

const missing = nsHttpdMissing();
if (missing) console.warn(`!!! SKIPPED: the live eBPF aggregate monitor test ${missing} !!!`);

test('live: chids monitor --ebpf-mode aggregate on a pid namespace alerts on the CGI attack', { skip: missing ?? false, timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-kernagg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const web = await startNsHttpd(await freePort());
  t.after(() => web.stop());
  let traffic = true;
  const load = (async () => {
    while (traffic) {
      await get(web.port, '/index.html');
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  t.after(() => (traffic = false));
  const recs: string[] = [];
  // One capture long enough to outlast bpftrace's attaching on a loaded machine (the clock starts before).
  for (const n of ['a']) {
    const rec = path.join(dir, `normal-${n}.zip`);
    const cap = await runCli(['capture', '--source', 'ebpf', '--pid', String(web.pid), '--seconds', '30', '--out', rec], { timeoutMs: 120_000 });
    assert.equal(cap.code, 0, cap.stderr);
    recs.push(rec);
  }
  const model = path.join(dir, 'model');
  // The CHIDS autoencoder reads only anomaly vectors (the default detector's n-gram feature reads the syscalls).
  const base = await runCli(['baseline', '--model', 'chids', ...recs.flatMap((r) => ['--td', r]), '--od', model, '--seed', '3'], { timeoutMs: 180_000 });
  assert.equal(base.code, 0, base.stderr);
  const mon = startCli(['monitor', '--od', model, '--source', 'ebpf', '--ebpf-mode', 'aggregate', '--pid', String(web.pid)], { timeoutMs: 90_000 });
  await mon.waitLog('source ready', 40_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await get(web.port, '/cgi-bin/run?passwd'), 200);
  const hit = await mon.waitOut((l) => l.startsWith('{') && (JSON.parse(l).output_fields['chids.unseen_args'] as string[]).includes('/etc/passwd'), 20_000);
  const alert = JSON.parse(hit.line);
  console.log(`aggregate-mode alert: ${alert.output}`);
  traffic = false;
  await load;
  mon.child.kill('SIGTERM');
  const { code } = await mon.done;
  assert.equal(code, 0);
  assert.equal((mon.logs.find((l) => l.msg === 'ebpf mode') as Record<string, unknown>).mode, 'aggregate');
  const stopped = mon.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>;
  assert.ok(stopped.events > 0 && stopped.scored > 0, JSON.stringify(stopped));
  assert.ok(alertsOf(mon).length >= 1);
});


