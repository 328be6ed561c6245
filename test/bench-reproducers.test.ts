/**
 * bench:repro's case list on a tiny scale (`--quick`: 2 MB lines, 1,300 windows), through the
 * sources: every reproducer of the reliability audit still ends with its clear one-line error
 * or its correct, counted result. Untimed (the bench measures; tests never assert speed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/paths.js';

// A sample of the cases, one per kind of outcome: a refused trace, --od safety, counted monitor
// losses (bad UTF-8, an unterminated NUL line, late events), a credential URL, a long line, a
// stdout error. The rest run the same helpers; `npm run bench:repro -- --quick` runs them all.
const ONLY = '1a,2b,3,4c,7b,7e,8,9a';

test('bench:repro --quick: the sampled reproducers end with their expected outcome', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-benchrepro-'));
  try {
    const out = path.join(dir, 'r.json');
    // The executable npm test bundled, when there is one (each case starts it: ~0.9 s of CPU less than through tsx).
    const cli = process.env.CHIDS_TEST_CLI ?? 'src/cli/main.ts';
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/reproducers.ts', '--quick', '--only', ONLY, '--cli', cli, '--out', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 280_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const res = JSON.parse(readFileSync(out, 'utf8')) as { cases: { id: string; ok: boolean; problem: string | null; skipped?: string }[] };
    assert.deepEqual(res.cases.map((c) => c.id), ONLY.split(','));
    for (const c of res.cases) assert.ok(c.ok, `${c.id}: ${c.problem}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
