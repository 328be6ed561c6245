/**
 * `npm run bench:live` (root): what watching a web server costs it. A busybox httpd in a pid
 * namespace of its own (a container to eBPF; see test/helpers/ns-httpd.ts) is loaded with
 * `ab -c 4 -t SECONDS` on loopback, unwatched and watched by `chids monitor` with eBPF in
 * aggregate mode, eBPF in events mode, and strace. Per run: requests/s, chids CPU seconds (the
 * Node process, and bpftrace/strace apart) during the load, chids peak RSS, and the alert latency
 * of a scripted attack (a CGI request that runs a shell reading /etc/passwd; latency = alert
 * printed − request sent). Repetitions interleave the configurations; the table shows medians
 * with [min–max], and the JSON (--out) every run.
 *
 *   sudo npm run bench:live -- --reps 3 --seconds 8 --out bench/results/live-ebpf.json
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const SECONDS = Number(arg('--seconds', '8'));
const OUT = arg('--out', path.join(root, 'bench', 'results', 'live-ebpf.json'));
const CONFIGS = (arg('--configs', 'none,ebpf-aggregate,ebpf-events,strace')).split(',');
const PORT = Number(arg('--port', '28080'));

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

function ab(seconds: number): { rps: number; requests: number; failed: number } {
  const r = spawnSync('ab', ['-q', '-c', '4', '-t', String(seconds), '-n', '10000000', '-s', '20', `http://127.0.0.1:${PORT}/index.html`], { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  const num = (re: RegExp) => Number(re.exec(r.stdout ?? '')?.[1] ?? NaN);
  return { rps: num(/Requests per second:\s+([\d.]+)/), requests: num(/Complete requests:\s+(\d+)/), failed: num(/Failed requests:\s+(\d+)/) };
}

interface Monitor {
  child: ChildProcess;
  out: { line: string; at: number }[];
  logs: string[];
  done: Promise<void>;
}

function startMonitor(args: string[]): Monitor {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'monitor', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
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

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-bench-live-'));
  const web = await startNsHttpd(PORT);
  const cleanup = () => {
    web.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  try {
    // A baseline of this server under light traffic (an events-mode capture, as a user would train).
    console.error(`httpd pid ${web.pid}; training a baseline …`);
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
    const recs: string[] = [];
    // One capture: bpftrace may take ~20 s to attach on a loaded machine, and the capture's clock runs from then.
    for (const n of ['a']) {
      const rec = path.join(dir, `normal-${n}.zip`);
      const c = cli(['capture', '--source', 'ebpf', '--pid', String(web.pid), '--seconds', '30', '--out', rec], 300_000);
      if (c.code !== 0) throw new Error(`capture failed: ${c.stderr.slice(-500)}`);
      recs.push(rec);
    }
    stopBg();
    const model = path.join(dir, 'model');
    // The CHIDS autoencoder: it reads only anomaly vectors, so aggregate mode can serve it.
    const b = cli(['baseline', '--model', 'chids', ...recs.flatMap((r) => ['--td', r]), '--od', model, '--seed', '1'], 600_000);
    if (b.code !== 0) throw new Error(`baseline failed: ${b.stderr.slice(-500)}`);

    const runs: Record<string, unknown>[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      for (const config of CONFIGS) {
        const load = os.loadavg()[0];
        if (config === 'none') {
          const r = ab(SECONDS);
          runs.push({ rep, config, ...r, load });
          console.error(`rep ${rep} ${config}: ${r.rps} req/s`);
          continue;
        }
        const args =
          config === 'strace'
            ? ['--od', model, '--source', 'strace', '--pid', String(web.pid)]
            : ['--od', model, '--source', 'ebpf', '--ebpf-mode', config === 'ebpf-aggregate' ? 'aggregate' : 'events', '--pid', String(web.pid)];
        const m = startMonitor(args);
        const ready = await until(() => m.logs.some((l) => l.includes('"source ready"')), 300_000);
        if (!ready) {
          m.child.kill('SIGKILL');
          runs.push({ rep, config, error: 'source not ready', logs: m.logs.slice(-5) });
          continue;
        }
        await new Promise((r) => setTimeout(r, 1500));
        const helpers = () => childrenOf(m.child.pid!);
        const cpu0 = cpuOf(m.child.pid!);
        const help0 = helpers().reduce((s, p) => s + cpuOf(p), 0);
        const r = ab(SECONDS);
        const cpu = cpuOf(m.child.pid!) - cpu0;
        const helperCpu = helpers().reduce((s, p) => s + cpuOf(p), 0) - help0;
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
        const stopped = m.logs.find((l) => l.includes('"monitor stopped"'));
        const s = stopped ? (JSON.parse(stopped) as { events?: number; dropped?: Record<string, number> }) : {};
        runs.push({ rep, config, ...r, chids_cpu_s: cpu, tracer_cpu_s: helperCpu, peak_rss_mb: rss, alert_latency_s: latency, events: s.events, dropped: s.dropped, load });
        console.error(`rep ${rep} ${config}: ${r.rps} req/s, chids cpu ${cpu.toFixed(2)} s, tracer cpu ${helperCpu.toFixed(2)} s, rss ${rss.toFixed(0)} MB, alert ${latency ?? 'none'} s`);
      }
    }

    const base = median(runs.filter((r) => r.config === 'none').map((r) => r.rps as number));
    const rows = CONFIGS.map((config) => {
      const rs = runs.filter((r) => r.config === config && Number.isFinite(r.rps as number));
      const rps = rs.map((r) => r.rps as number);
      // Paired: each run against the unwatched run of the same repetition (the machine's load drifts between repetitions).
      const ratio = rs.map((r) => (r.rps as number) / ((runs.find((n) => n.config === 'none' && n.rep === r.rep)?.rps as number) ?? base));
      const f = (k: string, d = 2) => {
        const xs = rs.map((r) => r[k] as number).filter((x) => typeof x === 'number');
        return xs.length ? median(xs).toFixed(d) : '–';
      };
      return {
        config,
        runs: rs.length,
        rps: `${median(rps).toFixed(0)} [${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)}]`,
        ratio: config === 'none' ? '1' : `${median(ratio).toFixed(2)} [${Math.min(...ratio).toFixed(2)}–${Math.max(...ratio).toFixed(2)}]`,
        chids_cpu_s: f('chids_cpu_s'),
        tracer_cpu_s: f('tracer_cpu_s'),
        peak_rss_mb: f('peak_rss_mb', 0),
        alert_latency_s: f('alert_latency_s'),
      };
    });
    const head = ['config', 'runs', 'req/s median [min–max]', '× unwatched (paired)', 'chids CPU s', 'tracer CPU s', 'peak RSS MB', 'alert latency s'];
    const table = [head, ...rows.map((r) => [r.config, String(r.runs), r.rps, r.ratio, r.chids_cpu_s, r.tracer_cpu_s, r.peak_rss_mb, r.alert_latency_s])];
    const w = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
    console.log(table.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
    console.log(`ab -c 4 -t ${SECONDS} on loopback; ${REPS} repetitions; ${os.cpus().length} CPUs (${os.cpus()[0]?.model}); load average at start of runs: ${median(runs.map((r) => r.load as number)).toFixed(1)}`);
    mkdirSync(path.dirname(OUT), { recursive: true });
    const tmp = `${OUT}.tmp`;
    writeFileSync(tmp, JSON.stringify({ when: new Date().toISOString(), seconds: SECONDS, reps: REPS, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), summary: rows, runs }, null, 2) + '\n');
    spawnSync('mv', [tmp, OUT]);
    console.error(`results: ${OUT}`);
  } finally {
    cleanup();
  }
}

main().catch((err) => {
  console.error(`bench:live: ${(err as Error).message}`);
  process.exit(1);
});
