/**
 * `npm run bench:repro`: every reproducer of the reliability audit (issue 10's "Why" list), run
 * against the shipped CLI (`node dist/bin/chids.js`, so `npm run build` first) as a child
 * process in a temporary directory. Each case times one command (its inputs are made before
 * the clock starts), records the exit code and the first line of stderr, and checks the
 * outcome: a clear one-line error or a correct result, nothing deleted that chids did not
 * write, nothing lost without a count. The done-when of the issue is "≤ 2 s" per reproducer.
 *
 *     npm run build && npm run bench:repro -- [--runs 3] [--only 1a,7b] [--quick]
 *
 * Prints a table (case, median seconds of the runs, exit, message, ok) with the machine (nproc,
 * CPU, load average) and writes bench/results/reproducers.json. `--quick` shrinks the big
 * inputs (2 MB lines instead of 200 MB, 3 MB of zeros, 1,300 windows for the report) and makes
 * one run: the case list itself, for a test; its timings mean nothing. `--cli src/cli/main.ts`
 * runs the sources (through tsx) instead of dist/, `--out FILE` writes the JSON elsewhere.
 */
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { closeSync, cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run bench:repro -- [--runs N] [--only ID,ID] [--quick] [--cli FILE] [--out FILE]

Runs every reproducer of the reliability audit against the built CLI (npm run build first) and
prints, per case, the median wall and CPU seconds, the exit code, the first stderr line and
whether the outcome is right; writes bench/results/reproducers.json.
  --runs N       runs per case (default 3, 1 with --quick)
  --only IDS     only these cases (e.g. 1c,7d)
  --quick        tiny inputs, one run: checks the case list, its timings mean nothing
  --cli FILE     the CLI to run (default dist/bin/chids.js; a .ts file runs through tsx)
  --out FILE     where to write the JSON`;
let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      runs: { type: 'string' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      cli: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
try {
  parsed = parseOptions();
} catch (e) {
  console.error(`bench:repro: ${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const a = parsed.values;
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const quick = a.quick === true;
const runs = Number(a.runs ?? (quick ? 1 : 3));
const cli = a.cli ? path.resolve(a.cli) : path.join(root, 'dist', 'bin', 'chids.js');
const outJson = a.out ?? path.join(root, 'bench', 'results', quick ? 'reproducers-quick.json' : 'reproducers.json');
/** The issue's sizes, or tiny ones for --quick. */
const SIZE = quick ? { line: 2_000_000, zeros: 3_000_000, reportSec: 1_300 } : { line: 200_000_000, zeros: 300_000_000, reportSec: 150_000 };
const LIMIT_S = 2;
/** `--cli src/cli/main.ts` runs the sources through tsx (resolved here: the cases run in /tmp). */
const cliArgs = cli.endsWith('.ts') ? ['--import', pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, cli] : [cli];
if (!existsSync(cli)) {
  console.error(`bench/reproducers.ts: ${cli} is missing: npm run build first`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

interface Run {
  seconds: number;
  /** User + system CPU seconds of the CLI (null when it was not run under the timing shell). */
  cpu: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** stdin: text, a file streamed through a pipe (64 KiB writes), or an open descriptor. */
  input?: string | Buffer | { file: string; bytes?: number };
  /** stdout to a descriptor (e.g. /dev/full) instead of a pipe. */
  stdoutFd?: number;
  env?: Record<string, string>;
  /** Runs `cmd` instead of node (the read-only mount cases go through unshare). */
  wrap?: string[];
  timeoutMs?: number;
  /** Called once the child runs (the kill-during-replacement case). */
  onSpawn?: (pid: number, t0: number) => void;
}

/** Keeps the first bytes of a stream (an encode of a big input prints a lot). */
const KEEP = 1 << 20;

/**
 * `times` of POSIX sh prints the user and system CPU time of the shell's children: the CLI's
 * own CPU time, the figure a loaded machine changes least (wall time on 2 cores shared by
 * several jobs is mostly waiting for a core).
 */
const TIMES = '"$@"; s=$?; times >&3; exit $s';

function parseTimes(text: string): number | null {
  const l = text.trim().split('\n')[1];
  const m = l ? /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(l.trim()) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : null;
}

function runCli(args: string[], o: RunOptions = {}): Promise<Run> {
  const inner = [...(o.wrap ?? []), process.execPath, ...cliArgs, ...args];
  // A process to kill by its pid (onSpawn) is run directly, not under the timing shell.
  const argv = o.onSpawn ? inner : ['sh', '-c', TIMES, 'sh', ...inner];
  const stdio: StdioOptions = [o.input === undefined ? 'ignore' : 'pipe', o.stdoutFd ?? 'pipe', 'pipe', 'pipe'];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: os.tmpdir(), stdio, env: { ...process.env, ...o.env } });
    let stdout = '';
    let stderr = '';
    let times = '';
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < KEEP) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < KEEP) stderr += d.toString('utf8');
    });
    (child.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (d: Buffer) => {
      times += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
    child.once('error', reject);
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // EPIPE once chids refuses the input and exits
      const inp = o.input!;
      if (typeof inp === 'string' || Buffer.isBuffer(inp)) child.stdin.end(inp);
      else createReadStream(inp.file, { highWaterMark: 64 * 1024, ...(inp.bytes !== undefined ? { end: inp.bytes - 1 } : {}) }).on('error', () => undefined).pipe(child.stdin);
    }
    if (child.pid !== undefined) o.onSpawn?.(child.pid, t0);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ seconds: (performance.now() - t0) / 1000, cpu: parseTimes(times), code, signal, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
const first = (s: string) => lines(s)[0] ?? '';

/** One line on stderr, `chids: …`, naming `what`, non-zero exit (the brief's "clear one-line error"). */
function oneLineError(r: Run, what: string, re?: RegExp): string | null {
  if (r.code === 0 || r.code === null) return `exit ${r.code ?? r.signal}`;
  const l = lines(r.stderr);
  if (l.length !== 1) return `${l.length} stderr lines`;
  if (!l[0]!.startsWith('chids: ')) return 'not a chids: line';
  if (!l[0]!.includes(what)) return `does not name ${what}`;
  if (re && !re.test(l[0]!)) return `does not match ${re}`;
  return null;
}

/** The monitor's summary (its "monitor stopped" JSON log line). */
function monitorSummary(r: Run): Record<string, any> | null {
  for (const l of lines(r.stderr)) {
    try {
      const j = JSON.parse(l);
      if (j.msg === 'monitor stopped') return j;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

/** Every file under `dir` with its content, sorted (to prove nothing of the user's moved). */
function snapshot(dir: string): string {
  return JSON.stringify(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .map((d) => {
        const p = path.join(d.parentPath, d.name);
        return [path.relative(dir, p), d.isFile() ? readFileSync(p, 'utf8') : d.isDirectory() ? '<dir>' : '<other>'];
      })
      .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
  );
}

// ---------------------------------------------------------------------------------------------
// Inputs

const tmp = mkdtempSync(path.join(os.tmpdir(), 'chids-repro-'));
const T0 = 1631078867380457267n;
const ev = (t: bigint, name = 'read', dir = '>', arg = 'fd=1') => `${t} 0 1 a 1 ${name} ${dir} ${arg}\n`;

/** A normal-looking training trace: 40 s of reads and opens (a few hundred events). */
function trainTrace(seconds = 40n): string {
  let s = '';
  for (let i = 0n; i < seconds * 10n; i++) {
    const t = T0 + i * 100_000_000n;
    const name = i % 3n === 0n ? 'openat' : 'read';
    s += ev(t, name, '>', 'fd=3') + ev(t + 1000n, name, '<', 'fd=3(<f>/etc/passwd) name=/etc/passwd');
  }
  return s;
}

const F = {
  td: path.join(tmp, 'td.sc'),
  daystep: path.join(tmp, 'daystep.sc'),
  two: path.join(tmp, 'two.sc'),
  good: path.join(tmp, 'good'), // a BoSC baseline (improved mode)
  faithfulBase: path.join(tmp, 'good-faithful'), // a BoSC baseline in faithful mode
  tiny: path.join(tmp, 'tiny-window'), // `good` with window_ns: 1
  badUtf8: path.join(tmp, 'bad-utf8.sc'),
  late: path.join(tmp, 'late.sc'),
  alerting: path.join(tmp, 'alerting.sc'),
  long: path.join(tmp, 'long.sc'), // one event a second for SIZE.reportSec seconds
  results: path.join(tmp, 'results.json'),
  bigLine: path.join(tmp, 'bigline.sc'),
  loopA: path.join(tmp, 'loop-a'),
};

async function prepare(): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  writeFileSync(F.td, trainTrace());
  // The issue's daystep.sc: 1,400 events one day apart (56 KB).
  let s = '';
  for (let i = 0n; i < 1400n; i++) s += ev(T0 + i * 86_400_000_000_000n, 'read', '>', 'fd=1');
  writeFileSync(F.daystep, s);
  writeFileSync(F.two, ev(1631078867380457267n) + ev(2631078867380457267n));
  log('preparing: two small baselines …');
  for (const [od, extra] of [
    [F.good, []],
    [F.faithfulBase, ['--faithful']],
  ] as const) {
    const r = await runCli(['baseline', '--td', F.td, '--od', od, '--model', 'bosc', '--seed', '1', '-q', ...extra]);
    if (r.code !== 0) throw new Error(`baseline for the bench failed: ${r.stderr}`);
  }
  cpSync(F.good, F.tiny, { recursive: true });
  const m = JSON.parse(readFileSync(path.join(F.tiny, 'manifest.json'), 'utf8'));
  m.encoding.window_ns = 1;
  writeFileSync(path.join(F.tiny, 'manifest.json'), JSON.stringify(m, null, 2));
  // 1,000 events 10 ms apart, the 501st with invalid UTF-8 in its process name.
  const parts: Buffer[] = [];
  for (let i = 0n; i < 1000n; i++) {
    const t = T0 + i * 10_000_000n;
    parts.push(i === 500n ? Buffer.concat([Buffer.from(`${t} 0 1 c`), Buffer.from([0xff, 0xfe]), Buffer.from('t 1 read > fd=1\n')]) : Buffer.from(ev(t)));
  }
  writeFileSync(F.badUtf8, Buffer.concat(parts));
  // Events going back in time: 5 of 20 are 1.5 s behind the one before (an earlier window).
  s = '';
  for (let i = 0n; i < 20n; i++) s += ev(T0 + i * 300_000_000n - (i % 4n === 3n ? 1_500_000_000n : 0n));
  writeFileSync(F.late, s);
  // Syscalls the baseline never saw: every window alerts (for the webhook cases).
  s = '';
  for (let i = 0n; i < 60n; i++) s += ev(T0 + i * 200_000_000n, 'ptrace', '>', 'request=1');
  writeFileSync(F.alerting, s);
  // One event a second for SIZE.reportSec seconds: an evaluation with that many windows.
  log(`preparing: evaluate --json over ${SIZE.reportSec} windows …`);
  const fd = openSync(F.long, 'w');
  for (let i = 0n; i < BigInt(SIZE.reportSec); i += 1000n) {
    let chunk = '';
    for (let j = i; j < i + 1000n && j < BigInt(SIZE.reportSec); j++) chunk += ev(T0 + j * 1_000_000_000n, j % 7n === 0n ? 'openat' : 'read');
    writeSync(fd, chunk);
  }
  closeSync(fd);
  // Run directly (not through runCli, whose stdout is capped): the JSON is tens of MB.
  const full = spawnSync(process.execPath, [...cliArgs, 'evaluate', '--od', F.good, '--ns', F.long, '--json', '-q'], { maxBuffer: 1 << 30 });
  if (full.status !== 0) throw new Error(`evaluate for the report case failed: ${full.stderr}`);
  writeFileSync(F.results, full.stdout);
  log(`preparing: a ${SIZE.line / 1e6} MB line …`);
  // A 200 MB line: an event whose argument is 200 MB long, then an ordinary event.
  const big = openSync(F.bigLine, 'w');
  writeSync(big, `${T0} 0 1 a 1 write > buf=`);
  const block = Buffer.alloc(1 << 20, 'x');
  for (let left = SIZE.line; left > 0; left -= block.length) writeSync(big, left >= block.length ? block : block.subarray(0, left));
  writeSync(big, `\n${ev(T0 + 1000n)}`);
  closeSync(big);
  symlinkSync('loop-b', F.loopA);
  symlinkSync('loop-a', path.join(tmp, 'loop-b'));
}

// ---------------------------------------------------------------------------------------------
// The cases

interface Outcome {
  run: Run;
  /** null when the outcome is right, else what is wrong. */
  problem: string | null;
  /** What the check saw (counts, files). */
  detail?: string;
}

interface Case {
  id: string;
  title: string;
  /** Makes what one repetition needs (untimed), runs the command (timed), checks the result. */
  run: (dir: string) => Promise<Outcome>;
  skip?: () => string | false;
}

/** A 200 MB line: refused in one line, or (under the 16 MiB bound, --quick) read, both events counted. */
function bigLineOutcome(r: Run, name: string): Outcome {
  if (r.code !== 0) return { run: r, problem: oneLineError(r, name, /longer than/) };
  const events = lines(r.stdout).reduce((n, l) => n + (JSON.parse(l) as { events: number }).events, 0);
  return { run: r, problem: events === 2 ? null : `${events} events`, detail: `${events} events read` };
}

const rootOnly = (): string | false => {
  if (process.getuid?.() !== 0) return 'needs root (a read-only mount)';
  const p = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'true'], { timeout: 10_000 });
  return p.status === 0 ? false : 'cannot make a mount namespace';
};

/** A local webhook endpoint that takes every request and never answers. */
async function silentServer(): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req) => req.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const cases: Case[] = [
  {
    id: '1a',
    title: 'baseline --td daystep.sc (1,400 one-day steps)',
    run: async (d) => {
      const od = path.join(d, 'b');
      const r = await runCli(['baseline', '--td', F.daystep, '--od', od, '--model', 'bosc']);
      return { run: r, problem: oneLineError(r, F.daystep, /empty/) ?? (existsSync(od) ? 'a baseline was written' : null) };
    },
  },
  {
    id: '1b',
    title: 'evaluate --ns daystep.sc',
    run: async () => {
      const r = await runCli(['evaluate', '--od', F.good, '--ns', F.daystep]);
      return { run: r, problem: oneLineError(r, F.daystep, /empty/) };
    },
  },
  {
    id: '1c',
    title: 'encode daystep.sc > FILE',
    // stdout to a file, as `chids encode … > out.jsonl` would: the windows before the refusal are
    // ~100 MB of lines, and through a pipe the reader's pace (this script's) would be measured too.
    run: async (d) => {
      const out = openSync(path.join(d, 'windows.jsonl'), 'w');
      try {
        const r = await runCli(['encode', '--od', F.good, F.daystep], { stdoutFd: out });
        return { run: r, problem: oneLineError(r, F.daystep, /empty/) };
      } finally {
        closeSync(out);
      }
    },
  },
  {
    id: '1d',
    title: 'baseline --faithful, two lines 10^18 ns apart',
    run: async (d) => {
      const od = path.join(d, 'b');
      const r = await runCli(['baseline', '--faithful', '--td', F.two, '--od', od, '--model', 'bosc']);
      return { run: r, problem: oneLineError(r, F.two, /empty/) ?? (existsSync(od) ? 'a baseline was written' : null) };
    },
  },
  {
    id: '1e',
    title: 'encode with a manifest of window_ns: 1',
    run: async () => {
      const r = await runCli(['encode', '--od', F.tiny, F.td]);
      return { run: r, problem: oneLineError(r, F.td, /empty 1 ns windows/) };
    },
  },
  {
    id: '2a',
    title: 'baseline --od DIR with a foreign manifest.json + index.html',
    run: async (d) => {
      const w = path.join(d, 'pwa');
      mkdirSync(w);
      writeFileSync(path.join(w, 'manifest.json'), '{"name":"pwa"}\n');
      writeFileSync(path.join(w, 'index.html'), 'x\n');
      const before = snapshot(w);
      const r = await runCli(['baseline', '--td', F.td, '--od', w, '--model', 'bosc']);
      return { run: r, problem: oneLineError(r, w, /not a chids baseline/) ?? (snapshot(w) !== before ? 'the directory changed' : null), detail: readdirSync(w).sort().join(',') };
    },
  },
  {
    id: '2b',
    title: 'baseline --od BASELINE holding NOTES.md and eval/',
    run: async (d) => {
      const w = path.join(d, 'base');
      cpSync(F.good, w, { recursive: true });
      writeFileSync(path.join(w, 'NOTES.md'), 'mine\n');
      mkdirSync(path.join(w, 'eval'));
      writeFileSync(path.join(w, 'eval', 'results.json'), '{}\n');
      const before = snapshot(w);
      const r = await runCli(['baseline', '--td', F.td, '--od', w, '--model', 'bosc']);
      return { run: r, problem: oneLineError(r, w, /NOTES\.md, eval/) ?? (snapshot(w) !== before ? 'the directory changed' : null) };
    },
  },
  {
    id: '3',
    title: 'monitor (faithful) stdin, a bad UTF-8 line in a 64 KiB chunk',
    run: async () => {
      const r = await runCli(['monitor', '--od', F.faithfulBase, '--source', 'stdin', '--format', 'lidds', '--no-stdout'], { input: { file: F.badUtf8 } });
      const s = monitorSummary(r);
      const detail = s ? `events ${s.events}, malformed ${s.dropped?.malformed}, windows ${s.windows}` : 'no summary';
      const problem = r.code !== 0 ? `exit ${r.code}` : !s ? 'no summary' : s.events !== 999 || s.dropped?.malformed !== 1 || s.windows !== 10 ? 'wrong counts' : null;
      return { run: r, problem, detail };
    },
  },
  {
    id: '4a',
    title: 'monitor --webhook, a server that never answers: queued alerts at exit (default --drain-timeout 5s)',
    run: async () => {
      const srv = await silentServer();
      try {
        const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--no-stdout', '--webhook', srv.url], { input: readFileSync(F.alerting) });
        const s = monitorSummary(r);
        const last = lines(r.stderr).at(-1) ?? '';
        const lost = s ? s.alerts_lost.queue_full + s.alerts_lost.failed + s.alerts_lost.at_exit : -1;
        const problem = r.code !== 4 ? `exit ${r.code}` : !s || lost !== s.alerts || s.alerts === 0 ? 'alerts not all counted' : !/alerts were not delivered to the webhook/.test(last) ? 'no count line' : null;
        return { run: r, problem, detail: s ? `alerts ${s.alerts}, lost ${JSON.stringify(s.alerts_lost)}` : 'no summary' };
      } finally {
        srv.close();
      }
    },
  },
  {
    id: '4b',
    title: 'monitor --webhook, an unreachable port: failed alerts',
    run: async () => {
      const port = await closedPort();
      const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--no-stdout', '--webhook', `http://127.0.0.1:${port}/hook`], { input: readFileSync(F.alerting) });
      const s = monitorSummary(r);
      const lost = s ? s.alerts_lost.queue_full + s.alerts_lost.failed + s.alerts_lost.at_exit : -1;
      const problem = r.code !== 4 ? `exit ${r.code}` : !s || lost !== s.alerts || s.alerts === 0 ? 'alerts not all counted' : null;
      return { run: r, problem, detail: s ? `alerts ${s.alerts}, lost ${JSON.stringify(s.alerts_lost)}` : 'no summary' };
    },
  },
  {
    id: '4d',
    title: 'as 4a with --drain-timeout 1s (the wait is the user\'s bound)',
    run: async () => {
      const srv = await silentServer();
      try {
        const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--no-stdout', '--webhook', srv.url, '--drain-timeout', '1s'], { input: readFileSync(F.alerting) });
        const s = monitorSummary(r);
        const lost = s ? s.alerts_lost.queue_full + s.alerts_lost.failed + s.alerts_lost.at_exit : -1;
        const problem = r.code !== 4 ? `exit ${r.code}` : !s || lost !== s.alerts || s.alerts === 0 ? 'alerts not all counted' : null;
        return { run: r, problem, detail: s ? `alerts ${s.alerts}, lost ${JSON.stringify(s.alerts_lost)}` : 'no summary' };
      } finally {
        srv.close();
      }
    },
  },
  {
    id: '4c',
    title: 'monitor --webhook http://alice:s3cr3t@…',
    run: async () => {
      const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--webhook', 'http://alice:s3cr3t@127.0.0.1:9/hook'], { input: readFileSync(F.alerting) });
      const problem = oneLineError(r, '--webhook', /credentials/) ?? (r.stderr.includes('s3cr3t') || r.stdout.includes('s3cr3t') ? 'the secret was printed' : null);
      return { run: r, problem };
    },
  },
  {
    id: '5',
    title: `report over ${SIZE.reportSec.toLocaleString('en')} windows`,
    run: async (d) => {
      const html = path.join(d, 'report', 'index.html');
      const r = await runCli(['report', F.results, '-o', html]);
      const size = existsSync(html) ? readFileSync(html).length : 0;
      return { run: r, problem: r.code !== 0 ? `exit ${r.code}` : size === 0 ? 'no report' : null, detail: `${(size / 1e6).toFixed(1)} MB html` };
    },
  },
  {
    id: '6a',
    title: 'baseline replacing a baseline (fsynced, atomic)',
    run: async (d) => {
      const w = path.join(d, 'od');
      cpSync(F.good, w, { recursive: true });
      const old = readFileSync(path.join(w, 'manifest.json'), 'utf8');
      const r = await runCli(['baseline', '--td', F.td, '--od', w, '--model', 'bosc', '--seed', '2']);
      const now = readFileSync(path.join(w, 'manifest.json'), 'utf8');
      const left = readdirSync(d);
      const problem = r.code !== 0 ? `exit ${r.code}` : now === old ? 'not replaced' : left.join() !== 'od' ? `leftovers: ${left.join(',')}` : null;
      return { run: r, problem };
    },
  },
  {
    id: '6b',
    title: 'encode --od after a SIGKILL mid-replacement (recovery)',
    run: async (d) => {
      const w = path.join(d, 'od');
      cpSync(F.good, w, { recursive: true });
      // Kill the writer at a moment inside the replacement (training BoSC is quick): the
      // moment varies with the load; whichever it hits, the next command must find a baseline.
      const killed = await runCli(['baseline', '--td', F.td, '--od', w, '--model', 'bosc', '--seed', '2'], {
        onSpawn: (pid) => {
          const probe = setInterval(() => {
            if (readdirSync(d).length > 1) {
              clearInterval(probe);
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                /* done already */
              }
            }
          }, 1);
          setTimeout(() => clearInterval(probe), 60_000).unref();
        },
      });
      const r = await runCli(['encode', '--od', w, F.td]);
      const left = readdirSync(d);
      const problem = r.code !== 0 ? `exit ${r.code}` : lines(r.stdout).length === 0 ? 'no windows' : left.join() !== 'od' ? `leftovers: ${left.join(',')}` : null;
      return { run: r, problem, detail: `writer ${killed.signal ?? `exit ${killed.code}`}` };
    },
  },
  {
    id: '7a',
    title: `encode -, a ${SIZE.line / 1e6} MB line on stdin (pipe)`,
    run: async () => {
      const r = await runCli(['encode', '--od', F.good, '-'], { input: { file: F.bigLine } });
      return bigLineOutcome(r, '-');
    },
  },
  {
    id: '7b',
    title: `encode FILE, a ${SIZE.line / 1e6} MB line`,
    run: async () => {
      const r = await runCli(['encode', '--od', F.good, F.bigLine]);
      return bigLineOutcome(r, F.bigLine);
    },
  },
  {
    id: '7c',
    title: `encode -, ${SIZE.zeros / 1e6} MB of /dev/zero on stdin`,
    run: async () => {
      const r = await runCli(['encode', '--od', F.good, '-'], { input: { file: '/dev/zero', bytes: SIZE.zeros } });
      return { run: r, problem: r.code === 0 ? 'accepted' : oneLineError(r, '-') };
    },
  },
  {
    id: '7d',
    title: `monitor stdin, a ${SIZE.line / 1e6} MB line: dropped, counted`,
    run: async () => {
      const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--no-stdout'], { input: { file: F.bigLine } });
      const s = monitorSummary(r);
      const dropped = s ? Object.values(s.dropped as Record<string, number>).reduce((x, y) => x + y, 0) : 0;
      // Both lines accounted for: the long one dropped and counted (or, under the parser's
      // 16 MiB bound with --quick, read), the ordinary one read.
      const problem = r.code !== 0 ? `exit ${r.code}` : !s ? 'no summary' : s.events + dropped !== 2 || s.events < 1 ? 'wrong counts' : null;
      return { run: r, problem, detail: s ? `events ${s.events}, dropped ${JSON.stringify(s.dropped)}` : 'no summary' };
    },
  },
  {
    id: '7e',
    title: `monitor stdin, ${SIZE.zeros / 1e6} MB of /dev/zero`,
    run: async () => {
      const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--no-stdout'], { input: { file: '/dev/zero', bytes: SIZE.zeros } });
      const s = monitorSummary(r);
      const dropped = s ? Object.values(s.dropped as Record<string, number>).reduce((x, y) => x + y, 0) : 0;
      const problem = r.code !== 0 ? `exit ${r.code}` : !s ? 'no summary' : s.events !== 0 || dropped !== 1 ? 'not counted' : null;
      return { run: r, problem, detail: s ? `events ${s.events}, dropped ${JSON.stringify(s.dropped)}` : undefined };
    },
  },
  {
    id: '8',
    title: 'monitor stdin, events going back in time',
    run: async () => {
      const r = await runCli(['monitor', '--od', F.good, '--source', 'stdin', '--format', 'lidds', '--no-stdout'], { input: readFileSync(F.late) });
      const s = monitorSummary(r);
      const warned = /out of time order/.test(r.stderr);
      const problem = r.code !== 0 ? `exit ${r.code}` : !s ? 'no summary' : s.events !== 20 || s.late !== 5 || !warned ? 'not counted' : null;
      return { run: r, problem, detail: s ? `events ${s.events}, late ${s.late}` : 'no summary' };
    },
  },
  {
    id: '9a',
    title: 'encode > /dev/full (ENOSPC on stdout)',
    run: async () => {
      const full = openSync('/dev/full', 'w');
      try {
        const r = await runCli(['encode', '--od', F.good, F.td], { stdoutFd: full });
        return { run: r, problem: oneLineError(r, 'standard output', /no space left/) };
      } finally {
        closeSync(full);
      }
    },
  },
  {
    id: '9b',
    title: 'baseline --od on a read-only file system',
    skip: rootOnly,
    run: async (d) => {
      const mnt = path.join(d, 'ro');
      mkdirSync(mnt);
      const od = path.join(mnt, 'base');
      // A read-only tmpfs in a mount namespace of the CLI's own: nothing stays mounted.
      const r = await runCli(['baseline', '--td', F.td, '--od', od, '--model', 'bosc'], {
        wrap: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', `mount -t tmpfs -o ro,size=1m tmpfs '${mnt}' && exec "$@"`, 'sh'],
      });
      return { run: r, problem: oneLineError(r, od, /read-only file system/) ?? (readdirSync(mnt).length ? 'wrote under the mount point' : null) };
    },
  },
  {
    id: '9c',
    title: 'encode a symlink loop',
    run: async () => {
      const r = await runCli(['encode', '--od', F.good, F.loopA]);
      return { run: r, problem: oneLineError(r, F.loopA, /symlink loop/) };
    },
  },
];

// ---------------------------------------------------------------------------------------------

interface Row {
  id: string;
  title: string;
  runs: number;
  /** Median wall time of the runs (the done-when's figure). */
  median_s: number | null;
  seconds: number[];
  /** Median user + system CPU seconds of the CLI. */
  cpu_median_s: number | null;
  cpu_seconds: (number | null)[];
  /** 1-minute load average when the case started. */
  load1: number;
  exit: string;
  message: string;
  detail?: string;
  ok: boolean;
  within_limit: boolean | null;
  problem: string | null;
  skipped?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const only = a.only ? new Set(a.only.split(',')) : null;
  const chosen = cases.filter((c) => only === null || only.has(c.id));
  await prepare();
  const rows: Row[] = [];
  for (const c of chosen) {
    const skipped = c.skip?.();
    if (skipped) {
      rows.push({ id: c.id, title: c.title, runs: 0, median_s: null, seconds: [], cpu_median_s: null, cpu_seconds: [], load1: os.loadavg()[0]!, exit: '-', message: '', ok: true, within_limit: null, problem: null, skipped });
      continue;
    }
    const outs: Outcome[] = [];
    const load1 = Number(os.loadavg()[0]!.toFixed(2));
    for (let i = 0; i < runs; i++) {
      const dir = mkdtempSync(path.join(tmp, `case-${c.id}-`));
      try {
        outs.push(await c.run(dir));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const last = outs.at(-1)!;
    const secs = outs.map((o) => o.run.seconds);
    const bad = outs.find((o) => o.problem !== null);
    const m = median(secs);
    const cpus = outs.map((o) => o.run.cpu);
    const known = cpus.filter((x): x is number => x !== null);
    const cm = known.length ? median(known) : null;
    rows.push({
      id: c.id,
      title: c.title,
      runs,
      median_s: Number(m.toFixed(3)),
      seconds: secs.map((x) => Number(x.toFixed(3))),
      cpu_median_s: cm === null ? null : Number(cm.toFixed(3)),
      cpu_seconds: cpus.map((x) => (x === null ? null : Number(x.toFixed(3)))),
      load1,
      exit: last.run.code !== null ? String(last.run.code) : String(last.run.signal),
      message: first(last.run.stderr),
      ...(last.detail ? { detail: last.detail } : {}),
      ok: bad === undefined,
      within_limit: m <= LIMIT_S,
      problem: bad?.problem ?? null,
    });
    process.stderr.write(`${c.id} ${m.toFixed(2)} s wall, ${cm?.toFixed(2) ?? '?'} s cpu, load ${load1} ${bad ? `FAIL: ${bad.problem}` : 'ok'}\n`);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const machine = { nproc: os.availableParallelism(), cpu, loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), node: process.version };
  const { default: Table } = await import('cli-table3');
  const table = new Table({ head: ['case', 'what', 'wall s', 'cpu s', 'load', 'exit', 'message / counts', 'ok?'], colWidths: [5, 40, 8, 7, 6, 6, 58, 6], wordWrap: true, style: { head: [], border: [] } });
  for (const r of rows) {
    const msg = r.skipped ? `skipped: ${r.skipped}` : r.detail ? `${r.detail}${r.message && !r.message.startsWith('{') ? ` | ${r.message}` : ''}` : r.message;
    // ok?: the outcome is right (yes/NO); "slow" marks a wall median over the limit.
    const ok = r.skipped ? '-' : `${r.ok ? 'yes' : 'NO'}${r.within_limit === false ? ', slow' : ''}`;
    table.push([r.id, r.title, r.median_s === null ? '-' : r.median_s.toFixed(2), r.cpu_median_s === null ? '-' : r.cpu_median_s.toFixed(2), r.load1.toFixed(1), r.exit, msg.slice(0, 180), ok]);
  }
  console.log(table.toString());
  console.log(`${runs} run(s) each, medians; wall and CPU (user + system) seconds of the CLI; load = 1-min load average at the case's start; machine: ${machine.nproc} × ${cpu}, load average ${machine.loadavg.join(' ')} (at the end), node ${machine.node}`);
  const result = { command: `npm run bench:repro${quick ? ' -- --quick' : ''}`, date: new Date().toISOString(), limit_s: LIMIT_S, runs, quick, machine, cases: rows };
  mkdirSync(path.dirname(outJson), { recursive: true });
  writeFileSync(`${outJson}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  const { renameSync } = await import('node:fs');
  renameSync(`${outJson}.tmp`, outJson);
  console.log(`wrote ${path.relative(root, outJson)}`);
  const failed = rows.filter((r) => !r.ok);
  if (failed.length) {
    console.error(`${failed.length} case(s) failed their check: ${failed.map((r) => `${r.id} (${r.problem})`).join('; ')}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
