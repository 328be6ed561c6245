/**
 * `--jobs auto` (src/app/jobs.ts): worker threads only for sets large enough to pay for their
 * start-up; sizes come from the files (sparse files stand in for big traces here) and zip
 * directories, without reading the traces. And the flag's parsing.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { AUTO_JOBS_MIN_MIB, jobsFor } from '../src/app/jobs.js';
import { assertOneLineError, runCli } from './helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'chids-jobs-auto-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cores = availableParallelism();
const MIB = 1024 * 1024;

/** A trace file of `bytes` bytes that takes no disk space (a hole). */
function sparse(name: string, bytes: number): { path: string } {
  const p = path.join(dir, name);
  const fd = openSync(p, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return { path: p };
}

test('a number is the worker count, at most one per recording', async () => {
  const recs = [sparse('a.sc', 10), sparse('b.sc', 10)];
  assert.equal(await jobsFor(1, recs), 1);
  assert.equal(await jobsFor(4, recs), 2);
  assert.equal(await jobsFor(undefined, recs), 1);
  // Standard input can be read only by the main thread.
  assert.equal(await jobsFor(4, [...recs, { path: '-' }]), 1);
});

test('auto: this thread below AUTO_JOBS_MIN_MIB of trace text, the cores from there on', async () => {
  const half = (AUTO_JOBS_MIN_MIB / 2) * MIB;
  const small = [sparse('s1.sc', half - 1), sparse('s2.sc', half - 1)];
  assert.equal(await jobsFor('auto', small), 1);
  const big = [sparse('b1.sc', half), sparse('b2.sc', half)];
  assert.equal(await jobsFor('auto', big), cores >= 2 ? 2 : 1);
  // Standard input can be read only by the main thread.
  assert.equal(await jobsFor('auto', [...big, { path: '-' }]), 1);
  // A .scap's text size is known only once sysdig has read it: counted as large.
  const scap = path.join(dir, 'x.scap');
  writeFileSync(scap, 'not read here');
  assert.equal(await jobsFor('auto', [{ path: scap }, ...small]), cores >= 2 ? Math.min(cores, 3) : 1);
  // One recording: nothing to share out.
  assert.equal(await jobsFor('auto', [big[0]]), 1);
});

test('--jobs takes a positive integer or auto; anything else is a one-line error', async () => {
  for (const bad of ['0', 'x', '1.5']) {
    const r = await runCli(['evaluate', '--od', dir, '--ns', dir, '--jobs', bad]);
    assertOneLineError(r, /--jobs must be a positive integer or auto/);
  }
  const help = await runCli(['evaluate', '--help']);
  assert.match(help.stdout, /--jobs <n\|auto>/);
  // Commander wraps the help text: compare it with its white space made single spaces.
  assert.match(help.stdout.replace(/\s+/g, ' '), new RegExp(`default: auto: the available cores \\(${cores}\\) for ${AUTO_JOBS_MIN_MIB} MiB of trace text or more, else 1`));
});
