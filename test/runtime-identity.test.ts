/**
 * Container identity from the runtime: podman's JSON, Falco's image fields, the asynchronous
 * resolver (never on the event path) and the alert fields it feeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityResolver } from '../src/capture/runtime/identity.js';
import { parsePodmanPs } from '../src/capture/runtime/podman.js';
import { splitImage, type RuntimeContainer } from '../src/capture/runtime/types.js';
import { buildAlert } from '../src/outputs/alerts.js';
import { EnteredSpan } from '../src/capture/entered.js';
import { normalImage } from '../src/app/baselines.js';
import { EBPF, converter } from './helpers/ebpf.js';

const { CNS, ID } = EBPF;
const quiet = { info: () => undefined, warn: () => undefined };

test('podman identities: names, images split Falco-style, CRI pod labels; resolved off the event path', async () => {
  const ps = JSON.stringify([
    { Id: ID, Names: ['web1'], Image: 'localhost/chids-web:1', ImageID: 'ff'.repeat(32), Labels: null, Pid: 4242, State: 'running' },
    { Id: 'cd'.repeat(32), Names: ['k8s_app_pod'], Image: 'registry:5000/team/app', Labels: { 'io.kubernetes.pod.name': 'app-7d9', 'io.kubernetes.pod.namespace': 'prod' }, Pid: 0, State: 'exited' },
  ]);
  const list = parsePodmanPs(ps);
  assert.equal(list[0].name, 'web1');
  assert.equal(list[1].running, false);
  assert.deepEqual(splitImage('localhost/chids-web:1'), { repository: 'localhost/chids-web', tag: '1' });
  assert.deepEqual(splitImage('registry:5000/team/app'), { repository: 'registry:5000/team/app', tag: 'latest' });
  assert.deepEqual(splitImage('nginx@sha256:abc'), { repository: 'nginx', tag: 'sha256:abc' });
  let calls = 0;
  const rt = { name: 'podman', list: async (): Promise<RuntimeContainer[]> => (calls++, list) };
  const r = new IdentityResolver([rt], quiet, 0);
  const { conv, out } = converter('all', r);
  conv.line(`9000000001 100 100 0 0 > ${CNS} 253\thttpd\t`);
  const c = out[0].c;
  assert.equal(c.identity?.state, 'pending', 'the event is not held up by the lookup');
  await r.settle();
  assert.equal(calls, 1);
  assert.equal(c.identity?.name, 'web1');
  assert.equal(c.identity?.repository, 'localhost/chids-web');
  assert.equal(c.identity?.tag, '1');
  const k8s = r.identity('cd'.repeat(32));
  assert.equal(k8s.state, 'resolved', 'known from the last listing: no second call');
  assert.equal(calls, 1);
  assert.equal(k8s.podName, 'app-7d9');
  assert.equal(k8s.podNamespace, 'prod');
  // In an alert, with Falco's field names, and whether entered processes were in the window.
  const span = new EnteredSpan();
  span.mark(Buffer.from('1700000005000000000 0 1 sh 1 read >\n1700000005100000000 0 1 sh 1 read <\n'));
  const a = buildAlert({
    container: c, index: 5, startNs: 1700000005000000000n, windowNs: 1e9, events: 10, av: [1, 0, 0], score: 2, threshold: 1, theta: 1,
    criticalThreshold: 3, unseenSyscalls: [], unseenArgs: [], model: 'ae', entered: span.overlaps(1700000005000000000n, 1e9),
  });
  assert.equal(a.output_fields['container.name'], 'web1');
  assert.equal(a.output_fields['container.image.repository'], 'localhost/chids-web');
  assert.equal(a.output_fields['container.image.tag'], '1');
  assert.equal(a.output_fields['proc.is_exec'], true);
  assert.match(a.output, /web1, localhost\/chids-web:1/);
  assert.equal(span.overlaps(1700000007000000000n, 1e9), false);
  const failing = new IdentityResolver([{ name: 'podman', list: () => Promise.reject(new Error('not installed')) }], quiet, 0);
  const u = failing.identity(ID);
  await failing.settle();
  assert.equal(u.state, 'unknown');
});

test('images compare without the default registry and with :latest explicit', () => {
  assert.equal(normalImage('docker.io/library/nginx'), 'nginx:latest');
  assert.equal(normalImage('nginx:1.25'), normalImage('docker.io/library/nginx:1.25'));
  assert.equal(normalImage('localhost/web:1'), 'localhost/web:1');
  assert.notEqual(normalImage('localhost/web:1'), normalImage('localhost/web:2'));
});

test('--all-containers: recordings named after containers (file-safe), eBPF only, --out a directory', async () => {
  const { recordingName, runCaptureAll } = await import('../src/app/capture-containers.js');
  const { openLiveSource } = await import('../src/capture/open.js');
  const { jsonLogger } = await import('../src/util/log.js');
  assert.equal(recordingName('web1'), 'web1');
  assert.equal(recordingName('k8s_app/pod:1'), 'k8s_app_pod_1');
  assert.equal(recordingName('../etc'), '__etc', 'no leading dot, no slash');
  const log = jsonLogger({ level: 'error' });
  await assert.rejects(openLiveSource({ kind: 'strace', allContainers: true, log }), /--all-containers needs --source ebpf/);
  await assert.rejects(runCaptureAll({ source: { kind: 'ebpf', allContainers: true }, out: 'x.zip', seconds: 1, log }), /--out is a directory/);
});
