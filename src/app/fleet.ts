/**
 * `chids fleet`: the central service of a fleet of monitors, and `chids fleet status`.
 *
 *     CHIDS_WINDOWS ──(durable pull consumer chids-fleet-windows)──► replica groups by image
 *                                                                       │ a replica deviates
 *                                                                       ▼
 *     CHIDS_ALERTS ◄──────────────────── `Replica deviation` alerts ────┘
 *          │
 *          └──(durable pull consumer chids-fleet-alerts)──► sinks: stdout, --alerts FILE, --webhook
 *
 * Both consumers are durable and explicitly acknowledged: a message is acked once handled, so a
 * service restarted (or killed) resumes where it was, and several instances bound to the same
 * consumers share the messages between them. Every alert of the fleet, the agents' and the
 * service's own, reaches the sinks through CHIDS_ALERTS, so each is written once whichever
 * instance raised it. The replica comparison of an image needs all its windows in one instance:
 * with several instances, each compares the windows it was given (a documented limit).
 */
import os from 'node:os';
import { AckPolicy, DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { Counter, Gauge, Registry } from 'prom-client';
import { ReplicaGroups, type ReplicaDeviation } from '../model/replicas/groups.js';
import { drainAlertSinks, openAlertSinks } from '../outputs/alert-sinks.js';
import { alertLine, isoNs, type AlertSink, type FalcoAlert } from '../outputs/alerts.js';
import { connectOrFail } from '../outputs/nats/link.js';
import { ensureStreams } from '../outputs/nats/streams.js';
import { ALERTS_CONSUMER, ALERTS_STREAM, WINDOWS_CONSUMER, WINDOWS_STREAM, alertMsgId, alertSubject } from '../outputs/nats/subjects.js';
import { startMetricsServer, type MetricsServer } from '../outputs/prometheus.js';
import { ChidsError, describeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { onStopSignals } from '../util/signals.js';
import type { WindowMessage } from './fleet-agent.js';
import { DEFAULT_SIMILARITY, DEFAULT_THRESHOLD, DEFAULT_WINDOW_NS } from './replicas.js';

export const REPLICA_RULE = 'Replica deviation';

export interface FleetOptions {
  url: string;
  alertsFile?: string;
  webhook?: string;
  webhookHeaders?: Record<string, string>;
  metrics?: string;
  stdout?: boolean;
  /** Replica comparison: window (ns), threshold, and how long a quiet replica holds a bucket back (ms). */
  replicaWindowNs?: number;
  replicaThreshold?: number;
  replicaIdleMs?: number;
  log: Logger;
  signal?: AbortSignal;
  handleSignals?: boolean;
  /** Called once both consumers are bound (tests, readiness). */
  onReady?: () => void;
}

export interface FleetSummary {
  windows: number;
  alerts: number;
  replica_deviations: number;
  replica_buckets_compared: number;
  replica_late_windows: number;
  bad_messages: number;
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  try {
    await jsm.consumers.info(stream, durable);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || !/not found/i.test(err.message)) throw err;
  }
  try {
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(30_000), max_ack_pending: 10_000 });
  } catch (err) {
    // Created by another instance at the same moment.
    await jsm.consumers.info(stream, durable).catch(() => Promise.reject(err));
  }
}

/** A `Replica deviation` alert in Falco's shape. */
export function deviationAlert(d: ReplicaDeviation, node: string, container: string, windowNs: number): FalcoAlert {
  const time = isoNs(d.startNs + BigInt(windowNs));
  const top = d.aspects.slice(0, 3).map((a) => `${a.aspect} ${a.dissimilarity.toFixed(2)}${a.only_here.length ? ` [${a.only_here.slice(0, 3).join(', ')}]` : ''}`);
  return {
    time,
    rule: REPLICA_RULE,
    priority: 'Warning',
    source: 'syscall',
    tags: ['chids', 'replica', 'container'],
    hostname: os.hostname(),
    output:
      `${time.slice(11, 29)}: Warning replica deviation in container ${container} on ${node} (image ${d.group}): ` +
      `score ${d.score.toFixed(4)} > threshold ${d.threshold} against ${d.siblings.length} replicas; ${top.join('; ') || 'different activity'}`,
    output_fields: {
      'container.id': container,
      'container.name': container,
      'chids.node': node,
      'container.image.repository': d.group,
      'chids.window.start': isoNs(d.startNs),
      'chids.window.start_ns': d.startNs,
      'chids.window.end': time,
      'chids.replica.score': d.score,
      'chids.replica.threshold': d.threshold,
      'chids.replica.siblings': d.siblings,
      'chids.replica.aspects': d.aspects,
    },
  };
}

function fleetMetrics() {
  const registry = new Registry();
  const m = {
    registry,
    text: () => registry.metrics(),
    windows: new Counter({ name: 'chids_fleet_windows_total', help: 'Window messages consumed', labelNames: ['node'], registers: [registry] }),
    alerts: new Counter({ name: 'chids_fleet_alerts_total', help: 'Alerts written to the sinks', labelNames: ['rule', 'priority'], registers: [registry] }),
    deviations: new Counter({ name: 'chids_fleet_replica_deviations_total', help: 'Replica deviation alerts raised', registers: [registry] }),
    compared: new Counter({ name: 'chids_fleet_replica_buckets_compared_total', help: 'Replica windows compared', registers: [registry] }),
    bad: new Counter({ name: 'chids_fleet_bad_messages_total', help: 'Messages that could not be read (acked and skipped)', labelNames: ['stream'], registers: [registry] }),
    latency: new Gauge({ name: 'chids_fleet_window_latency_seconds', help: 'Last window: from closing on the agent to being consumed here', registers: [registry] }),
  };
  return m;
}

export async function runFleet(o: FleetOptions): Promise<FleetSummary> {
  const log = o.log;
  const nc = await connectOrFail(o.url, `chids fleet ${os.hostname()}`);
  const sinks: AlertSink[] = [];
  let server: MetricsServer | null = null;
  let removeSignals = (): void => undefined;
  const subs: ConsumerMessages[] = [];
  const summary: FleetSummary = { windows: 0, alerts: 0, replica_deviations: 0, replica_buckets_compared: 0, replica_late_windows: 0, bad_messages: 0 };
  let ticker: NodeJS.Timeout | null = null;
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(nc, jsm);
    await ensureConsumer(jsm, WINDOWS_STREAM, WINDOWS_CONSUMER);
    await ensureConsumer(jsm, ALERTS_STREAM, ALERTS_CONSUMER);
    openAlertSinks(sinks, o, log);
    const metrics = fleetMetrics();
    if (o.metrics) server = await startMetricsServer(metrics, o.metrics);

    const windowNs = o.replicaWindowNs ?? DEFAULT_WINDOW_NS;
    // The defaults of `chids replicas` (its similarity and measured threshold).
    const groups = new ReplicaGroups({ windowNs, threshold: o.replicaThreshold ?? DEFAULT_THRESHOLD, similarity: DEFAULT_SIMILARITY, idleMs: o.replicaIdleMs ?? 30_000 });
    const js = jetstream(nc);
    const raise = (devs: ReplicaDeviation[]) => {
      for (const d of devs) {
        const [node, container] = JSON.parse(d.replica) as [string, string];
        const a = deviationAlert(d, node, container, windowNs);
        summary.replica_deviations++;
        metrics.deviations.inc();
        log.info('replica deviation', { image: d.group, node, container, score: d.score, start: isoNs(d.startNs) });
        // Into CHIDS_ALERTS like any agent's alert: the id makes a re-raise (a restarted service) a no-op.
        js.publish(alertSubject(node, container), alertLine(a).trimEnd(), { msgID: alertMsgId(REPLICA_RULE, node, container, d.startNs) }).catch((err) =>
          log.error('replica deviation alert not published', { error: describeError(err) }),
        );
      }
      summary.replica_buckets_compared = groups.compared;
      summary.replica_late_windows = groups.late;
    };

    const ac = new AbortController();
    const stop = o.signal ? AbortSignal.any([ac.signal, o.signal]) : ac.signal;
    if (o.handleSignals ?? true) removeSignals = onStopSignals(() => ac.abort(), () => undefined);

    const windows = await (await js.consumers.get(WINDOWS_STREAM, WINDOWS_CONSUMER)).consume({ max_messages: 512 });
    const alerts = await (await js.consumers.get(ALERTS_STREAM, ALERTS_CONSUMER)).consume({ max_messages: 256 });
    subs.push(windows, alerts);
    const stopAll = () => {
      for (const s of subs) s.stop();
    };
    if (stop.aborted) stopAll();
    stop.addEventListener('abort', stopAll, { once: true });
    ticker = setInterval(() => raise(groups.tick()), 1000);
    log.info('fleet started', { url: o.url, consumers: [WINDOWS_CONSUMER, ALERTS_CONSUMER], outputs: sinks.map((s) => s.name), metrics: server?.url });
    o.onReady?.();

    const readWindows = async () => {
      for await (const m of windows) {
        let w: WindowMessage;
        try {
          w = m.json<WindowMessage>();
          if (typeof w.node !== 'string' || typeof w.start_ns !== 'string' || typeof w.container?.id !== 'string') throw new Error('not a chids window');
        } catch {
          summary.bad_messages++;
          metrics.bad.inc({ stream: WINDOWS_STREAM });
          m.ack();
          continue;
        }
        summary.windows++;
        metrics.windows.inc({ node: w.node });
        if (typeof w.closed_ms === 'number') metrics.latency.set((Date.now() - w.closed_ms) / 1000);
        if (w.image) raise(groups.add({ group: w.image, replica: JSON.stringify([w.node, w.container.id]), startNs: BigInt(w.start_ns), aspects: w.aspects ?? {}, counts: w.counts, programs: w.programs, events: w.events }));
        m.ack();
      }
    };
    const readAlerts = async () => {
      for await (const m of alerts) {
        const text = m.string();
        let a: FalcoAlert;
        try {
          a = JSON.parse(text) as FalcoAlert;
          if (typeof a.rule !== 'string') throw new Error('not an alert');
        } catch {
          summary.bad_messages++;
          metrics.bad.inc({ stream: ALERTS_STREAM });
          m.ack();
          continue;
        }
        for (const s of sinks) {
          try {
            s.send(a, text + '\n');
          } catch (err) {
            log.error('alert output failed', { sink: s.name, error: describeError(err) });
          }
        }
        summary.alerts++;
        metrics.alerts.inc({ rule: a.rule, priority: a.priority });
        m.ack();
      }
    };
    await Promise.all([readWindows(), readAlerts()]);
    clearInterval(ticker);
    ticker = null;
    await drainAlertSinks(sinks, o);
    log.info('fleet stopped', summary as unknown as Record<string, unknown>);
    return summary;
  } catch (err) {
    if (err instanceof ChidsError) throw err;
    throw new ChidsError(`--nats ${o.url}: ${describeError(err)}`);
  } finally {
    if (ticker) clearInterval(ticker);
    removeSignals();
    for (const s of subs) s.stop();
    for (const s of sinks) await s.close().catch(() => undefined);
    if (server) await server.close();
    await nc.drain().catch(() => nc.close());
  }
}

export interface FleetStatus {
  streams: Record<string, { messages: number; bytes: number; replicas: number; first: string | null; last: string | null }>;
  consumers: Record<string, { pending: number; ack_pending: number; redelivered: number } | null>;
  containers: {
    node: string;
    container: string;
    image: string | null;
    windows: number;
    alerts: number;
    last_window_start: string | null;
    last_verdict: string | null;
  }[];
  nodes: string[];
  images: string[];
}

/** `chids fleet status`: what the streams and consumers hold, per node and container. */
export async function fleetStatus(o: { url: string }): Promise<FleetStatus> {
  const nc: NatsConnection = await connectOrFail(o.url, 'chids fleet status');
  try {
    const jsm = await jetstreamManager(nc);
    const out: FleetStatus = { streams: {}, consumers: {}, containers: [], nodes: [], images: [] };
    const subjects: Record<string, Record<string, number>> = {};
    for (const name of [WINDOWS_STREAM, ALERTS_STREAM]) {
      const info = await jsm.streams.info(name, { subjects_filter: '>' }).catch(() => null);
      if (info === null) continue;
      out.streams[name] = {
        messages: info.state.messages,
        bytes: info.state.bytes,
        replicas: info.config.num_replicas,
        first: info.state.messages > 0 ? info.state.first_ts : null,
        last: info.state.messages > 0 ? info.state.last_ts : null,
      };
      subjects[name] = (info.state.subjects as Record<string, number> | undefined) ?? {};
    }
    for (const [stream, durable] of [
      [WINDOWS_STREAM, WINDOWS_CONSUMER],
      [ALERTS_STREAM, ALERTS_CONSUMER],
    ] as const) {
      const c = await jsm.consumers.info(stream, durable).catch(() => null);
      out.consumers[durable] = c === null ? null : { pending: c.num_pending, ack_pending: c.num_ack_pending, redelivered: c.num_redelivered };
    }
    const alertCounts = subjects[ALERTS_STREAM] ?? {};
    const nodes = new Set<string>();
    const images = new Set<string>();
    for (const [subject, count] of Object.entries(subjects[WINDOWS_STREAM] ?? {}).sort()) {
      const [, , node, container] = subject.split('.');
      let last: WindowMessage | null = null;
      try {
        last = (await jsm.streams.getMessage(WINDOWS_STREAM, { last_by_subj: subject }))?.json<WindowMessage>() ?? null;
      } catch {
        // aged out between the two calls
      }
      nodes.add(node);
      if (last?.image) images.add(last.image);
      out.containers.push({
        node,
        container,
        image: last?.image ?? null,
        windows: count,
        alerts: alertCounts[`chids.alerts.${node}.${container}`] ?? 0,
        last_window_start: last ? isoNs(BigInt(last.start_ns)) : null,
        last_verdict: last?.verdict ?? null,
      });
    }
    out.nodes = [...nodes].sort();
    out.images = [...images].sort();
    return out;
  } catch (err) {
    if (err instanceof ChidsError) throw err;
    throw new ChidsError(`--nats ${o.url}: cannot read the fleet status (${describeError(err)})`);
  } finally {
    await nc.close();
  }
}
