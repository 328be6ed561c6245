/**
 * The `chids` executable's process wiring (src/cli/executable.ts): the command's result is the exit
 * code; a command that ended but left something open (a timer, a socket) does not keep the
 * process running: after a grace period it is named on stderr and the process exits with that code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './helpers/paths.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-executable-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const executable = pathToFileURL(path.join(repoRoot, 'src', 'cli', 'executable.ts')).href;

/** Runs a command body under runExecutable; its exit code, stderr and how long it took. */
function runWith(body: string): Promise<{ code: number | null; stderr: string; ms: number }> {
  const file = path.join(dir, `cmd-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, `import { runExecutable } from ${JSON.stringify(executable)};\nrunExecutable(async () => {\n${body}\n});\n`);
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, ms: Date.now() - t0 });
    });
  });
}

test('a command that let go of everything exits with its code, saying nothing', async () => {
  const r = await runWith('return 3;');
  assert.equal(r.code, 3);
  assert.equal(r.stderr, '');
});

test('a command that left a timer and a listening socket open: named on stderr, exit with its code', async () => {
  const r = await runWith(`
    setInterval(() => undefined, 1000);
    const { createServer } = await import('node:net');
    createServer().listen(0, '127.0.0.1');
    return 4;`);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /^chids: the command ended 3 s ago but left open: .*Timeout.*; exiting with code 4\n$/);
  assert.match(r.stderr, /TCPServerWrap/);
});
