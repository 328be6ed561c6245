/**
 * Improved mode reads the numbers of `/proc` paths (pids, tids, fds) as the class `<n>`: the next
 * run of a program reads the same files under other pids. Faithful mode keeps the reference's
 * reading; a baseline records the rule, and one trained before it is read as it was.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { procNumbersAsClass } from '../src/encode/args.js';
import type { Vocabulary } from '../src/encode/vocabulary.js';
import { pathsInDir, readBaselineData } from '../src/engine/baseline-dir.js';
import { assertOk, runCli } from './helpers/cli.js';
import { encodeText, vocabularyOf } from './helpers/encode-text.js';

/** A server reading its own /proc files (as pid `pid`) and a page, 30 times over 3 s. */
function trace(pid: number): string {
  const T0 = 1_700_000_000_000_000_000n;
  const out: string[] = [];
  for (let i = 0; i < 30; i++) {
    const t = (k: number) => String(T0 + BigInt(i) * 100_000_000n + BigInt(k) * 1000n);
    out.push(`${t(0)} 0 ${pid} srv ${pid} openat < fd=3 name=/proc/${pid}/stat`);
    out.push(`${t(1)} 0 ${pid} srv ${pid} openat < fd=4 name=/proc/${pid}/task/${pid + 1}/status`);
    out.push(`${t(2)} 0 ${pid} srv ${pid} openat < fd=5 name=/srv/www/index.html`);
    out.push(`${t(3)} 0 ${pid} srv ${pid} read < res=10`);
    out.push(`${t(4)} 0 ${pid} srv ${pid} close < res=0`);
  }
  return out.join('\n') + '\n';
}

async function unseenArgs(vocab: Vocabulary, text: string, faithful: boolean): Promise<string[]> {
  return [...new Set((await encodeText(vocab, text, faithful)).flatMap((w) => w.unseenArgs ?? []))];
}

test('/proc numbers as a class: pids, tids and fds under /proc; nothing else', () => {
  assert.equal(procNumbersAsClass('/proc/4711/stat'), '/proc/<n>/stat');
  assert.equal(procNumbersAsClass('/proc/4711/task/4712/status'), '/proc/<n>/task/<n>/status');
  assert.equal(procNumbersAsClass('/proc/self/fd/3'), '/proc/self/fd/<n>');
  assert.equal(procNumbersAsClass('/proc/4711'), '/proc/<n>');
  assert.equal(procNumbersAsClass('/proc/sys/net/ipv4/conf/eth0/rp_filter'), '/proc/sys/net/ipv4/conf/eth0/rp_filter', 'digits inside a name stay');
  assert.equal(procNumbersAsClass('/proc/self/stat'), '/proc/self/stat');
  assert.equal(procNumbersAsClass('/srv/www/2024/index.html'), '/srv/www/2024/index.html', 'not /proc');
  assert.equal(procNumbersAsClass('proc/12/stat'), 'proc/12/stat', 'a relative path is not /proc');
});

test('improved mode: another run of the server (other pids) reads nothing unseen in /proc; faithful mode keeps the reference reading', async () => {
  for (const faithful of [false, true]) {
    const vocab = await vocabularyOf(trace(100), faithful);
    const unseen = await unseenArgs(vocab, trace(2345), faithful);
    if (!faithful) {
      assert.deepEqual(unseen, [], 'improved');
      assert.ok(vocab.seenArgs.has('/proc/<n>/stat'), [...vocab.seenArgs].join(' '));
    } else assert.deepEqual(unseen, [], 'faithful reads no openat argument at all (only open, stat, clone, execve)');
  }
});

test('a baseline records the rule; one trained before it reads /proc paths with their numbers, as it was trained', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-procn-'));
  try {
    mkdirSync(path.join(dir, 'train'));
    writeFileSync(path.join(dir, 'train', 'r0.sc'), trace(100));
    writeFileSync(path.join(dir, 'train', 'r1.sc'), trace(200));
    const od = path.join(dir, 'm');
    assertOk(await runCli(['baseline', '--td', path.join(dir, 'train'), '--od', od, '-q']));
    const manifestFile = path.join(od, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    assert.equal(manifest.encoding.proc_numbers, true);
    const fresh = await readBaselineData(pathsInDir(od));
    assert.notEqual(fresh.vocab.procNumbers, false);
    assert.deepEqual(await unseenArgs(fresh.vocab, trace(777), false), []);
    // As a chids before the rule wrote it: its vocabulary held the pids of its runs.
    delete manifest.encoding.proc_numbers;
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const seen: string[] = JSON.parse(readFileSync(path.join(od, 'seen_args.json'), 'utf8'));
    const before: Record<string, string> = { '/proc/<n>/stat': '/proc/100/stat', '/proc/<n>/task/<n>': '/proc/100/task' };
    assert.deepEqual(Object.keys(before).filter((a) => !seen.includes(a)), [], seen.join(' '));
    writeFileSync(path.join(od, 'seen_args.json'), JSON.stringify(seen.map((a) => before[a] ?? a)));
    const old = await readBaselineData(pathsInDir(od));
    assert.equal(old.vocab.procNumbers, false);
    assert.deepEqual(await unseenArgs(old.vocab, trace(100), false), [], 'its own run: seen, as it was');
    assert.deepEqual(await unseenArgs(old.vocab, trace(777), false), ['/proc/777/stat', '/proc/777/task'], 'another pid: unseen, as it was');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
