/**
 * `chids encode` runs a program of its own (src/cli/main-encode.ts, chosen by src/cli/main.ts and
 * bundled apart by scripts/bundle.mjs) so that it starts fast. It must behave exactly as the
 * command in the whole program: each case below runs both — the whole program in this process
 * (src/cli/program.ts), the executable as a child process — and compares exit code, stdout and
 * stderr byte for byte: help, version, usage errors, bad inputs, and real encodes (.zip, a
 * directory, --faithful, a baseline directory whose manifest is read, and the vocabulary files).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertOk, runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';

const example = path.join(repoRoot, 'data', 'example');
const zips = readdirSync(path.join(example, 'test', 'normal')).filter((f) => f.endsWith('.zip'));
const zip = path.join(example, 'test', 'normal', zips[0] ?? 'missing.zip');

describe('chids encode: its own program behaves as the whole program', () => {
  let tmp = '';
  let od = '';
  let badManifest = '';
  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'chids-encode-program-'));
    od = path.join(tmp, 'od');
    assertOk(await runCli(['baseline', '-q', '--seed', '1', '--td', path.join(example, 'training'), '--od', od], { timeoutMs: 180_000 }));
    // A baseline directory whose manifest is not a chids manifest: the schemas (zod) are loaded.
    badManifest = path.join(tmp, 'bad-manifest');
    mkdirSync(badManifest);
    for (const f of readdirSync(od).filter((f) => f.endsWith('.json'))) copyFileSync(path.join(od, f), path.join(badManifest, f));
    writeFileSync(path.join(badManifest, 'manifest.json'), '{"format":"something else"}\n');
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const cases: Array<[string, () => string[]]> = [
    ['--help', () => ['encode', '--help']],
    ['--version', () => ['encode', '--version']],
    ['no file', () => ['encode']],
    ['an unknown option', () => ['encode', '--od', od, '--jsn', zip]],
    ['a bad --window', () => ['encode', '--od', od, '--window', '0', zip]],
    ['no baseline', () => ['encode', zip]],
    ['a missing trace', () => ['encode', '--od', od, path.join(tmp, 'nope.sc')]],
    ['a manifest that is not one', () => ['encode', '--od', badManifest, zip]],
    ['a .zip with a baseline directory', () => ['encode', '--od', od, zip]],
    ['--faithful, a directory of recordings', () => ['encode', '--od', od, '--faithful', path.join(example, 'test', 'normal')]],
    ['the vocabulary files', () => ['encode', '--ss', path.join(od, 'seen_syscalls.json'), '--sa', path.join(od, 'seen_args.json'), '--fm', path.join(od, 'max_freq.json'), zip]],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const whole = await runCli(args());
      const own = await runCli(args(), { subprocess: true, timeoutMs: 120_000 });
      assert.deepEqual(own, whole);
    });
  }

  it('the cases include real output and real errors (else the comparisons prove little)', async () => {
    const ok = await runCli(['encode', '--od', od, zip]);
    assertOk(ok);
    assert.ok(ok.stdout.split('\n').filter(Boolean).length >= 5, ok.stdout);
    const bad = await runCli(['encode', '--od', badManifest, zip]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^chids: .*manifest\.json: not a valid chids manifest/);
  });
});
