/**
 * Shared by the replica lab tests (test/lab-replicas*.test.ts, one file per recorded group so that
 * the groups record side by side: each waits ~a minute on its victims, not on the CPU): what they
 * need, the verdicts `chids replicas --json` prints, the exploit labels of a group, and the test
 * of one group recorded through the library.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LAB_TMP_ENV } from '../../src/lab/record.js';
import { recordReplicaSets } from '../../src/lab/replicas.js';
import { openSource } from '../../src/trace/sources/readers.js';
import { LineSplitter } from '../../src/capture/source.js';
import { assertOk, jsonOf, runCli } from './cli.js';
import { labSkipReason } from './lab-skip.js';

const NEEDED = ['strace', 'unshare', 'nsenter', 'setpriv', 'ip', 'nginx', 'redis-server', 'sqlite3', 'ping', 'bash', 'curl'];
/**
 * Each group records 22 s: whole 10 s windows are what the comparison uses, and 22 s holds at
 * least one whatever the start's phase.
 */
export const SECONDS = 22;

export const skip = labSkipReason('the replica lab tests', NEEDED);

export interface Verdicts {
  window_ns: number;
  threshold: number;
  windows_compared: number;
  replicas: { file: string; flagged: boolean; max_score: number; aspects: { aspect: string; max_dissimilarity: number; only_here: string[] }[] }[];
}

/** The exploit flag of each recording, from its own NAME.json. */
export async function exploitFlags(files: string[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const f of files) out.push((await (await openSource(f)).labels())?.exploit === true);
  return out;
}

/** Up to `max` lines of a recording whose process name (the fourth field) is in `names`: time, pid, process, tid, call, direction. */
async function linesOf(file: string, names: Set<string>, max: number): Promise<string[]> {
  const found: string[] = [];
  if (names.size === 0) return found;
  const lines = new LineSplitter();
  const take = (l: string) => {
    const f = l.split(' ', 7);
    if (names.has(f[3]) && found.length < max) found.push(f.join(' '));
  };
  for await (const chunk of (await openSource(file)).chunks()) {
    lines.push(chunk, take);
    if (found.length >= max) break;
  }
  lines.end(take);
  return found;
}

/** One replica group recorded through the library, compared by `chids replicas`. */
export function replicaGroupTest(attack: 'upload-exec' | 'none'): void {
  test(`replica group, attack ${attack}: chids replicas flags ${attack === 'none' ? 'no replica' : 'exactly the attacked replica'}`, { skip, timeout: 300_000 }, async () => {
    const base = mkdtempSync('/var/tmp/chids-labtest-');
    chmodSync(base, 0o711);
    process.env[LAB_TMP_ENV] = base;
    const out = mkdtempSync(path.join(os.tmpdir(), 'chids-repout-'));
    try {
      const [g] = await recordReplicaSets({ victim: 'web', attack, replicas: 3, count: 1, seed: attack === 'none' ? 22 : 23, split: false, seconds: SECONDS, warmupSeconds: 2, outDir: out });
      const files = g.replicas.map((r) => r.file);
      const exploit = await exploitFlags(files);
      assert.deepEqual(exploit, files.map((_, i) => i === g.attacked));
      if (attack === 'none') assert.equal(g.attacked, null);
      const cmp = await runCli(['replicas', ...files, '--json']);
      assertOk(cmp);
      const j = jsonOf<Verdicts>(cmp);
      // The score and what only that replica showed: a failure says why it was (or was not) flagged.
      const why = j.replicas.map((x) => `${path.basename(x.file)} ${x.max_score.toFixed(3)} ${JSON.stringify(x.aspects.filter((a) => a.max_dissimilarity > 0)).slice(0, 800)}`).join('; ');
      console.log(`replica group ${attack}: ${why}`);
      const flagged = j.replicas.map((x) => x.flagged);
      if (!flagged.every((f, i) => f === exploit[i])) {
        // Evidence for a verdict that went wrong: when each replica ran the processes only one of
        // them showed (a request a sibling served a window later, or never), and the recordings kept.
        const names = new Set(j.replicas.flatMap((x) => x.aspects.filter((a) => a.aspect === 'processes').flatMap((a) => a.only_here)));
        for (const f of files) console.log(`${path.basename(f)}: ${(await linesOf(f, names, 40)).join(' | ')}`);
        const kept = mkdtempSync(path.join(os.tmpdir(), 'chids-replicas-kept-'));
        cpSync(out, kept, { recursive: true });
        console.log(`recordings kept in ${kept}`);
      }
      assert.deepEqual(flagged, exploit, why);
      assert.deepEqual(readdirSync(base), [], 'work directories removed');
    } finally {
      delete process.env[LAB_TMP_ENV];
      rmSync(out, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    }
  });
}
