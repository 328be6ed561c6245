/**
 * The fleet end to end, on a real `nats-server -js`: a baseline pushed to the registry; four
 * stdin agents on two node names replaying replicas of one image at the pace of their
 * timestamps (three normal, one attacked), fetching their baseline from the registry; the
 * broker stopped for a few seconds mid-run and restarted; `chids fleet` consuming both streams.
 *
 * Afterwards CHIDS_WINDOWS holds exactly one message per window each agent closed, and those
 * windows are the ones `chids encode` prints for the same trace (nothing lost, nothing doubled);
 * the attacked replica has its trained-detector alerts and a `Replica deviation` alert in the
 * fleet's --alerts file, the normal replicas have none.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingText, writeRecording } from './helpers/lidds-dataset.js';
import { runCli, startCli, type LiveRun } from './helpers/live.js';
import { needsNatsServer, startNats, streamMessages, type NatsHarness } from './helpers/nats.js';

const skip = needsNatsServer();
const IMAGE = 'localhost/fleet-test-web:1';
const START = 1_800_000_000; // every replica records the same span (the same clock)
// Whole replica windows (10 s): a partial last window holds too few requests for the rare ones
// (a CGI child) to show up in every normal replica.
const SECONDS = 30;

function readAlerts(file: string): Record<string, any>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

async function until<T>(f: () => T | Promise<T>, ms: number, what: string): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('fleet over NATS JetStream', { skip, timeout: 600_000 }, () => {
  let h: NatsHarness;
  let dir: string;
  const running: LiveRun[] = [];
  before(async () => {
    h = await startNats({ prefix: 'fleet-e2e' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-e2e-'));
  });
  after(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await h?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('4 agents, 2 nodes, a broker outage: one message per window, the attacked replica alerted by its detector and by its siblings', async () => {
    const env = { CHIDS_CACHE: path.join(dir, 'cache') };
    // A baseline of the service, learnt from recordings of its normal traffic (enough of them to
    // see its bursts: with 80 s of training, a normal burst 2 % above the largest one alarmed).
    for (let i = 0; i < 8; i++) writeRecording(path.join(dir, 'training'), { name: `train_${i}`, seconds: 30, exploitAt: null, seed: 9100 + i, startSec: 1_700_000_000 + 100 * i });
    const model = path.join(dir, 'model');
    const base = await runCli(['baseline', '--td', path.join(dir, 'training'), '--od', model, '--seed', '3'], { timeoutMs: 180_000 });
    assert.equal(base.code, 0, base.stderr);
    const push = await runCli(['fleet', 'push', '--nats', h.url, '--od', model, '--image', IMAGE, '--json'], { timeoutMs: 60_000 });
    assert.equal(push.code, 0, push.stderr);
    assert.equal(JSON.parse(push.out[0]).version, 1);
    const list = await runCli(['fleet', 'baselines', '--nats', h.url, '--json'], { timeoutMs: 60_000 });
    assert.deepEqual(JSON.parse(list.out[0]).map((e: { image: string }) => e.image), [IMAGE]);

    // The replicas: the same service on the same clock, different requests; web-3 is attacked.
    const replicas = [0, 1, 2, 3].map((i) => {
      const file = path.join(dir, `web-${i}.sc`);
      writeFileSync(file, recordingText({ name: `web-${i}`, seconds: SECONDS, exploitAt: i === 3 ? 14 : null, attackSeconds: 3, seed: 9300 + i, startSec: START }));
      return { name: `web-${i}`, node: i < 2 ? 'node-a' : 'node-b', file };
    });

    const alertsFile = path.join(dir, 'fleet-alerts.jsonl');
    const fleet = startCli(['fleet', '--nats', h.url, '--alerts', alertsFile, '--no-stdout', '--replica-idle', '15s'], { timeoutMs: 400_000, env });
    running.push(fleet);
    await fleet.waitLog('fleet started', 60_000);

    const agents = replicas.map((r) => {
      const fd = openSync(r.file, 'r');
      const run = startCli(
        ['monitor', '--source', 'stdin', '--format', 'lidds', '--realtime', '--nats', h.url, '--node', r.node, '--container-name', r.name, '--image', IMAGE, '--spool', path.join(dir, `spool-${r.name}`), '--no-stdout',
          // A paced replay on a loaded machine can deliver lines late; a window waits 3 s for them.
          '--grace', '3s'],
        { timeoutMs: 300_000, stdin: fd, env },
      );
      closeSync(fd);
      running.push(run);
      return run;
    });
    await Promise.all(agents.map((a) => a.waitLog('source ready', 120_000)));
    // Mid-run: a new version of the baseline is pushed (the same model: the windows must not
    // change) and every agent swaps it in without dropping a window...
    const push2 = await runCli(['fleet', 'push', '--nats', h.url, '--od', model, '--image', IMAGE, '--json'], { timeoutMs: 60_000 });
    assert.equal(push2.code, 0, push2.stderr);
    assert.equal(JSON.parse(push2.out[0]).version, 2);
    await Promise.all(agents.map((a) => a.waitLog('baseline swapped', 30_000)));
    // ...then the broker goes away for a few seconds, and comes back on the same store.
    await new Promise((r) => setTimeout(r, 3000));
    await h.nodes[0].stop();
    await new Promise((r) => setTimeout(r, 4000));
    await h.nodes[0].start();

    const ends = await Promise.all(agents.map((a) => a.done));
    for (let i = 0; i < agents.length; i++) assert.equal(ends[i].code, 0, JSON.stringify(agents[i].logs.slice(-5)));
    for (const a of agents) assert.equal(a.logs.find((l) => l.msg === 'baseline swapped')?.version, 2);
    const summaries = agents.map((a) => a.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>);
    for (const s of summaries) {
      assert.equal(s.nats.dropped.queue_full + s.nats.dropped.spool_full + s.nats.dropped.at_exit, 0);
      assert.equal(s.nats.queued, 0);
    }
    assert.ok(summaries.some((s) => s.nats.spooled > 0), 'some windows were spooled during the outage');

    // CHIDS_WINDOWS: per agent, exactly the windows `chids encode` prints for its trace, once each.
    // What `chids encode` prints for each trace, the four at once.
    const encodes = await Promise.all(replicas.map((r) => runCli(['encode', '--od', model, r.file], { timeoutMs: 120_000 })));
    const msgs = await streamMessages(h.url, 'CHIDS_WINDOWS');
    assert.equal(new Set(msgs.map((m) => m.id)).size, msgs.length, 'no message id stored twice');
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[i];
      const mine = msgs.filter((m) => m.subject === `chids.windows.${r.node}.${r.name}`).map((m) => JSON.parse(m.data));
      assert.equal(mine.length, summaries[i].windows, `${r.name}: one message per closed window`);
      const enc = encodes[i];
      assert.equal(enc.code, 0, enc.stderr);
      const expected = enc.out.map((l) => {
        const m = /"window":(\d+),"start_ns":(\d+),"events":(\d+),"av":(\[.*\])/.exec(l)!;
        return { window: Number(m[1]), start_ns: m[2], events: Number(m[3]), av: JSON.parse(m[4]) };
      });
      const got = mine.map((w) => ({ window: w.window, start_ns: w.start_ns, events: w.events, av: w.av })).sort((a, b) => a.window - b.window);
      if (summaries[i].late === 0) assert.deepEqual(got, expected, `${r.name}: the windows of chids encode`);
      else {
        // Lines delivered after their window closed (the machine stalled the replay longer than
        // the grace) are counted in the current window, as the monitor documents: the windows
        // are still the same ones, with the same events in all.
        console.log(`${r.name}: ${summaries[i].late} events late (a stalled replay): windows compared by start and total events`);
        assert.deepEqual(got.map((w) => w.start_ns), expected.map((w) => w.start_ns));
        assert.equal(got.reduce((n, w) => n + w.events, 0), expected.reduce((n, w) => n + w.events, 0));
      }
      for (const w of mine) assert.equal(w.image, IMAGE);
    }

    // The fleet: the attacked replica's detector alerts and its replica deviation reach --alerts.
    const isAttacked = (a: Record<string, any>) => a.output_fields['container.name'] === 'web-3' && a.output_fields['chids.node'] === 'node-b';
    await until(() => readAlerts(alertsFile).some((a) => a.rule === 'Replica deviation' && isAttacked(a)), 90_000, 'a replica deviation alert').catch((err) => {
      throw new Error(`${err.message}; fleet logs: ${JSON.stringify(fleet.logs.filter((l) => l.level !== 'debug').slice(-12))}`);
    });
    const detectorAlerts = summaries[3].alerts;
    assert.ok(detectorAlerts > 0, 'the attacked replica raised detector alerts');
    await until(() => readAlerts(alertsFile).filter((a) => a.rule === 'Anomalous syscall window' && isAttacked(a)).length === detectorAlerts, 60_000, "every agent alert in the fleet's file");
    const status = await runCli(['fleet', 'status', '--nats', h.url, '--json'], { timeoutMs: 60_000 });
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.out[0]);
    assert.deepEqual(st.nodes, ['node-a', 'node-b']);
    assert.deepEqual(st.images, [IMAGE]);
    assert.equal(st.containers.length, 4);
    fleet.child.kill('SIGTERM');
    await fleet.done;

    const all = readAlerts(alertsFile);
    assert.equal(new Set(all.map((a) => JSON.stringify(a))).size, all.length, 'no alert written twice');
    for (const r of replicas.slice(0, 3)) {
      const theirs = all.filter((a) => a.output_fields['container.name'] === r.name);
      assert.deepEqual(theirs.map((a) => a.output), [], `${r.name} (normal) has no alerts`);
    }

    // A monitor started while the broker is down keeps detecting and spools (exit 0); the next
    // run replays the spool first, and replaying the same trace again stores nothing twice.
    await h.nodes[0].stop();
    const late = { name: 'web-late', node: 'node-c', file: replicas[0].file };
    const spool = path.join(dir, 'spool-late');
    const agentArgs = ['monitor', '--source', 'stdin', '--format', 'lidds', '--od', model, '--nats', h.url, '--node', late.node, '--container-name', late.name, '--image', IMAGE, '--spool', spool, '--no-stdout', '--drain-timeout', '1s'];
    const replay = async () => {
      const fd = openSync(late.file, 'r');
      try {
        const r = await runCli(agentArgs, { timeoutMs: 120_000, stdin: fd, env });
        assert.equal(r.code, 0, r.stderr);
        return r.logs.find((l) => l.msg === 'monitor stopped') as Record<string, any>;
      } finally {
        closeSync(fd);
      }
    };
    const offline = await replay();
    assert.ok(offline.windows > 0);
    assert.equal(offline.nats.published, 0);
    assert.equal(offline.nats.spooled, offline.windows, 'every window kept in the spool');
    await h.nodes[0].start();
    const online = await replay();
    assert.equal(online.nats.published, offline.windows, 'the spooled windows, published once');
    assert.equal(online.nats.duplicates, online.windows, 'the same windows again: refused as duplicates');
    const lateMsgs = (await streamMessages(h.url, 'CHIDS_WINDOWS')).filter((m) => m.subject === `chids.windows.${late.node}.${late.name}`);
    assert.equal(lateMsgs.length, offline.windows);

    const attacked = all.filter(isAttacked);
    console.log(
      `fleet: ${msgs.length} windows stored, ${summaries.map((s) => s.nats.spooled).join('/')} spooled during the outage; ` +
        `web-3: ${attacked.filter((a) => a.rule === 'Anomalous syscall window').length} detector alerts, ${attacked.filter((a) => a.rule === 'Replica deviation').length} replica deviation alerts`,
    );
  });
});
