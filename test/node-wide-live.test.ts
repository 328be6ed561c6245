/**
 * Node-wide live detection end to end, with real podman containers (root, podman with runc and
 * cgroupfs, bpftrace): a busybox httpd image built from a local rootfs, with a CGI script that
 * runs whatever `?cmd=` says. Two containers are captured with `capture --all-containers` (one
 * started during the capture, and both restarted, so that container start-ups are in the training data), one
 * baseline is trained for their image, `monitor --all-containers --baselines` watches the node,
 * a third container starts after the monitor, a benign `podman exec` of a trained command runs,
 * then one container is attacked through the CGI: one alert naming that container and its image,
 * none on the others; after `podman restart` the restarted container is still watched (an attack
 * on it alerts too).
 *
 * Skipped loudly when not root or without podman / bpftrace; with CI=true a skip is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, readFileSync, mkdirSync, symlinkSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { alertsOf, runCli, startCli } from './helpers/live.js';

const execFileAsync = promisify(execFile);
const P = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
const TAG = `nodewide-${process.pid}`;
const IMAGE = `localhost/${TAG}:1`;

function missing(): string | false {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const [cmd, args] of [['podman', ['--version']], ['bpftrace', ['-e', 'BEGIN { exit(); }']], ['runc', ['--version']]] as const) {
    const r = spawnSync(cmd, args, { timeout: 30_000, stdio: 'ignore' });
    if (r.error || r.status !== 0) return `needs ${cmd} (\`${cmd} ${args.join(' ')}\` does not work here)`;
  }
  if (!existsSync('/bin/busybox')) return 'needs a static /bin/busybox (apt-get install busybox-static)';
  return false;
}
const why = missing();
if (why) console.warn(`!!! SKIPPED: the node-wide podman test ${why} !!!`);
const skip = why && process.env.CI !== 'true' ? why : false;

/**
 * A podman command, awaited without blocking the event loop: the traffic below is paced by
 * timers in this process, and a synchronous podman call (seconds each on a loaded machine) stopped
 * it (CI: a 35-s capture with a third of the usual events, 17 training windows instead of ~50).
 */
async function podman(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('podman', [...P, ...args], { encoding: 'utf8', timeout: 60_000 });
  return stdout.trim();
}

/** A busybox rootfs with httpd, a page and a command-injectable CGI script, imported as IMAGE. */
async function buildImage(dir: string): Promise<void> {
  const root = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'www/cgi-bin', 'tmp']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  for (const a of ['sh', 'httpd', 'cat', 'ls', 'echo', 'sleep', 'id', 'sed']) symlinkSync('busybox', path.join(root, 'bin', a));
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/www:/bin/false\n');
  writeFileSync(path.join(root, 'www/index.html'), '<h1>hello</h1>\n');
  // The vulnerable CGI: `?cmd=…` is URL-decoded and evaluated.
  writeFileSync(
    path.join(root, 'www/cgi-bin/run'),
    '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho ok\nq="${QUERY_STRING#cmd=}"\nif [ "$q" != "$QUERY_STRING" ]; then eval "$(httpd -d "$q")"; fi\n',
  );
  chmodSync(path.join(root, 'www/cgi-bin/run'), 0o755);
  execFileSync('tar', ['-C', root, '-cf', path.join(dir, 'img.tar'), '.']);
  await podman('import', path.join(dir, 'img.tar'), IMAGE);
}

async function run(name: string, port: number): Promise<void> {
  await podman('run', '-d', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096', '--name', name, '-p', `127.0.0.1:${port}:80`, IMAGE, '/bin/httpd', '-f', '-p', '80', '-h', '/www');
}

function get(port: number, p: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 15_000, insecureHTTPParser: true }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Normal traffic on every port until stopped: the page and the CGI without a command, one request
 * per container every 200 ms at most (a fixed pace, not "as fast as replies come", so that a
 * container sees the same load in training and when watched; a request still in flight skips its turn).
 */
function traffic(ports: () => number[]): { stop: () => Promise<void> } {
  let on = true;
  const busy = new Set<number>();
  const loop = (async () => {
    for (let i = 0; on && i < 4000; i++) {
      for (const p of ports()) {
        if (busy.has(p)) continue;
        busy.add(p);
        void get(p, i % 2 ? '/cgi-bin/run' : '/index.html').then(() => busy.delete(p));
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('node-wide: per-image baseline, a container started later, exec, attack, restart', { skip, timeout: 540_000 }, async (t) => {
  if (why) assert.fail(`CI=true: the node-wide podman test cannot run: ${why}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-nodewide-'));
  const names = ['a', 'b', 'c'].map((x) => `${TAG}-${x}`);
  const base = 18000 + (process.pid % 500) * 3;
  const ports = { [names[0]]: base, [names[1]]: base + 1, [names[2]]: base + 2 };
  t.after(async () => {
    for (const n of names) spawnSync('podman', [...P, 'rm', '-f', '-t', '0', n], { stdio: 'ignore', timeout: 60_000 });
    spawnSync('podman', ['rmi', '-f', IMAGE], { stdio: 'ignore', timeout: 60_000 });
    await rm(dir, { recursive: true, force: true });
  });
  await buildImage(dir);
  await run(names[0], ports[names[0]]);
  const live = new Set([names[0]]);
  const load = traffic(() => [...live].map((n) => ports[n]));
  try {
    // 1. Capture the node: container a running, b started during the capture, both restarted; a trained exec in each.
    const recs = path.join(dir, 'recs');
    const cap = startCli(['capture', '--source', 'ebpf', '--all-containers', '--seconds', '35', '--out', recs], { timeoutMs: 120_000 });
    await cap.waitLog('source ready', 90_000);
    await sleep(2000);
    await run(names[1], ports[names[1]]);
    live.add(names[1]);
    for (let i = 0; i < 4; i++) {
      await sleep(5000);
      for (const n of [names[0], names[1]]) await podman('exec', n, '/bin/cat', '/www/index.html');
      // Restarts: b starts up three times in training and a once. A start-up window is the busiest
      // of a container's life, and the volume reference is the training maximum: with a single
      // start-up to learn from, a later container's start-up exceeded it by chance (1.05×). Both
      // recordings hold one: calibration scores each recording against the other's vocabulary, so
      // start-ups in b alone would read as unseen activity and raise the bar the attack must clear.
      if (i === 0 || i === 2) await podman('restart', '-t', '0', names[1]);
      if (i === 1) await podman('restart', '-t', '0', names[0]);
    }
    const capDone = await cap.done;
    assert.equal(capDone.code, 0, JSON.stringify(cap.logs.slice(-5)));
    const written = cap.logs.find((l) => l.msg === 'captures written') as { dropped: number; recordings: { path: string; name: string; image: string; events: number }[] };
    console.log(`captured: ${written.recordings.map((r) => `${r.name} ${r.events} events`).join(', ')}; ${written.dropped} lost`);
    const ours = written.recordings.filter((r) => names.includes(r.name));
    assert.deepEqual(ours.map((r) => path.basename(r.path)).sort(), [`${names[0]}.zip`, `${names[1]}.zip`]);
    for (const r of ours) {
      assert.equal(r.image, IMAGE);
      assert.ok(r.events > 200, `${r.name}: ${r.events} events`);
    }

    // 2. One baseline for the image, named by the recordings' metadata.
    const baselines = path.join(dir, 'baselines');
    // --fi-risk: the volume bound sits where a normal window exceeds it once in 10⁴ (a tail fitted
    // to the busiest training windows), not at the busiest one: over ~60 watched windows a normal
    // one often exceeds the busiest of a few dozen trained ones (CI, with the maximum: windows of
    // all three containers at 1.01–1.05× it, no attack, in 2 of 6 runs at θ 1.0; with the bound,
    // 1.56× and 1.23× the busiest of 35 and 42 windows, no alert before the attack in 2 of 2).
    const b = await runCli(['baseline', '--td', ours[0].path, '--td', ours[1].path, '--od', path.join(baselines, 'web'), '--seed', '3', '--fi-risk', '1e-4', '--json'], { timeoutMs: 180_000 });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(baselines, 'web', 'manifest.json'), 'utf8')).image, IMAGE, 'the baseline names the image of its recordings');
    const fiRule = JSON.parse(b.out.join('\n')).model.fi_reference_rule as { windows: number; maximum: number; value: number };
    console.log(`volume bound: ${(fiRule.value / fiRule.maximum).toFixed(3)}× the busiest of ${fiRule.windows} training windows`);

    // 3. Watch the node; c starts after the monitor.
    const alertsFile = path.join(dir, 'alerts.jsonl');
    // θ 1.2: this test is about node-wide plumbing (which container, which image, restarts), not
    // the false-alarm rate, which the benchmarks measure. In the loaded suite (before it ran this
    // file alone, and before podman stopped blocking the training traffic) normal windows went
    // 1.01–1.05× past the volume bound at θ 1.0; the attack scores 1.85× (unseen activity over a
    // LORO maximum of 0.57, two recordings with restarts) to 29× (n-grams) its bound.
    const mon = startCli(['monitor', '--source', 'ebpf', '--all-containers', '--baselines', baselines, '--alerts', alertsFile, '--theta', '1.2'], { timeoutMs: 420_000 });
    t.after(() => {
      mon.child.kill('SIGKILL');
    });
    await mon.waitLog('source ready', 90_000);
    await run(names[2], ports[names[2]]);
    live.add(names[2]);
    // Every container, c included, watched (c's start is noticed when the runtime reports it:
    // seconds on a loaded machine); bounded.
    const watchedNames = () => mon.logs.filter((l) => l.msg === 'container watched with the baseline of its image').map((l) => l.name);
    // Up to 120 s: each is watched once the runtime has named it (a podman query per container,
    // seconds each when the suite loads the machine; CI once had only c watched after 60 s).
    for (let i = 0; i < 1200 && !names.every((n) => watchedNames().includes(n)); i++) await sleep(100);
    await sleep(5000);
    // A benign exec of a trained command.
    await podman('exec', names[0], '/bin/cat', '/www/index.html');
    await sleep(4000);
    const early = alertsOf(mon).map((a) => a.alert.output);
    if (early.length > 0) {
      // What the monitor counted (lost, late, reordered events) says whether the alarm was the
      // traffic's or the capture's: printed with the failure.
      mon.child.kill('SIGTERM');
      await mon.done;
      const said = mon.logs.filter((l) => /monitor stopped|kernel time order|lost/.test(String(l.msg)));
      console.log(`monitor, after the early alert: ${JSON.stringify(said).slice(0, 3000)}`);
    }
    assert.deepEqual(early, [], 'no alert on normal traffic, a new container or a trained exec');
    const watched = watchedNames();
    for (const n of names) assert.ok(watched.includes(n), `${n} watched (${watched.join(', ')})`);

    // 4. The attack on a, through the CGI.
    const t0 = Date.now();
    const body = await get(ports[names[0]], '/cgi-bin/run?cmd=cat%20/etc/passwd');
    const t1 = Date.now();
    assert.match(body, /root:x:0:0/, 'the injection works');
    // Up to 60 s: inside the full suite the monitor shares 2 cores with a dozen processes and
    // other tests' containers, whose events it reads too (CI: no alert within 15 s twice, while
    // alone it alerts within ~1 s). The latency is printed, not asserted: timing belongs to
    // `npm run bench:live` and to this test run alone (README).
    const hit = await mon.waitOut((l) => l.startsWith('{') && JSON.parse(l).output_fields['container.name'] === names[0], 60_000);
    const latency = hit.at - t0;
    const alert = JSON.parse(hit.line);
    console.log(`node-wide alert ${latency} ms after the attack request was sent (${hit.at - t1} ms after its response): ${alert.output}`);
    assert.equal(alert.output_fields['container.image'], IMAGE);
    assert.equal(alert.output_fields['container.image.repository'], `localhost/${TAG}`);
    assert.equal(alert.output_fields['container.image.tag'], '1');
    assert.equal(alert.output_fields['proc.is_exec'], false);
    await sleep(3000);
    const after = alertsOf(mon).map((a) => a.alert.output_fields);
    assert.deepEqual([...new Set(after.map((f) => f['container.name']))], [names[0]], 'alerts name the attacked container only');
    const burst = new Set(after.map((f) => f['chids.window.index']));
    assert.ok(burst.size <= 2, `one alert burst (windows ${[...burst].join(', ')})`);

    // 5. Restart b: still watched, with the same identity (an attack on it alerts).
    const watchedB = watchedNames().filter((n) => n === names[1]).length;
    await podman('restart', '-t', '0', names[1]);
    // Until the monitor has picked the restarted b up (a new pid namespace: watched again) and its
    // server answers, at most 6 s (what this used to sleep whatever happened).
    const ready = Date.now() + 6000;
    while (Date.now() < ready && !(watchedNames().filter((n) => n === names[1]).length > watchedB && (await get(ports[names[1]], '/index.html')) !== '')) await sleep(200);
    // The restarted httpd may not accept yet on a loaded machine (CI: no alert 15 s after a request
    // whose answer was never checked): repeat the attack until it works, bounded.
    let bodyB = '';
    for (let i = 0; i < 20 && !/root:x:0:0/.test(bodyB); i++) {
      if (i > 0) await sleep(1000);
      bodyB = await get(ports[names[1]], '/cgi-bin/run?cmd=cat%20/etc/passwd');
    }
    assert.match(bodyB, /root:x:0:0/, 'the injection works on the restarted container');
    const hitB = await mon.waitOut((l) => l.startsWith('{') && JSON.parse(l).output_fields['container.name'] === names[1], 60_000);
    assert.equal(JSON.parse(hitB.line).output_fields['container.image'], IMAGE);
    mon.child.kill('SIGTERM');
    const end = await mon.done;
    const stopped = mon.logs.find((l) => l.msg === 'monitor stopped');
    console.log(`monitor stopped: ${JSON.stringify(stopped ?? null).slice(0, 600)}`);
    console.log(`ordering: ${JSON.stringify(mon.logs.find((l) => String(l.msg).includes('kernel time order')) ?? null)}`);
    assert.equal(end.code, 0);
    assert.ok(!alertsOf(mon).some((a) => a.alert.output_fields['container.name'] === names[2]), 'none on the container started after the monitor');
  } finally {
    await load.stop();
  }
});
