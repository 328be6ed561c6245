/**
 * `chids capture`: records a live container (or a stream on stdin) into a LID-DS 2021
 * recording, for training on real behaviour: the same sources as `chids monitor`, written to
 * `NAME.zip` (`NAME.sc` + `NAME.json`) instead of being scored.
 *
 * The capture ends after `--seconds`, when the traced command or processes end, or on
 * SIGINT/SIGTERM; in every case the recording is completed and renamed into place.
 */
import { performance } from 'node:perf_hooks';
import { ChidsError } from '../util/errors.js';
import { recordingMeta } from '../trace/lidds/metadata.js';
import type { ContainerInfo } from '../capture/containers.js';
import type { Logger } from '../util/log.js';
import { livePipe } from '../capture/pipe.js';
import { LiddsRecorder, } from '../capture/recorder.js';
import { openLiveSource } from '../capture/open.js';
import { type SourceSpec } from '../capture/source.js';
import { onStopSignals } from '../util/signals.js';

export interface CaptureOptions {
  source: Omit<SourceSpec, 'log'>;
  /** The recording, `DIR/NAME.zip`. */
  out: string;
  /** Stop after this many seconds (null: until the source ends or a signal). */
  seconds: number | null;
  log: Logger;
  queueBytes?: number;
  handleSignals?: boolean;
  signal?: AbortSignal;
  onReady?: (info: Record<string, unknown>) => void;
}

export interface CaptureSummary {
  path: string;
  events: number;
  bytes: number;
  zip_bytes: number;
  seconds: number;
  dropped: number;
  restarts: number;
  containers: { id: string; key: string; events: number }[];
  end: string;
}

export async function runCapture(o: CaptureOptions): Promise<CaptureSummary> {
  const log = o.log;
  if (o.seconds !== null && !(o.seconds > 0)) throw new ChidsError('--seconds must be a positive number');
  const source = await openLiveSource({ ...o.source, log });
  const recorder = new LiddsRecorder(o.out);
  const ac = new AbortController();
  const stop = o.signal ? AbortSignal.any([ac.signal, o.signal]) : ac.signal;
  let removeSignalHandlers = (): void => undefined;
  let timer: NodeJS.Timeout | null = null;
  let finished = false;
  try {
    const containers = new Map<string, { info: ContainerInfo; events: number }>();
    let events = 0;
    let dropped = 0;
    let restarts = 0;
    let firstNs: string | null = null;
    let lastNs: string | null = null;
    let formatChecked = false;
    const write = (c: ContainerInfo, data: Buffer, lines: number) => {
      if (!formatChecked) {
        formatChecked = true;
        if (source.format !== 'lidds') throw new ChidsError('capture writes LID-DS recordings: the input on stdin must be LID-DS lines (--format lidds), not sysdig text');
      }
      const n = lines > 0 ? lines : countLines(data);
      events += n;
      let e = containers.get(c.key);
      if (!e) {
        containers.set(c.key, (e = { info: c, events: 0 }));
        log.info('recording container', { container: c.id, key: c.key, pidns: c.pidns, cgroup: c.cgroup });
      }
      e.events += n;
      firstNs ??= firstTs(data);
      lastNs = lastTs(data) ?? lastNs;
      recorder.write(data);
    };
    let writeError: unknown = null;
    const pipe = livePipe(source, o.queueBytes ?? 64 << 20, {
      consume: (b) => write(b.container, b.data, b.lines),
      dropped: (lines) => {
        dropped += lines;
      },
      lost: (n) => {
        dropped += n;
      },
      restarted: () => {
        restarts++;
      },
      failed: (err) => {
        writeError = err;
        ac.abort();
      },
      ready: (info) => {
        log.info('source ready', info);
        o.onReady?.(info);
        if (o.seconds !== null && timer === null) {
          timer = setTimeout(() => {
            log.info('capture time is up', { seconds: o.seconds });
            ac.abort();
          }, o.seconds * 1000);
        }
      },
    });
    const sink = pipe.sink;
    if (o.handleSignals ?? true) {
      removeSignalHandlers = onStopSignals((signal) => {
        log.info('signal received: completing the recording', { signal });
        ac.abort();
      });
    }
    const t0 = performance.now();
    const startWall = Date.now() / 1000;
    log.info('capture started', { source: source.kind, out: recorder.target, seconds: o.seconds });
    const end = await source.run(sink, stop);
    pipe.drain();
    if (writeError) throw writeError;
    if (events === 0) throw new ChidsError(`no events were captured (${end.detail ?? end.reason}); nothing written to ${o.out}`);
    const seconds = (performance.now() - t0) / 1000;
    if (containers.size > 1) log.warn('the recording mixes several containers (LID-DS lines carry no container id)', { containers: [...containers.values()].map((c) => c.info.id) });
    const startSec = firstNs ? nsToSec(firstNs) : startWall;
    const endSec = lastNs ? nsToSec(lastNs) : startSec + seconds;
    const list = [...containers.values()].sort((a, b) => b.events - a.events);
    const main = list[0].info;
    const meta = recordingMeta({
      containers: list.map((c) => ({ name: c.info.id, role: 'victim', pidns: c.info.pidns, cgroup: c.info.cgroup, events: c.events })),
      image: o.source.cmd ?? (o.source.pids?.length ? `pid:${o.source.pids.join(',')}` : o.source.kind),
      containerReady: startSec,
      warmupEnd: startSec,
      recordingSeconds: Math.round(endSec - startSec),
      exploit: null,
      source: 'CHIDS',
      extra: {
        chids: {
        source: source.kind,
        container: main.id,
        pids: o.source.pids ?? [],
        cmd: o.source.cmd ?? null,
        events,
        dropped,
        restarts,
        created: new Date().toISOString(),
        end: end.detail ?? end.reason,
      },
      },
    });
    const written = recorder.finish(meta);
    finished = true;
    const summary: CaptureSummary = {
      path: written,
      events,
      bytes: recorder.textBytes,
      zip_bytes: recorder.zipBytes,
      seconds,
      dropped,
      restarts,
      containers: list.map((c) => ({ id: c.info.id, key: c.info.key, events: c.events })),
      end: end.detail ?? end.reason,
    };
    log.info('capture written', summary as unknown as Record<string, unknown>);
    return summary;
  } finally {
    if (timer) clearTimeout(timer);
    removeSignalHandlers();
    if (!finished) recorder.abort();
  }
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function firstTs(b: Buffer): string | null {
  const m = /^\s*(\d{10,})\s/.exec(b.subarray(0, 64).toString('latin1'));
  return m ? m[1] : null;
}

function lastTs(b: Buffer): string | null {
  let end = b.length;
  while (end > 0 && b[end - 1] === 10) end--;
  const start = b.lastIndexOf(10, end - 1) + 1;
  return firstTs(b.subarray(start, Math.min(end, start + 64)));
}

function nsToSec(ns: string): number {
  return Number(ns.slice(0, -9)) + Number(ns.slice(-9)) / 1e9;
}
