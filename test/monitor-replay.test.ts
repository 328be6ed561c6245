/**
 * `chids monitor --source stdin`: replaying recordings.
 *
 *  - `cat attack.sc | chids monitor --exploit-at T`: the real LID-DS recording from ../shared
 *    (a brute-force attack on Apache, exploit at 1631078877.513988), with a baseline learnt on
 *    its own pre-exploit part. An alert must come after the exploit start, and every alert
 *    before it must be reported as a false alarm. (Skipped loudly when the recording is absent.)
 *  - `--realtime`: a recording with a quiet stretch is paced to its timestamps, so its first
 *    window closes (and alerts) on time while the stream is still open; SIGTERM then flushes
 *    and exits 0.
 *  - capture from stdin writes a LID-DS recording; sysdig text is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSource } from '../src/trace/sources/readers.js';
import { pool } from './helpers/cli.js';
import { alertsOf, runCli, startCli } from './helpers/live.js';
import { lidRecording, missing, repoRoot } from './helpers/paths.js';

async function workdir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-replay-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The .sc text of a LID-DS recording. */
async function scText(zip: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of (await openSource(zip)).chunks()) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

test('stdin replay of an attack recording: an alert after the exploit start, every earlier alert reported as a false alarm', { skip: missing(lidRecording), timeout: 60_000 }, async (t) => {
  const dir = await workdir(t);
  const labels = await (await openSource(lidRecording)).labels();
  const exploit = labels!.exploitStartSec!;
  assert.ok(exploit > 0);
  const text = await scText(lidRecording);
  const exploitNs = BigInt(Math.round(exploit * 1e6)) * 1000n;
  const lines = text.split('\n').filter((l) => l !== '');
  const pre = lines.filter((l) => BigInt(l.slice(0, l.indexOf(' '))) < exploitNs);
  assert.ok(pre.length > 1000 && pre.length < lines.length);
  await writeFile(path.join(dir, 'normal.sc'), pre.join('\n') + '\n');
  await writeFile(path.join(dir, 'attack.sc'), text);
  const model = path.join(dir, 'model');
  const base = await runCli(['baseline', '--td', path.join(dir, 'normal.sc'), '--od', model, '--seed', '3'], { timeoutMs: 60_000 });
  assert.equal(base.code, 0, base.stderr);

  const fd = openSync(path.join(dir, 'attack.sc'), 'r'); // cat attack.sc | chids monitor …
  t.after(() => closeSync(fd));
  const mon = await runCli(['monitor', '--od', model, '--source', 'stdin', '--format', 'lidds', '--exploit-at', String(exploit)], { timeoutMs: 40_000, stdin: fd });
  assert.equal(mon.code, 0, mon.stderr);
  const alerts = alertsOf(mon).map((a) => a.alert);
  assert.ok(alerts.length > 0, 'the attack raises alerts');
  const endNs = (a: Record<string, any>) => BigInt(a.output_fields['chids.window.start_ns']) + 1_000_000_000n;
  const after = alerts.filter((a) => endNs(a) > exploitNs);
  const before = alerts.filter((a) => endNs(a) <= exploitNs);
  assert.ok(after.length > 0, 'an alert after the exploit start');
  for (const a of after) assert.equal(a.output_fields['chids.label'], 'after_exploit_start');
  for (const a of before) {
    assert.equal(a.output_fields['chids.label'], 'false_alarm');
    assert.match(a.output, /false alarm/);
  }
  const summary = mon.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>;
  assert.equal(summary.events, lines.length, 'every event of the recording was read');
  assert.equal(summary.exploit.false_alarms, before.length);
  assert.equal(summary.exploit.alerts_after, after.length);
  assert.ok(summary.exploit.first_alert_after_s > 0 && summary.exploit.first_alert_after_s <= 2);
  console.log(`replay: ${alerts.length} alerts, ${before.length} false alarms before the exploit, first alert ${summary.exploit.first_alert_after_s.toFixed(2)} s after it`);
});

const example = path.join(repoRoot, 'data', 'example');
const noExample = existsSync(path.join(example, 'test', 'normal_and_attack'))
  ? false
  : (console.warn(`!!! SKIPPED: the bundled dataset ${example} is not there; the bundled-replay test needs it !!!`), 'no bundled dataset');

// A baseline and seven replays, three at a time (each its own process; one after the other
// they took two minutes of wall time on a loaded machine): a bound, not a speed check.
test('stdin replay of the bundled attack recordings: alerts after the exploit start, earlier ones labelled false alarms', { skip: noExample, timeout: 240_000 }, async (t) => {
  const dir = await workdir(t);
  const model = path.join(dir, 'model');
  const base = await runCli(['baseline', '--td', path.join(example, 'training'), '--od', model, '--seed', '1'], { timeoutMs: 120_000 });
  assert.equal(base.code, 0, base.stderr);
  const attackDir = path.join(example, 'test', 'normal_and_attack');
  const files = readdirSync(attackDir).filter((f) => f.endsWith('.zip')).sort();
  const replay = async (f: string, i: number): Promise<boolean> => {
    const zip = path.join(attackDir, f);
    const exploit = (await (await openSource(zip)).labels())?.exploitStartSec;
    if (exploit == null) return false;
    const sc = path.join(dir, `replay-${i}.sc`);
    await writeFile(sc, await scText(zip));
    const fd = openSync(sc, 'r');
    const mon = await runCli(['monitor', '--od', model, '--exploit-at', String(exploit)], { timeoutMs: 90_000, stdin: fd }).finally(() => closeSync(fd));
    assert.equal(mon.code, 0, mon.stderr);
    const exploitNs = BigInt(Math.round(exploit * 1e6)) * 1000n;
    for (const { alert } of alertsOf(mon)) {
      const end = BigInt(alert.output_fields['chids.window.start_ns']) + 1_000_000_000n;
      assert.equal(alert.output_fields['chids.label'], end <= exploitNs ? 'false_alarm' : 'after_exploit_start', `${f}: ${alert.output}`);
    }
    const s = mon.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>;
    return s.exploit.alerts_after > 0;
  };
  const detected = (await pool(files.map((f, i) => () => replay(f, i)), 3)).filter(Boolean).length;
  console.log(`bundled replay: ${detected} of ${files.length} attack recordings alert after their exploit start`);
  assert.ok(detected >= 1, 'at least one bundled attack is detected after its exploit start');
});

test('--realtime paces a replay: a window closes on time across a quiet stretch, and SIGTERM flushes and exits 0', { timeout: 60_000 }, async (t) => {
  const dir = await workdir(t);
  const T0 = 1_700_000_000n * 1_000_000_000n;
  const ev = (ms: number, name: string, args = '') => `${T0 + BigInt(ms) * 1_000_000n} 0 7 srv 7 ${name} < ${args}`;
  // Training: a server answering requests (read/write/close), 3 s.
  const train: string[] = [];
  for (let ms = 0; ms < 3000; ms += 10) train.push(ev(ms, 'read', 'res=10'), ev(ms + 1, 'write', 'res=10'), ev(ms + 2, 'close', 'res=0'));
  await writeFile(path.join(dir, 'train.sc'), train.join('\n') + '\n');
  const model = path.join(dir, 'model');
  const base = await runCli(['baseline', '--td', path.join(dir, 'train.sc'), '--od', model, '--seed', '5'], { timeoutMs: 60_000 });
  assert.equal(base.code, 0, base.stderr);
  // Monitored, through a pipe: the first 0.5 s does something new, then nothing is written. The
  // window can only close on the clock (no later event exists to close it), so the alert proves
  // it without a bound on wall time.
  const live: string[] = [];
  for (let ms = 0; ms < 500; ms += 10) live.push(ev(ms, 'ptrace', 'res=0'), ev(ms + 1, 'openat', 'fd=3 name=/etc/shadow'), ev(ms + 2, 'setuid', 'res=0'));
  const mon = startCli(['monitor', '--od', model, '--source', 'stdin', '--realtime', '--grace', '100ms'], { timeoutMs: 30_000, stdin: 'pipe' });
  mon.child.stdin!.write(live.join('\n') + '\n');
  const first = await mon.waitOut((l) => l.startsWith('{'), 20_000);
  const alert = JSON.parse(first.line);
  assert.equal(alert.output_fields['chids.window.index'], 0);
  assert.ok(alert.output_fields['chids.unseen_syscalls'].includes('ptrace'));
  // Paced: an event 6 s into the recording, written now, is held until then; the signal comes first.
  mon.child.stdin!.write(ev(6000, 'read', 'res=1') + '\n');
  mon.child.kill('SIGTERM');
  const { code } = await mon.done;
  assert.equal(code, 0);
  const stopped = mon.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>;
  assert.ok(stopped, 'flushed and logged its summary');
  assert.equal(stopped.events, 150, 'the events before the signal were all counted; the one at 6 s never came');
});

test('capture --source stdin writes a LID-DS recording; sysdig text is refused', { timeout: 30_000 }, async (t) => {
  const dir = await workdir(t);
  const T0 = 1_700_000_000n * 1_000_000_000n;
  const sc = Array.from({ length: 500 }, (_, i) => `${T0 + BigInt(i) * 5_000_000n} 0 7 srv 7 read < res=1`).join('\n') + '\n';
  await writeFile(path.join(dir, 'in.sc'), sc);
  const fd = openSync(path.join(dir, 'in.sc'), 'r');
  t.after(() => closeSync(fd));
  const out = path.join(dir, 'rec', 'copy.zip');
  const r = await runCli(['capture', '--source', 'stdin', '--out', out, '--json'], { timeoutMs: 20_000, stdin: fd });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.out[0]);
  assert.equal(summary.events, 500);
  assert.equal(await scText(out), sc);
  const labels = await (await openSource(out)).labels();
  assert.equal(labels?.exploit, false);
  assert.equal(labels?.recordingTimeSec, 2);

  await writeFile(path.join(dir, 'in.txt'), '1 00:00:00.000000001 0 cat (7) > read fd=3\n2 00:00:00.000000002 0 cat (7) < read res=1\n');
  const fd2 = openSync(path.join(dir, 'in.txt'), 'r');
  t.after(() => closeSync(fd2));
  const bad = await runCli(['capture', '--source', 'stdin', '--out', path.join(dir, 'no.zip')], { timeoutMs: 20_000, stdin: fd2 });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /LID-DS/);
});

test('clear errors: missing strace or bpftrace binary, bad flags', { timeout: 30_000 }, async () => {
  const s = await runCli(['capture', '--source', 'strace', '--cmd', 'true', '--out', path.join(os.tmpdir(), 'never.zip')], { timeoutMs: 20_000, env: { CHIDS_STRACE: '/nonexistent/strace' } });
  assert.equal(s.code, 1);
  assert.match(s.stderr, /chids: --source strace: .*strace/);
  const e = await runCli(['capture', '--source', 'ebpf', '--pid', String(process.pid), '--out', path.join(os.tmpdir(), 'never.zip')], { timeoutMs: 20_000, env: { CHIDS_BPFTRACE: '/nonexistent/bpftrace' } });
  assert.equal(e.code, 1);
  assert.match(e.stderr, /chids: --source ebpf: (eBPF is unavailable|.*root|.*x86_64)/);
  const p = await runCli(['capture', '--source', 'strace', '--out', path.join(os.tmpdir(), 'never.zip')], { timeoutMs: 20_000 });
  assert.equal(p.code, 1);
  assert.match(p.stderr, /needs --pid PID or --cmd/);
});
