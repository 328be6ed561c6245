/**
 * The NATS publisher against a real nats-server: streams created on first use, every message
 * stored exactly once across a broker outage (spooled to disk, replayed in order), a spool left
 * at exit replayed by the next run, and drops counted when there is nowhere to keep a message.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsLink } from '../src/outputs/nats/link.js';
import { NatsPublisher } from '../src/outputs/nats/publisher.js';
import { ensureStreams } from '../src/outputs/nats/streams.js';
import { WINDOWS_STREAM, windowMsgId, windowSubject } from '../src/outputs/nats/subjects.js';
import type { Logger } from '../src/util/log.js';
import { needsNatsServer, startNats, type NatsHarness } from './helpers/nats.js';

const skip = needsNatsServer();
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Every message of the stream: subject, id, payload, in stream order. */
async function readAll(nc: NatsConnection, stream: string): Promise<{ subject: string; id: string; data: string }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: { subject: string; id: string; data: string }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) out.push({ subject: m.subject, id: m.header.get('Nats-Msg-Id'), data: m.string() });
  }
  return out;
}

describe('NATS publisher', { skip, timeout: 180_000 }, () => {
  let h: NatsHarness;
  let dir: string;
  before(async () => {
    h = await startNats({ prefix: 'fleet-pub' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-pub-'));
  });
  after(async () => {
    await h?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every message once, in order, across a broker outage (spooled, then replayed)', async () => {
    const link = new NatsLink(h.url, { name: 't', log: quiet, onConnect: async (nc) => void (await ensureStreams(nc, await jetstreamManager(nc))) });
    await link.firstConnect;
    const pub = new NatsPublisher(link, { spoolDir: path.join(dir, 'spool1'), log: quiet, ackTimeoutMs: 1000 });
    // Closed whatever happens (a failed assertion left the client reconnecting and the file's
    // process alive, holding the whole suite up).
    let open = true;
    const closeAll = async () => {
      if (!open) return;
      open = false;
      await pub.close();
      await link.close();
    };
    try {
      const send = (i: number) => pub.send(windowSubject('n1', 'c1'), windowMsgId('n1', 'c1', BigInt(i)), JSON.stringify({ i }));
      for (let i = 0; i < 50; i++) send(i);
      await until(() => pub.stats.published === 50, 20_000, '50 published');
      await h.nodes[0].stop();
      // Once the client has noticed (before, a send goes to the memory queue and is retried
      // there: CI once sent all 100 before it noticed, and nothing was spooled)…
      await until(() => !link.connected, 20_000, 'the link noticed the broker is gone');
      // …what is sent goes to the spool; send() is synchronous (it cannot wait for the broker),
      // and none is lost (checked at the end).
      for (let i = 50; i < 150; i++) assert.equal(send(i), undefined);
      assert.equal(pub.stats.spooled, 100, 'spooled while the broker was away');
      await h.nodes[0].start();
      for (let i = 150; i < 200; i++) send(i);
      await until(() => pub.stats.published + pub.stats.duplicates >= 200, 60_000, 'all 200 acknowledged');
    } finally {
      await closeAll();
    }
    const nc = await connect({ servers: h.url });
    const msgs = await readAll(nc, WINDOWS_STREAM);
    await nc.close();
    assert.deepEqual(msgs.map((m) => JSON.parse(m.data).i), Array.from({ length: 200 }, (_, i) => i));
    assert.equal(new Set(msgs.map((m) => m.id)).size, 200);
    assert.deepEqual(pub.stats.dropped, { queue_full: 0, spool_full: 0, at_exit: 0 });
  });

  it('a republished id is stored once; a spool left at exit is replayed by the next run', async () => {
    await h.nodes[0].stop();
    const spool = path.join(dir, 'spool2');
    const link = new NatsLink(h.url, { name: 't', log: quiet, onConnect: async (nc) => void (await ensureStreams(nc, await jetstreamManager(nc))) });
    const pub = new NatsPublisher(link, { spoolDir: spool, log: quiet });
    for (let i = 0; i < 20; i++) pub.send(windowSubject('n2', 'c'), windowMsgId('n2', 'c', BigInt(i)), JSON.stringify({ i }));
    await pub.close(500);
    await link.close();
    assert.equal(pub.stats.published, 0);
    await h.nodes[0].start();
    const link2 = new NatsLink(h.url, { name: 't', log: quiet, onConnect: async (nc) => void (await ensureStreams(nc, await jetstreamManager(nc))) });
    const pub2 = new NatsPublisher(link2, { spoolDir: spool, log: quiet });
    // The same window again (a replay of the same trace): not stored twice.
    pub2.send(windowSubject('n2', 'c'), windowMsgId('n2', 'c', 0n), JSON.stringify({ i: 0 }));
    await until(() => pub2.stats.published + pub2.stats.duplicates === 21, 30_000, 'spool replayed');
    // The new message queued behind the spool (order), so it came through it too.
    assert.equal(pub2.stats.replayed, 21);
    await pub2.close();
    await link2.close();
    assert.equal(pub2.stats.published, 20);
    assert.equal(pub2.stats.duplicates, 1);
    const nc = await connect({ servers: h.url });
    const msgs = (await readAll(nc, WINDOWS_STREAM)).filter((m) => m.subject.endsWith('.n2.c'));
    await nc.close();
    assert.deepEqual(msgs.map((m) => JSON.parse(m.data).i), Array.from({ length: 20 }, (_, i) => i));
  });

  it('without a spool, messages beyond the memory bound are dropped and counted, never blocking', async () => {
    await h.nodes[0].stop();
    const link = new NatsLink(h.url, { name: 't', log: quiet });
    const pub = new NatsPublisher(link, { spoolDir: null, maxQueue: 10, log: quiet });
    for (let i = 0; i < 25; i++) pub.send('chids.windows.n3.c', `x${i}`, '{}');
    assert.equal(pub.queued, 10);
    assert.equal(pub.stats.dropped.queue_full, 15);
    await pub.close(200);
    await link.close();
    assert.equal(pub.stats.dropped.at_exit, 10);
    await h.nodes[0].start();
  });

  it('streams are created once with file storage, limits and a duplicate window', async () => {
    const nc = await connect({ servers: h.url });
    const jsm = await jetstreamManager(nc);
    const r = await ensureStreams(nc, jsm);
    assert.deepEqual(r, { CHIDS_WINDOWS: 1, CHIDS_ALERTS: 1 });
    const info = await jsm.streams.info(WINDOWS_STREAM);
    assert.equal(info.config.storage, 'file');
    assert.ok(info.config.max_age > 0 && info.config.max_bytes > 0 && info.config.duplicate_window > 0);
    void jetstream;
    await nc.close();
  });
});
