/**
 * `chids monitor --replicas` live: three podman containers of one local busybox image (httpd
 * with a CGI that puts its query into a shell command: command injection), the same requests
 * sent to each at the same moments, then an injection (id, cat /etc/passwd, uname, ls) into one
 * of them. Watched with strace on the three containers' pids, without any baseline: the
 * `Replica deviation` alerts name that container and no other.
 *
 * Needs root, podman (runc, cgroupfs) and strace; skipped loudly otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startCli } from './helpers/live.js';

const P = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
const TAG = `replicas2-live-${process.pid}`;
const IMAGE = `localhost/${TAG}:1`;
const NAMES = [1, 2, 3].map((i) => `${TAG}-${i}`);
const PORTS = [1, 2, 3].map((i) => 20_000 + (process.pid % 10_000) + i * 7);
const WINDOW_S = 3;

function podman(args: string[], timeout = 60_000) {
  return spawnSync('podman', [...P, ...args], { encoding: 'utf8', timeout });
}

function skipReason(): string | false {
  const why =
    typeof process.getuid !== 'function' || process.getuid() !== 0
      ? 'root'
      : spawnSync('podman', ['--version']).status !== 0
        ? 'podman'
        : spawnSync('strace', ['-V']).status !== 0
          ? 'strace'
          : !existsSync('/bin/busybox')
            ? 'a static /bin/busybox (busybox-static)'
            : null;
  if (why === null) return false;
  const msg = `!!! SKIPPED: the live replica test needs ${why} !!!`;
  console.warn(msg);
  return msg;
}
const skip = skipReason();

const CGI = `#!/bin/sh
# Diagnostics page: checks a host. The query goes into a shell command unquoted (CWE-78).
printf 'Content-Type: text/plain\r\n\r\n'
host=$(httpd -d "\${QUERY_STRING#host=}")
eval "echo checking $host; cat /www/status.txt"
`;

let work = '';
let pids: number[] = [];
let ids: string[] = [];

before(async () => {
  if (skip) return;
  work = mkdtempSync(path.join(os.tmpdir(), 'chids-replicas-live-'));
  const root = path.join(work, 'root');
  for (const d of ['bin', 'www/cgi-bin', 'etc', 'tmp']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  for (const a of ['sh', 'httpd', 'cat', 'id', 'ls', 'uname', 'echo', 'sleep']) symlinkSync('busybox', path.join(root, 'bin', a));
  writeFileSync(path.join(root, 'www', 'index.html'), '<h1>shop</h1>\n');
  writeFileSync(path.join(root, 'www', 'status.txt'), 'ok\n');
  writeFileSync(path.join(root, 'www', 'cgi-bin', 'check'), CGI);
  chmodSync(path.join(root, 'www', 'cgi-bin', 'check'), 0o755);
  writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/www:/bin/sh\n');
  const tar = path.join(work, 'img.tar');
  assert.equal(spawnSync('tar', ['-C', root, '-cf', tar, '.']).status, 0);
  const imp = podman(['import', tar, IMAGE]);
  assert.equal(imp.status, 0, imp.stderr);
  NAMES.forEach((n, i) => {
    const r = podman(['run', '-d', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096', '--name', n, '-p', `127.0.0.1:${PORTS[i]}:80`, IMAGE, '/bin/httpd', '-f', '-p', '80', '-h', '/www']);
    assert.equal(r.status, 0, r.stderr);
  });
  for (const n of NAMES) {
    const r = podman(['inspect', n, '--format', '{{.State.Pid}} {{.Id}}']);
    const [pid, id] = r.stdout.trim().split(' ');
    pids.push(Number(pid));
    ids.push(id.slice(0, 12));
  }
  // Each answers before the watch starts.
  for (const port of PORTS) {
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await get(port, '/')).status === 200;
      if (!ok) await sleep(200);
    }
    assert.ok(ok, `container on port ${port} answers`);
  }
});

after(() => {
  if (skip) return;
  for (const n of NAMES) podman(['rm', '-f', '-t', '0', n]);
  podman(['rmi', '-f', IMAGE]);
  if (work) rmSync(work, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 20_000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
  });
}

/** The same requests to every replica, at the same moments. */
async function normalTraffic(untilMs: number): Promise<void> {
  const paths = ['/', '/cgi-bin/check?host=127.0.0.1', '/status.txt', '/cgi-bin/check?host=localhost', '/missing.html'];
  for (let i = 0; i < 10_000 && Date.now() < untilMs; i++) {
    const p = paths[i % paths.length];
    const rs = await Promise.all(PORTS.map((port) => get(port, p)));
    if (process.env.DEBUG_REPLICAS) console.error(p, rs.map((r) => r.status).join(' '), rs.map((r) => r.body.slice(0, 40)).join('|'));
    await sleep(150);
  }
}

test('monitor --replicas: three containers of one image, one attacked → a Replica deviation alert for it alone', { skip, timeout: 240_000 }, async () => {
  const alerts = path.join(work, 'alerts.jsonl');
  const run = startCli(
    ['monitor', '--replicas', '--source', 'strace', '--pid', pids.join(','), '--replica-window', `${WINDOW_S}s`, '--alerts', alerts, '--no-stdout'],
    { timeoutMs: 200_000 },
  );
  try {
    await run.waitLog('source ready', 60_000);
    // Normal traffic for four whole windows, the injection into replica 2, normal traffic for three more.
    const victim = 1;
    await normalTraffic(Date.now() + 4 * WINDOW_S * 1000);
    const attack = encodeURIComponent('127.0.0.1; id; cat /etc/passwd; uname -a; ls -la /');
    const r = await get(PORTS[victim], `/cgi-bin/check?host=${attack}`);
    assert.match(r.body, /uid=0/, `the injection ran (status ${r.status}: ${r.body.slice(0, 200)})`);
    // The attack window is compared once the window after it has ended too (counted similarity, the default).
    await normalTraffic(Date.now() + 3 * WINDOW_S * 1000 + 500);
    run.child.kill('SIGINT');
    const end = await run.done;
    assert.equal(end.code, 0, JSON.stringify(run.logs.slice(-5)));
    const got = existsSync(alerts)
      ? readFileSync(alerts, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { rule: string; output: string; output_fields: Record<string, unknown> })
      : [];
    const stopped = run.logs.find((l) => l.msg === 'replica monitor stopped') as { windows_compared?: number; groups?: { group: string; members: string[] }[] } | undefined;
    assert.ok(stopped, 'summary logged');
    const group = stopped.groups?.find((g) => g.group === IMAGE);
    assert.deepEqual(group?.members.slice().sort(), ids.slice().sort(), `the three containers form the group of ${IMAGE}: ${JSON.stringify(stopped.groups)}`);
    assert.ok((stopped.windows_compared ?? 0) >= 4, `windows compared: ${stopped.windows_compared}`);
    assert.ok(got.length >= 1, 'at least one alert');
    for (const a of got) {
      assert.equal(a.rule, 'Replica deviation');
      assert.equal(a.output_fields['chids.method'], 'replicas');
      assert.equal(a.output_fields['container.id'], ids[victim], a.output);
    }
    const aspects = got[0].output_fields['chids.aspects'] as { aspect: string; only_here: string[] }[];
    // What drove it: the injected commands read /etc/passwd (busybox runs them inside the shell's process).
    const files = aspects.find((x) => x.aspect === 'file_operations');
    assert.ok(files?.only_here.some((f) => f.endsWith(' /etc/passwd')), JSON.stringify(aspects).slice(0, 1500));
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});
