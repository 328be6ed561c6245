/**
 * `chids monitor --replicas`: live, training-less detection by comparing replicas. The watched
 * containers are grouped by image (asked from podman or docker once per container; a container
 * no engine knows joins the group `unknown image`), each group is compared window by window
 * (src/engine/replica-watch.ts), and a container that deviates from its siblings raises a
 * `Replica deviation` alert into the usual sinks (stdout, --alerts file, webhook).
 *
 * {@link ReplicaFeed} is the part that takes batches of a live source and a clock: the monitor
 * with a trained model feeds it beside its own detector (both methods, one stream); without a
 * model, {@link runReplicaMonitor} runs it alone.
 */
import type { ContainerInfo } from '../capture/containers.js';
import { containerImage } from '../capture/images.js';
import { openLiveSource } from '../capture/open.js';
import { livePipe } from '../capture/pipe.js';
import { startWindowTicker } from '../capture/window-ticker.js';
import type { SourceSpec } from '../capture/source.js';
import { ReplicaWatch } from '../engine/replica-watch.js';
import type { Similarity } from '../model/replicas/compare.js';
import { type AlertSinkOptions, drainAlertSinks, openAlertSinks } from '../outputs/alert-sinks.js';
import { stopProgress } from './stop-progress.js';
import { type AlertSink, alertLine } from '../outputs/alerts.js';
import { buildReplicaAlert } from '../outputs/replica-alert.js';
import { NameTable } from '../trace/names.js';
import { type TraceFormat, TraceParser } from '../trace/parse.js';
import type { Logger } from '../util/log.js';
import { onStopSignals } from '../util/signals.js';
import { DEFAULT_SIMILARITY, DEFAULT_THRESHOLD, DEFAULT_WINDOW_NS } from './replicas.js';

export interface ReplicaFeedOptions {
  windowNs?: number;
  threshold?: number;
  similarity?: Similarity;
  /** The group of a container (default: its image, from podman or docker). */
  groupOf?: (c: ContainerInfo) => string;
}

const UNKNOWN_IMAGE = 'unknown image';
/** Containers followed at most (each costs a parser and its open windows). */
const MAX_CONTAINERS = 1024;

/** Parses each container's lines and feeds the replica comparison; alerts go to the sinks. */
export class ReplicaFeed {
  readonly watch: ReplicaWatch;
  readonly windowNs: number;
  readonly threshold: number;
  readonly similarity: Similarity;
  alerts = 0;
  malformed = 0;
  private readonly names = new NameTable();
  private readonly parsers = new Map<string, TraceParser>();
  private readonly groupOf: (c: ContainerInfo) => string;

  constructor(
    o: ReplicaFeedOptions,
    private readonly sinks: readonly AlertSink[],
    private readonly log: Logger,
  ) {
    this.windowNs = o.windowNs ?? DEFAULT_WINDOW_NS;
    this.threshold = o.threshold ?? DEFAULT_THRESHOLD;
    this.similarity = o.similarity ?? DEFAULT_SIMILARITY;
    this.watch = new ReplicaWatch({ windowNs: this.windowNs, threshold: this.threshold, similarity: this.similarity });
    this.groupOf = o.groupOf ?? ((c) => (c.containerId ? containerImage(c.containerId) : null) ?? UNKNOWN_IMAGE);
  }

  feed(container: ContainerInfo, data: Buffer, format: TraceFormat): void {
    let p = this.parsers.get(container.key);
    if (!p) {
      if (this.parsers.size >= MAX_CONTAINERS || container.host) return;
      const group = this.groupOf(container);
      const who = { key: container.key, id: container.id };
      this.log.info('replica watched', { container: container.id, group });
      p = new TraceParser({
        file: `container ${container.id}`,
        format,
        faithful: false,
        names: this.names,
        onEvent: (ev) => this.watch.event(group, who, ev, this.names.name(ev.nameId)),
        onBadLine: () => {
          this.malformed++;
        },
      });
      this.parsers.set(container.key, p);
    }
    p.push(data);
  }

  /** Compares the windows that ended by (sec, nsec) and raises the alerts. */
  tick(sec: number, nsec: number): void {
    for (const d of this.watch.tick(sec, nsec)) {
      const a = buildReplicaAlert(d);
      const line = alertLine(a);
      this.alerts++;
      for (const s of this.sinks) s.send(a, line);
    }
  }
}

export interface RunReplicaMonitorOptions extends ReplicaFeedOptions, AlertSinkOptions {
  source: Omit<SourceSpec, 'log'>;
  graceMs?: number;
  queueBytes?: number;
  log: Logger;
  handleSignals?: boolean;
  signal?: AbortSignal;
  onReady?: (info: Record<string, unknown>) => void;
}

export interface ReplicaMonitorSummary {
  source: string;
  end: string;
  alerts: number;
  windows_compared: number;
  late: number;
  dropped: number;
  groups: { group: string; members: string[] }[];
}

const TICK_MS = 200;

/** The replica comparison alone on a live source (no trained model needed). */
export async function runReplicaMonitor(o: RunReplicaMonitorOptions): Promise<ReplicaMonitorSummary> {
  const log = o.log;
  const sinks: AlertSink[] = [];
  const ac = new AbortController();
  const stopAll = o.signal ? AbortSignal.any([ac.signal, o.signal]) : ac.signal;
  const stopping = stopProgress(stopAll, log);
  let stopTicker = (): void => undefined;
  let removeSignalHandlers = (): void => undefined;
  let dropped = 0;
  try {
    openAlertSinks(sinks, o, log);
    const feed = new ReplicaFeed(o, sinks, log);
    const source = await openLiveSource({ ...o.source, log });
    let pipeError: unknown = null;
    const pipe = livePipe(source, o.queueBytes ?? 64 << 20, {
      consume: (b) => feed.feed(b.container, b.data, source.format ?? 'lidds'),
      dropped: (lines, first) => {
        dropped += lines;
        if (first) log.warn('queue full: dropping events (the comparison cannot keep up)', { queue_bytes: pipe.queue.maxBytes });
      },
      lost: (n, reason) => log.warn('source lost events', { events: n, reason }),
      restarted: () => undefined,
      ready: (info) => {
        log.info('source ready', info);
        o.onReady?.(info);
      },
      failed: (err) => {
        pipeError = err;
        ac.abort();
      },
    });
    if (o.handleSignals ?? true) {
      removeSignalHandlers = onStopSignals(
        (signal) => {
          log.info('signal received: stopping', { signal });
          ac.abort();
        },
        (signal) => log.warn('second signal: exiting without flushing', { signal }),
      );
    }
    const graceMs = o.graceMs ?? 250;
    stopTicker = startWindowTicker(source, pipe.queue, graceMs, TICK_MS, (sec, ns) => feed.tick(sec, ns), stopAll);
    log.info('replica monitor started', { source: source.kind, window_ns: feed.windowNs, threshold: feed.threshold, similarity: feed.similarity, outputs: sinks.map((s) => s.name) });
    const end = await source.run(pipe.sink, stopAll);
    stopTicker();
    stopping.phase('queue');
    pipe.drain();
    if (pipeError !== null) throw pipeError;
    // The last window is partial: it is not compared.
    stopping.phase('alert outputs');
    await drainAlertSinks(sinks, o);
    const summary: ReplicaMonitorSummary = {
      source: source.kind,
      end: end.detail ?? end.reason,
      alerts: feed.alerts,
      windows_compared: feed.watch.windowsCompared,
      late: feed.watch.late,
      dropped,
      groups: feed.watch.membership(),
    };
    log.info('replica monitor stopped', summary as unknown as Record<string, unknown>);
    return summary;
  } finally {
    stopTicker();
    removeSignalHandlers();
    stopping.phase('closing outputs');
    for (const s of sinks) await s.close().catch(() => undefined);
    stopping.done();
  }
}
