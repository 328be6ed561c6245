/**
 * The lab victim's cgroup (src/lab/cgroup.ts): created under chids' own group with the memory
 * and process limits, joined by a shell the way the sandbox's setup joins it, removed after.
 * Needs a writable cgroup file system (root); skipped loudly otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLabCgroup } from '../src/lab/cgroup.js';

test('a victim cgroup limits memory and processes, holds what joins it, and is removed', (t) => {
  const { cgroup, problem } = createLabCgroup(`chids-test-${process.pid}`, { memoryBytes: 64 << 20, pids: 16 });
  if (cgroup === null) {
    console.warn(`!!! SKIPPED: cannot create a cgroup here (${problem}) !!!`);
    t.skip(String(problem));
    return;
  }
  try {
    for (const d of cgroup.dirs) {
      const limitFile = ['memory.max', 'memory.limit_in_bytes', 'pids.max'].map((f) => path.join(d, f)).filter(existsSync);
      assert.ok(limitFile.length > 0, d);
      for (const f of limitFile) assert.equal(readFileSync(f, 'utf8').trim(), f.includes('pids') ? '16' : String(64 << 20));
    }
    // Joins like the sandbox's setup script, then a fork bomb of 40 sleeps meets pids.max.
    const script = `for f in ${cgroup.procs.join(' ')}; do echo 0 > "$f"; done; cat /proc/self/cgroup; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 2 & done; wait; true`;
    const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', timeout: 20_000 });
    const name = `chids-test-${process.pid}`;
    assert.ok(r.stdout.split('\n').some((l) => l.includes(name)), r.stdout);
    assert.match(r.stderr + r.stdout, /fork|Resource temporarily unavailable|Cannot|retry/i, `pids.max did not bite: ${r.stderr}`);
  } finally {
    for (let i = 0; i < 100 && cgroup.dirs.some(existsSync); i++) {
      cgroup.remove();
      if (cgroup.dirs.some(existsSync)) spawnSync('sleep', ['0.05']);
    }
  }
  assert.ok(!cgroup.dirs.some(existsSync), 'the groups are removed');
});
