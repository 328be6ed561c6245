/**
 * `npm run bench:fleet`: the fleet's transport under load, on a local 3-node JetStream cluster.
 *
 *     npm run bench:fleet -- [--agents 50] [--rate 10] [--duration 45] [--alert-every 20]
 *         [--recording FILE] [--images 10] [--json FILE]
 *
 * - A 3-node `nats-server -js` cluster on loopback (the test harness's, test/helpers/nats.ts),
 *   streams created by chids (replicas 3).
 * - `chids fleet --alerts FILE --metrics …` as its own process (the real service: durable pull
 *   consumers, replica groups per image, alert sinks).
 * - N agents in this process, each a FleetAgent (its own NATS connection and NatsPublisher: the
 *   code path of `chids monitor --nats`), named node `bench-node-<i>`, container `web-<i>`,
 *   image `bench/web-<i mod images>`. Each replays the windows of a real recording (1 s
 *   windows, the replica aspect sets of its events computed as the agent does, capped the same),
 *   cyclically, at `--rate` windows/s (10 = a container replayed at 10x real time, or 10
 *   containers of one node). The bench has no baseline: `av` and `score` are stand-ins of the
 *   same JSON shape; the messages' size and count are the real ones.
 * - Every `--alert-every`-th window of an agent is also published as an alert (a Falco-shaped
 *   alert carrying the wall-clock time it was sent); the bench tails the fleet's --alerts file and
 *   measures publish → sink latency (polled every 20 ms: that is the resolution).
 *
 * Measured: windows/s the agents got acknowledged, windows/s the fleet consumed (its metrics
 * endpoint), the drain time after publishing stops, alert latency percentiles, CPU seconds and
 * peak RSS of each broker (/proc/PID/stat utime+stime, /proc/PID/status VmHWM) and of the fleet
 * service and the agents, stored bytes per message. Everything is bounded: the publishing phase
 * by --duration, the drain by 60 s, the cluster start by the harness's timeouts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readSync, closeSync, existsSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import Table from 'cli-table3';
import { FleetAgent, ASPECT_ITEMS, type WindowMessage } from '../src/app/fleet-agent.js';
import { readEvents } from '../src/encode/pipeline.js';
import { AspectSets, addEvent, type WindowSetsData, windowSetsData } from '../src/model/replicas/aspects.js';
import { ALERTS_STREAM, WINDOWS_STREAM, alertMsgId, alertSubject, windowMsgId, windowSubject } from '../src/outputs/nats/subjects.js';
import { alertLine, isoNs, type FalcoAlert } from '../src/outputs/alerts.js';
import { openSource } from '../src/trace/sources/readers.js';
import { planSources } from '../src/trace/sources/plan.js';
import { NameTable } from '../src/trace/names.js';
import { silentLogger } from '../src/util/log.js';
import { freePort, needsNatsServer, startNatsCluster } from '../test/helpers/nats.js';

const { values: a } = parseArgs({
  options: {
    agents: { type: 'string', default: '50' },
    rate: { type: 'string', default: '10' },
    duration: { type: 'string', default: '45' },
    'alert-every': { type: 'string', default: '20' },
    images: { type: 'string', default: '10' },
    recording: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/data/lid-ds-2021/aggressive_nightingale_1018.zip') },
    json: { type: 'string' },
  },
});
const AGENTS = Math.max(1, Math.min(500, Number(a.agents)));
const RATE = Math.max(0.1, Math.min(1000, Number(a.rate)));
const DURATION_S = Math.max(5, Math.min(600, Number(a.duration)));
const ALERT_EVERY = Math.max(1, Number(a['alert-every']));
const IMAGES = Math.max(1, Number(a.images));
const DRAIN_MS = 60_000;
const MAX_WINDOWS = 600; // of the recording: plenty to cycle through, bounded memory
const log = (m: string) => process.stderr.write(`${m}\n`);
const CLK_TCK = 100; // Linux USER_HZ: /proc/PID/stat counts in 1/100 s

interface RecordedWindow extends WindowSetsData {
  events: number;
}

/** The recording's 1 s windows (empty ones included) with the aspect sets an agent would publish. */
async function recordedWindows(file: string): Promise<RecordedWindow[]> {
  const [planned] = await planSources([file]);
  const src = await openSource(planned.path);
  const names = new NameTable();
  const out: RecordedWindow[] = [];
  let t0: bigint | null = null;
  // As the agent keeps them (src/app/fleet-agent.ts): capped, per program too.
  const empty = () => new AspectSets(ASPECT_ITEMS, { byProgram: true });
  let cur = empty();
  let index = 0;
  const flush = () => {
    out.push({ events: cur.events, ...windowSetsData(cur) });
    cur = empty();
  };
  await readEvents(src, names, { faithful: false, windowNs: 1e9 }, (ev) => {
    if (!ev.hasTime || out.length >= MAX_WINDOWS) return;
    const t = BigInt(ev.sec) * 1_000_000_000n + BigInt(ev.nsec);
    t0 ??= t;
    const k = Number((t - t0) / 1_000_000_000n);
    while (index < k && out.length < MAX_WINDOWS) {
      flush();
      index++;
    }
    if (out.length < MAX_WINDOWS) addEvent(cur, ev, names.name(ev.nameId));
  });
  if (out.length < MAX_WINDOWS && cur.events > 0) flush();
  return out;
}

function procStat(pid: number): { cpuS: number; rssKiB: number; hwmKiB: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the comm: state is [0], utime is field 14 overall = [11], stime [12]
    const cpuS = (Number(f[11]) + Number(f[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { cpuS, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return null;
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function fleetWindowsConsumed(metricsUrl: string): Promise<number | null> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) if (line.startsWith('chids_fleet_windows_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    return sum;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const skip = needsNatsServer();
  if (skip) process.exit(1);
  if (!existsSync(a.recording!)) throw new Error(`${a.recording}: no such recording (give --recording FILE)`);
  const load0 = os.loadavg();
  log(`load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  const recorded = await recordedWindows(a.recording!);
  log(`${recorded.length} windows of 1 s from ${path.basename(a.recording!)}`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-bench-fleet-'));
  const cluster = await startNatsCluster({ size: 3, prefix: 'chids-bench-fleet' });
  const brokerPids = cluster.nodes.map((n) => n.pid()!);
  let fleet: ReturnType<typeof spawn> | null = null;
  const agents: FleetAgent[] = [];
  try {
    const alertsFile = path.join(dir, 'alerts.jsonl');
    const metricsPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const repo = path.resolve(import.meta.dirname, '..');
    fleet = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'fleet', '--nats', cluster.url, '--alerts', alertsFile, '--no-stdout', '--metrics', `127.0.0.1:${metricsPort}`], {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let fleetErr = '';
    fleet.stderr!.on('data', (c: Buffer) => (fleetErr = (fleetErr + c.toString()).slice(-4000)));
    for (let i = 0; (await fleetWindowsConsumed(metricsUrl)) === null; i++) {
      if (i > 300 || fleet.exitCode !== null) throw new Error(`chids fleet did not start:\n${fleetErr}`);
      await sleep(200);
    }
    log(`cluster ${cluster.url}; chids fleet pid ${fleet.pid}; ${AGENTS} agents at ${RATE} windows/s each for ${DURATION_S} s`);

    for (let i = 0; i < AGENTS; i++) {
      agents.push(FleetAgent.start({ url: cluster.url, node: `bench-node-${i}`, image: `bench/web-${i % IMAGES}`, log: silentLogger }));
    }
    // Connected (and the streams ensured) before the clock starts.
    for (let i = 0; i < 300 && agents.some((g) => !(g as unknown as { link: { connected: boolean } }).link.connected); i++) await sleep(100);

    const sent = new Map<string, number>(); // alert msg id -> sent ms
    const latencies: number[] = [];
    const windowBytes: number[] = [];
    const alertBytes: number[] = [];
    let alertsSent = 0;
    const counts = new Array<number>(AGENTS).fill(0);
    const START_NS = 1_800_000_000_000_000_000n;

    // Tail the fleet's alert sink.
    let offset = 0;
    let partial = '';
    const buf = Buffer.alloc(1 << 20);
    const tail = () => {
      if (!existsSync(alertsFile)) return;
      const fd = openSync(alertsFile, 'r');
      try {
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, offset);
          if (n <= 0) break;
          offset += n;
          partial += buf.toString('utf8', 0, n);
        }
      } finally {
        closeSync(fd);
      }
      const now = Date.now();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (l === '') continue;
        const al = JSON.parse(l) as FalcoAlert;
        const t = al.output_fields['chids.bench.sent_ms'];
        if (typeof t === 'number') latencies.push(now - t);
      }
    };
    const tailer = setInterval(tail, 20);

    const cpu0 = process.cpuUsage();
    const broker0 = brokerPids.map(procStat);
    const fleet0 = procStat(fleet.pid!);
    const t0 = Date.now();
    const samples: { t: number; published: number; consumed: number }[] = [];
    const publishedNow = () => agents.reduce((s, g) => s + g.publisher.stats.published + g.publisher.stats.duplicates, 0);

    // Publishing: a 50 ms tick sends each agent's windows due by now (bounded by --duration).
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const el = (Date.now() - t0) / 1000;
        const upTo = Math.floor(Math.min(el, DURATION_S) * RATE);
        for (let i = 0; i < AGENTS; i++) {
          const g = agents[i];
          while (counts[i] < upTo) {
            const k = counts[i]++;
            const rw = recorded[k % recorded.length];
            const start = START_NS + BigInt(k) * 1_000_000_000n;
            const node = `bench-node-${i}`;
            const id = `web-${i}`;
            const msg: WindowMessage = {
              v: 1,
              node,
              container: { id, name: id, key: 'stdin' },
              image: `bench/web-${i % IMAGES}`,
              window: k,
              start_ns: start.toString(),
              end_ns: (start + 1_000_000_000n).toString(),
              events: rw.events,
              // Stand-ins (no baseline in the bench): the same JSON shape as a scored window.
              av: rw.events === 0 ? [] : [0.0123456789, 0.0456789123, 0.0789123456],
              score: rw.events === 0 ? null : 0.0123456789,
              threshold: 0.0987654321,
              verdict: rw.events === 0 ? 'empty' : 'normal',
              aspects: rw.aspects,
              counts: rw.counts,
              programs: rw.programs ?? {},
              aspects_cut: rw.cut,
              closed_ms: Date.now(),
            };
            const data = JSON.stringify(msg);
            windowBytes.push(data.length);
            g.publisher.send(windowSubject(node, id), windowMsgId(node, id, start), data);
            if (k % ALERT_EVERY === ALERT_EVERY - 1) {
              const time = isoNs(start + 1_000_000_000n);
              const alert: FalcoAlert = {
                time,
                rule: 'chids bench alert',
                priority: 'Warning',
                source: 'syscall',
                tags: ['chids', 'bench'],
                hostname: node,
                output: `${time.slice(11, 29)}: Warning anomalous window in container ${id} on ${node} (bench: timing the alert path)`,
                output_fields: { 'container.id': id, 'container.name': id, 'chids.node': node, 'container.image.repository': msg.image, 'chids.window.start_ns': start, 'chids.window.score': msg.score, 'chids.bench.sent_ms': Date.now() },
              };
              const line = alertLine(alert).trimEnd();
              alertBytes.push(line.length);
              const mid = alertMsgId(alert.rule, node, id, start);
              sent.set(mid, Date.now());
              alertsSent++;
              g.publisher.send(alertSubject(node, id), mid, line);
            }
          }
        }
        if (el >= DURATION_S) {
          clearInterval(tick);
          resolve();
        }
      }, 50);
      const sampler = setInterval(async () => {
        const consumed = (await fleetWindowsConsumed(metricsUrl)) ?? NaN;
        samples.push({ t: (Date.now() - t0) / 1000, published: publishedNow(), consumed });
        if (Date.now() - t0 > (DURATION_S + DRAIN_MS / 1000) * 1000) clearInterval(sampler);
      }, 1000);
      sampler.unref();
    });
    const tPublishEnd = Date.now();
    const offered = counts.reduce((s, c) => s + c, 0);
    const consumedAtEnd = (await fleetWindowsConsumed(metricsUrl)) ?? 0;
    const publishedAtEnd = publishedNow();
    log(`publishing done: ${offered} windows offered, ${publishedAtEnd} messages acknowledged, fleet consumed ${consumedAtEnd}; draining`);
    // Drain: until the fleet consumed every window and every alert reached the sink (bounded).
    let consumed = consumedAtEnd;
    while (Date.now() - tPublishEnd < DRAIN_MS) {
      const queued = agents.reduce((s, g) => s + g.publisher.queued, 0);
      consumed = (await fleetWindowsConsumed(metricsUrl)) ?? consumed;
      if (queued === 0 && consumed >= offered && latencies.length >= alertsSent) break;
      await sleep(100);
    }
    const tDrained = Date.now();
    tail();
    clearInterval(tailer);
    const cpu1 = process.cpuUsage(cpu0);
    const broker1 = brokerPids.map(procStat);
    const fleet1 = procStat(fleet.pid!);
    const load1 = os.loadavg();

    const nc = await connect({ servers: cluster.url.split(',') });
    const jsm = await jetstreamManager(nc);
    const wInfo = await jsm.streams.info(WINDOWS_STREAM);
    const aInfo = await jsm.streams.info(ALERTS_STREAM);
    await nc.close();
    const pubStats = agents.map((g) => g.publisher.stats);
    const sum = (f: (s: (typeof pubStats)[number]) => number) => pubStats.reduce((s, x) => s + f(x), 0);
    for (const g of agents) await g.close(5000);
    agents.length = 0;

    const lat = [...latencies].sort((x, y) => x - y);
    const wb = [...windowBytes].sort((x, y) => x - y);
    const publishS = (tPublishEnd - t0) / 1000;
    const totalS = (tDrained - t0) / 1000;
    // Steady state: the fleet's consumption over the middle of the publishing phase (skips the ramp-up).
    const mid = samples.filter((s) => s.t >= publishS * 0.25 && s.t <= publishS * 0.95 && Number.isFinite(s.consumed));
    const steady = mid.length >= 2 ? (mid[mid.length - 1].consumed - mid[0].consumed) / (mid[mid.length - 1].t - mid[0].t) : NaN;
    const steadyPub = mid.length >= 2 ? (mid[mid.length - 1].published - mid[0].published) / (mid[mid.length - 1].t - mid[0].t) : NaN;
    const brokers = brokerPids.map((pid, i) => ({
      name: cluster.nodes[i].name,
      pid,
      cpu_s: broker1[i] && broker0[i] ? +(broker1[i]!.cpuS - broker0[i]!.cpuS).toFixed(2) : null,
      peak_rss_mib: broker1[i] ? +(broker1[i]!.hwmKiB / 1024).toFixed(1) : null,
      rss_end_mib: broker1[i] ? +(broker1[i]!.rssKiB / 1024).toFixed(1) : null,
    }));
    const result = {
      when: new Date().toISOString(),
      machine: { cores: os.cpus().length, load_avg_start: load0, load_avg_end: load1, shared: 'other agents were running on this machine' },
      config: { agents: AGENTS, rate_per_agent: RATE, duration_s: DURATION_S, alert_every: ALERT_EVERY, images: IMAGES, cluster_nodes: 3, stream_replicas: wInfo.config.num_replicas, recording: path.basename(a.recording!), recording_windows: recorded.length },
      windows: {
        offered,
        offered_per_s: +(offered / publishS).toFixed(1),
        acked_per_s_steady: +steadyPub.toFixed(1),
        fleet_consumed: consumed,
        fleet_consumed_per_s_steady: +steady.toFixed(1),
        fleet_consumed_per_s_overall: +(consumed / totalS).toFixed(1),
        drain_s_after_publishing: +((tDrained - tPublishEnd) / 1000).toFixed(2),
        all_consumed: consumed >= offered,
      },
      publisher: { published: sum((s) => s.published), duplicates: sum((s) => s.duplicates), retries: sum((s) => s.retries), dropped_queue_full: sum((s) => s.dropped.queue_full), dropped_at_exit: sum((s) => s.dropped.at_exit) },
      alert_latency_ms: { sent: alertsSent, received: latencies.length, p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat[lat.length - 1] ?? NaN, resolution_ms: 20 },
      message_bytes: {
        window_json_mean: Math.round(windowBytes.reduce((s, x) => s + x, 0) / Math.max(1, windowBytes.length)),
        window_json_p50: pct(wb, 50),
        window_json_max: wb[wb.length - 1] ?? NaN,
        alert_json_mean: Math.round(alertBytes.reduce((s, x) => s + x, 0) / Math.max(1, alertBytes.length)),
        windows_stream_bytes_per_msg: Math.round(wInfo.state.bytes / Math.max(1, wInfo.state.messages)),
        windows_stream: { messages: wInfo.state.messages, bytes: wInfo.state.bytes },
        alerts_stream: { messages: aInfo.state.messages, bytes: aInfo.state.bytes },
      },
      cpu_s: {
        brokers_total: +brokers.reduce((s, b) => s + (b.cpu_s ?? 0), 0).toFixed(2),
        fleet_service: fleet1 && fleet0 ? +(fleet1.cpuS - fleet0.cpuS).toFixed(2) : null,
        agents_process: +((cpu1.user + cpu1.system) / 1e6).toFixed(2),
        wall_s: +totalS.toFixed(2),
      },
      brokers,
      fleet_service_peak_rss_mib: fleet1 ? +(fleet1.hwmKiB / 1024).toFixed(1) : null,
    };

    const t = new Table({ head: ['measure', 'value'] });
    const r = result;
    t.push(
      ['machine', `${r.machine.cores} cores, shared; load avg ${load0[0].toFixed(2)} -> ${load1[0].toFixed(2)}`],
      ['agents x rate', `${AGENTS} x ${RATE} windows/s for ${DURATION_S} s (3-node cluster, R${r.config.stream_replicas})`],
      ['windows offered', `${r.windows.offered} (${r.windows.offered_per_s}/s)`],
      ['acked by JetStream (steady)', `${r.windows.acked_per_s_steady}/s`],
      ['consumed by chids fleet (steady)', `${r.windows.fleet_consumed_per_s_steady}/s`],
      ['consumed, all', `${r.windows.fleet_consumed}/${r.windows.offered}, drained ${r.windows.drain_s_after_publishing} s after publishing stopped`],
      ['alert latency publish->sink', `p50 ${r.alert_latency_ms.p50} ms, p95 ${r.alert_latency_ms.p95} ms, p99 ${r.alert_latency_ms.p99} ms, max ${r.alert_latency_ms.max} ms (${r.alert_latency_ms.received}/${r.alert_latency_ms.sent})`],
      ['window message', `JSON mean ${r.message_bytes.window_json_mean} B, p50 ${r.message_bytes.window_json_p50} B, max ${r.message_bytes.window_json_max} B; stored ${r.message_bytes.windows_stream_bytes_per_msg} B/msg`],
      ['alert message', `JSON mean ${r.message_bytes.alert_json_mean} B`],
      ['broker CPU', brokers.map((b) => `${b.name} ${b.cpu_s} s`).join(', ') + ` (total ${r.cpu_s.brokers_total} s in ${r.cpu_s.wall_s} s)`],
      ['broker peak RSS', brokers.map((b) => `${b.name} ${b.peak_rss_mib} MiB`).join(', ')],
      ['chids fleet CPU / peak RSS', `${r.cpu_s.fleet_service} s / ${r.fleet_service_peak_rss_mib} MiB`],
      ['agents process CPU', `${r.cpu_s.agents_process} s`],
      ['publisher', `retries ${r.publisher.retries}, dropped ${r.publisher.dropped_queue_full + r.publisher.dropped_at_exit}`],
    );
    console.log(t.toString());
    const out = a.json ?? path.join(process.env.CHIDS_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'chids'), 'bench-fleet', `fleet-${AGENTS}x${RATE}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
    renameSync(`${out}.tmp`, out);
    log(`JSON: ${out}`);
  } finally {
    for (const g of agents) await g.close(1000).catch(() => undefined);
    if (fleet && fleet.exitCode === null) {
      fleet.kill('SIGTERM');
      await Promise.race([new Promise((r) => fleet!.once('exit', r)), sleep(5000)]);
      if (fleet.exitCode === null) fleet.kill('SIGKILL');
    }
    await cluster.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench:fleet: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
