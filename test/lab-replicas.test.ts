/**
 * Replica recordings of the lab end to end: `chids lab record --replicas 3` runs three real web
 * victims side by side under the same seeded traffic, one of them attacked, and `chids replicas`
 * (defaults: 10 s windows, threshold 0.8) flags exactly that one; with no attack it flags none.
 *
 * Each group records 22 s (SECONDS in helpers/lab-replicas.ts). Needs root and the lab's Debian
 * packages (as test/lab.test.ts); otherwise skipped loudly. The groups recorded through the
 * library (attacks upload-exec and none) are in lab-replicas-*.test.ts, so that they record at
 * the same time as this one.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LAB_TMP_ENV } from '../src/lab/record.js';
import { assertOk, jsonOf, runCli } from './helpers/cli.js';
import { exploitFlags, SECONDS, skip, type Verdicts } from './helpers/lab-replicas.js';

test('lab record --replicas 3 --attack cmd-injection (CLI) → chids replicas flags exactly the attacked replica', { skip, timeout: 300_000 }, async () => {
  const base = mkdtempSync('/var/tmp/chids-labtest-');
  chmodSync(base, 0o711); // the victims' user namespaces must get through it (checkReachable)
  const out = mkdtempSync(path.join(os.tmpdir(), 'chids-repout-'));
  try {
    const rec = await runCli(
      ['lab', 'record', '--replicas', '3', '--attack', 'cmd-injection', '--seconds', String(SECONDS), '--warmup', '2', '--seed', '21', '--out', out],
      { env: { [LAB_TMP_ENV]: base }, timeoutMs: 240_000 },
    );
    assertOk(rec);
    const files = rec.stdout.trim().split('\n');
    assert.equal(files.length, 3, rec.stdout);
    const group = path.dirname(files[0]);
    assert.deepEqual(readdirSync(out), [path.basename(group)], 'one group directory, no temp directory');
    assert.deepEqual(readdirSync(group).sort(), files.map((f) => path.basename(f)).sort());
    const exploit = await exploitFlags(files);
    assert.equal(exploit.filter(Boolean).length, 1, 'exactly one recording carries the exploit label');
    assert.match(rec.stderr, new RegExp(`attack cmd-injection on replica ${exploit.indexOf(true) + 1}`));

    const cmp = await runCli(['replicas', group, '--json']);
    assertOk(cmp);
    const j = jsonOf<Verdicts>(cmp);
    assert.equal(j.window_ns, 10e9, 'the default window');
    assert.ok(j.windows_compared >= 1);
    assert.deepEqual(
      j.replicas.map((x) => x.flagged),
      exploit,
      j.replicas.map((x) => `${path.basename(x.file)} ${x.max_score.toFixed(3)}`).join('; '),
    );
    // What drove it: the reverse shell (bash) that the normal replicas never start.
    const bad = j.replicas[exploit.indexOf(true)];
    const procs = bad.aspects.find((a) => a.aspect === 'processes');
    assert.ok(procs?.only_here.includes('bash'), JSON.stringify(bad.aspects).slice(0, 2000));
    assert.deepEqual(readdirSync(base), [], 'work directories removed');
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});
