/** The NATS test harness itself: a real server and a 3-node cluster start, store, stop and come back. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { needsNatsServer, startNats, startNatsCluster, type NatsHarness } from './helpers/nats.js';

const skip = needsNatsServer();

describe('nats test harness', { skip, timeout: 120_000 }, () => {
  const started: NatsHarness[] = [];
  after(async () => {
    for (const h of started) await h.cleanup();
  });

  it('a single JetStream server keeps its messages across a stop and a restart', async () => {
    const h = await startNats({ prefix: 'fleet-harness' });
    started.push(h);
    let nc = await connect({ servers: h.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'T', subjects: ['t.>'] });
    await jetstream(nc).publish('t.a', 'one', { msgID: 'm1' });
    await nc.close();
    await h.nodes[0].stop();
    assert.equal(h.nodes[0].running, false);
    await h.nodes[0].start();
    nc = await connect({ servers: h.url });
    const info = await (await jetstreamManager(nc)).streams.info('T');
    assert.equal(info.state.messages, 1);
    await nc.close();
  });

  it('a 3-node cluster takes a stream with 3 replicas', async () => {
    const h = await startNatsCluster({ prefix: 'fleet-harness-cluster' });
    started.push(h);
    const nc = await connect({ servers: h.url.split(',') });
    const jsm = await jetstreamManager(nc);
    // The meta leader may take a moment to be elected after the peers meet.
    let info = null;
    for (let i = 0; i < 50 && info === null; i++) {
      info = await jsm.streams.add({ name: 'R', subjects: ['r.>'], num_replicas: 3 }).catch(() => null);
      if (info === null) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(info, 'stream created');
    assert.equal(info.config.num_replicas, 3);
    await nc.close();
  });
});
