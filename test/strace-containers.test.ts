/**
 * The strace source on real podman containers (busybox httpd, each request a short-lived child):
 *
 *  - pid namespaces: a clone's return value inside a container is the child's pid in the
 *    container's namespace (1, 2, 6…); strace runs with --pidns-translation, so the child is
 *    linked to its parent by its host pid, and every child of each container's httpd is
 *    attributed to that container: not to `host` (whose pid 6 is some kernel thread) and not to
 *    the other container.
 *  - restarts: `podman restart` ends the traced httpd; the source waits for the container to come
 *    back and re-attaches to its new httpd, whose children are attributed to it again. With
 *    exitWithTarget the source ends instead (and `chids capture --exit-with-target` exits 0).
 *
 * Needs root, podman with runc, strace, and a static busybox; skipped loudly otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StraceSource, hasPidnsTranslation } from '../src/capture/strace-source.js';
import { StraceToLidds } from '../src/trace/strace/to-lidds.js';
import type { SourceEnd, SourceSink } from '../src/capture/source.js';
import type { ContainerInfo } from '../src/capture/containers.js';
import { silentLogger, type Logger } from '../src/util/log.js';
import { buildBusyboxImage, hit, podman, podmanMissing, removeContainer, removeImage, runHttpd, type Container } from './helpers/busybox-container.js';
import { needsCommand, startCli } from './helpers/live.js';

const skip = needsCommand('strace', ['-f', '-qq', '-o', '/dev/null', 'true'], 'the strace source needs strace with ptrace permission') || podmanMissing();

interface Line {
  container: ContainerInfo;
  line: string;
  tid: number;
  name: string;
  dir: string;
  params: string;
}

/** A sink that keeps every line with its container, and what the source reported. */
function collector() {
  const lines: Line[] = [];
  const ready: Record<string, unknown>[] = [];
  const restarted: string[] = [];
  const listeners = new Set<() => void>();
  const sink: SourceSink = {
    data(container, data) {
      for (const l of data.toString('utf8').split('\n')) {
        if (l === '') continue;
        const f = l.split(' ');
        lines.push({ container, line: l, tid: Number(f[4]), name: f[5], dir: f[6], params: f.slice(7).join(' ') });
      }
      listeners.forEach((f) => f());
      return true;
    },
    whenSpace: () => Promise.resolve(),
    lost: () => undefined,
    restarted: (r) => {
      restarted.push(r);
      listeners.forEach((f) => f());
    },
    ready: (info) => {
      ready.push(info);
      listeners.forEach((f) => f());
    },
  };
  const until = (what: string, ok: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!ok()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { sink, lines, ready, restarted, until };
}

/** Log records, for the source's own messages. */
function recordingLogger(): { log: Logger; records: { msg: string; fields?: Record<string, unknown> }[] } {
  const records: { msg: string; fields?: Record<string, unknown> }[] = [];
  const push = (msg: string, fields?: Record<string, unknown>) => records.push({ msg, fields });
  return { log: { ...silentLogger, info: push, warn: push }, records };
}

/** Lines of children of the process `parent`: the clone exit the child itself gets (`res=0 … ptid=PARENT(`). */
const childClones = (lines: Line[], parent: number) => lines.filter((l) => l.name === 'clone' && l.dir === '<' && /^res=0 /.test(l.params) && l.params.includes(` ptid=${parent}(`));
/** The child pids a parent's clone exits returned. */
const cloneResults = (lines: Line[], parent: number) =>
  lines.filter((l) => l.tid === parent && l.name === 'clone' && l.dir === '<').map((l) => Number(/^res=(-?\d+)/.exec(l.params)?.[1])).filter((r) => r > 0);

test('converter: a translated clone result links the child by its host pid', () => {
  const conv = new StraceToLidds({ rootProc: 'httpd' });
  const lines = conv.convertText(
    [
      "12296 1796160166.627680952 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x13ca5690) = 6 /* 12453 in strace's PID NS */ <0.003390965>",
      '12453 1796160166.690543100 exit_group(0) = ?',
      '12453 1796160166.691224782 +++ exited with 0 +++',
    ].join('\n'),
  );
  assert.match(lines[1], /^1796160166631071917 0 12296 httpd 12296 clone < res=12453 /);
  assert.match(lines[2], /^1796160166631071917 0 12453 httpd 12453 clone < res=0 .* ptid=12296\(httpd\)/);
  assert.ok(lines.every((l) => !/ 6 /.test(l)), 'the in-container pid 6 appears nowhere');
  assert.equal(hasPidnsTranslation('6.1'), true);
  assert.equal(hasPidnsTranslation('5.9'), true);
  assert.equal(hasPidnsTranslation('5.8'), false);
  assert.equal(hasPidnsTranslation(null), false);
});

describe('strace source on podman containers', { skip, timeout: 300_000 }, () => {
  const tag = `livefix-${process.pid}`;
  let image = '';
  const names: string[] = [];
  before(() => {
    if (skip) return;
    image = buildBusyboxImage(`${tag}-httpd`);
  });
  after(() => {
    for (const n of names) removeContainer(n);
    if (image) removeImage(image);
  });
  const start = (suffix: string): Container => {
    const name = `${tag}-${suffix}`;
    names.push(name);
    return runHttpd(image, name);
  };

  test('--pidns-translation: the children of two containers\' httpd are attributed to their own container', async () => {
    const a = start('a');
    const b = start('b');
    const pa = a.pid();
    const pb = b.pid();
    const c = collector();
    const { log } = recordingLogger();
    const ac = new AbortController();
    const src = new StraceSource({ kind: 'strace', pids: [pa, pb], log });
    const run = src.run(c.sink, ac.signal);
    await c.until('both targets attached', () => [pa, pb].every((p) => c.ready.some((r) => (r.pids as number[]).includes(p))), 30_000);
    await new Promise((r) => setTimeout(r, 500)); // strace's -p attach completes after its start
    assert.equal(await hit(a.port, 6), 6);
    assert.equal(await hit(b.port, 6), 6);
    await c.until('the clones of both', () => cloneResults(c.lines, pa).length >= 6 && cloneResults(c.lines, pb).length >= 6, 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // the children's own lines
    ac.abort();
    const end = await run;
    assert.equal(end.reason, 'stopped');

    const ids = new Set(c.lines.map((l) => l.container.id));
    assert.deepEqual([...ids].sort(), [a.id.slice(0, 12), b.id.slice(0, 12)].sort(), `containers seen: ${[...ids].join(', ')}`);
    for (const [ctr, parent] of [
      [a, pa],
      [b, pb],
    ] as const) {
      const kids = childClones(c.lines, parent);
      // The parent's clone returned the host pids of exactly the children whose lines we got.
      assert.deepEqual(cloneResults(c.lines, parent).sort(), kids.map((k) => k.tid).sort(), `clone results of ${parent} are the children's host pids`);
      const kidTids = new Set(kids.map((k) => k.tid));
      const kidLines = c.lines.filter((l) => kidTids.has(l.tid));
      assert.ok(kidLines.length > 6 * 10, `the children's own syscalls were traced (${kidLines.length} lines)`);
      for (const l of kidLines) assert.equal(l.container.containerId, ctr.id, `line of a child of ${ctr.name}: ${l.line.slice(0, 160)} → ${l.container.id}`);
    }
  });

  test('podman restart: the source re-attaches to the container\'s new httpd; its children are attributed to it', async () => {
    const w = start('r');
    const p1 = w.pid();
    const c = collector();
    const { log, records } = recordingLogger();
    const ac = new AbortController();
    const src = new StraceSource({ kind: 'strace', pids: [p1], log });
    let ended: SourceEnd | null = null;
    const run = src.run(c.sink, ac.signal).then((e) => (ended = e));
    try {
      await c.until('attached', () => c.ready.length >= 1, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await hit(w.port, 3), 3);
      await c.until('children before the restart', () => childClones(c.lines, p1).length >= 3, 30_000);
      podman(['restart', '-t', '1', w.name], 120_000);
      const p2 = w.pid();
      assert.notEqual(p2, p1);
      await c.until('re-attached to the new httpd', () => c.ready.some((r) => (r.pids as number[]).includes(p2)), 60_000);
      assert.equal(ended, null, 'the source did not end with the container');
      assert.equal(c.restarted.length, 1, c.restarted.join(' | '));
      assert.ok(records.some((r) => r.msg === 'traced container ended; waiting for it to come back'));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await hit(w.port, 4), 4);
      await c.until('children after the restart', () => childClones(c.lines, p2).length >= 4, 30_000);
      const kidTids = new Set(childClones(c.lines, p2).map((k) => k.tid));
      const kidLines = c.lines.filter((l) => kidTids.has(l.tid));
      assert.ok(kidLines.length > 4 * 10);
      for (const l of kidLines) assert.equal(l.container.containerId, w.id, `after the restart: ${l.line.slice(0, 160)} → ${l.container.id}`);
    } finally {
      ac.abort();
      await run;
    }
    assert.equal((ended as SourceEnd | null)?.reason, 'stopped');
  });

  test('--exit-with-target: the traced container stops, capture ends and exits 0 with its recording', async (t) => {
    const w = start('x');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-exit-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const out = path.join(dir, 'web.zip');
    const cap = startCli(['capture', '--source', 'strace', '--pid', String(w.pid()), '--exit-with-target', '--seconds', '120', '--out', out], { timeoutMs: 120_000 });
    await cap.waitLog('strace started', 60_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await hit(w.port, 3), 3);
    const t0 = Date.now();
    podman(['stop', '-t', '1', w.name], 60_000);
    const { code } = await cap.done;
    assert.equal(code, 0, JSON.stringify(cap.logs.slice(-6)));
    console.log(`capture ended ${Date.now() - t0} ms after podman stop was issued`);
    assert.ok(existsSync(out));
    assert.ok(cap.logs.some((l) => l.msg === 'strace source ended' && l.reason === 'exited'));
  });

  test('without --exit-with-target a stopped container keeps the capture waiting (it ends on --seconds, not with the container)', async (t) => {
    const w = start('y');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-wait-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const cap = startCli(['capture', '--source', 'strace', '--pid', String(w.pid()), '--seconds', '8', '--out', path.join(dir, 'web.zip')], { timeoutMs: 120_000 });
    await cap.waitLog('strace started', 60_000);
    podman(['stop', '-t', '1', w.name], 60_000);
    await cap.waitLog('traced container ended; waiting for it to come back', 30_000);
    const r = await cap.done;
    assert.equal(r.code, 0);
    assert.ok(!cap.logs.some((l) => l.msg === 'strace source ended' && l.reason === 'exited'), 'the source did not end with the container');
  });
});
