/**
 * `chids monitor --baselines DIR`: one baseline per container image. DIR holds baseline
 * directories (`chids baseline --od DIR/web`), each naming in its manifest the image it was
 * trained for; every container is scored with the baseline of its image.
 *
 * A container's image comes from its runtime identity, resolved asynchronously: its first events
 * wait (bounded) until the runtime has answered, then go to the {@link Monitor} of its image's
 * baseline (one Monitor per baseline: its own vocabulary, model and thresholds; sinks and metrics
 * shared). A container whose image has no baseline is reported once (log, and the
 * `chids_containers_unbaselined` metric) and its events are counted, not scored; with `--learn`
 * the first container of that image is recorded and a baseline trained for it (src/app/learn.ts),
 * which this router then loads and scores that image's containers with.
 */
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { countLines } from '../capture/batch-lines.js';
import type { ContainerInfo } from '../capture/containers.js';
import { splitImage } from '../capture/runtime/types.js';
import { readBaselineData, pathsInDir } from '../engine/baseline-dir.js';
import { resolveEncoding } from '../engine/encoding.js';
import type { MonitorMetrics } from '../outputs/prometheus.js';
import type { TraceFormat } from '../trace/parse.js';
import { ChidsError } from '../util/errors.js';
import { earlier } from '../util/time.js';
import type { Logger } from '../util/log.js';
import { loadLiveDetector } from '../engine/live-detector.js';
import type { Vocabulary } from '../encode/vocabulary.js';
import type { Detector } from '../model/detector.js';
import type { MonitorLike, MonitorStats } from './monitor-types.js';
import { Learner, type LearnOptions } from './learn.js';

/** A baseline's monitor, made by the caller (runMonitor) from the baseline's parts. */
export type MonitorFactory = (b: { vocab: Vocabulary; scorer: Detector; thresholds: readonly number[]; faithful: boolean; windowNs: number }) => MonitorLike;

type Monitor = MonitorLike;

interface Loaded {
  dir: string;
  image: string;
  monitor: Monitor;
  dispose: () => void;
}

/** A pending container's batches wait at most this much (bytes) for its identity. */
const PENDING_BYTES = 8 << 20;
/** … and this long (ms): then it is scored with nothing (reported as unbaselined, image unknown). */
const PENDING_MS = 10_000;

/** Image references compared without the default registry (`docker.io/library/nginx:1` = `nginx:1`) and with `:latest` made explicit. */
export function normalImage(ref: string): string {
  const { repository, tag } = splitImage(ref.trim());
  const repo = repository.replace(/^(docker\.io\/)?library\//, '').replace(/^docker\.io\//, '');
  return `${repo}:${tag}`;
}

export class BaselineRouter implements MonitorLike {
  private readonly byImage = new Map<string, Loaded>();
  private readonly route = new Map<string, Monitor | null>();
  private readonly pending = new Map<string, { container: ContainerInfo; batches: Buffer[]; bytes: number; since: number; format: TraceFormat }>();
  private readonly unscored = new Map<string, number>();
  /** Containers routed before their runtime identity came (after PENDING_MS): routed again once it does. */
  private readonly unnamed = new Set<string>();
  /** Unscored containers waiting for a baseline --learn trains: their image (normalized), for re-routing. */
  private readonly waiting = new Map<string, { norm: string; container: ContainerInfo }>();
  private learner: Learner | null = null;
  private disposed = false;
  /** Counters of the source (lost, dropped, restarts) and of unscored containers; {@link totals} adds every baseline's. */
  readonly stats: MonitorStats;

  private constructor(
    private readonly loaded: Loaded[],
    private readonly metrics: MonitorMetrics | null,
    private readonly log: Logger,
    private readonly make: MonitorFactory,
  ) {
    for (const l of loaded) this.byImage.set(normalImage(l.image), l);
    // Counted here: events of containers no baseline scores.
    this.stats = { events: 0, windows: 0, scored: 0, alerts: 0, falseAlarms: 0, alertsAfterExploit: 0, firstAlertAfterExploitNs: null, dropped: { queue_full: 0, source_lost: 0, malformed: 0, no_timestamp: 0, too_many_containers: 0, time_jump: 0 }, late: 0, restarts: 0 };
  }

  /** Loads every baseline under `dir` that names its image; with `learn`, images without one are learned (DIR may then start empty). */
  static async open(dir: string, make: MonitorFactory, metrics: MonitorMetrics | null, log: Logger, learn?: LearnOptions): Promise<BaselineRouter> {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (err) {
      throw new ChidsError(`--baselines ${dir}: cannot read the directory (${(err as Error).message})`);
    }
    const loaded: Loaded[] = [];
    for (const e of entries.sort()) {
      const sub = path.join(dir, e);
      if (e.startsWith('.') || !existsSync(path.join(sub, 'manifest.json'))) continue;
      const l = await loadBaseline(sub, make, log);
      if (l !== null) loaded.push(l);
    }
    if (loaded.length === 0 && learn === undefined) throw new ChidsError(`--baselines ${dir}: no baseline directory in it names its image (chids baseline --td … --od ${dir}/NAME [--image REF], or --learn DURATION)`);
    const router = new BaselineRouter(loaded, metrics, log, make);
    if (learn !== undefined) router.learner = new Learner(dir, learn, (image, sub) => router.adopt(image, sub), metrics, log);
    return router;
  }

  /** A baseline --learn trained: loaded, and the containers of its image scored with it from now on. */
  private async adopt(image: string, dir: string): Promise<void> {
    // A run that ended before its training did: the baseline is saved for the next run, not loaded.
    if (this.disposed) return;
    const l = await loadBaseline(dir, this.make, this.log);
    if (l === null) throw new ChidsError(`${dir}: the learned baseline names no image`);
    this.loaded.push(l);
    const norm = normalImage(image);
    this.byImage.set(norm, l);
    for (const [key, w] of [...this.waiting]) {
      if (w.norm !== norm) continue;
      this.waiting.delete(key);
      this.route.set(key, l.monitor);
      const id = w.container.identity;
      this.metrics?.unbaselined.remove({ container: w.container.id, name: id?.name ?? '', image: id?.image ?? '' });
      this.log.info('container watched with the baseline learned for its image', { container: w.container.id, name: id?.name ?? null, image, baseline: dir });
    }
  }

  /** Waits for the baselines --learn is training (tests, and the end of a run). */
  async learned(): Promise<void> {
    await this.learner?.idle();
  }

  /** Images --learn is recording or training now. */
  learning(): { image: string; container: string; phase: string }[] {
    return this.learner?.active() ?? [];
  }

  get threshold(): number {
    return this.loaded[0]?.monitor.threshold ?? NaN;
  }

  get containers(): number {
    return this.loaded.reduce((a, l) => a + l.monitor.containers, 0);
  }

  /** Every count: the source's and every baseline's monitor's. */
  totals(): MonitorStats {
    const s = { ...this.stats, dropped: { ...this.stats.dropped } };
    for (const { monitor } of this.loaded) {
      const m = monitor.stats;
      s.events += m.events;
      s.windows += m.windows;
      s.scored += m.scored;
      s.alerts += m.alerts;
      s.falseAlarms += m.falseAlarms;
      s.alertsAfterExploit += m.alertsAfterExploit;
      s.late += m.late;
      s.restarts += m.restarts;
      for (const k of Object.keys(s.dropped) as (keyof MonitorStats['dropped'])[]) s.dropped[k] += m.dropped[k];
      if (m.firstAlertAfterExploitNs !== null && (s.firstAlertAfterExploitNs === null || m.firstAlertAfterExploitNs < s.firstAlertAfterExploitNs)) s.firstAlertAfterExploitNs = m.firstAlertAfterExploitNs;
    }
    return s;
  }

  feed(container: ContainerInfo, data: Buffer, format: TraceFormat): void {
    // Routed unscored because the runtime had not named it in time: named now, routed again (a
    // busy runtime takes its time; CI saw the containers running before the monitor stay
    // unwatched for good while a later one was watched).
    if (this.unnamed.has(container.key) && container.identity?.state !== 'pending') {
      this.unnamed.delete(container.key);
      this.route.delete(container.key);
      this.metrics?.unbaselined.remove({ container: container.id, name: '', image: '' });
    }
    const r = this.route.get(container.key);
    if (r !== undefined) {
      if (r !== null) r.feed(container, data, format);
      else if (this.learner?.isRecording(container.key)) this.learner.feed(container.key, data);
      else this.unscored.set(container.key, (this.unscored.get(container.key) ?? 0) + 1);
      return;
    }
    let p = this.pending.get(container.key);
    if (p === undefined) this.pending.set(container.key, (p = { container, batches: [], bytes: 0, since: Date.now(), format }));
    p.batches.push(data);
    p.bytes += data.length;
    if (p.bytes > PENDING_BYTES) {
      // Bounded: the oldest batch goes (counted as a full queue would be).
      const old = p.batches.shift()!;
      p.bytes -= old.length;
      this.stats.dropped.queue_full += countLines(old);
    }
    this.settle(p.container.key);
  }

  /** Routes a pending container once its identity is known (or it waited too long). */
  private settle(key: string): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    const id = p.container.identity;
    const waited = Date.now() - p.since > PENDING_MS;
    if (id !== undefined && id.state === 'pending' && !waited) return;
    this.pending.delete(key);
    if (id !== undefined && id.state === 'pending') this.unnamed.add(key);
    const image = id?.state === 'resolved' ? id.image : null;
    const chosen = image !== null ? (this.byImage.get(normalImage(image)) ?? null) : null;
    this.route.set(key, chosen?.monitor ?? null);
    if (chosen) {
      this.log.info('container watched with the baseline of its image', { container: p.container.id, name: id?.name ?? null, image, baseline: chosen.dir });
      for (const b of p.batches) chosen.monitor.feed(p.container, b, p.format);
    } else {
      const learn = image !== null && this.learner ? this.learner.begin(p.container, image, normalImage(image), p.format) : 'off';
      const note = learn === 'recording' ? 'not scored until a baseline is learned from it (--learn)' : learn === 'waiting' ? 'not scored until the baseline being learned for its image is ready' : 'not scored';
      this.log.warn(`container has no baseline for its image: ${note}`, { container: p.container.id, name: id?.name ?? null, image, known_images: [...this.byImage.values()].map((l) => l.image) });
      this.metrics?.unbaselined.set({ container: p.container.id, name: id?.name ?? '', image: image ?? '' }, 1);
      if (learn !== 'off') this.waiting.set(key, { norm: normalImage(image!), container: p.container });
      if (learn === 'recording') for (const b of p.batches) this.learner!.feed(key, b);
    }
  }

  tick(sec: number, nsec: number): void {
    for (const key of [...this.pending.keys()]) this.settle(key);
    this.learner?.tick(sec, nsec);
    for (const { monitor } of this.loaded) monitor.tick(sec, nsec);
  }

  finish(): void {
    for (const key of [...this.pending.keys()]) this.settle(key);
    this.learner?.close();
    for (const { monitor } of this.loaded) monitor.finish();
  }

  newestEvent(): { sec: number; nsec: number } | null {
    let best: { sec: number; nsec: number } | null = null;
    for (const { monitor } of this.loaded) {
      const n = monitor.newestEvent();
      if (n && (best === null || earlier(best.sec, best.nsec, n.sec, n.nsec))) best = n;
    }
    return best;
  }

  lastEventOf(container: ContainerInfo): { sec: number; nsec: number } | null {
    const r = this.route.get(container.key);
    return r ? r.lastEventOf(container) : null;
  }

  evictIdle(idleMs: number): void {
    for (const { monitor } of this.loaded) monitor.evictIdle(idleMs);
  }

  containerStats(): ReturnType<MonitorLike['containerStats']> {
    return this.loaded.flatMap((l) => l.monitor.containerStats());
  }

  scoringLatency(): ReturnType<MonitorLike['scoringLatency']> {
    // The slowest baseline's figures (they are per-window model costs).
    return this.loaded.map((l) => l.monitor.scoringLatency()).reduce((a, b) => (b.p99 > a.p99 ? b : a), { n: 0, p50: 0, p99: 0, max: 0 });
  }

  identities(): ReturnType<MonitorLike['identities']> {
    return this.loaded.flatMap((l) => l.monitor.identities());
  }

  /** Containers that have no baseline, with how many batches went unscored. */
  unbaselined(): { key: string; batches: number }[] {
    return [...this.unscored].map(([key, batches]) => ({ key, batches }));
  }

  dispose(): void {
    this.disposed = true;
    this.learner?.close();
    for (const l of this.loaded) l.dispose();
  }
}

/** One baseline directory: its monitor, or null when it names no image (logged). */
async function loadBaseline(sub: string, make: MonitorFactory, log: Logger): Promise<Loaded | null> {
  const data = await readBaselineData(pathsInDir(sub));
  const image = data.manifest?.image ?? null;
  if (image === null) {
    log.warn('baseline names no image: not used by --baselines (train it with --image REF)', { baseline: sub });
    return null;
  }
  if (data.thresholds === null) throw new ChidsError(`${sub}: no threshold list (thresh_list.json) in the baseline`);
  const { faithful, windowNs } = resolveEncoding(data.manifest, {}, (msg) => log.warn(msg, { baseline: sub }));
  const scorer = await loadLiveDetector(sub, data.manifest?.model.type);
  const monitor = make({ vocab: data.vocab, scorer, thresholds: data.thresholds, faithful, windowNs });
  log.info('baseline loaded', { image, baseline: sub, model: scorer.kind, threshold: monitor.threshold });
  return { dir: sub, image, monitor, dispose: () => scorer.dispose() };
}
