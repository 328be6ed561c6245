/**
 * The attack lab end to end (src/lab/): a short real recording per victim with one attack each,
 * checked with chids' own reader (events parse, labels and exploit time, the attack's tell-tale
 * syscalls), and the cleanup on success, error and SIGINT (no process, namespace or file left).
 *
 * Needs root (namespaces, ptrace) and the Debian packages that .ci/run installs; otherwise the
 * recording tests are skipped with a loud warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordMany, recordOne } from '../src/lab/index.js';
import { findProgram, PACKAGES, requirePrograms, versionOf } from '../src/lab/programs.js';
import { preflight } from '../src/lab/dataset.js';
import { LAB_TMP_ENV } from '../src/lab/record.js';
import { collectTrace } from '../src/encode/pipeline.js';
import { openSource } from '../src/trace/sources/readers.js';
import { ChidsError } from '../src/util/errors.js';
import { assertOneLineError, runCli } from './helpers/cli.js';
import { labSkipReason } from './helpers/lab-skip.js';
import { cliNodeArgs } from './helpers/paths.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NEEDED = ['strace', 'unshare', 'nsenter', 'setpriv', 'ip', 'nginx', 'redis-server', 'redis-cli', 'sqlite3', 'ping', 'bash'];

const skip = labSkipReason('the lab recording tests', NEEDED);

/** A private parent for the lab's work directories, so leftovers can be told apart. */
function labTmp(): string {
  const base = mkdtempSync('/var/tmp/chids-labtest-');
  chmodSync(base, 0o711); // the victim's user namespace must get through it (checkReachable)
  process.env[LAB_TMP_ENV] = base;
  return base;
}

function pidNamespaces(): Set<string> {
  const out = new Set<string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      out.add(readlinkSync(`/proc/${e}/ns/pid`));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Processes naming `marker` in their command line, or in a pid namespace that did not exist before
 * and whose mounts name `marker` (the sandbox bind-mounts its work directory, under `marker`): other
 * test files running at the same time start namespaces of their own (podman containers, other
 * labs), which are not this recording's leftovers.
 */
function leftovers(before: Set<string>, marker: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const ns = readlinkSync(`/proc/${e}/ns/pid`);
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const ours = cmd.includes(marker) || (!before.has(ns) && readFileSync(`/proc/${e}/mountinfo`, 'utf8').includes(marker));
      if (ours) found.push(`${e}: ${cmd.slice(0, 120)}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

async function waitNoLeftovers(before: Set<string>, marker: string): Promise<string[]> {
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = leftovers(before, marker);
    if (left.length === 0) return left;
    await sleep(100);
  }
  return left;
}

/** A timer that does not keep the test process alive. */
function sleep<T = void>(ms: number, value?: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value as T), ms).unref());
}

interface ScInfo {
  lines: string[];
  first: number;
  last: number;
}

async function readSc(file: string): Promise<ScInfo> {
  const src = await openSource(file);
  let text = '';
  for await (const c of src.chunks()) text += c.toString('utf8');
  const lines = text.split('\n').filter(Boolean);
  const ts = (l: string) => Number(BigInt(l.slice(0, l.indexOf(' '))) / 1_000_000n) / 1000;
  return { lines, first: ts(lines[0]), last: ts(lines[lines.length - 1]) };
}

async function checkRecording(file: string, attack: string) {
  const src = await openSource(file);
  const labels = await src.labels();
  assert.ok(labels, 'NAME.json is in the zip');
  assert.equal(labels.exploit, true);
  assert.equal(labels.exploitName, attack);
  const sc = await readSc(file);
  assert.ok(labels.exploitStartSec !== null && labels.exploitStartSec > sc.first && labels.exploitStartSec < sc.last, `exploit ${labels.exploitStartSec} inside [${sc.first}, ${sc.last}]`);
  assert.ok(labels.warmupEndSec !== null && Math.abs(labels.warmupEndSec! - sc.first) < 1.5, 'the recording starts at warmup_end');
  const v = await collectTrace(src, { faithful: false, windowNs: 1e9 });
  assert.equal(v.summary.malformed, 0, 'every line parses');
  assert.equal(v.summary.events, sc.lines.length);
  assert.ok(v.summary.windows >= 5, `${v.summary.windows} windows`);
  return { labels, sc, vocab: v };
}

test('preflight: not root is a clear ChidsError', () => {
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    assert.throws(() => preflight('web', [null]), (e: unknown) => e instanceof ChidsError && e.message === 'chids lab record needs root (namespaces and ptrace); run it with sudo');
  } finally {
    process.getuid = real;
  }
});

test('preflight: a missing program names its Debian package', () => {
  assert.throws(() => requirePrograms(['hydra-does-not-exist'], 'the test'), /install the Debian package hydra-does-not-exist/);
  PACKAGES['chids-fake-tool'] = 'chids-fake-pkg';
  try {
    assert.throws(
      () => requirePrograms(['chids-fake-tool'], 'the bruteforce attack'),
      (e: unknown) => e instanceof ChidsError && /the bruteforce attack needs chids-fake-tool.*apt-get install chids-fake-pkg/.test(e.message),
    );
  } finally {
    delete PACKAGES['chids-fake-tool'];
  }
});

// 14 s: in 8 s, inside the loaded suite, the shell connected but the recon commands' output had
// not all come back before the recording ended (CI, twice).
test('web victim, command injection: a reverse shell in a short recording', { skip, timeout: 120_000 }, async () => {
  const base = labTmp();
  const out = mkdtempSync(path.join(os.tmpdir(), 'chids-labout-'));
  const before = pidNamespaces();
  try {
    const [res] = await recordMany({ victim: 'web', attack: 'cmd-injection', count: 1, seed: 11, split: false, seconds: 14, warmupSeconds: 2, outDir: out });
    assert.equal(path.dirname(res.file), out);
    assert.deepEqual(readdirSync(out), [path.basename(res.file)], 'only the zip, no temp file');
    const { labels, sc, vocab } = await checkRecording(res.file, 'cmd-injection');
    const raw = labels.raw as { chids_lab: { attack: { succeeded: boolean; detail: string; requests_in_window: number | null; ran: boolean } } };
    assert.ok(raw.chids_lab.attack.succeeded, raw.chids_lab.attack.detail);
    // The injection request is in nginx's log, with an agent that is not the normal client's.
    assert.ok((raw.chids_lab.attack.requests_in_window ?? 0) >= 1, JSON.stringify(raw.chids_lab.attack));
    assert.equal(raw.chids_lab.attack.ran, true);
    // normal work: nginx, node, sqlite3 spawned per query, redis
    for (const p of ['nginx', 'node', 'sqlite3', 'redis-server']) assert.ok(sc.lines.some((l) => l.split(' ')[3] === p), `events of ${p}`);
    // the attack: the injected shell starts bash, which connects back to the listener
    const exploitNs = BigInt(Math.round(labels.exploitStartSec! * 1000)) * 1_000_000n;
    const after = sc.lines.filter((l) => BigInt(l.slice(0, l.indexOf(' '))) >= exploitNs);
    assert.ok(after.some((l) => / execve > filename=\/(usr\/)?bin\/bash /.test(l)), 'execve of bash');
    assert.ok(after.some((l) => / bash \d+ connect < res=0 tuple=127\.0\.0\.1:4444 /.test(l)), 'bash connects back to the listener');
    assert.ok(after.some((l) => / (id|whoami|uname) \d+ execve < res=0 /.test(l)), 'recon commands run in the shell');
    assert.ok(vocab.seenArgs.size > 50);
    assert.deepEqual(await waitNoLeftovers(before, base), [], 'no process left');
    assert.deepEqual(readdirSync(base), [], 'work directory removed');
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});

test('redis victim, CONFIG SET dir/dbfilename: the dump lands in /root/.ssh', { skip, timeout: 90_000 }, async () => {
  const base = labTmp();
  const out = mkdtempSync(path.join(os.tmpdir(), 'chids-labout-'));
  const before = pidNamespaces();
  try {
    const [res] = await recordMany({ victim: 'redis', attack: 'redis-config-write', count: 1, seed: 12, split: false, seconds: 8, warmupSeconds: 2, outDir: out });
    const { labels, sc } = await checkRecording(res.file, 'redis-config-write');
    // What redis-cli got back (a refused SAVE says why), for the messages below.
    const attack = JSON.stringify((labels.raw as { chids_lab: { attack: unknown } }).chids_lab.attack);
    assert.ok(sc.lines.some((l) => / redis-server \d+ chdir > path=\/root\/\.ssh /.test(l)), `chdir to /root/.ssh (${attack})`);
    assert.ok(sc.lines.some((l) => / openat < fd=\d+\(<f>\/root\/\.ssh\/temp-\d+\.rdb\)/.test(l)), `the dump is written in /root/.ssh (${attack})`);
    assert.ok(sc.lines.some((l) => / rename < res=0 oldpath=temp-\d+\.rdb newpath=authorized_keys /.test(l)), `renamed to authorized_keys (${attack})`);
    assert.deepEqual(await waitNoLeftovers(before, base), [], 'no process left');
    assert.deepEqual(readdirSync(base), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});

test('chids lab record: --attack-cap with --replicas is a one-line error (the replicas share one window)', async () => {
  const r = await runCli(['lab', 'record', '--replicas', '2', '--attack', 'sqli', '--attack-cap', '30', '--out', path.join(os.tmpdir(), 'chids-never-written')]);
  assertOneLineError(r, '--attack-cap', '--replicas');
  assert.equal(r.code, 2);
});

test('an attack still running at the window\'s end: the window follows it up to the cap, then a 2-s tail', { skip: skip || (['hydra', 'curl'].some((p) => findProgram(p) === null) ? 'needs hydra and curl (apt-get install hydra curl)' : false), timeout: 120_000 }, async () => {
  const base = labTmp();
  const out = mkdtempSync(path.join(os.tmpdir(), 'chids-labout-'));
  try {
    // hydra needs tens of seconds for a password 56th in its list: a 5-s window cannot hold it.
    const file = path.join(out, 'brute_force_1.zip');
    const res = await recordOne({ victim: 'web', attack: 'bruteforce', seconds: 5, warmupSeconds: 2, attackCapSeconds: 12, seed: 13, outFile: file, straceVersion: versionOf('strace', ['-V'], /version\s+(\S+)/) });
    const { labels, sc } = await checkRecording(res.file, 'bruteforce');
    const raw = labels.raw as { recording_time: number; chids_lab: { attack_cap_seconds: number; scheduled_seconds: number; attack: { succeeded: boolean; detail: string } } };
    assert.equal(raw.chids_lab.attack_cap_seconds, 12);
    assert.equal(raw.chids_lab.scheduled_seconds, 5);
    const offset = res.exploitStart! - res.warmupEnd;
    // Never shorter than the scheduled window; never longer than the cap + tail (+ the lab's own 1.5-s grace).
    assert.ok(raw.recording_time >= 5 - 1e-6 && raw.recording_time <= offset + 12 + 2 + 1.5 + 0.5, `recording_time ${raw.recording_time}, attack at +${offset}`);
    // hydra does not finish within 5 s here: the window was extended and events follow past its scheduled end.
    assert.ok(raw.recording_time > 5, `recording_time ${raw.recording_time}: ${raw.chids_lab.attack.detail}`);
    assert.ok(sc.last > res.warmupEnd + 5, `events after the scheduled end (last at +${(sc.last - res.warmupEnd).toFixed(2)} s)`);
    // A hit is checked with a login of our own: only dave's real password counts.
    if (raw.chids_lab.attack.succeeded) assert.match(raw.chids_lab.attack.detail, /found dave:letmein2021/);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});

test('an error during the recording stops the sandbox and writes nothing', { skip, timeout: 60_000 }, async () => {
  const base = labTmp();
  const out = mkdtempSync(path.join(os.tmpdir(), 'chids-labout-'));
  const before = pidNamespaces();
  try {
    await assert.rejects(
      recordOne({
        victim: 'redis',
        attack: null,
        seconds: 5,
        seed: 1,
        warmupSeconds: 1,
        outFile: path.join(out, 'x.zip'),
        straceVersion: null,
        onPhase: (p) => {
          if (p === 'recording') throw new Error('injected failure');
        },
      }),
      /injected failure/,
    );
    assert.deepEqual(readdirSync(out), []);
    assert.deepEqual(await waitNoLeftovers(before, base), [], 'no process left');
    assert.deepEqual(readdirSync(base), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});

test('SIGINT to `chids lab record` stops everything: exit 130, no output, no process, no work directory', { skip, timeout: 90_000 }, async () => {
  const base = mkdtempSync('/var/tmp/chids-labtest-');
  chmodSync(base, 0o711);
  const out = mkdtempSync(path.join(os.tmpdir(), 'chids-labout-'));
  mkdirSync(path.join(out, 'rec'));
  const before = pidNamespaces();
  try {
    const child = spawn(process.execPath, [...cliNodeArgs(), 'lab', 'record', '--seconds', '30', '--seed', '3', '--out', path.join(out, 'rec')], {
      cwd: repoRoot,
      env: { ...process.env, [LAB_TMP_ENV]: base },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const recording = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
        if (stderr.includes('recording 30 s')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await Promise.race([recording, exited, sleep(45_000)]);
    assert.ok(stderr.includes('recording 30 s'), stderr);
    await sleep(1000);
    child.kill('SIGINT');
    const code = await Promise.race([exited, sleep(20_000, 'timeout')]);
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.deepEqual(readdirSync(path.join(out, 'rec')), [], 'no recording, no temp file');
    assert.deepEqual(await waitNoLeftovers(before, base), [], 'no process left');
    assert.deepEqual(readdirSync(base), [], 'work directory removed');
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});
