/**
 * The dependency rules of src/ (.dependency-cruiser.cjs): each folder imports only the layers
 * below it, no module cycles, commands do not import each other. The first test checks the real
 * tree; the others prove the check can fail, on a small tree made for it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const depcruise = path.join(repoRoot, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(depcruise, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('dependency rules', () => {
  const tmp: string[] = [];
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

  test('src/ has no wrong-way import and no cycle', () => {
    const r = cruise(repoRoot);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no dependency violations/);
  });

  test('an import from a lower layer into a higher one fails', () => {
    const d = tree({
      'src/util/a.ts': "import { b } from '../cli/b.js';\nexport const a = b;\n",
      'src/cli/b.ts': 'export const b = 1;\n',
    });
    const r = cruise(d);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /util-imports-upward: src\/util\/a\.ts → src\/cli\/b\.ts/);
  });

  test('TF.js is reached only on demand: a static import of model/nn/ from outside fails, a dynamic one passes', () => {
    const d = tree({
      'src/model/nn/tf.ts': 'export const tf = 1;\n',
      'src/model/registry.ts': "export const load = () => import('./nn/tf.js');\n",
      'src/app/evaluate.ts': "import { tf } from '../model/nn/tf.js';\nexport const x = tf;\n",
    });
    const r = cruise(d);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /tfjs-on-demand: src\/app\/evaluate\.ts → src\/model\/nn\/tf\.ts/);
    assert.doesNotMatch(r.out, /src\/model\/registry\.ts →/);
  });

  test('a cycle fails, and so does one command importing another', () => {
    const d = tree({
      'src/trace/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/trace/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'src/cli/encode.ts': "import { x } from './monitor.js';\nexport const y = x;\n",
      'src/cli/monitor.ts': 'export const x = 1;\n',
    });
    const r = cruise(d);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /no-cycles/);
    assert.match(r.out, /cli-commands-independent: src\/cli\/encode\.ts → src\/cli\/monitor\.ts/);
  });
});
