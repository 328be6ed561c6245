/**
 * `chids monitor --baselines DIR --learn DURATION`: day-one coverage for images that have no
 * baseline yet. The first container of such an image is recorded (its own events, streamed to a
 * LID-DS recording under DIR, a dot-file the router never reads as a baseline) for DURATION of
 * event time; then a baseline is trained from it in the background (the `chids baseline` path),
 * written atomically to DIR/<image-derived name>/ with the image in its manifest, and handed to
 * the router, which then scores that container and every later container of that image.
 *
 * Only the first container of an image records: the others of the same image wait (unscored)
 * for the baseline it yields. One image learns once per run; a failed training is logged and
 * leaves its containers unscored, as without --learn.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ContainerInfo } from '../capture/containers.js';
import { countLines, lastLeadingTs, leadingTs } from '../capture/batch-lines.js';
import { LiddsRecorder } from '../capture/recorder.js';
import { nsDigitsToSec } from '../util/time.js';
import { recordingMeta } from '../trace/lidds/metadata.js';
import type { TraceFormat } from '../trace/parse.js';
import type { MonitorMetrics } from '../outputs/prometheus.js';
import type { Logger } from '../util/log.js';
import { recordingName } from './capture-containers.js';
import { runBaseline } from './train.js';

export interface LearnOptions {
  /** How long (event time, ns) the first container of an image without a baseline is recorded. */
  durationNs: number;
  /** Encoding of the learned baselines (default: improved, 1 s windows, as `chids baseline`). */
  faithful?: boolean;
  windowNs?: number;
  /** Training epochs (default: the model's). */
  epochs?: number;
  seed?: number | null;
  /** A recording stops early past this many bytes of trace text (default 512 MiB): bounded disk. */
  maxBytes?: number;
}

type Phase = 'recording' | 'training' | 'done' | 'failed';

interface Session {
  image: string;
  key: string;
  container: ContainerInfo;
  recorder: LiddsRecorder | null;
  firstSec: number | null;
  lastSec: number | null;
  events: number;
  bytes: number;
  phase: Phase;
}

/** Seconds of a batch's leading timestamp, or null. */
function secOf(ts: string | null): number | null {
  return ts === null ? null : nsDigitsToSec(ts);
}

export class Learner {
  /** By normalized image. */
  private readonly sessions = new Map<string, Session>();
  /** By container key: the container that records for its image. */
  private readonly recording = new Map<string, Session>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly opts: LearnOptions,
    private readonly onLearned: (image: string, dir: string) => Promise<void>,
    private readonly metrics: MonitorMetrics | null,
    private readonly log: Logger,
  ) {}

  /**
   * A container whose image has no baseline: 'recording' if it is the first of its image (its
   * events then go to {@link feed}), 'waiting' if another container of the image records or
   * trains, 'off' if the image was already tried (failed) or the container cannot be learned.
   */
  begin(container: ContainerInfo, image: string, norm: string, format: TraceFormat): 'recording' | 'waiting' | 'off' {
    if (this.closed) return 'off';
    const s = this.sessions.get(norm);
    if (s !== undefined) return s.phase === 'recording' || s.phase === 'training' ? 'waiting' : 'off';
    if (format !== 'lidds') {
      this.log.warn('--learn: this source\'s events cannot be recorded for training (LID-DS text only); container not learned', { container: container.id, image });
      return 'off';
    }
    const session: Session = { image, key: container.key, container, recorder: null, firstSec: null, lastSec: null, events: 0, bytes: 0, phase: 'recording' };
    try {
      session.recorder = new LiddsRecorder(path.join(this.dir, `.learn-${recordingName(norm)}.zip`));
    } catch (err) {
      this.log.error('--learn: cannot record the container', { container: container.id, image, error: (err as Error).message });
      return 'off';
    }
    this.sessions.set(norm, session);
    this.recording.set(container.key, session);
    this.metrics?.learning.set(this.labels(session), 1);
    this.log.info('learning the image: recording the container', { container: container.id, name: container.identity?.name ?? null, image, seconds: this.opts.durationNs / 1e9 });
    return 'recording';
  }

  isRecording(key: string): boolean {
    return this.recording.has(key);
  }

  /** Recorded events of a learning container; training starts once they span the duration. */
  feed(key: string, data: Buffer): void {
    const s = this.recording.get(key);
    if (s === undefined || s.recorder === null || data.length === 0) return;
    s.firstSec ??= secOf(leadingTs(data));
    const last = secOf(lastLeadingTs(data));
    if (last !== null) s.lastSec = last;
    s.recorder.write(data);
    s.bytes += data.length;
    s.events += countLines(data);
    const spanned = s.firstSec !== null && s.lastSec !== null && (s.lastSec - s.firstSec) * 1e9 >= this.opts.durationNs;
    if (spanned || s.bytes >= (this.opts.maxBytes ?? 512 << 20)) this.train(s);
  }

  /** The clock moves on: a container that went quiet still stops recording at the end of its duration. */
  tick(sec: number, nsec: number): void {
    const now = sec + nsec / 1e9;
    for (const s of [...this.recording.values()]) {
      if (s.firstSec !== null && (now - s.firstSec) * 1e9 >= this.opts.durationNs) this.train(s);
    }
  }

  /** Waits for every training under way (tests, and the end of a monitor run). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Images learning now (recording or training). */
  active(): { image: string; container: string; phase: Phase }[] {
    return [...this.sessions.values()].filter((s) => s.phase === 'recording' || s.phase === 'training').map((s) => ({ image: s.image, container: s.container.id, phase: s.phase }));
  }

  /** The stream ended: recordings too short to train are dropped (their temp files removed). */
  close(): void {
    this.closed = true;
    for (const s of [...this.recording.values()]) {
      this.recording.delete(s.key);
      s.recorder?.abort();
      s.recorder = null;
      s.phase = 'failed';
      this.metrics?.learning.remove(this.labels(s));
      this.log.warn('--learn: the stream ended before the container was recorded long enough: no baseline learned', { container: s.container.id, image: s.image, seconds_recorded: s.firstSec !== null && s.lastSec !== null ? s.lastSec - s.firstSec : 0 });
    }
  }

  private labels(s: Session): Record<'container' | 'name' | 'image', string> {
    return { container: s.container.id, name: s.container.identity?.name ?? '', image: s.image };
  }

  private train(s: Session): void {
    this.recording.delete(s.key);
    const recorder = s.recorder!;
    s.recorder = null;
    s.phase = 'training';
    const first = s.firstSec ?? Date.now() / 1000;
    const last = s.lastSec ?? first;
    let zip: string;
    try {
      zip = recorder.finish(
        recordingMeta({
          containers: [{ name: s.container.identity?.name ?? s.container.id, role: 'victim', id: s.container.id, full_id: s.container.containerId, image: s.image, events: s.events }],
          image: s.image,
          containerReady: first,
          warmupEnd: first,
          recordingSeconds: Math.round(last - first),
          exploit: null,
          source: 'CHIDS',
          extra: { chids: { source: 'monitor --learn', container: { id: s.container.id, full_id: s.container.containerId, name: s.container.identity?.name ?? null, image: s.image } } },
        }),
      );
    } catch (err) {
      this.fail(s, err);
      return;
    }
    const outDir = this.target(s.image);
    this.log.info('learning the image: recorded, training a baseline in the background', { container: s.container.id, image: s.image, events: s.events, seconds: Math.round((last - first) * 1000) / 1000, baseline: outDir });
    const job = (async () => {
      // Let the event loop serve the stream before the training starts (it yields between traces and epochs).
      await new Promise((r) => setImmediate(r));
      const r = await runBaseline({
        inputs: [zip],
        outDir,
        faithful: this.opts.faithful ?? false,
        windowNs: this.opts.windowNs ?? 1e9,
        epochs: this.opts.epochs,
        seed: this.opts.seed ?? null,
        image: s.image,
        hooks: { onWarning: (message) => this.log.warn(`--learn: ${message}`, { image: s.image }) },
      });
      this.log.info('learning the image: baseline trained', { image: s.image, baseline: outDir, windows: r.windows, vectors: r.vectors, model: r.model, training_ms: Math.round(r.trainingMs) });
      await this.onLearned(s.image, outDir);
      s.phase = 'done';
      this.metrics?.learning.remove(this.labels(s));
    })()
      .catch((err) => this.fail(s, err))
      .finally(() => {
        rmSync(zip, { force: true });
        this.running.delete(job);
      });
    this.running.add(job);
  }

  private fail(s: Session, err: unknown): void {
    s.phase = 'failed';
    this.metrics?.learning.remove(this.labels(s));
    this.log.error('--learn: no baseline learned for the image; its containers stay unscored', { image: s.image, container: s.container.id, error: (err as Error).message });
  }

  /** DIR/<image name>, or a fresh variant of it when that name is taken (an image-less or other baseline). */
  private target(image: string): string {
    // Without the registry (a first component with '.' or ':', or localhost, as the runtimes read it): `web_1` for `registry.example/web:1`.
    const first = image.indexOf('/');
    const host = first > 0 ? image.slice(0, first) : '';
    const local = host !== '' && (host.includes('.') || host.includes(':') || host === 'localhost') ? image.slice(first + 1) : image;
    const base = recordingName(local.replace(/[:@]/g, '_'));
    let dir = path.join(this.dir, base);
    for (let n = 2; existsSync(dir) && n < 1000; n++) dir = path.join(this.dir, `${base}-${n}`);
    return dir;
  }
}
