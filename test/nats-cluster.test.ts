/**
 * A 3-node JetStream cluster on loopback: the streams get 3 replicas, and a publisher keeps
 * publishing while one broker is killed for good (SIGKILL, never restarted): every message is
 * stored exactly once, in order, on the two survivors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsLink } from '../src/outputs/nats/link.js';
import { NatsPublisher } from '../src/outputs/nats/publisher.js';
import { ensureStreams } from '../src/outputs/nats/streams.js';
import { WINDOWS_STREAM, windowMsgId, windowSubject } from '../src/outputs/nats/subjects.js';
import type { Logger } from '../src/util/log.js';
import { metaLeader, needsNatsServer, startNatsCluster, streamMessages, type NatsHarness } from './helpers/nats.js';

const skip = needsNatsServer();
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

describe('NATS cluster', { skip, timeout: 240_000 }, () => {
  let h: NatsHarness;
  let dir: string;
  before(async () => {
    h = await startNatsCluster({ prefix: 'fleet-cluster' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-cluster-'));
  });
  after(async () => {
    await h?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replicates the streams 3 ways and loses nothing when a broker dies for good mid-run', async () => {
    const link = new NatsLink(h.url, { name: 't', log: quiet, onConnect: async (nc) => void (await ensureStreams(nc, await jetstreamManager(nc))) });
    await link.firstConnect;
    await new Promise<void>((r) => {
      const t = setInterval(() => link.connected && (clearInterval(t), r()), 50);
    });
    const pub = new NatsPublisher(link, { spoolDir: path.join(dir, 'spool'), log: quiet, ackTimeoutMs: 2000 });
    const N = 600;
    // Agents of 3 containers, a window each 5 ms: the kill lands in the middle of the stream.
    let i = 0;
    const sendUpTo = async (n: number) => {
      for (; i < n; i++) {
        const c = `c${i % 3}`;
        pub.send(windowSubject('node-x', c), windowMsgId('node-x', c, BigInt(i)), JSON.stringify({ i }));
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 50));
      }
    };
    await sendUpTo(N / 2);
    // Kill the server the publisher is connected to (or the first one): the worst case.
    const server = link.nc?.info?.server_name ?? 'n0';
    const victim = h.nodes.find((n) => n.name === server) ?? h.nodes[0];
    await victim.kill();
    await sendUpTo(N);
    const end = Date.now() + 90_000;
    while (pub.stats.published + pub.stats.duplicates < N && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await pub.close();
    await link.close();
    assert.equal(pub.stats.published + pub.stats.duplicates, N, JSON.stringify(pub.stats));
    const survivors = h.nodes.filter((n) => n.running);
    assert.equal(survivors.length, 2);
    await metaLeader(survivors, 30_000);
    const url = survivors.map((n) => n.url).join(',');
    const msgs = await streamMessages(url, WINDOWS_STREAM);
    assert.deepEqual(msgs.map((m) => JSON.parse(m.data).i), Array.from({ length: N }, (_, k) => k), 'every message once, in order');
    const nc = await connect({ servers: url.split(',') });
    const info = await (await jetstreamManager(nc)).streams.info(WINDOWS_STREAM);
    await nc.close();
    assert.equal(info.config.num_replicas, 3);
    console.log(`cluster: ${N} messages, broker ${victim.name} killed after ${N / 2}; ${pub.stats.retries} retries, ${pub.stats.duplicates} duplicates refused, ${pub.stats.spooled} spooled`);
  });
});
