/**
 * The dependency rules of src/ (.dependency-cruiser.cjs): each folder imports only the layers
 * below it, no module cycles, commands do not import each other. The first test checks the real
 * tree; the others prove the check can fail, on a small tree made for it.
 *
 * Two cruises in all, started side by side (each costs seconds of CPU, most of it
 * dependency-cruiser's start-up): the real tree, and one scratch tree holding every wrong-way
 * case, whose files do not import one another across cases, so each case's violations are its
 * own; each test reads the rule it is about from the JSON result. `npm test` leaves the
 * real-tree check to this file (`npm run lint` runs it too, for use without the suite).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const depcruise = path.join(repoRoot, 'node_modules', '.bin', 'depcruise');

interface Cruise {
  modules: number;
  /** Each violation as `rule: from → to`. */
  violations: string[];
}

/** dependency-cruiser over `cwd`/src with `cwd`'s rules, as `npm run lint` runs it, read as JSON. */
function cruise(cwd: string): Promise<Cruise> {
  return new Promise((resolve, reject) => {
    const child = spawn(depcruise, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`depcruise in ${cwd}: exit ${code}\n${Buffer.concat(err).toString('utf8')}`));
      const j = JSON.parse(Buffer.concat(out).toString('utf8')) as { summary: { totalCruised: number; violations: { rule: { name: string }; from: string; to: string }[] } };
      resolve({ modules: j.summary.totalCruised, violations: j.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`) });
    });
  });
}

describe('dependency rules', () => {
  const tmp: string[] = [];
  let real: Cruise;
  let bad: Cruise;
  after(() => {
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  /** A scratch tree with the repository's rules and the given files. */
  function tree(files: Record<string, string>): string {
    const d = mkdtempSync(path.join(tmpdir(), 'chids-layers-'));
    tmp.push(d);
    copyFileSync(path.join(repoRoot, '.dependency-cruiser.cjs'), path.join(d, '.dependency-cruiser.cjs'));
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
      writeFileSync(path.join(d, f), text);
    }
    return d;
  }

  before(async () => {
    const scratch = tree({
      // A lower layer importing a higher one.
      'src/util/a.ts': "import { b } from '../cli/b.js';\nexport const a = b;\n",
      'src/cli/b.ts': 'export const b = 1;\n',
      // TF.js's folder imported statically from outside (app), dynamically by the registry.
      'src/model/nn/tf.ts': 'export const tf = 1;\n',
      'src/model/registry.ts': "export const load = () => import('./nn/tf.js');\n",
      'src/app/evaluate.ts': "import { tf } from '../model/nn/tf.js';\nexport const x = tf;\n",
      // A cycle, and one command importing another.
      'src/trace/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/trace/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'src/cli/encode.ts': "import { x } from './monitor.js';\nexport const y = x;\n",
      'src/cli/monitor.ts': 'export const x = 1;\n',
    });
    [real, bad] = await Promise.all([cruise(repoRoot), cruise(scratch)]);
  });
  const of = (c: Cruise, rule: string) => c.violations.filter((v) => v.startsWith(`${rule}: `));

  test('src/ has no wrong-way import and no cycle', () => {
    assert.deepEqual(real.violations, []);
    assert.ok(real.modules > 100, `${real.modules} modules cruised`);
  });

  test('an import from a lower layer into a higher one fails', () => {
    assert.deepEqual(of(bad, 'util-imports-upward'), ['util-imports-upward: src/util/a.ts → src/cli/b.ts']);
  });

  test('TF.js is reached only on demand: a static import of model/nn/ from outside fails, a dynamic one passes', () => {
    assert.deepEqual(of(bad, 'tfjs-on-demand'), ['tfjs-on-demand: src/app/evaluate.ts → src/model/nn/tf.ts']);
    assert.deepEqual(bad.violations.filter((v) => v.includes('src/model/registry.ts →')), []);
  });

  test('a cycle fails, and so does one command importing another', () => {
    assert.deepEqual(of(bad, 'no-cycles'), ['no-cycles: src/trace/a.ts → src/trace/b.ts']);
    assert.deepEqual(of(bad, 'cli-commands-independent'), ['cli-commands-independent: src/cli/encode.ts → src/cli/monitor.ts']);
  });
});
