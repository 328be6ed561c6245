/**
 * `monitor --baselines DIR --learn DURATION` without a container runtime: the per-image router is
 * fed, as a live source would feed it, the events of three containers (their identities resolved):
 * A of an image that has a baseline, B and B2 of an image that has none. B is recorded for the
 * learning duration (event time), a baseline is trained from it and saved under DIR with its image,
 * and from then on B and B2 are scored with it; A is scored throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';
import { containerById, type ContainerInfo } from '../src/capture/containers.js';
import { BaselineRouter } from '../src/app/baselines.js';
import { Monitor } from '../src/app/monitor.js';
import { runBaseline } from '../src/app/train.js';
import { jsonLogger } from '../src/util/log.js';
import type { AlertSink } from '../src/outputs/alerts.js';
import { runCli } from './helpers/live.js';

const EX = 'data/example';
const IMAGE_A = 'localhost/learn-test-a:1';
const IMAGE_B = 'localhost/learn-test-b:2';

/** The .sc text of a recording, cut into batches of whole lines (as a live source hands them over). */
function batches(zip: string, lines = 2000): Buffer[] {
  const files = unzipSync(readFileSync(zip));
  const sc = Object.keys(files).find((n) => n.endsWith('.sc'))!;
  const all = strFromU8(files[sc]).split('\n').filter((l) => l !== '');
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += lines) out.push(Buffer.from(all.slice(i, i + lines).join('\n') + '\n'));
  return out;
}

function container(n: number, name: string, image: string): ContainerInfo {
  const id = String(n).repeat(64).slice(0, 64);
  return containerById(id, null, null, { state: 'resolved', name, image, repository: null, tag: null, imageId: null, podName: null, podNamespace: null, runtime: 'test' });
}

test('--learn records an image without a baseline, trains one into --baselines, then scores its containers', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-learn-'));
  try {
    const baselines = path.join(dir, 'baselines');
    const train = readdirSync(`${EX}/training`).sort().map((f) => `${EX}/training/${f}`);
    await runBaseline({ inputs: train.slice(0, 3), outDir: path.join(baselines, 'a'), faithful: false, windowNs: 1e9, epochs: 20, seed: 7, image: IMAGE_A });

    const logs: { msg: string; [k: string]: unknown }[] = [];
    const log = jsonLogger({ level: 'info', write: (l) => logs.push(JSON.parse(l)) });
    const alerts: string[] = [];
    const sink: AlertSink = { name: 'test', send: (_a, line) => alerts.push(line), close: async () => undefined };
    const router = await BaselineRouter.open(baselines, (b) => new Monitor({ ...b, theta: 1, sinks: [sink], log }), null, log, { durationNs: 8e9, epochs: 20, seed: 7 });

    const a = container(1, 'web-a', IMAGE_A);
    const b = container(2, 'app-b', IMAGE_B);
    const b2 = container(3, 'app-b2', IMAGE_B);
    const feedA = batches(train[3]);
    const learnFrom = batches(train[4]);
    // Interleaved, as a node-wide source delivers them.
    for (let i = 0; i < Math.max(feedA.length, learnFrom.length); i++) {
      if (i < feedA.length) router.feed(a, feedA[i], 'lidds');
      if (i < learnFrom.length) router.feed(b, learnFrom[i], 'lidds');
      if (i < 2) router.feed(b2, learnFrom[i], 'lidds');
    }
    assert.ok(
      logs.some((l) => l.msg === 'learning the image: recording the container' && l.image === IMAGE_B),
      'B is recorded',
    );
    assert.ok(
      logs.some((l) => String(l.msg).startsWith('container has no baseline for its image: not scored until the baseline being learned') && l.container === b2.id),
      'B2 waits for the baseline of its image',
    );
    await router.learned();
    assert.deepEqual(router.learning(), []);

    // On disk: DIR/<image-derived name>/ with the image in its manifest; the recording is gone.
    const learnedDir = path.join(baselines, 'learn-test-b_2');
    const manifest = JSON.parse(readFileSync(path.join(learnedDir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.image, IMAGE_B);
    assert.deepEqual(readdirSync(baselines).filter((f) => f.startsWith('.')), [], 'no temporary file left');
    assert.ok(logs.some((l) => l.msg === 'container watched with the baseline learned for its image' && l.container === b.id));
    assert.ok(logs.some((l) => l.msg === 'container watched with the baseline learned for its image' && l.container === b2.id));
    const before = router.containerStats();
    assert.equal(before.find((c) => c.key === b.key), undefined, 'B was not scored while it was learned');
    assert.ok(router.unbaselined().some((u) => u.key === b.key), 'B\'s events after the recording and before the baseline are counted unscored');

    // After learning: B is attacked, B2 runs normal traffic; both are scored with the learned baseline.
    const attacks = readdirSync(`${EX}/test/normal_and_attack`).sort();
    for (const batch of batches(`${EX}/test/normal_and_attack/${attacks[0]}`)) router.feed(b, batch, 'lidds');
    const normals = readdirSync(`${EX}/test/normal`).sort();
    for (const batch of batches(`${EX}/test/normal/${normals[0]}`)) router.feed(b2, batch, 'lidds');
    router.finish();
    const stats = router.containerStats();
    const sb = stats.find((c) => c.key === b.key)!;
    const sb2 = stats.find((c) => c.key === b2.key)!;
    const sa = stats.find((c) => c.key === a.key)!;
    assert.ok(sa.scored > 0, 'A is scored with its image\'s baseline');
    assert.ok(sb.scored > 0 && sb2.scored > 0, 'B and B2 are scored after learning');
    assert.ok(sb.alerts >= 1, `the attack on B raises an alert (B: ${sb.alerts} alerts in ${sb.scored} windows)`);
    assert.ok(alerts.some((l) => l.includes(b.id)), 'the alert names container B');
    // Reported, not asserted (8 s of learning is little): how noisy the learned baseline is on normal traffic.
    console.log(`learned baseline: attack recording ${sb.alerts} alerts / ${sb.scored} windows; normal recording ${sb2.alerts} / ${sb2.scored}`);
    router.dispose();

    // The next run starts with the learned baseline: nothing to learn for that image.
    const again = await BaselineRouter.open(baselines, (x) => new Monitor({ ...x, theta: 1, sinks: [], log }), null, log, { durationNs: 8e9 });
    again.feed(b, batches(`${EX}/test/normal/${normals[1]}`)[0], 'lidds');
    assert.deepEqual(again.learning(), []);
    assert.ok(logs.filter((l) => l.msg === 'container watched with the baseline of its image' && l.container === b.id).length >= 1);

    // A container the runtime names only after the router's wait (a busy runtime): routed unscored
    // at first, watched with its image's baseline once it is named.
    const late = containerById('9'.repeat(64), null, null, { state: 'pending', name: null, image: null, repository: null, tag: null, imageId: null, podName: null, podNamespace: null, runtime: null });
    const lateBatches = batches(`${EX}/test/normal/${normals[1]}`);
    assert.ok(lateBatches.length >= 3);
    const realNow = Date.now;
    try {
      again.feed(late, lateBatches[0], 'lidds');
      Date.now = () => realNow() + 11_000; // past the router's wait for a name
      again.feed(late, lateBatches[1], 'lidds');
    } finally {
      Date.now = realNow;
    }
    assert.ok(logs.some((l) => String(l.msg).startsWith('container has no baseline for its image') && l.container === late.id), 'not named after the wait: unscored');
    assert.ok(!logs.some((l) => l.msg === 'container watched with the baseline of its image' && l.container === late.id));
    Object.assign(late.identity!, { state: 'resolved', name: 'web-late', image: IMAGE_A, runtime: 'test' });
    again.feed(late, lateBatches[2], 'lidds');
    assert.ok(logs.some((l) => l.msg === 'container watched with the baseline of its image' && l.container === late.id), 'watched once the runtime has named it');
    again.finish();
    again.dispose();
    assert.ok(!existsSync(path.join(baselines, 'learn-test-b_2-2')), 'not learned twice');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--learn: a container whose stream ends before the duration leaves no baseline and no temporary file', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-learn-'));
  try {
    const logs: { msg: string }[] = [];
    const log = jsonLogger({ level: 'info', write: (l) => logs.push(JSON.parse(l)) });
    // An empty baselines directory is allowed with --learn (day one).
    const router = await BaselineRouter.open(dir, (b) => new Monitor({ ...b, theta: 1, sinks: [], log }), null, log, { durationNs: 600e9 });
    const b = container(4, 'short', IMAGE_B);
    for (const batch of batches(`${EX}/training/${readdirSync(`${EX}/training`).sort()[0]}`).slice(0, 3)) router.feed(b, batch, 'lidds');
    router.finish();
    await router.learned();
    router.dispose();
    assert.deepEqual(readdirSync(dir), []);
    assert.ok(logs.some((l) => l.msg.includes('stream ended before the container was recorded long enough')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('chids monitor --baselines: --learn allows an empty directory, needs --baselines, and is refused without', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-learn-'));
  try {
    const empty = path.join(dir, 'models');
    mkdirSync(empty);
    const sc = path.join(dir, 'rec.sc');
    writeFileSync(sc, Buffer.concat(batches(`${EX}/training/${readdirSync(`${EX}/training`).sort()[0]}`).slice(0, 2)));
    const run = async (args: string[]) => {
      const fd = openSync(sc, 'r');
      try {
        return await runCli(['monitor', '--source', 'stdin', ...args], { timeoutMs: 120_000, stdin: fd });
      } finally {
        closeSync(fd);
      }
    };
    const ok = await run(['--baselines', empty, '--learn', '3s']);
    assert.equal(ok.code, 0, ok.stderr);
    // A replay names no image: reported, nothing learned.
    assert.ok(ok.logs.some((l) => String(l.msg).startsWith('container has no baseline for its image')), ok.stderr);
    assert.deepEqual(readdirSync(empty), []);
    const noLearn = await run(['--baselines', empty]);
    assert.notEqual(noLearn.code, 0);
    assert.match(noLearn.stderr, /no baseline directory in it names its image/);
    const noDir = await run(['--learn', '3s', '--od', empty]);
    assert.notEqual(noDir.code, 0);
    assert.match(noDir.stderr, /--learn needs --baselines DIR/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('chids monitor --source stdin --realtime --baselines DIR --image REF --learn 3s: learns from the replay, then scores the rest of it', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-learn-'));
  try {
    const models = path.join(dir, 'models');
    mkdirSync(models);
    const sc = path.join(dir, 'rec.sc');
    writeFileSync(sc, Buffer.concat(batches(`${EX}/test/normal/${readdirSync(`${EX}/test/normal`).sort()[2]}`)));
    const fd = openSync(sc, 'r');
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(['monitor', '--source', 'stdin', '--realtime', '--baselines', models, '--image', 'replay/web:3', '--container-name', 'web-3', '--learn', '3s'], { timeoutMs: 150_000, stdin: fd });
    } finally {
      closeSync(fd);
    }
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(path.join(models, 'replay_web_3', 'manifest.json'), 'utf8'));
    assert.equal(manifest.image, 'replay/web:3');
    assert.ok(r.logs.some((l) => l.msg === 'container watched with the baseline learned for its image' && l.name === 'web-3'), r.stderr);
    const stopped = r.logs.find((l) => l.msg === 'monitor stopped')!;
    assert.ok((stopped.scored as number) > 0, `the rest of the replay is scored: ${JSON.stringify(stopped)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
