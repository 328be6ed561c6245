/**
 * The streaming detector behind `chids monitor` (live):
 *
 *     live source ──batches──► BoundedQueue ──► per container: TraceParser → WindowEncoder
 *                                                   → model (one AV per closed window) → alert sinks
 *
 * {@link Monitor} is the core, free of I/O: feed it batches of trace lines per container and
 * the time (`tick`), and it reports every window as it closes, scored, with an alert when the
 * score is above the threshold. {@link runMonitor} wires a source, the queue, the sinks, the
 * metrics server, the clock and the signals around it.
 *
 * Windows close on time: a window [t0 + k·W, t0 + (k+1)·W) closes when an event of a later
 * window arrives or, for live sources, when the clock passes its end plus a grace period (for
 * events still in flight from the capture tool), so a quiet second still closes. The clock is
 * the wall clock for strace and eBPF, the recording's own timestamps for a replay read at full
 * speed, and the elapsed trace time for a `--realtime` replay.
 *
 * Each container (pid namespace, plus the container id of its cgroup) has its own parser and
 * encoder; the vocabulary, the model and the name table are shared.
 */
import { performance } from 'node:perf_hooks';
import type { ContainerInfo } from '../capture/containers.js';
import type { Logger } from '../util/log.js';
import { livePipe } from '../capture/pipe.js';
import { countLines } from '../capture/batch-lines.js';
import { startWindowTicker } from '../capture/window-ticker.js';
import { EnteredSpan } from '../capture/entered.js';
import { openLiveSource } from '../capture/open.js';
import { type LiveSource, type SourceSpec } from '../capture/source.js';
import { WindowEncoder, type EncodedWindow } from '../encode/anomaly.js';
import type { EventTap } from '../encode/pipeline.js';
import type { Vocabulary } from '../encode/vocabulary.js';
import type { SyscallEvent } from '../trace/event.js';
import { NameTable } from '../trace/names.js';
import { TraceParser, type TraceFormat } from '../trace/parse.js';
import { ChidsError, InputError, describeError } from '../util/errors.js';
import { secondsToNs } from '../util/time.js';
import { alertLine, buildAlert, type AlertSink, type FalcoAlert, type WindowVerdict } from '../outputs/alerts.js';
import { type AlertSinkOptions, drainAlertSinks, openAlertSinks } from '../outputs/alert-sinks.js';
import { resolveEncoding } from '../engine/encoding.js';
import { pathsInDir, readBaselineData, type ArtifactPaths } from '../engine/baseline-dir.js';
import { MonitorMetrics, startMetricsServer, type MetricsServer } from '../outputs/prometheus.js';
import { THETAS, maxScoreOf } from '../engine/verdicts.js';
import type { Detector } from '../model/detector.js';
import { onStopSignals } from '../util/signals.js';
import { stopProgress } from './stop-progress.js';
import { loadDetector } from '../model/registry.js';
import { loadLiveDetector } from '../engine/live-detector.js';
import { FleetAgent, type FleetAgentOptions } from './fleet-agent.js';
import { BaselineRouter } from './baselines.js';
import type { LearnOptions } from './learn.js';
import type { MonitorLike, MonitorStats } from './monitor-types.js';
import { openAggregateSource, type EbpfMode } from './monitor-aggregate.js';

/** The threshold for a θ: the baseline's own value when θ is one of the ten, else θ × max training score. */
export function thresholdFor(thresholds: readonly number[], theta: number): number {
  if (!(theta > 0) || !Number.isFinite(theta)) throw new ChidsError(`--theta must be a positive number, got ${theta}`);
  const i = THETAS.findIndex((t) => Math.abs(t - theta) < 1e-9);
  if (i >= 0) return thresholds[i];
  return maxScoreOf(thresholds) * theta;
}

/**
 * What the monitor needs of a detector: its live scoring. Detectors that read anomaly vectors
 * get those of the container's last `history` windows; detectors that read the syscalls
 * themselves (STIDE, BoSC) have a per-container tap the monitor feeds with every event it places
 * in a window.
 */
export type LiveDetector = Pick<Detector, 'kind' | 'history' | 'scoreWindow' | 'newTap' | 'explain'>;

/** A window as it closed, with its score (null for an empty window) and the alert it raised. */
export interface ScoredWindow {
  container: ContainerInfo;
  window: EncodedWindow;
  score: number | null;
  alert: FalcoAlert | null;
}

export interface MonitorOptions {
  vocab: Vocabulary;
  scorer: LiveDetector;
  theta: number;
  /** The ten thresholds of the baseline (thresh_list.json). */
  thresholds: readonly number[];
  faithful: boolean;
  windowNs: number;
  /** Work budget: empty windows one gap between events may open (DEFAULT_MAX_EMPTY_WINDOWS). */
  maxEmptyWindows?: number;
  sinks: AlertSink[];
  metrics?: MonitorMetrics | null;
  log: Logger;
  /** Attack start (epoch seconds): alerts before it are labelled false alarms (replays of labelled recordings). */
  exploitAtSec?: number | null;
  /** Containers tracked at most; events of further ones are dropped and counted (default 256). */
  maxContainers?: number;
  onWindow?: (w: ScoredWindow) => void;
  /** A further tap on each container's events (the fleet agent's replica aspects). */
  newTap?: (container: ContainerInfo, names: NameTable) => EventTap;
}

interface Pipeline {
  info: ContainerInfo;
  label: string;
  parser: TraceParser;
  encoder: WindowEncoder;
  format: TraceFormat;
  events: number;
  windows: number;
  scored: number;
  alerts: number;
  lastSec: number;
  lastNsec: number;
  lastWallMs: number;
  /** The last `history` AVs, oldest first (n × 3), and how many there are. */
  avs: Float64Array;
  n: number;
  /** The model's tap, for models that read the syscalls. */
  tap: EventTap | null;
  /** The tap of MonitorOptions.newTap, if any. */
  extraTap: EventTap | null;
  /** Skip to the next line start (after a line the parser could not hold). */
  resync: boolean;
  /** Events the window clock refused (a gap over the work budget). */
  refused: number;
  /** Faithful mode: events older than their window, moved into the current one. */
  backwards: number;
  /** clock.jumps + refused, and clock.late + backwards, already counted in the stats. */
  jumpsSeen: number;
  lateSeen: number;
  /** Node-wide eBPF: when events came from processes that entered the container (`proc.is_exec`). */
  entered: EnteredSpan | null;
}

/** Scoring latencies kept for the percentiles (a ring; the histogram has them all). */
const LATENCY_RING = 1 << 16;

export type { MonitorStats } from './monitor-types.js';

export class Monitor {
  readonly stats: MonitorStats = {
    events: 0,
    windows: 0,
    scored: 0,
    alerts: 0,
    falseAlarms: 0,
    alertsAfterExploit: 0,
    firstAlertAfterExploitNs: null,
    dropped: { queue_full: 0, source_lost: 0, malformed: 0, no_timestamp: 0, too_many_containers: 0, time_jump: 0 },
    late: 0,
    restarts: 0,
  };
  threshold: number;
  criticalThreshold: number;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly names = new NameTable();
  private readonly latencies = new Float64Array(LATENCY_RING);
  private latencyCount = 0;
  private readonly maxContainers: number;
  private readonly exploitNs: bigint | null;
  private warnedContainers = false;
  private parseErrors = 0;

  constructor(private readonly o: MonitorOptions) {
    if (o.thresholds.length !== THETAS.length) throw new ChidsError(`the baseline has ${o.thresholds.length} thresholds, expected ${THETAS.length}`);
    this.threshold = thresholdFor(o.thresholds, o.theta);
    this.criticalThreshold = o.thresholds[THETAS.length - 1];
    this.maxContainers = o.maxContainers ?? 256;
    this.exploitNs = o.exploitAtSec == null ? null : secondsToNs(o.exploitAtSec);
  }

  /**
   * Hot swap to another baseline (a new version pushed to the fleet): from now on every
   * container's events are encoded against its vocabulary and its windows scored by its model
   * and thresholds. No window is dropped; the one in progress mixes the two (its earlier events
   * were judged against the old vocabulary), and sequence models start their history afresh.
   */
  swapBaseline(next: { vocab: Vocabulary; scorer: LiveDetector; thresholds: readonly number[] }): LiveDetector {
    if (next.thresholds.length !== THETAS.length) throw new ChidsError(`the baseline has ${next.thresholds.length} thresholds, expected ${THETAS.length}`);
    const old = this.o.scorer;
    // The parsers' event paths are built for the model's kind (with or without a tap on the events).
    if ((old.newTap === undefined) !== (next.scorer.newTap === undefined)) throw new ChidsError(`a hot swap keeps the kind of model: ${old.kind} cannot be replaced by ${next.scorer.kind} (restart the monitor)`);
    this.o.vocab = next.vocab;
    this.o.scorer = next.scorer;
    this.o.thresholds = next.thresholds;
    this.threshold = thresholdFor(next.thresholds, this.o.theta);
    this.criticalThreshold = next.thresholds[THETAS.length - 1];
    for (const p of this.pipelines.values()) {
      p.encoder.setVocabulary(next.vocab);
      p.avs = new Float64Array(3 * Math.max(1, next.scorer.history));
      p.n = 0;
      p.tap = next.scorer.newTap?.(this.names) ?? null;
    }
    return old;
  }

  /** Containers being tracked. */
  get containers(): number {
    return this.pipelines.size;
  }

  /** Feeds text lines (or, for a single-container replay, raw chunks) of one container. */
  feed(container: ContainerInfo, data: Buffer, format: TraceFormat): void {
    let p = this.pipelines.get(container.key);
    if (p === undefined) {
      if (this.pipelines.size >= this.maxContainers) {
        const n = countLines(data);
        this.stats.dropped.too_many_containers += n;
        this.o.metrics?.dropped.inc({ reason: 'too_many_containers' }, n);
        if (!this.warnedContainers) {
          this.warnedContainers = true;
          this.o.log.warn('too many containers: events of further ones are dropped', { max: this.maxContainers, container: container.id });
        }
        return;
      }
      p = this.open(container, format);
    }
    if (container.entered) (p.entered ??= new EnteredSpan()).mark(data);
    const before = p.parser.stats.events;
    const malformedBefore = p.parser.stats.malformed;
    const droppedBefore = p.encoder.clock.dropped;
    if (p.resync) {
      // After a line the parser could not hold, the stream resumes at the next line start,
      // never inside a line (whose tail could pass for an event at another time).
      const nl = data.indexOf(10);
      if (nl < 0) {
        this.account(p, before, malformedBefore, droppedBefore);
        return;
      }
      p.resync = false;
      data = data.subarray(nl + 1);
    }
    try {
      p.parser.push(data);
    } catch (err) {
      // Bad lines cost only themselves (onBadLine); what gets here is a line longer than the
      // parser holds: skip to the next line.
      this.badLine(p, err);
      p.parser = this.parser(p, format);
      p.resync = true;
      this.stats.dropped.malformed++;
      this.o.metrics?.dropped.inc({ reason: 'malformed' });
    }
    this.account(p, before, malformedBefore, droppedBefore);
  }

  private badLine(p: Pipeline, err: unknown): void {
    this.parseErrors++;
    if (this.parseErrors <= 10) this.o.log.warn('unreadable trace data skipped', { container: p.info.id, error: describeError(err) });
    else if (this.parseErrors === 11) this.o.log.warn('further unreadable lines are counted, not logged', { container: p.info.id });
  }

  private account(p: Pipeline, before: number, malformedBefore: number, droppedBefore: number): void {
    const n = p.parser.stats.events - before;
    if (n > 0) {
      p.events += n;
      this.stats.events += n;
      p.lastWallMs = Date.now();
      this.o.metrics?.events.inc({ container: p.label }, n);
    }
    const bad = p.parser.stats.malformed - malformedBefore;
    if (bad > 0) {
      this.stats.dropped.malformed += bad;
      this.o.metrics?.dropped.inc({ reason: 'malformed' }, bad);
    }
    const untimed = p.encoder.clock.dropped - droppedBefore;
    if (untimed > 0) {
      this.stats.dropped.no_timestamp += untimed;
      this.o.metrics?.dropped.inc({ reason: 'no_timestamp' }, untimed);
    }
    const clock = p.encoder.clock;
    const jumps = clock.jumps + p.refused - p.jumpsSeen;
    if (jumps > 0) {
      p.jumpsSeen = clock.jumps + p.refused;
      this.stats.dropped.time_jump += jumps;
      this.o.metrics?.dropped.inc({ reason: 'time_jump' }, jumps);
      if (this.stats.dropped.time_jump === jumps) this.o.log.warn('events far ahead of the previous ones dropped (corrupt timestamps?)', { container: p.info.id, events: jumps });
    }
    const late = clock.late + p.backwards - p.lateSeen;
    if (late > 0) {
      p.lateSeen = clock.late + p.backwards;
      if (this.stats.late === 0) this.o.log.warn('events out of time order are counted in the current window', { container: p.info.id });
      this.stats.late += late;
      this.o.metrics?.late.inc({ container: p.label }, late);
    }
  }

  private open(container: ContainerInfo, format: TraceFormat): Pipeline {
    const encoder = new WindowEncoder(
      this.o.vocab,
      this.names,
      { file: container.id, faithful: this.o.faithful, windowNs: this.o.windowNs, maxEmptyWindows: this.o.maxEmptyWindows, details: true },
      (w) => this.onWindow(p, w),
    );
    encoder.clock.perGap = true;
    const p: Pipeline = {
      info: container,
      label: container.id,
      parser: null as unknown as TraceParser,
      encoder,
      format,
      events: 0,
      windows: 0,
      scored: 0,
      alerts: 0,
      lastSec: -1,
      lastNsec: 0,
      lastWallMs: Date.now(),
      avs: new Float64Array(3 * Math.max(1, this.o.scorer.history)),
      n: 0,
      tap: this.o.scorer.newTap?.(this.names) ?? null,
      extraTap: this.o.newTap?.(container, this.names) ?? null,
      resync: false,
      refused: 0,
      backwards: 0,
      jumpsSeen: 0,
      lateSeen: 0,
      entered: null,
    };
    p.parser = this.parser(p, format);
    this.pipelines.set(container.key, p);
    this.o.metrics?.containerSeen(p.label);
    this.o.log.info('tracking container', { container: container.id, key: container.key, pidns: container.pidns, cgroup: container.cgroup });
    return p;
  }

  private parser(p: Pipeline, format: TraceFormat): TraceParser {
    const enc = p.encoder;
    const faithful = this.o.faithful;
    const onEvent = (ev: SyscallEvent): void => {
      if (faithful && enc.clock.current >= 0 && ev.hasTime && enc.clock.indexAt(ev.sec, ev.nsec) < enc.clock.current) {
        // Faithful windows refuse time going back; a live stream may (a late thread): count it
        // in the current window, as improved mode does.
        const start = enc.clock.startNs(enc.clock.current);
        ev.sec = Number(start / 1_000_000_000n);
        ev.nsec = Number(start % 1_000_000_000n);
        p.backwards++;
      }
      try {
        enc.push(ev);
      } catch (err) {
        // The work budget refused the event (a jump of days): it costs only itself.
        if (!(err instanceof InputError)) throw err;
        p.refused++;
        this.badLine(p, err);
        return;
      }
      if (ev.hasTime) {
        p.lastSec = ev.sec;
        p.lastNsec = ev.nsec;
      }
    };
    const extra = p.extraTap;
    const tapped =
      p.tap === null && extra === null
        ? onEvent
        : (ev: SyscallEvent): void => {
            const dropped = enc.clock.dropped;
            onEvent(ev);
            if (enc.clock.dropped !== dropped) return;
            // p.tap, not a copy: a hot swap replaces it.
            p.tap?.event(ev, enc.clock.current);
            extra?.event(ev, enc.clock.current);
          };
    return new TraceParser({ file: p.info.id, format, faithful, names: this.names, onEvent: tapped, onBadLine: (err) => this.badLine(p, err) });
  }

  /**
   * A window encoded elsewhere (the eBPF source's in-kernel aggregate, which sends no events):
   * counted and scored as if the container's own encoder had closed it.
   */
  pushWindow(container: ContainerInfo, w: EncodedWindow): void {
    let p = this.pipelines.get(container.key);
    if (p === undefined) {
      if (this.pipelines.size >= this.maxContainers) {
        this.stats.dropped.too_many_containers += w.events;
        this.o.metrics?.dropped.inc({ reason: 'too_many_containers' }, w.events);
        return;
      }
      p = this.open(container, 'lidds');
    }
    p.events += w.events;
    this.stats.events += w.events;
    p.lastWallMs = Date.now();
    const end = w.startNs + BigInt(this.o.windowNs);
    p.lastSec = Number(end / 1_000_000_000n);
    p.lastNsec = Number(end % 1_000_000_000n);
    this.o.metrics?.events.inc({ container: p.label }, w.events);
    this.onWindow(p, w);
  }

  /** Closes, in every container, the windows that end at or before (sec, nsec). */
  tick(sec: number, nsec: number): void {
    for (const p of this.pipelines.values()) p.encoder.advanceTo(sec, nsec);
  }

  /** End of the stream: every container's last window closes. */
  finish(): void {
    for (const p of this.pipelines.values()) {
      // The last line, without its newline, is read here: what it adds (an event, a bad line,
      // a jump) is counted like any other line's, and one it cannot hold is a counted loss.
      const before = p.parser.stats.events;
      const malformedBefore = p.parser.stats.malformed;
      const droppedBefore = p.encoder.clock.dropped;
      try {
        if (!p.resync) p.parser.end();
      } catch (err) {
        this.badLine(p, err);
        this.stats.dropped.malformed++;
        this.o.metrics?.dropped.inc({ reason: 'malformed' });
      }
      this.account(p, before, malformedBefore, droppedBefore);
      p.encoder.finish();
    }
  }

  /** Time of the newest event seen in any container, or null. */
  newestEvent(): { sec: number; nsec: number } | null {
    let best: { sec: number; nsec: number } | null = null;
    for (const p of this.pipelines.values()) {
      if (p.lastSec < 0) continue;
      if (best === null || p.lastSec > best.sec || (p.lastSec === best.sec && p.lastNsec > best.nsec)) best = { sec: p.lastSec, nsec: p.lastNsec };
    }
    return best;
  }

  /** Time of the newest event of one container, or null (for the metrics' processing delay). */
  lastEventOf(container: ContainerInfo): { sec: number; nsec: number } | null {
    const p = this.pipelines.get(container.key);
    return p === undefined || p.lastSec < 0 ? null : { sec: p.lastSec, nsec: p.lastNsec };
  }

  /** Forgets containers that have had no events for `idleMs` (their last window is closed first). */
  evictIdle(idleMs: number): void {
    const now = Date.now();
    for (const [key, p] of this.pipelines) {
      if (now - p.lastWallMs < idleMs) continue;
      p.encoder.finish();
      this.pipelines.delete(key);
      this.o.log.info('container idle, no longer tracked', { container: p.info.id, events: p.events, windows: p.windows, alerts: p.alerts });
    }
  }

  private onWindow(p: Pipeline, w: EncodedWindow): void {
    p.windows++;
    this.stats.windows++;
    const m = this.o.metrics;
    m?.windows.inc({ container: p.label });
    if (w.av === null) {
      this.o.onWindow?.({ container: p.info, window: w, score: null, alert: null });
      return;
    }
    const h = p.avs.length / 3;
    if (p.n === h) p.avs.copyWithin(0, 3);
    else p.n++;
    const at = 3 * (p.n - 1);
    p.avs[at] = w.av[0];
    p.avs[at + 1] = w.av[1];
    p.avs[at + 2] = w.av[2];
    const t0 = performance.now();
    const scored = this.o.scorer.scoreWindow({ avs: p.n === h ? p.avs : p.avs.subarray(0, 3 * p.n), n: p.n, tap: p.tap, window: w.index, split: w.split });
    const dt = performance.now() - t0;
    const score = scored ?? 0;
    this.latencies[this.latencyCount++ % LATENCY_RING] = dt;
    m?.scoring.observe(dt / 1000);
    p.scored++;
    this.stats.scored++;
    m?.scored.inc({ container: p.label });
    let alert: FalcoAlert | null = null;
    if (score > this.threshold) alert = this.raise(p, w, score);
    this.o.onWindow?.({ container: p.info, window: w, score, alert });
  }

  private raise(p: Pipeline, w: EncodedWindow, score: number): FalcoAlert {
    const v: WindowVerdict = {
      container: p.info,
      index: w.index,
      startNs: w.startNs,
      windowNs: this.o.windowNs,
      events: w.events,
      av: w.av!,
      score,
      threshold: this.threshold,
      theta: this.o.theta,
      criticalThreshold: this.criticalThreshold,
      unseenSyscalls: w.unseenSyscalls ?? [],
      unseenArgs: w.unseenArgs ?? [],
      model: this.o.scorer.kind,
    };
    if (this.o.scorer.explain) v.explanation = this.o.scorer.explain(w.av!, score, w.split);
    if (p.info.identity !== undefined) v.entered = p.entered?.overlaps(w.startNs, this.o.windowNs) ?? false;
    if (this.exploitNs !== null) {
      const endNs = w.startNs + BigInt(this.o.windowNs);
      if (endNs <= this.exploitNs) {
        v.label = 'false_alarm';
        this.stats.falseAlarms++;
      } else {
        v.label = 'after_exploit_start';
        this.stats.alertsAfterExploit++;
        if (this.stats.firstAlertAfterExploitNs === null) this.stats.firstAlertAfterExploitNs = endNs;
      }
    }
    const alert = buildAlert(v);
    const line = alertLine(alert);
    for (const s of this.o.sinks) {
      try {
        s.send(alert, line);
      } catch (err) {
        this.o.log.error('alert output failed', { sink: s.name, error: describeError(err) });
        this.o.metrics?.sinkFailures.inc({ sink: s.name, reason: 'error' });
      }
    }
    p.alerts++;
    this.stats.alerts++;
    this.o.metrics?.alerts.inc({ container: p.label, priority: alert.priority });
    return alert;
  }

  /** Scoring time per window, in ms, over the last {@link LATENCY_RING} windows. */
  scoringLatency(): { n: number; p50: number; p99: number; max: number } {
    const n = Math.min(this.latencyCount, LATENCY_RING);
    if (n === 0) return { n: 0, p50: 0, p99: 0, max: 0 };
    const xs = Float64Array.from(this.latencies.subarray(0, n)).sort();
    const q = (f: number) => xs[Math.min(n - 1, Math.ceil(f * n) - 1)];
    return { n: this.latencyCount, p50: q(0.5), p99: q(0.99), max: xs[n - 1] };
  }

  /** Runtime identities of the tracked containers the runtime named (the chids_container_info metric). */
  identities(): Record<'container' | 'name' | 'image' | 'image_repository' | 'image_tag' | 'pod' | 'namespace', string>[] {
    const out = [];
    for (const p of this.pipelines.values()) {
      const i = p.info.identity;
      if (i?.state !== 'resolved') continue;
      out.push({ container: p.label, name: i.name ?? '', image: i.image ?? '', image_repository: i.repository ?? '', image_tag: i.tag ?? '', pod: i.podName ?? '', namespace: i.podNamespace ?? '' });
    }
    return out;
  }

  /** Per-container counts. */
  containerStats(): { id: string; key: string; events: number; windows: number; scored: number; alerts: number }[] {
    return [...this.pipelines.values()].map((p) => ({ id: p.info.id, key: p.info.key, events: p.events, windows: p.windows, scored: p.scored, alerts: p.alerts }));
  }
}

// ---------------------------------------------------------------------------------------------

export interface RunMonitorOptions extends AlertSinkOptions {
  artifacts: ArtifactPaths;
  /** A directory of baselines, one per image: each container is scored with its image's (instead of `artifacts`). */
  baselines?: string;
  /** With `baselines`: record, train and then watch images that have none (src/app/learn.ts). */
  learn?: LearnOptions;
  source: Omit<SourceSpec, 'log'>;
  theta: number;
  /** Live sources: how long after its end a window waits for late events (ms). */
  graceMs?: number;
  /** `HOST:PORT` for Prometheus. */
  metrics?: string;
  exploitAtSec?: number;
  /** Queue bound in bytes (default 64 MiB). */
  queueBytes?: number;
  /** eBPF: aggregate in the kernel, send every event, or choose from the detector (default 'auto'). */
  ebpfMode?: EbpfMode;
  /** Faithful encoding / window length (default: the baseline's). */
  faithful?: boolean;
  windowNs?: number;
  /** Work budget: empty windows one gap between events may open. */
  maxEmptyWindows?: number;
  log: Logger;
  /** Install SIGINT/SIGTERM handlers that flush and end (default true). */
  handleSignals?: boolean;
  /** Stops the monitor (library use, tests). */
  signal?: AbortSignal;
  /** While stopping, how often the phase it waits on is logged (default 10 s). */
  stopReportMs?: number;
  onWindow?: (w: ScoredWindow) => void;
  /** A live source is ready (attached). */
  onReady?: (info: Record<string, unknown>) => void;
  /** Publish windows and alerts to NATS JetStream (the fleet). */
  nats?: Omit<FleetAgentOptions, 'log'>;
  /**
   * A second detection method on the same stream and clock, alerting into the same sinks
   * (`--replicas`: the replica comparison, src/app/replica-monitor.ts).
   */
  companion?: (sinks: readonly AlertSink[]) => MonitorCompanion;
}

export interface MonitorCompanion {
  feed(container: ContainerInfo, data: Buffer, format: TraceFormat): void;
  tick(sec: number, nsec: number): void;
}

export interface MonitorSummary {
  source: string;
  end: string;
  events: number;
  windows: number;
  scored: number;
  alerts: number;
  dropped: MonitorStats['dropped'];
  /** Events older than their window, counted in the current one. */
  late: number;
  /** Alerts an output could not deliver (the webhook: queue full, failed, still queued at exit). */
  alerts_lost: { queue_full: number; failed: number; at_exit: number };
  restarts: number;
  theta: number;
  threshold: number;
  containers: ReturnType<Monitor['containerStats']>;
  scoring_ms: { n: number; p50: number; p99: number; max: number };
  elapsed_s: number;
  events_per_s: number;
  exploit?: { at: number; false_alarms: number; alerts_after: number; first_alert_after_s: number | null };
  metrics_url?: string;
  nats?: ReturnType<FleetAgent['stats']>;
}

const TICK_MS = 100;
const IDLE_EVICT_MS = 10 * 60 * 1000;

/** The one baseline of `--od`, its model warmed up. */
async function loadSingle(o: RunMonitorOptions, log: Logger) {
  const data = await readBaselineData(o.artifacts);
  if (data.thresholds === null) throw new ChidsError('no threshold list (thresh_list.json) in the baseline');
  if (o.artifacts.model === null) throw new ChidsError('no model given (--od DIR or --tm)');
  const { faithful, windowNs } = resolveEncoding(data.manifest, o, (msg) => log.warn(msg));
  const scorer = await loadLiveDetector(o.artifacts.model, data.manifest?.model.type);
  return { vocab: data.vocab, thresholds: data.thresholds, faithful, windowNs, scorer };
}

export async function runMonitor(o: RunMonitorOptions): Promise<MonitorSummary> {
  const log = o.log;
  const t0 = performance.now();
  const single = o.baselines === undefined ? await loadSingle(o, log) : null;
  const metrics = o.metrics ? new MonitorMetrics() : null;
  // The fleet agent connects in the background: an unreachable broker never stops detection.
  const agent = o.nats ? FleetAgent.start({ ...o.nats, log }) : null;
  const sinks: AlertSink[] = [];
  let server: MetricsServer | null = null;
  const ac = new AbortController();
  const stopAll = o.signal ? AbortSignal.any([ac.signal, o.signal]) : ac.signal;
  const stopping = stopProgress(stopAll, log, o.stopReportMs);
  let stopTicker = (): void => undefined;
  let removeSignalHandlers = (): void => undefined;
  let router: BaselineRouter | null = null;
  try {
    const webhook = openAlertSinks(sinks, o, log, (reason, n = 1) => metrics?.sinkFailures.inc({ sink: 'webhook', reason }, n));
    const shared = { theta: o.theta, maxEmptyWindows: o.maxEmptyWindows, sinks, metrics, log, exploitAtSec: o.exploitAtSec ?? null, onWindow: o.onWindow };
    if (single === null) {
      // The fleet agent publishes one baseline's windows and follows that baseline's registry entry.
      if (agent) throw new ChidsError('--nats and --baselines together are not supported yet: give one baseline (--od DIR, or --image REF to fetch it from the fleet)');
      router = await BaselineRouter.open(o.baselines!, (b) => new Monitor({ ...shared, ...b }), metrics, log, o.learn);
    }
    let monitor: MonitorLike;
    if (single !== null) {
      const one: Monitor = new Monitor({
        ...shared,
        vocab: single.vocab,
        scorer: single.scorer,
        thresholds: single.thresholds,
        faithful: single.faithful,
        windowNs: single.windowNs,
        onWindow: agent === null ? o.onWindow : (w) => (agent.window(w, one.threshold, single.windowNs), o.onWindow?.(w)),
        newTap: agent?.newTap,
      });
      agent?.followBaseline(async (dir, entry) => {
        const next = await readBaselineData(pathsInDir(dir));
        const enc = resolveEncoding(next.manifest, o, () => undefined);
        if (enc.faithful !== single.faithful || enc.windowNs !== single.windowNs) throw new ChidsError('its encoding (window length or faithful mode) differs: restart the monitor');
        if (next.thresholds === null) throw new ChidsError('no threshold list in it');
        const model = await loadDetector(pathsInDir(dir).model!, next.manifest?.model.type);
        const old = single.scorer;
        one.swapBaseline({ vocab: next.vocab, scorer: model, thresholds: next.thresholds });
        single.scorer = model;
        old.dispose();
        log.info('baseline swapped', { image: o.nats?.follow?.image, version: entry.version, threshold: one.threshold });
      });
      monitor = one;
    } else monitor = router!;
    const companion = o.companion?.(sinks) ?? null;
    // eBPF and a detector that reads only anomaly vectors: aggregate in the kernel (monitor-aggregate.ts),
    // for one baseline that stays put; whatever else reads or routes the events keeps them.
    const eventsFor = companion
      ? '--replicas compares the events themselves'
      : single === null
        ? '--baselines routes each container to its own baseline'
        : agent
          ? '--nats may swap the baseline'
          : o.source.allContainers
            ? '--all-containers runs the node-wide per-event program'
            : undefined;
    const source: LiveSource =
      (await openAggregateSource({
        mode: o.ebpfMode,
        source: o.source,
        scorer: single?.scorer ?? { reads: 'syscalls', kind: 'routed' },
        vocab: single?.vocab ?? { seenSyscalls: new Set(), seenArgs: new Set(), maxFreq: 1 },
        faithful: single?.faithful ?? false,
        windowNs: single?.windowNs ?? 1e9,
        graceMs: o.graceMs,
        monitor: monitor as Monitor,
        log,
        eventsFor,
      })) ?? (await openLiveSource({ ...o.source, log }));
    let pipeError: unknown = null;
    const graceMs = o.graceMs ?? 250;
    let lostWarned = 0;
    const pipe = livePipe(source, o.queueBytes ?? 64 << 20, {
      consume: (b) => {
        monitor.feed(b.container, b.data, source.format ?? 'lidds');
        if (metrics && source.clock !== 'events') {
          const e = monitor.lastEventOf(b.container);
          const now = source.now();
          if (e && now) metrics.processed(e, now);
        }
        companion?.feed(b.container, b.data, source.format ?? 'lidds');
      },
      dropped: (lines, first) => {
        monitor.stats.dropped.queue_full += lines;
        metrics?.dropped.inc({ reason: 'queue_full' }, lines);
        if (first) log.warn('queue full: dropping events (the detector cannot keep up)', { queue_bytes: pipe.queue.maxBytes });
      },
      lost: (n, reason) => {
        monitor.stats.dropped.source_lost += n;
        metrics?.dropped.inc({ reason: 'source_lost' }, n);
        if (lostWarned++ < 10) log.warn('source lost events', { events: n, reason });
      },
      restarted: () => {
        monitor.stats.restarts++;
        metrics?.restarts.inc();
        metrics?.sourceDown();
      },
      ready: (info) => {
        metrics?.sourceUp();
        log.info('source ready', info);
        o.onReady?.(info);
      },
      failed: (err) => {
        pipeError = err;
        ac.abort();
      },
    });
    const queue = pipe.queue;
    const sink = pipe.sink;

    if (metrics) {
      metrics.queued = () => queue.bytes;
      metrics.tracked = () => monitor.containers;
      metrics.identities = () => monitor.identities();
      metrics.lagSeconds = () => {
        // The delay of the newest event processed; while a live batch waits in the queue, at least its wait.
        return metrics.processingLag(Date.now(), source.clock === 'wall' ? (queue.peek()?.at ?? null) : null);
      };
      metrics.sinksUsed(sinks.map((s) => s.name));
      server = await startMetricsServer(metrics, o.metrics!);
      log.info('metrics listening', { url: server.url });
    }
    if (o.handleSignals ?? true) {
      removeSignalHandlers = onStopSignals(
        (signal) => {
          log.info('signal received: flushing and stopping', { signal });
          ac.abort();
        },
        (signal) => log.warn('second signal: exiting without flushing', { signal }),
      );
    }
    let lastEvict = Date.now();
    stopTicker = startWindowTicker(source, queue, graceMs, TICK_MS, (sec, ns) => {
      monitor.tick(sec, ns);
      companion?.tick(sec, ns);
      if (source.clock === 'wall' && Date.now() - lastEvict > 60_000) {
        lastEvict = Date.now();
        monitor.evictIdle(IDLE_EVICT_MS);
      }
    }, stopAll);
    log.info('monitor started', {
      source: source.kind,
      clock: source.clock,
      theta: o.theta,
      threshold: monitor.threshold,
      ...(single ? { faithful: single.faithful, window_ns: single.windowNs, model: single.scorer.kind } : { baselines: o.baselines }),
      outputs: sinks.map((s) => s.name),
    });
    const end = await source.run(sink, stopAll);
    stopTicker();
    // Flush: everything queued, then the last window of every container.
    stopping.phase('queue');
    pipe.drain();
    if (pipeError !== null) throw pipeError;
    monitor.finish();
    // A baseline being trained is finished and saved: the next run starts with it.
    if (router !== null && router.learning().length > 0) log.info('waiting for the baselines being learned', { images: router.learning().map((l) => l.image) });
    stopping.phase('baselines being learned');
    await router?.learned();
    // Deliver what is still queued, within the drain timeout; the rest is counted as lost.
    stopping.phase('alert outputs');
    await drainAlertSinks(sinks, o);
    stopping.phase('fleet');
    await agent?.close(o.drainTimeoutMs ?? 5000);
    const elapsed = (performance.now() - t0) / 1000;
    const s = router ? router.totals() : monitor.stats;
    const summary: MonitorSummary = {
      source: source.kind,
      end: end.detail ?? end.reason,
      events: s.events,
      windows: s.windows,
      scored: s.scored,
      alerts: s.alerts,
      dropped: { ...s.dropped },
      late: s.late,
      alerts_lost: { queue_full: webhook?.dropped ?? 0, failed: webhook?.failed ?? 0, at_exit: webhook?.lostAtExit ?? 0 },
      restarts: s.restarts,
      theta: o.theta,
      threshold: monitor.threshold,
      containers: monitor.containerStats(),
      scoring_ms: monitor.scoringLatency(),
      elapsed_s: elapsed,
      events_per_s: elapsed > 0 ? Math.round(s.events / elapsed) : 0,
    };
    if (o.exploitAtSec != null) {
      const first = s.firstAlertAfterExploitNs;
      summary.exploit = {
        at: o.exploitAtSec,
        false_alarms: s.falseAlarms,
        alerts_after: s.alertsAfterExploit,
        first_alert_after_s: first === null ? null : Number(first) / 1e9 - o.exploitAtSec,
      };
    }
    if (server) summary.metrics_url = server.url;
    if (agent) summary.nats = agent.stats();
    log.info('monitor stopped', summary as unknown as Record<string, unknown>);
    return summary;
  } finally {
    stopTicker();
    removeSignalHandlers();
    stopping.phase('closing outputs');
    for (const s of sinks) await s.close().catch(() => undefined);
    stopping.phase('metrics server');
    if (server) await server.close();
    stopping.phase('fleet');
    await agent?.close(0);
    single?.scorer.dispose();
    router?.dispose();
    stopping.done();
  }
}

