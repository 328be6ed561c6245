/**
 * Bad input through the real CLI. For every command that takes it, a bad
 * trace (empty, random bytes, truncated zip, zip without .sc, missing path, directory without
 * recordings, text that is not a trace) and a corrupt or incomplete baseline directory must give:
 * exit ≠ 0 and ≠ 70, exactly one line on stderr naming the file and the problem, no stack
 * trace, and no half-written --od. A bad file inside a directory of many is skipped with a
 * warning and counted instead.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import {
  assertOk,
  assertOneLineError,
  jsonLines,
  jsonOf,
  pool,
  randomBytes,
  runCli,
  show,
  treeHashes,
  type CliResult,
} from './helpers/cli.js';
import { goldenInputs, lidRecording, missing } from './helpers/paths.js';

const TRAIN = ['--model', 'chids', '--epochs', '5', '--seed', '1'];
const g = (name: string) => path.join(goldenInputs, name);
const skip = missing(g('train_nginx_sysdignames.txt'));
const skipZip = missing(lidRecording);

let tmp = '';
/** A good baseline (improved mode) that every corrupt copy starts from. */
let good = '';
/** Bad inputs by name → path. */
const bad: Record<string, string> = {};
/** What each bad input's error must say (besides its path). */
const problem: Record<string, RegExp> = {
  empty: /empty/i,
  garbage: /unrecognised|not a .*trace|format|no syscall events|malformed/i,
  'truncated zip': /zip/i,
  'zip without .sc': /\.sc\b/,
  missing: /no such file/i,
  'directory without recordings': /no recordings/i,
  'text, not a trace': /unrecognised|not a .*trace|format/i,
};

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'chids-bad-'));
  const inputs = path.join(tmp, 'inputs');
  mkdirSync(inputs);
  bad.empty = path.join(inputs, 'empty.txt');
  writeFileSync(bad.empty, '');
  bad.garbage = path.join(inputs, 'garbage.sc');
  writeFileSync(bad.garbage, randomBytes(64 * 1024));
  if (!skipZip) {
    const zip = readFileSync(lidRecording);
    bad['truncated zip'] = path.join(inputs, 'truncated.zip');
    writeFileSync(bad['truncated zip'], zip.subarray(0, zip.length >> 1));
  }
  bad['zip without .sc'] = path.join(inputs, 'no_sc.zip');
  writeFileSync(bad['zip without .sc'], zipSync({ 'no_sc.json': strToU8('{"exploit": false}'), 'no_sc.res': strToU8('cpu,mem\n') }));
  bad.missing = path.join(inputs, 'does-not-exist.sc');
  bad['directory without recordings'] = path.join(inputs, 'no-recordings');
  mkdirSync(bad['directory without recordings']);
  writeFileSync(path.join(bad['directory without recordings'], 'README.md'), 'nothing to see\n');
  writeFileSync(path.join(bad['directory without recordings'], 'labels.json'), '{}\n');
  bad['text, not a trace'] = path.join(inputs, 'notes.txt');
  writeFileSync(bad['text, not a trace'], 'Dear diary,\nToday I wrote an intrusion detector.\n\tIt has 3 layers.\n');

  if (skip) return;
  good = path.join(tmp, 'good');
  assertOk(await runCli(['baseline', '--td', g('train_nginx_sysdignames.txt'), '--od', good, ...TRAIN]));
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Names in `dir` that look like leftovers of an atomic write of `base` (.base.tmp-…, .base.old-…). */
function leftovers(dir: string, base: string): string[] {
  return readdirSync(dir).filter((n) => n !== base && n.includes(base));
}

describe('bad traces', { skip, concurrency: 2 }, () => {
  for (const kind of Object.keys(problem)) {
    it(`${kind}: baseline, evaluate and encode fail in one line naming it; no --od left`, { skip: kind === 'truncated zip' && skipZip }, async () => {
      const file = bad[kind];
      const outParent = mkdtempSync(path.join(tmp, 'out-'));
      const od = path.join(outParent, 'baseline');
      const [b, ev, enc] = await pool([
        () => runCli(['baseline', '--td', file, '--od', od, ...TRAIN]),
        () => runCli(['evaluate', '--od', good, '--ns', g('test_nginx_sysdignames.txt'), '--ms', file]),
        () => runCli(['encode', '--od', good, file]),
      ]);
      for (const r of [b, ev, enc]) assertOneLineError(r, file, problem[kind]);
      assert.equal(enc.stdout, '', 'encode printed nothing');
      assert.deepEqual(readdirSync(outParent), [], 'no --od and no temp directory left behind');
    });
  }

  it('empty stdin (-) is an error naming stdin', async () => {
    const r = await runCli(['encode', '--od', good, '-'], { input: '' });
    assertOneLineError(r, /stdin|^chids: -:/, /empty|no events/i);
  });

  it('a truncated .scap is an error naming it (through sysdig)', async (t) => {
    if (spawnSync(process.env.CHIDS_SYSDIG || 'sysdig', ['--version'], { stdio: 'ignore' }).error) {
      t.skip('!!! sysdig is not installed (Debian package sysdig) !!!');
      return;
    }
    const scap = readFileSync(g('ping_sendto.scap'));
    const file = path.join(tmp, 'inputs', 'truncated.scap');
    writeFileSync(file, scap.subarray(0, scap.length >> 1));
    const r = await runCli(['encode', '--od', good, file]);
    assertOneLineError(r, file, /sysdig/);
  });

  it('a missing sysdig binary: one line naming the file and the Debian package', async () => {
    const env = { CHIDS_SYSDIG: '/nonexistent/sysdig' };
    const outParent = mkdtempSync(path.join(tmp, 'out-'));
    const runs = await pool([
      () => runCli(['encode', '--od', good, g('syscall.scap')], { env }),
      () => runCli(['evaluate', '--od', good, '--ns', g('syscall.scap')], { env }),
      () => runCli(['baseline', '--td', g('cat_write.scap'), '--od', path.join(outParent, 'b'), ...TRAIN], { env }),
    ]);
    assertOneLineError(runs[0], g('syscall.scap'), /sysdig/, /Debian package 'sysdig'|apt-get install sysdig/);
    assertOneLineError(runs[1], g('syscall.scap'), /Debian package 'sysdig'|apt-get install sysdig/);
    assertOneLineError(runs[2], g('cat_write.scap'), /Debian package 'sysdig'|apt-get install sysdig/);
    assert.deepEqual(readdirSync(outParent), []);
  });
});

describe('corrupt or incomplete baseline directory', { skip, concurrency: 2 }, () => {
  interface Corruption {
    name: string;
    /** The file (relative to the baseline) the error must name. */
    file: string;
    problem: RegExp;
    corrupt(dir: string): void;
    /** encode reads it too (it needs no model and no thresholds). */
    encode: boolean;
  }
  const edit = (dir: string, file: string, fn: (v: any) => unknown) => {
    const p = path.join(dir, file);
    writeFileSync(p, JSON.stringify(fn(JSON.parse(readFileSync(p, 'utf8')))));
  };
  const corruptions: Corruption[] = [
    { name: 'missing manifest.json', file: 'manifest.json', problem: /missing/, encode: true, corrupt: (d) => rmSync(path.join(d, 'manifest.json')) },
    {
      name: 'manifest of another version',
      file: 'manifest.json',
      problem: /version 99/,
      encode: true,
      corrupt: (d) => edit(d, 'manifest.json', (m) => ({ ...m, version: 99 })),
    },
    {
      name: 'manifest of another program',
      file: 'manifest.json',
      problem: /format|manifest/,
      encode: true,
      corrupt: (d) => writeFileSync(path.join(d, 'manifest.json'), '{"name": "something else"}\n'),
    },
    { name: 'bad JSON in seen_args.json', file: 'seen_args.json', problem: /JSON/, encode: true, corrupt: (d) => writeFileSync(path.join(d, 'seen_args.json'), '["/etc", "/usr",\n') },
    { name: 'max_freq.json not an integer', file: 'max_freq.json', problem: /integer/, encode: true, corrupt: (d) => writeFileSync(path.join(d, 'max_freq.json'), '12.5\n') },
    { name: 'thresh_list.json with 9 values', file: 'thresh_list.json', problem: /10/, encode: false, corrupt: (d) => edit(d, 'thresh_list.json', (t) => t.slice(0, 9)) },
    { name: 'missing model/weights.bin', file: path.join('model', 'weights.bin'), problem: /missing/, encode: false, corrupt: (d) => rmSync(path.join(d, 'model', 'weights.bin')) },
    {
      name: 'truncated model/weights.bin',
      file: path.join('model', 'weights.bin'),
      problem: /bytes|truncated|short/,
      encode: false,
      corrupt: (d) => {
        const p = path.join(d, 'model', 'weights.bin');
        writeFileSync(p, readFileSync(p).subarray(0, 50));
      },
    },
    { name: 'missing model/model.json', file: path.join('model', 'model.json'), problem: /missing/, encode: false, corrupt: (d) => rmSync(path.join(d, 'model', 'model.json')) },
    {
      name: 'seen_syscalls.json count mismatching the manifest',
      file: 'seen_syscalls.json',
      problem: /manifest/,
      encode: true,
      corrupt: (d) => edit(d, 'seen_syscalls.json', (s) => s.slice(1)),
    },
  ];

  for (const c of corruptions) {
    it(`${c.name}: ${c.encode ? 'evaluate and encode fail' : 'evaluate fails'} naming ${c.file}`, async () => {
      const dir = mkdtempSync(path.join(tmp, 'corrupt-'));
      cpSync(good, dir, { recursive: true });
      c.corrupt(dir);
      const jobs = [() => runCli(['evaluate', '--od', dir, '--ns', g('test_nginx_sysdignames.txt')])];
      if (c.encode) jobs.push(() => runCli(['encode', '--od', dir, g('syscall.txt')]));
      for (const r of await pool(jobs)) {
        assertOneLineError(r, path.join(dir, c.file), c.problem);
        assert.equal(r.stdout, '');
      }
    });
  }

  it("the reference's individual files: a bad --fm is named", async () => {
    const fm = path.join(tmp, 'inputs', 'max_freq.json');
    writeFileSync(fm, '-3\n');
    const files = ['--ss', path.join(good, 'seen_syscalls.json'), '--sa', path.join(good, 'seen_args.json'), '--fm', fm];
    const [enc, ev] = await pool([
      () => runCli(['encode', ...files, g('syscall.txt')]),
      () => runCli(['evaluate', ...files, '--tm', path.join(good, 'model'), '--tl', path.join(good, 'thresh_list.json'), '--ns', g('syscall.txt')]),
    ]);
    assertOneLineError(enc, fm, /integer/);
    assertOneLineError(ev, fm, /integer/);
  });

  it('a missing baseline directory, or a file given as one', async () => {
    const nowhere = path.join(tmp, 'no-such-baseline');
    const [a, b] = await pool([() => runCli(['encode', '--od', nowhere, g('syscall.txt')]), () => runCli(['evaluate', '--od', g('syscall.txt'), '--ns', g('syscall.txt')])]);
    assertOneLineError(a, nowhere, /no such/);
    assertOneLineError(b, g('syscall.txt'), /not a directory/);
  });
});

describe('baseline --od is all or nothing', { skip }, () => {
  it('a failing baseline leaves no directory and no temp directory behind', async () => {
    const allBad = path.join(tmp, 'all-bad');
    mkdirSync(allBad);
    copyFileSync(bad.empty, path.join(allBad, 'a.txt'));
    copyFileSync(bad.garbage, path.join(allBad, 'b.sc'));
    copyFileSync(bad['zip without .sc'], path.join(allBad, 'c.zip'));
    const parent = mkdtempSync(path.join(tmp, 'out-'));
    const runs = await pool([
      // every training input is bad (all skipped, then nothing to train on)
      () => runCli(['baseline', '--td', allBad, '--od', path.join(parent, 'x'), ...TRAIN]),
      // training on a garbage file
      () => runCli(['baseline', '--td', bad.garbage, '--od', path.join(parent, 'y'), ...TRAIN]),
      // one good file, one bad one given by name: the named file must work
      () => runCli(['baseline', '--td', g('train_nginx_sysdignames.txt'), '--td', bad.garbage, '--od', path.join(parent, 'z'), ...TRAIN]),
      // a valid trace too short to train on (one window: fails in training, after reading)
      () => runCli(['baseline', '--td', g('syscall.txt'), '--od', path.join(parent, 'w'), ...TRAIN]),
    ]);
    // The directory's members were skipped with warnings; the final error is one line.
    const [dirRun, ...others] = runs;
    assert.notEqual(dirRun.code, 0, show(dirRun));
    assert.notEqual(dirRun.code, 70, show(dirRun));
    assert.doesNotMatch(dirRun.stderr, /^\s+at /m);
    const errLines = dirRun.stderr.split('\n').filter((l) => l.startsWith('chids: '));
    assert.equal(errLines.length, 1, show(dirRun));
    assert.match(errLines[0], /no usable training recordings/);
    assert.equal(dirRun.stderr.split('\n').filter((l) => /^warning: skipped /.test(l)).length, 3, show(dirRun));
    assertOneLineError(others[0], bad.garbage);
    assertOneLineError(others[1], bad.garbage);
    assertOneLineError(others[2], /window/);
    assert.deepEqual(readdirSync(parent), [], 'nothing left in the output directory\'s parent');
  });

  it('a failing baseline over an existing good one leaves the old one intact', async () => {
    const parent = mkdtempSync(path.join(tmp, 'out-'));
    const od = path.join(parent, 'existing');
    cpSync(good, od, { recursive: true });
    const before = treeHashes(od);
    const runs = await pool([
      () => runCli(['baseline', '--td', bad.garbage, '--od', od, ...TRAIN]),
      () => runCli(['baseline', '--td', g('syscall.txt'), '--od', od, ...TRAIN]),
    ]);
    assertOneLineError(runs[0], bad.garbage);
    assertOneLineError(runs[1]);
    assert.deepEqual(treeHashes(od), before, 'the old baseline is untouched');
    assert.deepEqual(leftovers(parent, 'existing'), [], 'no temp directory beside it');
    // …and it still works.
    assertOk(await runCli(['encode', '--od', od, g('syscall.txt')]));
  });

  it('refuses an --od that is a non-empty directory but not a baseline, or a file', async () => {
    const parent = mkdtempSync(path.join(tmp, 'out-'));
    const notBaseline = path.join(parent, 'my-documents');
    mkdirSync(notBaseline);
    writeFileSync(path.join(notBaseline, 'thesis.tex'), '\\documentclass{article}\n');
    const aFile = path.join(parent, 'a-file');
    writeFileSync(aFile, 'keep me\n');
    const [r1, r2] = await pool([
      () => runCli(['baseline', '--td', g('train_nginx_sysdignames.txt'), '--od', notBaseline, ...TRAIN]),
      () => runCli(['baseline', '--td', g('train_nginx_sysdignames.txt'), '--od', aFile, ...TRAIN]),
    ]);
    assertOneLineError(r1, notBaseline, /not a chids baseline/);
    assertOneLineError(r2, aFile, /not a directory/);
    assert.deepEqual(readdirSync(notBaseline), ['thesis.tex']);
    assert.equal(readFileSync(aFile, 'utf8'), 'keep me\n');
    assert.deepEqual(readdirSync(parent).sort(), ['a-file', 'my-documents'], 'no temp directory left');
  });
});

describe('a bad file inside a directory of many is skipped, warned about and counted', { skip }, () => {
  let mixed = '';
  let badNames: string[] = [];
  let runs: CliResult[] = [];

  before(async () => {
    if (skip) return;
    mixed = path.join(tmp, 'mixed');
    mkdirSync(mixed);
    copyFileSync(g('test_nginx_sysdignames.txt'), path.join(mixed, 'a_nginx.txt'));
    copyFileSync(g('test_shell_sysdignames.txt'), path.join(mixed, 'b_shell.txt'));
    copyFileSync(bad.empty, path.join(mixed, 'c_empty.txt'));
    copyFileSync(bad.garbage, path.join(mixed, 'd_garbage.sc'));
    copyFileSync(bad['zip without .sc'], path.join(mixed, 'e_no_sc.zip'));
    copyFileSync(bad['text, not a trace'], path.join(mixed, 'f_notes.txt'));
    badNames = ['c_empty.txt', 'd_garbage.sc', 'e_no_sc.zip', 'f_notes.txt'];
    if (!skipZip) {
      copyFileSync(bad['truncated zip'], path.join(mixed, 'g_truncated.zip'));
      badNames.push('g_truncated.zip');
    }
    writeFileSync(path.join(mixed, 'a_nginx.json'), '{}\n'); // a side file: passed over, not a failure
    runs = await pool([
      () => runCli(['baseline', '--td', mixed, '--od', path.join(tmp, 'mixed-baseline'), ...TRAIN, '--json']),
      () => runCli(['evaluate', '--od', good, '--ns', mixed, '--ms', g('test_attack_sysdignames.txt'), '--json']),
      () => runCli(['encode', '--od', good, mixed]),
    ]);
  });

  const checkWarnings = (r: CliResult) => {
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.doesNotMatch(r.stderr, /^chids: /m, 'no error');
    for (const name of badNames) {
      const lines = r.stderr.split('\n').filter((l) => l.includes(path.join(mixed, name)));
      assert.equal(lines.length, 1, `one warning for ${name}: ${show(r)}`);
      assert.match(lines[0], /^warning: skipped /);
    }
  };

  it('baseline: trains on the good ones, --json lists the skipped', () => {
    const r = runs[0];
    assertOk(r);
    checkWarnings(r);
    const j = jsonOf<{ recordings: number; skipped: { path: string; reason: string }[] }>(r);
    assert.equal(j.recordings, 2);
    assert.deepEqual(
      j.skipped.map((s) => path.basename(s.path)),
      badNames,
    );
    for (const s of j.skipped) assert.ok(s.reason.includes(s.path) && s.reason.length > s.path.length + 5, `a reason: ${s.reason}`);
    const m = JSON.parse(readFileSync(path.join(tmp, 'mixed-baseline', 'manifest.json'), 'utf8'));
    assert.equal(m.counts.skipped, badNames.length);
    assert.equal(m.counts.recordings, 2);
  });

  it('evaluate: --json skipped lists each with its class and reason', () => {
    const r = runs[1];
    assertOk(r);
    checkWarnings(r);
    const j = jsonOf<{ counts: { normal: { recordings: number }; attack: { recordings: number } }; skipped: { path: string; reason: string; class: string }[] }>(r);
    assert.equal(j.counts.normal.recordings, 2);
    assert.equal(j.counts.attack.recordings, 1);
    assert.deepEqual(
      j.skipped.map((s) => [path.basename(s.path), s.class]),
      badNames.map((n) => [n, 'normal']),
    );
    const reasons = Object.fromEntries(j.skipped.map((s) => [path.basename(s.path), s.reason]));
    assert.match(reasons['c_empty.txt'], /empty/);
    assert.match(reasons['e_no_sc.zip'], /\.sc\b/);
    if (!skipZip) assert.match(reasons['g_truncated.zip'], /zip/);
  });

  it('encode: encodes the good ones, warns about the others', () => {
    const r = runs[2];
    assertOk(r);
    checkWarnings(r);
    const files = [...new Set(jsonLines<{ file: string }>(r).map((l) => path.basename(l.file)))];
    assert.deepEqual(files, ['a_nginx.txt', 'b_shell.txt']);
  });
});

describe('an incomplete install', { skip: skipZip }, () => {
  it('a missing zip package is named as such, not blamed on the archive', async () => {
    // CommonJS resolution (chids loads its zip reader with createRequire) made to miss yauzl.
    const dir = mkdtempSync(path.join(tmpdir(), 'chids-noyauzl-'));
    try {
      const hide = path.join(dir, 'hide-yauzl.mjs');
      writeFileSync(
        hide,
        "import Module from 'node:module';\nconst resolve = Module._resolveFilename;\nModule._resolveFilename = function (request, ...rest) {\n  if (request === 'yauzl') throw Object.assign(new Error(\"Cannot find module 'yauzl'\"), { code: 'MODULE_NOT_FOUND' });\n  return resolve.call(this, request, ...rest);\n};\n",
      );
      const r = await runCli(['baseline', '--td', lidRecording, '--od', path.join(dir, 'b')], { preload: [hide] });
      const line = assertOneLineError(r, lidRecording, 'yauzl', /npm ci/);
      assert.doesNotMatch(line, /not a valid zip/);
      assert.deepEqual(readdirSync(dir), ['hide-yauzl.mjs'], 'no baseline written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
