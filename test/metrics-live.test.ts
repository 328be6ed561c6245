/**
 * The Prometheus endpoint of a live `chids monitor` (strace), scraped over HTTP as Prometheus
 * would:
 *
 *  - every counter has its series from the start, at 0 (the drop reasons before any drop, the
 *    blind time before any restart, a container's alert counters from its first event);
 *  - `chids_lag_seconds` is the processing delay of the newest event read: a target that has
 *    been idle for seconds is not seconds of lag;
 *  - the time the source is blind while strace restarts is counted in
 *    `chids_source_blind_seconds_total` (at least the restart's backoff, 0.5 s).
 *
 * Needs strace with ptrace permission; skipped loudly otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MonitorMetrics } from '../src/outputs/prometheus.js';
import { repoRoot } from './helpers/paths.js';
import { needsCommand, runCli, startCli } from './helpers/live.js';

const noStrace = needsCommand('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], 'the strace source needs strace with ptrace permission (apt-get install strace)');

/** The value of one series in a scrape, or undefined when it is absent. */
function series(text: string, name: string): number | undefined {
  for (const l of text.split('\n')) {
    if (l.startsWith(name + ' ')) return Number(l.slice(name.length + 1));
  }
  return undefined;
}

const scrape = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();

test('live /metrics: counters at 0 from the start, lag is processing delay (idle is not lag), blind time of a strace restart', { skip: noStrace, timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'model');
  const base = await runCli(['baseline', '--td', path.join(repoRoot, 'data', 'example', 'training', 'adoring_swirles_6933.zip'), '--od', model, '--model', 'chids', '--epochs', '5', '--seed', '1', '-q'], { timeoutMs: 120_000 });
  assert.equal(base.code, 0, base.stderr);

  // A target that works only when told to (a line on its stdin), and is idle otherwise.
  const target = spawn('/bin/sh', ['-c', 'while read x; do ls / >/dev/null; cat /etc/hostname >/dev/null; done'], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => {
    target.kill('SIGKILL');
  });
  const mon = startCli(['monitor', '--od', model, '--source', 'strace', '--pid', String(target.pid), '--metrics', '127.0.0.1:0', '--no-stdout', '--alerts', path.join(dir, 'alerts.jsonl')], { timeoutMs: 150_000 });
  t.after(() => {
    mon.child.kill('SIGKILL');
  });
  const started = await mon.waitLog('strace started', 60_000);
  const url = (await mon.waitLog('metrics listening', 60_000)).url as string;

  // Before any event, drop or restart: every counter is there, at 0.
  const t0 = await scrape(url);
  for (const reason of ['queue_full', 'source_lost', 'malformed', 'no_timestamp', 'too_many_containers', 'time_jump']) {
    assert.equal(series(t0, `chids_dropped_events_total{reason="${reason}"}`), 0, `dropped{${reason}} at 0 from the start:\n${t0.slice(0, 2000)}`);
  }
  assert.equal(series(t0, 'chids_alert_sink_failures_total{sink="file",reason="error"}'), 0, 'the alerts file\'s failures, at 0');
  assert.equal(series(t0, 'chids_source_restarts_total'), 0);
  assert.equal(series(t0, 'chids_source_blind_seconds_total'), 0);

  // A burst, then idle.
  await new Promise((r) => setTimeout(r, 500));
  target.stdin!.write('go\n');
  const tracked = await mon.waitLog('tracking container', 30_000);
  const c = tracked.container as string;
  let t1 = '';
  for (let i = 0; i < 100; i++) {
    t1 = await scrape(url);
    if ((series(t1, `chids_events_total{container="${c}"}`) ?? 0) > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok((series(t1, `chids_events_total{container="${c}"}`) ?? 0) > 0, 'the burst was processed');
  for (const priority of ['Warning', 'Critical']) {
    assert.notEqual(series(t1, `chids_alerts_total{container="${c}",priority="${priority}"}`), undefined, `alerts{${priority}} exported from the container's first event`);
  }
  assert.notEqual(series(t1, `chids_late_events_total{container="${c}"}`), undefined);
  await new Promise((r) => setTimeout(r, 6000));
  const t2 = await scrape(url);
  const lag = series(t2, 'chids_lag_seconds');
  console.log(`chids_lag_seconds after 6 s of idle: ${lag}`);
  assert.ok(lag !== undefined && lag < 3, `6 s of idle is not 6 s of lag (got ${lag})`);

  // strace killed: restarted after a 0.5 s backoff; that time is blind.
  process.kill(started.strace_pid as number, 'SIGKILL');
  await mon.waitLog('source died, restarting', 30_000);
  for (let i = 0; i < 300 && !mon.logs.some((l) => l.msg === 'source ready' && mon.logs.indexOf(l) > mon.logs.findIndex((m) => m.msg === 'source died, restarting')); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const t3 = await scrape(url);
  const blind = series(t3, 'chids_source_blind_seconds_total') ?? 0;
  console.log(`chids_source_blind_seconds_total after one strace restart: ${blind}`);
  assert.equal(series(t3, 'chids_source_restarts_total'), 1);
  assert.ok(blind >= 0.45, `the restart's backoff was blind time (got ${blind})`);
  assert.ok(blind < 60, `and only that (got ${blind})`);

  mon.child.kill('SIGTERM');
  const { code, signal } = await mon.done;
  // Once in ~12 suite runs the monitor did not exit after SIGTERM (killed 130 s later; cause not
  // found). If it ended its run but left something open, the executable names it on stderr.
  const leftOpen = mon.logs.find((l) => typeof l.raw === 'string' && l.raw.includes('left open'));
  if (leftOpen) console.log(`the monitor exited after its grace period: ${leftOpen.raw}`);
  assert.equal(code, 0, `the monitor did not exit 0 on SIGTERM (${signal ?? code}); its last log lines: ${JSON.stringify(mon.logs.slice(-12))}`);
});

test('lag: a batch waiting in the queue is lag, an idle source is not; blind time: overlapping restarts count once, a restart in progress counts up to the scrape', async () => {
  const m = new MonitorMetrics(false);
  const ev = { sec: 1_000, nsec: 0 };
  m.processed(ev, { sec: 1_000, nsec: 250_000_000 });
  assert.equal(m.processingLag(2_000_000_000, null), 0.25, 'long after, with nothing queued: still the delay of the newest event');
  assert.equal(m.processingLag(2_000_000_000, 1_999_998_000), 2, 'a batch queued 2 s ago and not processed yet');
  // Two groups restart, overlapping: [0, 3 s) blind in all.
  m.sourceUp(0); // the first start: no restart before it
  m.sourceDown(1_000);
  m.sourceDown(2_000);
  m.sourceUp(2_500);
  m.sourceUp(4_000);
  const text = await m.text();
  assert.match(text, /^chids_source_blind_seconds_total 3$/m);
  m.sourceDown(Date.now() - 1_000);
  const during = Number(/^chids_source_blind_seconds_total (\S+)$/m.exec(await m.text())?.[1]);
  assert.ok(during >= 3.99 && during < 10, `a restart still in progress is counted up to the scrape (${during})`);
});
