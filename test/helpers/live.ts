/**
 * Running the `chids` CLI as a separate process for the live-path tests (monitor, capture):
 * stdout lines with the time they arrived, stderr JSON log records, hard timeouts so that no
 * test can hang, and waiting for a log message.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { cliNodeArgs, repoRoot } from './paths.js';

export const CLI = path.join(repoRoot, 'src', 'cli', 'main.ts');

export interface LiveRun {
  child: ChildProcess;
  /** stdout lines and when they arrived (Date.now()). */
  out: { line: string; at: number }[];
  /** stderr lines parsed as JSON when they are (structured logs), else { raw }. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log record whose msg matches (rejects after timeoutMs). */
  waitLog(msg: string | RegExp, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Resolves with the first stdout line that satisfies `pred` (rejects after timeoutMs). */
  waitOut(pred: (line: string) => boolean, timeoutMs: number): Promise<{ line: string; at: number }>;
}

/** Starts `chids ARGS` (bundled under npm test, else via tsx); killed with SIGKILL after `timeoutMs` whatever happens. */
export function startCli(args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' | number }): LiveRun {
  const child = spawn(process.execPath, [...cliNodeArgs(), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const out: LiveRun['out'] = [];
  const logs: LiveRun['logs'] = [];
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((f) => f());
  const lines = (stream: NodeJS.ReadableStream, each: (l: string) => void) => {
    let carry = '';
    stream.on('data', (c: Buffer) => {
      const parts = (carry + c.toString('utf8')).split('\n');
      carry = parts.pop() ?? '';
      for (const p of parts) if (p !== '') each(p);
      notify();
    });
    stream.on('end', () => {
      if (carry !== '') each(carry);
      notify();
    });
  };
  lines(child.stdout!, (l) => out.push({ line: l, at: Date.now() }));
  lines(child.stderr!, (l) => {
    try {
      logs.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      logs.push({ raw: l });
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      notify();
      resolve({ code, signal });
    });
  });
  let ended = false;
  void done.then(() => (ended = true));
  const waitFor = <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const v = find();
        if (v !== undefined) {
          cleanup();
          resolve(v);
        } else if (ended) {
          cleanup();
          reject(new Error(`process ended before ${what}; logs: ${JSON.stringify(logs.slice(-8))}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; logs: ${JSON.stringify(logs.slice(-8))}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return {
    child,
    out,
    logs,
    done,
    waitLog: (msg, timeoutMs) => waitFor(() => logs.find((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg ?? r.raw ?? '')))), `log ${msg}`, timeoutMs),
    waitOut: (pred, timeoutMs) => waitFor(() => out.find((o) => pred(o.line)), 'a stdout line', timeoutMs),
  };
}

/** Runs `chids ARGS` to its end. */
export async function runCli(args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' | number }) {
  const r = startCli(args, opts);
  const { code, signal } = await r.done;
  return { code, signal, out: r.out.map((o) => o.line), logs: r.logs, stderr: r.logs.map((l) => (l.raw as string | undefined) ?? JSON.stringify(l)).join('\n') };
}

/** A skip reason (printed loudly) when a command is missing, else false. */
export function needsCommand(cmd: string, args: string[], why: string): string | false {
  const r = spawnSync(cmd, args, { timeout: 15_000, stdio: 'ignore' });
  if (!r.error && r.status === 0) return false;
  const msg = `!!! SKIPPED: ${why}: \`${cmd} ${args.join(' ')}\` does not work here (${r.error?.message ?? `exit ${r.status}`}) !!!`;
  console.warn(msg);
  return msg;
}

/** Alert JSON lines on stdout, parsed. */
export function alertsOf(run: { out: { line: string }[] } | { out: string[] }): { line: string; alert: Record<string, any> }[] {
  const lines = (run.out as ({ line: string } | string)[]).map((o) => (typeof o === 'string' ? o : o.line));
  return lines.filter((l) => l.startsWith('{')).map((l) => ({ line: l, alert: JSON.parse(l) }));
}
