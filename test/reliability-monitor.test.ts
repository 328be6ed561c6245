/**
 * Regression tests for the monitor half of the reliability audit (issue 10): nothing lost
 * without a count (bad lines, late events, jumps, undelivered alerts), credentials kept out of
 * URLs and logs, alert files private and never reached through a symlink.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { STDIN_CONTAINER } from '../src/capture/containers.js';
import type { Logger } from '../src/util/log.js';
import { silentLogger } from '../src/util/log.js';
import { FileSink, WebhookSink, type FalcoAlert } from '../src/outputs/alerts.js';
import { Monitor, type LiveDetector, type ScoredWindow } from '../src/app/monitor.js';
import { THETAS } from '../src/engine/verdicts.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';

const scorer: LiveDetector = { kind: 'fake', history: 1, scoreWindow: () => 0 };
const vocab = makeVocabulary(['read'], [], 10);
const T0 = 1_700_000_000n * 1_000_000_000n;
const line = (ns: bigint) => `${ns} 0 7 cat 7 read < fd=1\n`;

function monitor(faithful: boolean) {
  const windows: ScoredWindow[] = [];
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (msg: string) => warnings.push(msg) } as Logger;
  const m = new Monitor({ vocab, scorer, theta: 1, thresholds: THETAS.map((t) => t), faithful, windowNs: 1e9, sinks: [], log, onWindow: (w) => windows.push(w) });
  return { m, windows, warnings };
}

test('faithful monitor: a bad UTF-8 line in a 64 KiB chunk costs only itself, counted', () => {
  const { m, windows } = monitor(true);
  // 1,000 events 10 ms apart (10 s), one of them replaced by a line with invalid UTF-8.
  const parts: Buffer[] = [];
  for (let i = 0n; i < 1000n; i++) {
    parts.push(i === 500n ? Buffer.from([...Buffer.from(`${T0 + i * 10_000_000n} 0 7 c`), 0xff, 0xfe, ...Buffer.from('t 7 read < fd=1\n')]) : Buffer.from(line(T0 + i * 10_000_000n)));
  }
  const all = Buffer.concat(parts);
  assert.ok(all.length < 65536);
  m.feed(STDIN_CONTAINER, all, 'lidds');
  m.finish();
  assert.equal(m.stats.events, 999);
  assert.equal(m.stats.dropped.malformed, 1);
  assert.equal(windows.length, 10); // no re-anchoring on a partial line: 10 s → 10 windows
  assert.equal(windows.reduce((n, w) => n + w.window.events, 0), 999);
});

test('faithful monitor: a bad line split across two chunks costs only itself', () => {
  const { m, windows } = monitor(true);
  const bad = Buffer.concat([Buffer.from(`${T0 + 500_000_000n} 0 7 c`), Buffer.from([0xc3, 0x28]), Buffer.from('t 7 read < fd=1\n')]);
  const text = Buffer.concat([Buffer.from(line(T0) + line(T0 + 100_000_000n)), bad, Buffer.from(line(T0 + 1_100_000_000n) + line(T0 + 2_100_000_000n))]);
  const cut = text.indexOf(0xc3) + 1; // inside the bad line, between the bytes of the bad sequence
  m.feed(STDIN_CONTAINER, text.subarray(0, cut), 'lidds');
  m.feed(STDIN_CONTAINER, text.subarray(cut), 'lidds');
  m.finish();
  assert.equal(m.stats.events, 4);
  assert.equal(m.stats.dropped.malformed, 1);
  assert.deepEqual(windows.map((w) => w.window.events), [2, 1, 1]);
});

test('the last line, without its newline, is counted: an event as an event, garbage as malformed, in both modes', () => {
  for (const faithful of [false, true]) {
    const { m, windows } = monitor(faithful);
    m.feed(STDIN_CONTAINER, Buffer.from(line(T0) + line(T0 + 1_500_000_000n).trimEnd()), 'lidds');
    m.finish();
    assert.equal(m.stats.events, 2, `faithful=${faithful}`);
    assert.equal(windows.reduce((n, w) => n + w.window.events, 0), 2);
    const z = monitor(faithful);
    // What `head -c 3M /dev/zero | chids monitor` sends: one unterminated line of NUL bytes.
    z.m.feed(STDIN_CONTAINER, Buffer.from(line(T0)), 'lidds');
    z.m.feed(STDIN_CONTAINER, Buffer.alloc(3_000_000), 'lidds');
    z.m.finish();
    assert.equal(z.m.stats.events, 1, `faithful=${faithful}`);
    assert.equal(z.m.stats.dropped.malformed, 1, `faithful=${faithful}: the NUL line is counted`);
  }
});

test('events going back in time are counted (and logged once), in both modes', () => {
  for (const faithful of [false, true]) {
    const { m, warnings } = monitor(faithful);
    const ts = [0n, 1_500_000_000n, 200_000_000n, 2_600_000_000n, 100_000_000n];
    m.feed(STDIN_CONTAINER, Buffer.from(ts.map((t) => line(T0 + t)).join('')), 'lidds');
    m.finish();
    assert.equal(m.stats.late, 2, `faithful=${faithful}`);
    assert.equal(m.stats.events, 5);
    assert.equal(warnings.filter((w) => /out of time order/.test(w)).length, 1);
  }
});

test('a jump of years is dropped and counted, and the stream goes on, in both modes', () => {
  for (const faithful of [false, true]) {
    const { m, windows } = monitor(faithful);
    const ts = [T0, T0 + 500_000_000n, T0 + 10n ** 18n, T0 + 1_200_000_000n];
    m.feed(STDIN_CONTAINER, Buffer.from(ts.map(line).join('')), 'lidds');
    m.finish();
    assert.equal(m.stats.dropped.time_jump, 1, `faithful=${faithful}`);
    assert.equal(windows.length, 2);
  }
});

const alert = { rule: 'x' } as unknown as FalcoAlert;

test('webhook: a URL with credentials is refused at start, without echoing the secret', () => {
  assert.throws(
    () => new WebhookSink('http://alice:s3cr3t@127.0.0.1:9/hook', { log: silentLogger }),
    (e: Error) => /holds credentials/.test(e.message) && !e.message.includes('s3cr3t') && !e.message.includes('alice'),
  );
});

test('webhook: credentials go in a header, never in a log line; alerts left at the drain timeout are counted', async (t) => {
  const got: string[] = [];
  let hang = false;
  const server = http.createServer((req, res) => {
    got.push(String(req.headers.authorization));
    req.resume();
    if (hang) return; // never answers: the alert stays in flight
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const logged: string[] = [];
  const log = { ...silentLogger, warn: (m: string, f?: object) => logged.push(m + JSON.stringify(f)), error: (m: string, f?: object) => logged.push(m + JSON.stringify(f)) } as Logger;
  const drops: [string, number][] = [];
  const w = new WebhookSink(url, { log, headers: { Authorization: 'Bearer s3cr3t' }, onDrop: (r, n = 1) => drops.push([r, n]) });
  w.send(alert, '{"a":1}');
  for (let i = 0; i < 200 && w.delivered === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(w.delivered, 1);
  assert.deepEqual(got, ['Bearer s3cr3t']);
  hang = true;
  for (let i = 0; i < 5; i++) w.send(alert, `{"a":${i}}`);
  // close() gives up on the hung endpoint after its drain timeout (a hang here ends the test by its timeout).
  await w.close(300);
  assert.equal(w.lostAtExit, 5);
  assert.equal(w.lost, 5);
  assert.deepEqual(drops, [['at_exit', 5]]);
  assert.ok(logged.some((l) => /not delivered/.test(l)));
  assert.ok(logged.every((l) => !l.includes('s3cr3t')));
});

test('alerts file: created 0600, a symlink at its path is refused', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-alerts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'alerts.jsonl');
  const s = new FileSink(file);
  s.send(alert, 'x\n');
  await s.close();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const victim = path.join(dir, 'victim');
  writeFileSync(victim, 'keep');
  const link = path.join(dir, 'link.jsonl');
  symlinkSync(victim, link);
  assert.throws(() => new FileSink(link), /--alerts .*symbolic link/);
  assert.equal(readFileSync(victim, 'utf8'), 'keep');
  assert.ok(lstatSync(link).isSymbolicLink());
});

test('CLI monitor: alerts the webhook never got are counted, and the exit code says so (4)', async (t) => {
  const { runBaseline } = await import('../src/app/train.js');
  const { runCli } = await import('./helpers/cli.js');
  const { probeTrace } = await import('./fuzz/fuzz.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-drain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'train.sc'), probeTrace(400, true));
  const od = path.join(dir, 'base');
  await runBaseline({ inputs: [path.join(dir, 'train.sc')], outDir: od, faithful: false, windowNs: 1e9, seed: 1, model: { model: 'stide' } });
  const server = http.createServer((req) => {
    req.resume(); // and never answer
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const r = await runCli(['monitor', '--od', od, '--source', 'stdin', '--format', 'lidds', '--webhook', url, '--drain-timeout', '300ms', '--no-stdout', '--theta', '0.05'], {
    input: probeTrace(200, true).toString().replaceAll(' read ', ' ptrace '), // unseen syscalls: alerts
    env: { CHIDS_WEBHOOK_AUTH: 'Bearer s3cr3t' },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 4, r.stderr);
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^chids: (\d+) of \1 alerts were not delivered to the webhook \(0 queue full, 0 failed, \1 still queued after --drain-timeout\)$/);
  assert.ok(!r.stderr.includes('s3cr3t'));
  const stopped = r.stderr.split('\n').find((l) => l.includes('monitor stopped'))!;
  assert.match(stopped, /"alerts_lost":\{"queue_full":0,"failed":0,"at_exit":\d+\}/);
});
