/**
 * `chids monitor --source strace --pid` on a real podman container across `podman restart`:
 * the monitor keeps running, re-attaches to the container's new httpd, and counts its events
 * under the same container (scraped from /metrics) with the restart and its blind time; SIGTERM
 * then exits 0. With `--exit-with-target`, stopping the container ends the monitor with exit 0.
 *
 * Needs root, podman with runc, strace and a static busybox; skipped loudly otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildBusyboxImage, hit, podman, podmanMissing, removeContainer, removeImage, runHttpd, type Container } from './helpers/busybox-container.js';
import { needsCommand, runCli, startCli } from './helpers/live.js';
import { repoRoot } from './helpers/paths.js';

const skip = needsCommand('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], 'the strace source needs strace with ptrace permission') || podmanMissing();

function series(text: string, name: string): number | undefined {
  for (const l of text.split('\n')) if (l.startsWith(name + ' ')) return Number(l.slice(name.length + 1));
  return undefined;
}
const scrape = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();

// The two tests run side by side (each its own container and monitor, a metrics port of its own):
// most of their time is waiting on podman and strace, one after the other ~95 s on a loaded machine.
describe('monitor follows a restarted container (strace)', { skip, timeout: 400_000, concurrency: 2 }, () => {
  const tag = `livefix-mon-${process.pid}`;
  let image = '';
  let model = '';
  let dir = '';
  const names: string[] = [];
  before(async () => {
    if (skip) return;
    image = buildBusyboxImage(`${tag}-httpd`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'chids-monrestart-'));
    model = path.join(dir, 'model');
    // Any baseline will do: what is tested is where the events go, not what is detected.
    const base = await runCli(['baseline', '--td', path.join(repoRoot, 'data', 'example', 'training', 'adoring_swirles_6933.zip'), '--od', model, '--model', 'chids', '--epochs', '5', '--seed', '1', '-q'], { timeoutMs: 150_000 });
    assert.equal(base.code, 0, base.stderr);
  });
  after(async () => {
    for (const n of names) removeContainer(n);
    if (image) removeImage(image);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const start = (suffix: string): Container => {
    const name = `${tag}-${suffix}`;
    names.push(name);
    return runHttpd(image, name);
  };

  test('podman restart: the monitor keeps watching the container; SIGTERM exits 0', async (t) => {
    const w = start('r');
    const mon = startCli(['monitor', '--od', model, '--source', 'strace', '--pid', String(w.pid()), '--metrics', '127.0.0.1:0', '--no-stdout'], { timeoutMs: 200_000 });
    t.after(() => {
      mon.child.kill('SIGKILL');
    });
    await mon.waitLog('strace started', 60_000);
    const url = (await mon.waitLog('metrics listening', 60_000)).url as string;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await hit(w.port, 3), 3);
    const id = w.id.slice(0, 12);
    const events = async () => series(await scrape(url), `chids_events_total{container="${id}"}`) ?? 0;
    for (let i = 0; i < 100 && (await events()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const before = await events();
    assert.ok(before > 0, 'events of the container before the restart');

    podman(['restart', '-t', '1', w.name], 120_000);
    await mon.waitLog('container came back: re-attaching', 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(mon.child.exitCode, null, 'the monitor is still running');
    assert.equal(await hit(w.port, 3), 3);
    let afterRestart = before;
    for (let i = 0; i < 100 && afterRestart <= before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      afterRestart = await events();
    }
    assert.ok(afterRestart > before, `events after the restart counted under the same container (${before} → ${afterRestart})`);
    const text = await scrape(url);
    // What the source said of each restart: a failure names the one too many.
    const restarts = () => JSON.stringify(mon.logs.filter((l) => /restart|came back|strace started|ended/.test(String(l.msg)))).slice(0, 3000);
    assert.equal(series(text, 'chids_source_restarts_total'), 1, restarts());
    assert.ok((series(text, 'chids_source_blind_seconds_total') ?? -1) >= 0);
    mon.child.kill('SIGTERM');
    const { code } = await mon.done;
    assert.equal(code, 0);
    const stopped = mon.logs.find((l) => l.msg === 'monitor stopped')!;
    assert.equal(stopped.restarts, 1, restarts());
  });

  test('--exit-with-target: stopping the container ends the monitor with exit 0', async (t) => {
    const w = start('x');
    const mon = startCli(['monitor', '--od', model, '--source', 'strace', '--pid', String(w.pid()), '--exit-with-target', '--no-stdout'], { timeoutMs: 200_000 });
    t.after(() => {
      mon.child.kill('SIGKILL');
    });
    await mon.waitLog('strace started', 60_000);
    podman(['stop', '-t', '1', w.name], 60_000);
    const { code } = await mon.done;
    assert.equal(code, 0, JSON.stringify(mon.logs.slice(-5)));
    const stopped = mon.logs.find((l) => l.msg === 'monitor stopped')!;
    assert.match(String(stopped.end), new RegExp(`the traced container ${w.id.slice(0, 12)} ended`));
  });
});
