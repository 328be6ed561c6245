/**
 * `npm run bench:live` (root): what watching a web server costs it. A busybox httpd in a pid
 * namespace of its own (a container to eBPF; see test/helpers/ns-httpd.ts) is loaded with
 * `ab -c 4` on loopback, unwatched and watched by `chids monitor` with eBPF in aggregate mode
 * (`--model chids`, which reads only anomaly vectors), eBPF in events mode (the default
 * detector, whose n-grams need the syscalls: what `monitor --source ebpf` runs by default), and
 * strace (the default detector).
 *
 * On a shared machine the server's own speed drifts by a factor of 3 between minutes, so the
 * throughput is measured in pairs close in time, in ABBA order: per block, unwatched (A1), the
 * monitor starts, watched (B1), watched again (B2), the monitor stops, unwatched (A2); the pairs
 * are (A1, B1) and (A2, B2), so a steady drift raises one pair's ratio and lowers the other's.
 * Each load run is a warm-up of `--warmup` seconds (not counted) and then `--seconds` counted.
 * Reported per configuration: the median of the per-pair throughput ratios watched/unwatched with
 * its interquartile range and min–max, and the absolute requests/s; and, steadier on a busy
 * machine, the CPU time per request (the server's, from a cpuacct cgroup it is put in, plus
 * chids' and bpftrace's/strace's when watched) and its per-pair ratio unwatched/watched: the
 * throughput ratio a CPU-bound server would see. Also chids' and the tracer's CPU seconds per
 * second of load, chids' peak RSS, and the alert latency of a scripted attack (a CGI request that
 * runs a shell reading /etc/passwd; latency = alert printed − request sent). The JSON (--out) has
 * every run with the load average at its start; `--cpu-prof DIR` keeps each monitor's V8 profile.
 *
 *   sudo npm run bench:live -- --reps 2 --seconds 6 --out bench/results/live-ebpf.json
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { get, nsHttpdMissing, startNsHttpd } from '../test/helpers/ns-httpd.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(root, 'src', 'cli', 'main.ts');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
};
const REPS = Number(arg('--reps', '3'));
const SECONDS = Number(arg('--seconds', '6'));
const WARMUP = Number(arg('--warmup', '2'));
const OUT = arg('--out', path.join(root, 'bench', 'results', 'live-ebpf.json'));
const CONFIGS = arg('--configs', 'ebpf-aggregate,ebpf-events,strace')
  .split(',')
  .filter((c) => c !== 'none'); // the unwatched runs are part of every pair
const PORT = Number(arg('--port', '28080'));
/** Write each monitor's V8 CPU profile (node --cpu-prof) into this directory: where chids spends its time. */
const CPU_PROF = arg('--cpu-prof', '');
for (const c of CONFIGS) {
  if (!['ebpf-aggregate', 'ebpf-events', 'ebpf-events-chids', 'strace'].includes(c)) {
    console.error(`bench:live: unknown configuration ${c} (ebpf-aggregate, ebpf-events, ebpf-events-chids, strace)`);
    process.exit(1);
  }
}
if (!(REPS >= 1 && SECONDS >= 1 && WARMUP >= 0)) {
  console.error('bench:live: --reps and --seconds must be ≥ 1, --warmup ≥ 0');
  process.exit(1);
}

const missing = nsHttpdMissing() ?? (spawnSync('ab', ['-V']).status === 0 ? null : 'needs ab (apache2-utils)');
if (missing) {
  console.error(`bench:live ${missing}`);
  process.exit(1);
}

function cli(args: string[], timeoutMs: number): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stderr: r.stderr };
}

/** utime + stime of a process, in seconds (0 when gone). */
function cpuOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

function hwmMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/**
 * The server's CPU time: httpd and the child it forks per connection are put in a cpuacct cgroup
 * of their own (cgroup v1), read before and after each counted load. CPU per request barely
 * depends on how busy the rest of the machine is, unlike requests/s.
 */
const CPUACCT = '/sys/fs/cgroup/cpuacct';
let serverCg: string | null = null;
function accountServer(pids: number[]): void {
  if (!existsSync(path.join(CPUACCT, 'cpuacct.usage'))) return;
  const dir = path.join(CPUACCT, `chids-bench-live-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    for (const p of pids) writeFileSync(path.join(dir, 'cgroup.procs'), String(p));
    serverCg = dir;
  } catch (err) {
    console.error(`bench:live: no server CPU accounting (${(err as Error).message})`);
  }
}
function serverCpu(): number {
  if (serverCg === null) return NaN;
  try {
    return Number(readFileSync(path.join(serverCg, 'cpuacct.usage'), 'utf8')) / 1e9;
  } catch {
    return NaN;
  }
}

interface Run {
  rps: number;
  requests: number;
  failed: number;
  /** 1-, 5-, 15-minute load averages when the counted load started. */
  load: number[];
  /** CPU seconds of the server (httpd and its per-connection children) during the counted load. */
  server_cpu_s: number;
  /** CPU seconds of chids (Node) and of bpftrace/strace during the counted load (watched runs). */
  chids_cpu_s?: number;
  tracer_cpu_s?: number;
  /** CPU µs per request: the server's, plus chids' and the tracer's when watched. */
  cpu_us_per_request: number;
}

/** One load run: `ab -c 4` for WARMUP s (not counted), then for SECONDS s. */
function ab(monitorPid?: number): Run {
  const url = `http://127.0.0.1:${PORT}/index.html`;
  const run = (s: number) => spawnSync('ab', ['-q', '-c', '4', '-t', String(s), '-n', '10000000', '-s', '20', url], { encoding: 'utf8', timeout: (s + 60) * 1000 });
  if (WARMUP > 0) run(WARMUP);
  const helpers = () => (monitorPid === undefined ? [] : childrenOf(monitorPid));
  const load = loadavg();
  const s0 = serverCpu();
  const c0 = monitorPid === undefined ? 0 : cpuOf(monitorPid);
  const h0 = helpers().reduce((t, p) => t + cpuOf(p), 0);
  const r = run(SECONDS);
  const server = serverCpu() - s0;
  const chids = monitorPid === undefined ? 0 : cpuOf(monitorPid) - c0;
  const tracer = helpers().reduce((t, p) => t + cpuOf(p), 0) - h0;
  const num = (re: RegExp) => Number(re.exec(r.stdout ?? '')?.[1] ?? NaN);
  const requests = num(/Complete requests:\s+(\d+)/);
  return {
    rps: num(/Requests per second:\s+([\d.]+)/),
    requests,
    failed: num(/Failed requests:\s+(\d+)/),
    load,
    server_cpu_s: server,
    ...(monitorPid === undefined ? {} : { chids_cpu_s: chids, tracer_cpu_s: tracer }),
    cpu_us_per_request: ((server + chids + tracer) / requests) * 1e6,
  };
}

interface Monitor {
  child: ChildProcess;
  out: { line: string; at: number }[];
  logs: string[];
  done: Promise<void>;
}

function startMonitor(args: string[]): Monitor {
  const prof = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF)}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', CLI, 'monitor', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const m: Monitor = { child, out: [], logs: [], done: new Promise((r) => child.once('close', () => r())) };
  const lines = (s: NodeJS.ReadableStream, each: (l: string) => void) => {
    let carry = '';
    s.on('data', (c: Buffer) => {
      const parts = (carry + c.toString('utf8')).split('\n');
      carry = parts.pop() ?? '';
      for (const p of parts) if (p) each(p);
    });
  };
  lines(child.stdout!, (l) => m.out.push({ line: l, at: Date.now() }));
  lines(child.stderr!, (l) => m.logs.push(l));
  setTimeout(() => child.kill('SIGKILL'), 15 * 60_000).unref();
  return m;
}

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

/** The q-quantile of xs (linear between order statistics), NaN when empty. */
function quantile(xs: number[], q: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
}
const median = (xs: number[]) => quantile(xs, 0.5);

interface Pair {
  config: string;
  block: number;
  /** 1: unwatched before watched; 2: watched before unwatched (ABBA). */
  order: 1 | 2;
  unwatched: Run;
  watched: Run;
  /** Throughput watched / unwatched. */
  ratio: number;
  /** CPU per request unwatched / watched (server + chids + tracer): the throughput ratio of a server that is CPU-bound. */
  cpu_ratio: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-bench-live-'));
  const web = await startNsHttpd(PORT);
  accountServer([web.child.pid!, web.pid]);
  const cleanup = () => {
    web.stop();
    rmSync(dir, { recursive: true, force: true });
    if (serverCg !== null) {
      // The cgroup can be removed once its processes are gone (SIGKILLed just above).
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(serverCg);
          break;
        } catch {
          spawnSync('sleep', ['0.1']);
        }
      }
    }
  };
  process.on('exit', cleanup);
  // Stopped by a signal: 'exit' handlers run only through process.exit.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const loadStart = loadavg();
  try {
    // Baselines of this server under light traffic (an events-mode capture, as a user would train).
    console.error(`httpd pid ${web.pid}; training baselines …`);
    // Light traffic from another process (the captures below block this one's event loop).
    const bg = spawn('/bin/busybox', ['sh', '-c', `while :; do /bin/busybox wget -q -O /dev/null http://127.0.0.1:${PORT}/index.html; sleep 0.05; done`], { stdio: 'ignore', detached: true });
    const stopBg = () => {
      try {
        process.kill(-bg.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    process.on('exit', stopBg);
    // One capture: bpftrace may take ~20 s to attach on a loaded machine, and the capture's clock runs from then.
    const rec = path.join(dir, 'normal.zip');
    const c = cli(['capture', '--source', 'ebpf', '--pid', String(web.pid), '--seconds', '30', '--out', rec], 300_000);
    if (c.code !== 0) throw new Error(`capture failed: ${c.stderr.slice(-500)}`);
    stopBg();
    // The CHIDS autoencoder reads only anomaly vectors (aggregate mode can serve it); the default
    // detector reads n-grams of the syscalls (events mode).
    const models: Record<string, string> = {};
    for (const [name, extra] of [['chids', ['--model', 'chids']], ['default', []]] as const) {
      models[name] = path.join(dir, `model-${name}`);
      const b = cli(['baseline', ...extra, '--td', rec, '--od', models[name], '--seed', '1'], 600_000);
      if (b.code !== 0) throw new Error(`baseline (${name}) failed: ${b.stderr.slice(-500)}`);
    }
    const argsOf = (config: string): string[] => {
      const pid = ['--pid', String(web.pid)];
      switch (config) {
        case 'ebpf-aggregate':
          return ['--od', models.chids, '--source', 'ebpf', '--ebpf-mode', 'aggregate', ...pid];
        case 'ebpf-events-chids':
          return ['--od', models.chids, '--source', 'ebpf', '--ebpf-mode', 'events', ...pid];
        case 'ebpf-events':
          return ['--od', models.default, '--source', 'ebpf', ...pid];
        default:
          return ['--od', models.default, '--source', 'strace', ...pid];
      }
    };

    // A warm-up of the server and the machine's caches, not counted.
    ab();
    const pairs: Pair[] = [];
    const monitors: Record<string, unknown>[] = [];
    let block = 0;
    for (let rep = 1; rep <= REPS; rep++) {
      for (const config of CONFIGS) {
        block++;
        const a1 = ab();
        const m = startMonitor(argsOf(config));
        const ready = await until(() => m.logs.some((l) => l.includes('"source ready"')), 300_000);
        if (!ready) {
          m.child.kill('SIGKILL');
          await m.done;
          monitors.push({ config, block, error: 'source not ready', logs: m.logs.slice(-5) });
          console.error(`block ${block} ${config}: the source was not ready in 300 s`);
          continue;
        }
        await new Promise((r) => setTimeout(r, 1000));
        const b1 = ab(m.child.pid!);
        const b2 = ab(m.child.pid!);
        const rss = hwmMb(m.child.pid!);
        // The attack, after the load: time from the request to the alert naming /etc/passwd.
        await new Promise((r2) => setTimeout(r2, 1500));
        const before = m.out.length;
        const sent = Date.now();
        await get(PORT, '/cgi-bin/run?passwd', 30_000);
        await until(() => m.out.slice(before).some((o) => o.line.includes('/etc/passwd')), 30_000);
        const hit = m.out.slice(before).find((o) => o.line.includes('/etc/passwd'));
        const latency = hit ? (hit.at - sent) / 1000 : null;
        m.child.kill('SIGTERM');
        await Promise.race([m.done, new Promise((r2) => setTimeout(r2, 30_000))]);
        const a2 = ab();
        const stopped = m.logs.find((l) => l.includes('"monitor stopped"'));
        const s = stopped ? (JSON.parse(stopped) as { events?: number; dropped?: Record<string, number> }) : {};
        const mode = m.logs.map((l) => /"ebpf mode".*"mode":"(\w+)"/.exec(l)?.[1]).find(Boolean) ?? null;
        const pair = (order: 1 | 2, a: Run, b: Run): Pair => ({ config, block, order, unwatched: a, watched: b, ratio: b.rps / a.rps, cpu_ratio: a.cpu_us_per_request / b.cpu_us_per_request });
        pairs.push(pair(1, a1, b1), pair(2, a2, b2));
        monitors.push({ config, block, mode, peak_rss_mb: rss, alert_latency_s: latency, events: s.events, dropped: s.dropped });
        const perS = (r: Run) => `${(((r.chids_cpu_s ?? 0) + (r.tracer_cpu_s ?? 0)) / SECONDS).toFixed(3)}`;
        console.error(
          `block ${block} ${config}: A ${a1.rps} B ${b1.rps} B ${b2.rps} A ${a2.rps} req/s (×${(b1.rps / a1.rps).toFixed(2)}, ×${(b2.rps / a2.rps).toFixed(2)}); ` +
            `CPU µs/request A ${a1.cpu_us_per_request.toFixed(0)} B ${b1.cpu_us_per_request.toFixed(0)} B ${b2.cpu_us_per_request.toFixed(0)} A ${a2.cpu_us_per_request.toFixed(0)}; ` +
            `monitor CPU s/s ${perS(b1)} ${perS(b2)}; load ${a1.load[0]}; rss ${rss.toFixed(0)} MB; alert ${latency ?? 'none'} s`,
        );
      }
    }

    const span = (xs: number[], d: number) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
    const spread = (xs: number[]) => ({ median: median(xs), iqr: [quantile(xs, 0.25), quantile(xs, 0.75)], min: Math.min(...xs), max: Math.max(...xs) });
    const showSpread = (x: ReturnType<typeof spread>) => `${x.median.toFixed(2)} (${x.iqr.map((v) => v.toFixed(2)).join('–')}) [${x.min.toFixed(2)}–${x.max.toFixed(2)}]`;
    const rows = CONFIGS.map((config) => {
      const ps = pairs.filter((p) => p.config === config && Number.isFinite(p.ratio));
      const ms = monitors.filter((x) => x.config === config && x.error === undefined);
      const watched = ps.map((p) => p.watched);
      const perS = (k: 'chids_cpu_s' | 'tracer_cpu_s') => median(watched.map((r) => (r[k] ?? NaN) / SECONDS));
      const lat = ms.map((x) => x.alert_latency_s).filter((x): x is number => typeof x === 'number');
      return {
        config,
        mode: (ms[0]?.mode as string | null) ?? null,
        pairs: ps.length,
        throughput_ratio: spread(ps.map((p) => p.ratio)),
        cpu_ratio: spread(ps.map((p) => p.cpu_ratio)),
        unwatched_rps: span(ps.map((p) => p.unwatched.rps), 0),
        watched_rps: span(watched.map((r) => r.rps), 0),
        unwatched_cpu_us_per_request: span(ps.map((p) => p.unwatched.cpu_us_per_request), 0),
        watched_cpu_us_per_request: span(watched.map((r) => r.cpu_us_per_request), 0),
        chids_cpu_s_per_s: perS('chids_cpu_s'),
        tracer_cpu_s_per_s: perS('tracer_cpu_s'),
        peak_rss_mb: median(ms.map((x) => x.peak_rss_mb as number)),
        alert_latency_s: lat.length ? median(lat) : null,
        alerts: `${lat.length}/${ms.length}`,
      };
    });
    const head = ['config', 'pairs', 'req/s × unwatched: median (IQR) [min–max]', 'CPU/request ratio', 'unwatched req/s', 'watched req/s', 'CPU µs/request unwatched', 'watched', 'chids CPU s/s', 'tracer CPU s/s', 'RSS MB', 'alert s'];
    const table = [
      head,
      ...rows.map((r) => [
        r.mode ? `${r.config} (${r.mode})` : r.config,
        String(r.pairs),
        showSpread(r.throughput_ratio),
        showSpread(r.cpu_ratio),
        r.unwatched_rps,
        r.watched_rps,
        r.unwatched_cpu_us_per_request,
        r.watched_cpu_us_per_request,
        r.chids_cpu_s_per_s.toFixed(3),
        r.tracer_cpu_s_per_s.toFixed(3),
        r.peak_rss_mb.toFixed(0),
        `${r.alert_latency_s?.toFixed(2) ?? '–'} (${r.alerts})`,
      ]),
    ];
    const w = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
    console.log(table.map((r) => r.map((c2, i) => c2.padEnd(w[i])).join('  ')).join('\n'));
    const loads = pairs.flatMap((p) => [p.unwatched.load[0], p.watched.load[0]]);
    const loadEnd = loadavg();
    console.log(
      `ab -c 4, ${WARMUP} s warm-up + ${SECONDS} s counted per run; ${REPS} ABBA blocks per configuration (2 pairs each); ${os.cpus().length} CPUs (${os.cpus()[0]?.model}); ` +
        `load average (1 min) at the runs' start: median ${median(loads).toFixed(1)} [${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}]`,
    );
    mkdirSync(path.dirname(OUT), { recursive: true });
    const tmp = `${OUT}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify(
        {
          when: new Date().toISOString(),
          command: `npm run bench:live -- ${process.argv.slice(2).join(' ')}`.trim(),
          design: 'ABBA blocks: unwatched, watched, watched, unwatched; pairs (A1,B1) and (A2,B2); ratio = watched/unwatched req/s per pair; cpu_ratio = unwatched/watched CPU per request (server, plus chids and tracer when watched)',
          seconds: SECONDS,
          warmup_s: WARMUP,
          reps: REPS,
          cpus: os.cpus().length,
          cpu: os.cpus()[0]?.model,
          kernel: os.release(),
          load_average: { start: loadStart, end: loadEnd, at_runs_1min: { median: median(loads), min: Math.min(...loads), max: Math.max(...loads) } },
          summary: rows,
          pairs,
          monitors,
        },
        null,
        2,
      ) + '\n',
    );
    renameSync(tmp, OUT);
    console.error(`results: ${OUT}`);
  } finally {
    cleanup();
  }
}

main().catch((err) => {
  console.error(`bench:live: ${(err as Error).message}`);
  process.exit(1);
});
