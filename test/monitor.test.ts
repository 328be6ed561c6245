/**
 * The streaming detector's core (src/app/monitor.ts) with a stand-in model, the encoder's
 * advanceTo, the alert shape and sinks (src/outputs/alerts.ts) and the metrics endpoint
 * (src/outputs/prometheus.ts). Everything in-process, no TF.js, no root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { containerFrom, STDIN_CONTAINER } from '../src/capture/containers.js';
import { silentLogger } from '../src/util/log.js';
import { FileSink, WebhookSink, alertLine, buildAlert, isoNs, type AlertSink, type FalcoAlert } from '../src/outputs/alerts.js';
import { MonitorMetrics, parseListen, startMetricsServer } from '../src/outputs/prometheus.js';
import { Monitor, thresholdFor, type LiveDetector, type ScoredWindow } from '../src/app/monitor.js';
import { THETAS } from '../src/engine/verdicts.js';
import { WindowEncoder, type EncodedWindow } from '../src/encode/anomaly.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';
import { SyscallEvent } from '../src/trace/event.js';
import { NameTable } from '../src/trace/names.js';

/** Scores a window by its unseen-syscall and unseen-argument features: 0 for normal windows. */
const fakeScorer: LiveDetector = {
  kind: 'fake',
  history: 1,
  scoreWindow: ({ avs, n }) => avs[3 * (n - 1) + 1] + avs[3 * (n - 1) + 2],
};
const MAX_ERR = 0.5;
const thresholds = THETAS.map((t) => MAX_ERR * t);
const vocab = makeVocabulary(['read', 'openat', 'close'], ['/etc/passwd'], 10);
const T0 = 1_700_000_000;

function line(sec: number, name: string, args = ''): string {
  const ns = BigInt(Math.round(sec * 1e6)) * 1000n;
  return `${ns} 0 7 cat 7 ${name} < ${args}\n`;
}

class Collect implements AlertSink {
  readonly name = 'collect';
  alerts: FalcoAlert[] = [];
  lines: string[] = [];
  send(a: FalcoAlert, l: string): void {
    this.alerts.push(a);
    this.lines.push(l);
  }
  async close(): Promise<void> {}
}

function monitor(extra: Partial<ConstructorParameters<typeof Monitor>[0]> = {}) {
  const sink = new Collect();
  const windows: ScoredWindow[] = [];
  const m = new Monitor({
    vocab,
    scorer: fakeScorer,
    theta: 1,
    thresholds,
    faithful: false,
    windowNs: 1e9,
    sinks: [sink],
    log: silentLogger,
    onWindow: (w) => windows.push(w),
    ...extra,
  });
  return { m, sink, windows };
}

test('thresholdFor: the baseline value for the ten θ, θ × max error otherwise', () => {
  assert.equal(thresholdFor(thresholds, 1), thresholds[4]);
  assert.equal(thresholdFor(thresholds, 0.6), thresholds[2]);
  assert.equal(thresholdFor(thresholds, 3), MAX_ERR * 3);
  assert.throws(() => thresholdFor(thresholds, 0), /positive/);
});

test('a quiet stream still closes its windows on time (tick), and they are scored as they close', () => {
  const { m, windows } = monitor();
  m.feed(STDIN_CONTAINER, Buffer.from(line(T0 + 0.1, 'read') + line(T0 + 0.5, 'openat', 'fd=3 name=/etc/passwd')), 'lidds');
  assert.equal(windows.length, 0);
  m.tick(T0 + 1, 0); // the first window ends at t0 + 1.1
  assert.equal(windows.length, 0);
  m.tick(T0 + 1, 100_000_000);
  assert.equal(windows.length, 1);
  assert.equal(windows[0].window.events, 2);
  assert.equal(windows[0].score, 0);
  m.tick(T0 + 4, 200_000_000); // three quiet seconds: three empty windows
  assert.deepEqual(
    windows.map((w) => [w.window.index, w.window.events]),
    [
      [0, 2],
      [1, 0],
      [2, 0],
      [3, 0],
    ],
  );
  m.feed(STDIN_CONTAINER, Buffer.from(line(T0 + 4.5, 'ptrace') + line(T0 + 4.6, 'read')), 'lidds');
  m.finish();
  const last = windows[windows.length - 1];
  assert.equal(last.window.index, 4);
  assert.deepEqual(last.window.unseenSyscalls, ['ptrace']);
  assert.ok(last.alert !== null, 'an unseen syscall scores above the threshold');
  assert.equal(m.stats.windows, 5);
  assert.equal(m.stats.scored, 2);
  assert.equal(m.stats.alerts, 1);
});

test('advanceTo never changes the windows: same vectors with or without ticks (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000_000 }), fc.constantFrom('read', 'openat', 'ptrace', 'close'), fc.boolean()), { minLength: 1, maxLength: 60 }),
      (steps) => {
        const names = new NameTable();
        const run = (ticks: boolean) => {
          const out: EncodedWindow[] = [];
          const enc = new WindowEncoder(vocab, names, { file: 't', faithful: false, windowNs: 1e9, details: true }, (w) => out.push(w));
          const ev = new SyscallEvent();
          let t = 0;
          for (const [dt, name, tick] of steps) {
            t += dt * 1000; // up to 3 s between events
            if (ticks && tick) enc.advanceTo(T0 + Math.floor(t / 1e9), t % 1e9); // time passes up to the next event
            ev.sec = T0 + Math.floor(t / 1e9);
            ev.nsec = t % 1e9;
            ev.nameId = names.intern(name);
            ev.buf = Buffer.from('');
            ev.argsStart = ev.argsEnd = 0;
            enc.push(ev);
          }
          enc.finish();
          return out.map((w) => [w.index, w.events, w.av, w.unseenSyscalls]);
        };
        assert.deepEqual(run(true), run(false));
      },
    ),
    { numRuns: 200 },
  );
});

test('several containers are tracked apart; each alert names its container', () => {
  const { m, sink, windows } = monitor();
  const a = containerFrom(4026532001, null, 4026531836);
  const b = containerFrom(4026532002, '/docker/' + 'c'.repeat(64), 4026531836);
  m.feed(a, Buffer.from(line(T0 + 0.1, 'read') + line(T0 + 0.2, 'read')), 'lidds');
  m.feed(b, Buffer.from(line(T0 + 0.5, 'read') + line(T0 + 0.6, 'openat', 'fd=3 name=/etc/shadow')), 'lidds');
  m.feed(a, Buffer.from(line(T0 + 1.2, 'read')), 'lidds'); // closes a's first window only
  assert.deepEqual(
    windows.map((w) => [w.container.id, w.window.events]),
    [['pidns-4026532001', 2]],
  );
  m.finish();
  assert.equal(m.containers, 2);
  assert.equal(sink.alerts.length, 1);
  const f = sink.alerts[0].output_fields;
  assert.equal(f['container.id'], 'cccccccccccc');
  assert.deepEqual(f['chids.unseen_args'], ['/etc/shadow']);
  assert.deepEqual(
    m.containerStats().map((c) => [c.id, c.events, c.windows]),
    [
      ['pidns-4026532001', 3, 2],
      ['cccccccccccc', 2, 1],
    ],
  );
});

test('alerts have Falco\'s shape and say what caused them; --exploit-at labels false alarms', () => {
  const { m, sink } = monitor({ exploitAtSec: T0 + 1.5 });
  const trace = [line(T0 + 0.1, 'read'), line(T0 + 0.2, 'ptrace'), line(T0 + 1.1, 'read'), line(T0 + 2.1, 'openat', 'fd=3 name=/etc/shadow'), line(T0 + 2.2, 'read')];
  m.feed(STDIN_CONTAINER, Buffer.from(trace.join('')), 'lidds');
  m.finish();
  assert.equal(sink.alerts.length, 2);
  const [before, after] = sink.alerts;
  for (const a of sink.alerts) {
    for (const k of ['time', 'rule', 'priority', 'output', 'source', 'tags', 'output_fields']) assert.ok(k in a, `alert has ${k}`);
    assert.equal(a.source, 'syscall');
    assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const f = a.output_fields;
    for (const k of ['container.id', 'chids.av', 'chids.score', 'chids.threshold', 'chids.theta', 'chids.unseen_syscalls', 'chids.unseen_args']) assert.ok(k in f, `output_fields has ${k}`);
    assert.equal(f['chids.threshold'], thresholds[4]);
    assert.equal(f['chids.theta'], 1);
    assert.ok((f['chids.score'] as number) > (f['chids.threshold'] as number));
  }
  assert.equal(before.output_fields['chids.label'], 'false_alarm');
  assert.match(before.output, /false alarm/);
  assert.deepEqual(before.output_fields['chids.unseen_syscalls'], ['ptrace']);
  assert.equal(after.output_fields['chids.label'], 'after_exploit_start');
  assert.equal(m.stats.falseAlarms, 1);
  assert.equal(m.stats.alertsAfterExploit, 1);
  const parsed = JSON.parse(sink.lines[0]);
  assert.equal(typeof parsed.output_fields['evt.time'], 'number');
  assert.equal(sink.lines[0].endsWith('\n'), true);
  assert.equal(isoNs(1_631_078_877_513_988_000n), '2021-09-08T05:27:57.513988000Z');
});

test('priority: Critical above the θ = 2.0 threshold, else Warning', () => {
  const v = {
    container: STDIN_CONTAINER,
    index: 3,
    startNs: 0n,
    windowNs: 1e9,
    events: 10,
    av: [0.1, 0, 0.2] as [number, number, number],
    score: 0.7,
    threshold: 0.5,
    theta: 1,
    criticalThreshold: 1,
    unseenSyscalls: [],
    unseenArgs: [],
    model: 'fake',
  };
  const a = buildAlert(v);
  assert.equal(a.priority, 'Warning');
  assert.match(a.output, /unusual volume or sequence/);
  assert.equal(buildAlert({ ...v, score: 1.5 }).priority, 'Critical');
});

test('a sequence model sees the last T vectors of its container', () => {
  const seen: number[] = [];
  const seqScorer: LiveDetector = { kind: 'seq', history: 3, scoreWindow: ({ n }) => (seen.push(n), 0) };
  const { m } = monitor({ scorer: seqScorer });
  const trace = [0.1, 1.1, 2.1, 3.1, 4.1].map((t) => line(T0 + t, 'read')).join('');
  m.feed(STDIN_CONTAINER, Buffer.from(trace), 'lidds');
  m.finish();
  assert.deepEqual(seen, [1, 2, 3, 3, 3]);
});

test('too many containers: further ones are dropped and counted', () => {
  const { m } = monitor({ maxContainers: 1 });
  m.feed(containerFrom(1, null, 0), Buffer.from(line(T0, 'read')), 'lidds');
  m.feed(containerFrom(2, null, 0), Buffer.from(line(T0, 'read') + line(T0, 'read')), 'lidds');
  assert.equal(m.containers, 1);
  assert.equal(m.stats.dropped.too_many_containers, 2);
});

test('FileSink appends one line per alert, written through at once', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-alerts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'a', 'alerts.jsonl');
  const s1 = new FileSink(file);
  s1.send({} as FalcoAlert, '{"n":1}\n');
  assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n', 'visible before close');
  await s1.close();
  const s2 = new FileSink(file);
  s2.send({} as FalcoAlert, '{"n":2}\n');
  await s2.close();
  assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n{"n":2}\n');
});

test('WebhookSink posts JSON, retries a failing endpoint a bounded number of times, never blocks', async (t) => {
  const bodies: string[] = [];
  let calls = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls++;
      if (calls === 1) return res.writeHead(503).end(); // the first attempt fails
      bodies.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const drops: string[] = [];
  const hook = new WebhookSink(url, { log: silentLogger, backoffMs: 10, attempts: 3, maxQueue: 2, onDrop: (r) => drops.push(r) });
  const alert = buildAlert({
    container: STDIN_CONTAINER,
    index: 0,
    startNs: 1_700_000_000_000_000_000n,
    windowNs: 1e9,
    events: 1,
    av: [0, 1, 0],
    score: 1,
    threshold: 0.5,
    theta: 1,
    criticalThreshold: 1,
    unseenSyscalls: ['ptrace'],
    unseenArgs: [],
    model: 'fake',
  });
  // send() hands the alert to the sink's queue and returns synchronously: it never waits for the
  // endpoint (no promise to await), whatever the endpoint does.
  const sent = [hook.send(alert, alertLine(alert)), hook.send(alert, alertLine(alert)), hook.send(alert, alertLine(alert))];
  assert.ok(sent.every((x) => x === undefined), 'send returns nothing to wait for'); // the queue holds 2 (one is in flight): the third is dropped or queued
  await hook.close(5000);
  assert.ok(bodies.length >= 2);
  assert.equal(JSON.parse(bodies[0]).rule, 'Anomalous syscall window');
  assert.equal(hook.delivered + hook.failed + hook.dropped, 3);

  const dead = new WebhookSink('http://127.0.0.1:1/none', { log: silentLogger, backoffMs: 5, attempts: 2, timeoutMs: 500, onDrop: (r) => drops.push(r) });
  dead.send(alert, alertLine(alert));
  await dead.close(5000);
  assert.equal(dead.failed, 1);
  assert.ok(drops.includes('failed'));
  assert.throws(() => new WebhookSink('ftp://x', { log: silentLogger }), /http/);
});

test('metrics: /metrics serves the live counters, histogram and gauges', async () => {
  const metrics = new MonitorMetrics(false);
  const { m } = monitor({ metrics });
  metrics.tracked = () => m.containers;
  m.feed(STDIN_CONTAINER, Buffer.from(line(T0 + 0.1, 'read') + line(T0 + 0.2, 'ptrace') + line(T0 + 1.1, 'read')), 'lidds');
  m.finish();
  const server = await startMetricsServer(metrics, '127.0.0.1:0');
  try {
    const text = await (await fetch(server.url)).text();
    assert.match(text, /chids_events_total\{container="stdin"\} 3/);
    assert.match(text, /chids_windows_total\{container="stdin"\} 2/);
    assert.match(text, /chids_alerts_total\{container="stdin",priority="(Warning|Critical)"\} 1/);
    assert.match(text, /chids_scoring_seconds_count 2/);
    assert.match(text, /chids_containers 1/);
    assert.match(text, /# TYPE chids_dropped_events_total counter/);
    assert.match(text, /# TYPE chids_source_restarts_total counter/);
    assert.match(text, /# TYPE chids_lag_seconds gauge/);
    assert.equal((await fetch(server.url.replace('/metrics', '/healthz'))).status, 200);
  } finally {
    await server.close();
  }
  assert.deepEqual(parseListen(':9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
  assert.throws(() => parseListen('nope'), /HOST:PORT/);
});

test('a model that reads the syscalls gets a tap fed with every windowed event, and scores each window as it closes', () => {
  const taps: { events: [string, number][] }[] = [];
  const tapScorer: LiveDetector = {
    kind: 'tap',
    history: 1,
    newTap: () => {
      const t = { events: [] as [string, number][], event: (ev: SyscallEvent, w: number) => t.events.push([String(ev.nameId), w]) };
      taps.push(t);
      return t;
    },
    scoreWindow: ({ tap, window }) => (tap as unknown as { events: [string, number][] }).events.filter(([, w]) => w === window).length,
  };
  const { m, windows } = monitor({ scorer: tapScorer });
  m.feed(STDIN_CONTAINER, Buffer.from([0.1, 0.2, 0.3, 1.5, 3.2].map((t) => line(T0 + t, 'read')).join('')), 'lidds');
  m.finish();
  assert.equal(taps.length, 1, 'one tap per container');
  assert.deepEqual(taps[0].events.map(([, w]) => w), [0, 0, 0, 1, 3]);
  assert.deepEqual(
    windows.filter((w) => w.score !== null).map((w) => [w.window.index, w.score]),
    [
      [0, 3],
      [1, 1],
      [3, 1],
    ],
  );
});
