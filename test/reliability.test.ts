/**
 * Regression tests for the reliability audit (issue 10): bounded work on any timestamps,
 * `--od` never deleting what chids did not write, crash-safe baseline replacement.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertOneLineError, runCli } from './helpers/cli.js';
import { cliNodeArgs, repoRoot } from './helpers/paths.js';
import { WindowClock } from '../src/encode/windows.js';
import { SyscallEvent } from '../src/trace/event.js';
import { readBaselineData, pathsInDir } from '../src/engine/baseline-dir.js';
import { checkBaselineTarget } from '../src/engine/baseline-replace.js';
import { runBaseline } from '../src/app/train.js';

let tmp = '';
before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'chids-rel-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const T0 = 1631078867380457267n;
const line = (t: bigint, name = 'read', dir = '>', arg = 'fd=1') => `${t} 0 1 a 1 ${name} ${dir} ${arg}\n`;

/** The reproducer: 1,400 events one day apart (56 KB). */
function dayStep(n = 1400): string {
  let s = '';
  for (let i = 0n; i < BigInt(n); i++) s += line(T0 + i * 86_400_000_000_000n);
  return s;
}

function event(sec: number, nsec: number, lineNo: number): SyscallEvent {
  const ev = new SyscallEvent();
  ev.sec = sec;
  ev.nsec = nsec;
  ev.line = lineNo;
  return ev;
}

describe('work budget: empty windows', () => {
  it('refuses a gap over the budget, naming both timestamps and lines, in both modes', () => {
    for (const faithful of [false, true]) {
      const c = new WindowClock(1e9, faithful, 'x.sc', 1000);
      assert.equal(c.place(event(100, 5, 1)), 0);
      assert.equal(c.place(event(600, 5, 2)), 500); // 499 empty windows: within the budget
      assert.equal(c.empty, 499);
      assert.throws(
        () => c.place(event(1200, 0, 7)),
        (e: Error) => /x\.sc: the gap from 600\.000000005 \(line 2\) to 1200\.000000000 \(line 7\) would open 598 empty .*1097 in all, over the limit of 1000/.test(e.message),
      );
    }
  });

  it('budgets each gap on its own when asked (a monitor), and a refused event changes nothing', () => {
    const c = new WindowClock(1e9, false, 'live', 1000);
    c.perGap = true;
    c.place(event(0, 0, 1));
    let t = 0;
    for (let i = 0; i < 10; i++) c.place(event((t += 900), 0, i + 2)); // 899 each, 8,990 in all
    assert.throws(() => c.place(event(t + 5000, 0, 99)), /would open 4999 empty/);
    assert.equal(c.place(event(t + 1, 0, 100)), c.current); // the clock is where it was
  });

  it('the default budget is generous: a day of 1 s windows is fine', () => {
    const c = new WindowClock(1e9, true, 'x');
    c.place(event(0, 0, 1));
    assert.equal(c.place(event(86_400, 0, 2)), 86_400);
  });

  it('a tiny window length (a manifest with window_ns: 1) is refused, not run for billions of windows', async () => {
    const { encodeTrace } = await import('../src/encode/pipeline.js');
    const { makeVocabulary } = await import('../src/encode/vocabulary.js');
    const { bufferSource } = await import('./helpers/file-source.js');
    const text = line(T0) + line(T0 + 84_216n) + line(T0 + 100_000_000n);
    for (const faithful of [false, true]) {
      await assert.rejects(
        encodeTrace(bufferSource('tiny.sc', text, 'lidds'), makeVocabulary(['read'], [], 1), { faithful, windowNs: 1 }, () => undefined),
        /tiny\.sc: the gap from .*\(line 2\) to .*\(line 3\) would open 999\d{5} empty 1 ns windows/,
      );
    }
  });

  it('CLI: baseline, encode (improved) and baseline --faithful end quickly with one clear line', async () => {
    const day = path.join(tmp, 'daystep.sc');
    writeFileSync(day, dayStep());
    const two = path.join(tmp, 'two.sc');
    writeFileSync(two, line(1631078867380457267n) + line(2631078867380457267n));
    for (const [args, file] of [
      [['baseline', '--td', day, '--od', path.join(tmp, 'b1'), '--model', 'bosc'], day],
      [['baseline', '--faithful', '--td', two, '--od', path.join(tmp, 'b2'), '--model', 'bosc'], two],
    ] as const) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      assertOneLineError(r, file);
      assert.match(r.stderr, /would open \d+ empty .* over the limit of 1000000 .*--max-empty-windows/);
      assert.equal(existsSync(args[4]), false, 'no baseline written');
    }
  });
});

/** A small real baseline (BoSC trains in well under a second). */
async function smallBaseline(dir: string): Promise<void> {
  const td = path.join(tmp, 'td.sc');
  let s = '';
  for (let i = 0n; i < 400n; i++) {
    const t = T0 + i * 50_000_000n;
    const name = i % 3n === 0n ? 'openat' : 'read';
    s += line(t, name, '>', 'fd=3') + line(t + 1000n, name, '<', 'fd=3(<f>/etc/passwd) name=/etc/passwd');
  }
  writeFileSync(td, s);
  await runBaseline({ inputs: [td], outDir: dir, faithful: false, windowNs: 1e9, seed: 1, model: { model: 'bosc' } });
}

describe('--od safety', () => {
  let good = '';
  before(async () => {
    good = path.join(tmp, 'good');
    await smallBaseline(good);
  });

  it('refuses a directory whose manifest.json is not a chids manifest, deleting nothing', async () => {
    const w = path.join(tmp, 'pwa');
    mkdirSync(w);
    writeFileSync(path.join(w, 'manifest.json'), '{"name":"pwa"}');
    writeFileSync(path.join(w, 'index.html'), 'x');
    await assert.rejects(checkBaselineTarget(w), /not a chids baseline directory/);
    await assert.rejects(runBaseline({ inputs: [path.join(tmp, 'td.sc')], outDir: w, faithful: false, windowNs: 1e9, seed: 1, model: { model: 'bosc' } }), /not a chids baseline/);
    assert.deepEqual(readdirSync(w).sort(), ['index.html', 'manifest.json']);
  });

  it('refuses a real baseline that also holds the user\'s files, naming them', async () => {
    const w = path.join(tmp, 'withnotes');
    cpSync(good, w, { recursive: true });
    writeFileSync(path.join(w, 'NOTES.md'), 'mine');
    mkdirSync(path.join(w, 'eval'));
    const r = await runCli(['baseline', '--td', path.join(tmp, 'td.sc'), '--od', w, '--model', 'bosc'], { timeoutMs: 30_000 });
    assertOneLineError(r, w);
    assert.match(r.stderr, /also holds files chids did not write \(NOTES\.md, eval\)/);
    assert.equal(readFileSync(path.join(w, 'NOTES.md'), 'utf8'), 'mine');
    assert.ok(existsSync(path.join(w, 'eval')));
  });

  it('replaces a baseline of its own files only', async () => {
    const w = path.join(tmp, 'replace');
    cpSync(good, w, { recursive: true });
    await smallBaseline(w);
    assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('.replace')), []);
    await readBaselineData(pathsInDir(w));
  });

  // A SIGKILL after every step of the replacement: whatever instant the writer dies, the next
  // command finds a complete baseline at --od (the old one or the new one), and no staging
  // directory is left behind.
  const steps = ['staged', 'synced', 'manifest', 'moved-old', 'moved-new', 'done'];
  for (const step of steps) {
    it(`a writer killed after '${step}' leaves a complete baseline, and no leftovers once read`, async () => {
      const parent = path.join(tmp, `crash-${step}`);
      const w = path.join(parent, 'od');
      mkdirSync(parent);
      cpSync(good, w, { recursive: true });
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test', 'helpers', 'crash-writer.ts'), good, w, step, 'NEW'], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      const data = await readBaselineData(pathsInDir(w)); // recovers if needed
      const created = JSON.parse(readFileSync(path.join(w, 'manifest.json'), 'utf8')).created;
      const expectNew = ['moved-old', 'moved-new', 'done'].includes(step);
      assert.equal(created === 'NEW', expectNew, `after ${step}: created=${created}`);
      assert.ok(data.thresholds !== null);
      assert.deepEqual(readdirSync(parent), ['od'], `leftovers after ${step}`);
    });
  }
});

describe('report: data-sized arrays', () => {
  it('renders a recording of 300,000 windows (Math.min(...all) overflowed the stack past ~120k)', async () => {
    const { renderReport } = await import('../src/report/html.js');
    const { THETAS } = await import('../src/engine/verdicts.js');
    const thresholds = THETAS.map((t) => 0.1 * t);
    const errors = Array.from({ length: 300_000 }, (_, i) => (i % 11 === 0 ? null : 0.01 + (i % 13) * 0.001));
    const rec = {
      file: 'long.sc',
      class: 'normal' as const,
      max_error: 0.022,
      start_ns: '1631078867380457267',
      window_ns: 1e9,
      window_errors: errors,
      labels: null,
    };
    const html = renderReport({ theta: [...THETAS], thresholds, detection_rate: THETAS.map(() => null), false_alarm_rate: THETAS.map(() => 0), recordings: [rec] });
    assert.match(html, /long\.sc/);
  });
});

describe('clear one-line errors', () => {
  it('a full disk on stdout, and a symlink loop, are one line each', async () => {
    const base = path.join(tmp, 'good');
    const full = openSync('/dev/full', 'w');
    const r = spawnSync(process.execPath, [...cliNodeArgs(), 'encode', '--od', base, path.join(tmp, 'td.sc')], {
      cwd: repoRoot,
      stdio: ['ignore', full, 'pipe'],
      encoding: 'utf8',
      timeout: 30_000,
    });
    closeSync(full);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim(), 'chids: cannot write to standard output (no space left on device)');
    symlinkSync('loop-b', path.join(tmp, 'loop-a'));
    symlinkSync('loop-a', path.join(tmp, 'loop-b'));
    const l = await runCli(['encode', '--od', base, path.join(tmp, 'loop-a')]);
    assertOneLineError(l, path.join(tmp, 'loop-a'), /symbolic links \(a symlink loop\?\)/);
  });
});

/**
 * Read-only output directories, made real for root (who ignores permission bits): a read-only
 * tmpfs or read-only bind mount, in a private mount namespace of the CLI's own (`unshare
 * --mount`), so that nothing stays mounted whatever happens to the test.
 */
describe('a read-only --od, as root', () => {
  const canMount = (): string | false => {
    if (process.getuid?.() !== 0) return '!!! SKIPPED: needs root (a read-only mount) !!!';
    const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', '/mnt'], { timeout: 10_000 });
    return probe.status === 0 ? false : `!!! SKIPPED: cannot mount in a new mount namespace (${probe.stderr?.toString().trim()}) !!!`;
  };
  const skip = canMount();
  if (skip) console.warn(skip);
  before(async () => {
    if (!existsSync(path.join(tmp, 'td.sc'))) await smallBaseline(path.join(tmp, 'ro-seed')); // writes td.sc
  });

  /** `chids baseline` after `mounts` (sh), in a mount namespace of its own. */
  function baselineIn(mounts: string, od: string) {
    const script = `set -e; ${mounts}; exec "$0" "$@"`;
    return spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, process.execPath, ...cliNodeArgs(), 'baseline', '--td', path.join(tmp, 'td.sc'), '--od', od, '--model', 'bosc'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
  }
  /** Every file under `dir` with its content. */
  const snapshot = (dir: string): [string, string][] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d): [string, string] => [path.join(d.parentPath, d.name), readFileSync(path.join(d.parentPath, d.name), 'utf8')])
      .sort((a, b) => a[0].localeCompare(b[0]));

  it('a new baseline on a read-only file system: one line, exit 1', { skip, timeout: 90_000 }, async () => {
    const mnt = path.join(tmp, 'ro-tmpfs');
    mkdirSync(mnt);
    const od = path.join(mnt, 'base');
    const r = baselineIn(`mount -t tmpfs -o ro,size=1m tmpfs '${mnt}'`, od);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim(), `chids: ${od}: cannot write the baseline (read-only file system)`);
    assert.deepEqual(readdirSync(mnt), [], 'nothing written under the mount point');
  });

  it('replacing a baseline in a read-only directory: one line, exit 1, the old baseline intact', { skip, timeout: 90_000 }, async () => {
    const parent = path.join(tmp, 'ro-parent');
    mkdirSync(parent);
    const od = path.join(parent, 'base');
    await smallBaseline(od);
    const before = snapshot(od);
    const r = baselineIn(`mount --bind '${parent}' '${parent}'; mount -o remount,bind,ro '${parent}'`, od);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim(), `chids: ${od}: cannot write the baseline (read-only file system)`);
    assert.deepEqual(readdirSync(parent), ['base'], 'no temp directory left');
    assert.deepEqual(snapshot(od), before);
  });

  it('a baseline that is itself a read-only mount point: one line, exit 1, intact', { skip, timeout: 90_000 }, async () => {
    const parent = path.join(tmp, 'ro-mountpoint');
    mkdirSync(parent);
    const od = path.join(parent, 'base');
    await smallBaseline(od);
    const before = snapshot(od);
    const r = baselineIn(`mount --bind '${od}' '${od}'; mount -o remount,bind,ro '${od}'`, od);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim(), `chids: ${od}: cannot write the baseline (busy: a mount point cannot be replaced)`);
    assert.deepEqual(readdirSync(parent), ['base'], 'no temp directory left');
    assert.deepEqual(snapshot(od), before);
  });
});
