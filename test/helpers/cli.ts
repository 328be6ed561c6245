/**
 * Runs the real `chids` CLI and checks the shape of its errors. By default in this process,
 * through the same program the executable runs (src/cli/program.ts), with stdout and stderr
 * captured: a child process costs ~1.5 s of TypeScript loading, most of the suite's time. A run
 * goes to a child process (the executable: cliNodeArgs in paths.ts) when it needs one: stdin input
 * or `-`, an environment or working directory of its own, preloaded modules, the live commands
 * (monitor, capture, lab: signals and child processes), or `subprocess: true` (the end-to-end
 * tests that prove the executable itself works).
 */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cliNodeArgs, repoRoot } from './paths.js';

export const mainTs = path.join(repoRoot, 'src', 'cli', 'main.ts');
/** The module-resolution tracer (see trace-loads.mjs), for `preload`. */
export const traceLoads = path.join(repoRoot, 'test', 'helpers', 'trace-loads.mjs');

export interface CliResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the child's stdin (stdin is closed either way). */
  input?: string | Buffer;
  /** Added to (or, when undefined, removed from) the environment. */
  env?: Record<string, string | undefined>;
  /** Extra `--import` modules, after tsx. */
  preload?: string[];
  cwd?: string;
  timeoutMs?: number;
  /** Run as a child process even when the run could be made in-process. */
  subprocess?: boolean;
}

const LIVE_COMMANDS = new Set(['monitor', 'capture', 'lab']);

function needsChild(args: readonly string[], opts: CliOptions): boolean {
  return (
    opts.subprocess === true ||
    opts.input !== undefined ||
    opts.env !== undefined ||
    (opts.preload?.length ?? 0) > 0 ||
    (opts.cwd !== undefined && path.resolve(opts.cwd) !== repoRoot) ||
    args.includes('-') ||
    LIVE_COMMANDS.has(args[0] ?? '')
  );
}

/** In-process runs share process.stdout/stderr, so they take turns. */
let turn: Promise<unknown> = Promise.resolve();

async function runInProcess(args: readonly string[]): Promise<CliResult> {
  const { run } = await import('../../src/cli/program.js');
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  // chids writes text; the test runner shares this stdout and writes its (binary) reports as
  // Buffers while a command runs, so Buffers go through untouched.
  const capture = (sink: string[], real: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
      if (typeof chunk !== 'string') return (real as (...a: unknown[]) => boolean).call(stream, chunk, enc, cb);
      sink.push(chunk);
      const done = typeof enc === 'function' ? enc : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out, realOut, process.stdout);
  process.stderr.write = capture(err, realErr, process.stderr);
  let code: number;
  try {
    code = await run(['node', 'chids', ...args]);
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  return { code, signal: null, stdout: out.join(''), stderr: err.join('') };
}

/** `chids ARGS…`, in-process or as a child process (see above). Never rejects on a non-zero exit. */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  if (needsChild(args, opts)) return runChild(args, opts);
  const mine = turn.then(() => runInProcess(args));
  turn = mine.catch(() => undefined);
  return mine;
}

function runChild(args: readonly string[], opts: CliOptions): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  delete env.NODE_TEST_CONTEXT; // the child is not a test file
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const nodeArgs = [...cliNodeArgs(opts.preload), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: opts.cwd ?? repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined); // the CLI may exit before reading all of it
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** Human-readable summary of a run, for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stderr ---\n${r.stderr}--- stdout (first 800) ---\n${r.stdout.slice(0, 800)}`;
}

/** Asserts a successful run (exit 0). */
export function assertOk(r: CliResult): void {
  assert.equal(r.code, 0, `expected success, got ${show(r)}`);
}

/**
 * Asserts a user-facing failure: exit ≠ 0 and ≠ 70 (70 = internal error), exactly one line on
 * stderr starting with `chids: `, no stack trace, and every `mentions` (string or pattern) in it.
 */
export function assertOneLineError(r: CliResult, ...mentions: (string | RegExp)[]): string {
  assert.notEqual(r.code, null, `killed by ${r.signal}: ${show(r)}`);
  assert.notEqual(r.code, 0, `expected a failure, got ${show(r)}`);
  assert.notEqual(r.code, 70, `internal error (exit 70): ${show(r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace on stderr: ${show(r)}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected exactly one line on stderr, got ${lines.length}: ${show(r)}`);
  const line = lines[0];
  assert.match(line, /^chids: /, `error line should start with "chids: ": ${show(r)}`);
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(line.includes(m), `error line should mention ${JSON.stringify(m)}: ${line}`);
    else assert.match(line, m, `error line should match ${m}: ${line}`);
  }
  return line;
}

/** Parses stdout as JSON, with the run in the message when it is not. */
export function jsonOf<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    assert.fail(`stdout is not JSON (${(err as Error).message}): ${show(r)}`);
  }
}

/** Parses stdout as JSON lines. */
export function jsonLines<T = Record<string, unknown>>(r: CliResult): T[] {
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as T;
      } catch (err) {
        assert.fail(`stdout line ${i + 1} is not JSON (${(err as Error).message}): ${l.slice(0, 200)}`);
      }
    });
}

/** Runs async jobs with at most `limit` at a time (child processes are CPU-bound at start-up). */
export async function pool<T>(jobs: (() => Promise<T>)[], limit = 2): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Every file under `dir` (relative path → sha256), to check that a directory was left untouched. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = sha256File(p);
    }
  };
  walk(dir);
  return out;
}

/** A deterministic pseudo-random buffer (xorshift32), for garbage inputs. */
export function randomBytes(n: number, seed = 0x9e3779b9): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
