/**
 * Prometheus metrics of the live path (`chids monitor --metrics 127.0.0.1:PORT`), with
 * prom-client, served at `/metrics` by a plain node:http server.
 *
 * The hot path never touches prom-client per event: the monitor counts in plain numbers and
 * adds them per batch (events) or per window; gauges are read when Prometheus scrapes.
 *
 *   chids_events_total{container}            events parsed
 *   chids_windows_total{container}           windows closed (empty ones included)
 *   chids_scored_windows_total{container}    windows scored by the model
 *   chids_alerts_total{container,priority}   alerts raised
 *   chids_dropped_events_total{reason}       events lost: queue_full, source_lost (bpftrace),
 *                                            malformed, no_timestamp, too_many_containers
 *   chids_alert_sink_failures_total{sink,reason}
 *   chids_source_restarts_total              capture process restarts (and re-attaches to a
 *                                            restarted container)
 *   chids_source_blind_seconds_total         time some traced process was not traced because
 *                                            its capture process was restarting
 *   chids_scoring_seconds                    histogram of the model's time per window
 *   chids_lag_seconds                        processing delay: when the newest event read was
 *                                            processed, minus its timestamp (or, while events
 *                                            wait in the queue, how long the oldest has waited)
 *   chids_queue_bytes                        bytes waiting between source and detector
 *   chids_containers                         containers being tracked
 *   chids_container_info{container,name,image,image_repository,image_tag,pod,namespace}
 *                                            1 per tracked container the runtime named (join on `container`)
 *   chids_containers_unbaselined{container,name,image}  1 per container whose image has no baseline (--baselines)
 *   chids_containers_learning{container,name,image}     1 per container recorded or trained for its image (--learn)
 *   + prom-client's default process metrics (CPU, memory, event loop lag)
 *
 * Every counter has its series from the start, at 0: the drop reasons and the outputs' failure
 * reasons when the monitor starts, a container's counters when it is first seen. A rate() or an
 * alert on `increase(chids_dropped_events_total[5m]) > 0` then sees the first drop, instead of
 * a series that appears with its first value. An idle container is not lag: the lag is measured
 * when an event is processed, not against the clock.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ChidsError } from '../util/errors.js';

type ContainerInfoLabel = 'container' | 'name' | 'image' | 'image_repository' | 'image_tag' | 'pod' | 'namespace';

export class MonitorMetrics {
  readonly registry = new Registry();
  readonly events: Counter<'container'>;
  readonly windows: Counter<'container'>;
  readonly scored: Counter<'container'>;
  readonly alerts: Counter<'container' | 'priority'>;
  readonly dropped: Counter<'reason'>;
  readonly late: Counter<'container'>;
  readonly sinkFailures: Counter<'sink' | 'reason'>;
  readonly restarts: Counter;
  readonly blind: Counter;
  /** Processing delay of the newest event processed (s). */
  private lastDelay = 0;
  /** Capture processes restarting (restarted, not yet ready again), and since when (ms). */
  private down = 0;
  private downSince: number | null = null;
  readonly scoring: Histogram;
  readonly lag: Gauge;
  readonly queueBytes: Gauge;
  readonly containers: Gauge;
  readonly containerInfo: Gauge<ContainerInfoLabel>;
  readonly unbaselined: Gauge<'container' | 'name' | 'image'>;
  readonly learning: Gauge<'container' | 'name' | 'image'>;

  /** Read at scrape time. */
  lagSeconds: () => number = () => 0;
  queued: () => number = () => 0;
  tracked: () => number = () => 0;
  /** The runtime identities of the tracked containers, read at scrape time. */
  identities: () => Record<ContainerInfoLabel, string>[] = () => [];

  constructor(defaults = true) {
    const r = [this.registry];
    this.events = new Counter({ name: 'chids_events_total', help: 'Syscall events parsed', labelNames: ['container'], registers: r });
    this.windows = new Counter({ name: 'chids_windows_total', help: 'Windows closed, empty ones included', labelNames: ['container'], registers: r });
    this.scored = new Counter({ name: 'chids_scored_windows_total', help: 'Windows scored by the model', labelNames: ['container'], registers: r });
    this.alerts = new Counter({ name: 'chids_alerts_total', help: 'Alerts raised', labelNames: ['container', 'priority'], registers: r });
    this.dropped = new Counter({ name: 'chids_dropped_events_total', help: 'Events lost, by reason', labelNames: ['reason'], registers: r });
    this.late = new Counter({ name: 'chids_late_events_total', help: 'Events older than their window, counted in the current window', labelNames: ['container'], registers: r });
    this.sinkFailures = new Counter({ name: 'chids_alert_sink_failures_total', help: 'Alerts an output could not deliver', labelNames: ['sink', 'reason'], registers: r });
    this.restarts = new Counter({ name: 'chids_source_restarts_total', help: 'Restarts of the capture process (strace, bpftrace)', registers: r });
    const self = this;
    this.blind = new Counter({
      name: 'chids_source_blind_seconds_total',
      help: 'Seconds during which a capture process was restarting (its targets untraced)',
      registers: r,
      collect() {
        // A restart still in progress counts up to now.
        if (self.downSince !== null) {
          const now = Date.now();
          this.inc(Math.max(0, now - self.downSince) / 1000);
          self.downSince = now;
        }
      },
    });
    for (const reason of DROP_REASONS) this.dropped.inc({ reason }, 0);
    this.scoring = new Histogram({
      name: 'chids_scoring_seconds',
      help: 'Time to score one window with the model',
      buckets: [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2],
      registers: r,
    });
    this.lag = new Gauge({
      name: 'chids_lag_seconds',
      help: 'Processing delay: when the newest event read was processed minus its timestamp (at least how long queued events have waited)',
      registers: r,
      collect() {
        this.set(self.lagSeconds());
      },
    });
    this.queueBytes = new Gauge({
      name: 'chids_queue_bytes',
      help: 'Bytes waiting between the source and the detector',
      registers: r,
      collect() {
        this.set(self.queued());
      },
    });
    this.containers = new Gauge({
      name: 'chids_containers',
      help: 'Containers being tracked',
      registers: r,
      collect() {
        this.set(self.tracked());
      },
    });
    this.containerInfo = new Gauge({
      name: 'chids_container_info',
      help: 'Runtime identity of a tracked container (always 1): its name, image and pod',
      labelNames: ['container', 'name', 'image', 'image_repository', 'image_tag', 'pod', 'namespace'],
      registers: r,
      collect() {
        this.reset();
        for (const l of self.identities()) this.set(l, 1);
      },
    });
    this.unbaselined = new Gauge({
      name: 'chids_containers_unbaselined',
      help: 'Containers seen whose image has no baseline under --baselines (1 each): not scored',
      labelNames: ['container', 'name', 'image'],
      registers: r,
    });
    this.learning = new Gauge({
      name: 'chids_containers_learning',
      help: 'Containers being recorded, or trained on, for a baseline of their image (--learn; 1 each)',
      labelNames: ['container', 'name', 'image'],
      registers: r,
    });
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'chids_' });
  }

  /**
   * The lag at `nowMs` (what the monitor's lagSeconds returns): the last processing delay, or
   * longer while a batch queued at `oldestQueuedMs` waits to be processed.
   */
  processingLag(nowMs: number, oldestQueuedMs: number | null): number {
    return Math.max(this.lastDelay, oldestQueuedMs === null ? 0 : (nowMs - oldestQueuedMs) / 1000);
  }

  /** The newest event of a batch (epoch s + ns) was processed at `now` (same time base). */
  processed(event: { sec: number; nsec: number }, now: { sec: number; nsec: number }): void {
    this.lastDelay = Math.max(0, now.sec - event.sec + (now.nsec - event.nsec) / 1e9);
  }

  /** A container's counters, at 0, from its first event on. */
  containerSeen(container: string): void {
    this.events.inc({ container }, 0);
    this.windows.inc({ container }, 0);
    this.scored.inc({ container }, 0);
    this.late.inc({ container }, 0);
    for (const priority of ALERT_PRIORITIES) this.alerts.inc({ container, priority }, 0);
  }

  /** The alert outputs in use: their failure counters, at 0. */
  sinksUsed(names: readonly string[]): void {
    for (const sink of names) for (const reason of SINK_REASONS[sink] ?? ['error']) this.sinkFailures.inc({ sink, reason }, 0);
  }

  /** The capture process died (or is re-attaching): its targets are blind until {@link sourceUp}. */
  sourceDown(nowMs = Date.now()): void {
    this.down++;
    this.downSince ??= nowMs;
  }

  /** A capture process is attached (again). Blind time is counted while any one is down. */
  sourceUp(nowMs = Date.now()): void {
    if (this.down === 0) return; // the first start
    this.down--;
    if (this.down === 0 && this.downSince !== null) {
      this.blind.inc(Math.max(0, nowMs - this.downSince) / 1000);
      this.downSince = null;
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Why events are lost (chids_dropped_events_total's reasons; the monitor's stats.dropped keys). */
export const DROP_REASONS = ['queue_full', 'source_lost', 'malformed', 'no_timestamp', 'too_many_containers', 'time_jump'] as const;
/** Alert priorities (buildAlert: Warning above the threshold, Critical above θ = 2's). */
export const ALERT_PRIORITIES = ['Warning', 'Critical'] as const;
/** Why an alert output fails: any output can throw; the webhook also drops. */
const SINK_REASONS: Record<string, readonly string[]> = { webhook: ['error', 'queue_full', 'failed', 'at_exit'] };

/** Parses `HOST:PORT` (`127.0.0.1:9464`, `[::1]:9464`, `:9464` = 127.0.0.1). */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(spec.trim());
  if (!m) throw new ChidsError(`--metrics ${spec}: expected HOST:PORT, e.g. 127.0.0.1:9464`);
  const port = Number(m[3]);
  if (port > 65535) throw new ChidsError(`--metrics ${spec}: port out of range`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `/metrics` (and `/healthz`) on host:port. */
export function startMetricsServer(metrics: Pick<MonitorMetrics, 'text' | 'registry'>, listen: string): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url !== '/metrics' && url !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ChidsError(`--metrics ${listen}: cannot listen (${err.code ?? err.message})`)));
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${shown}:${a.port}/metrics`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
