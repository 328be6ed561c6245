/**
 * `chids capture`: records a live container (or a stream on stdin) into a LID-DS 2021
 * recording, for training on real behaviour: the same sources as `chids monitor`, written to
 * `NAME.zip` (`NAME.sc` + `NAME.json`) instead of being scored.
 *
 * The capture ends after `--seconds`, when the traced command or processes end, or on
 * SIGINT/SIGTERM; in every case the recording is completed and renamed into place.
 */
import { ChidsError } from '../util/errors.js';
import { countLines, lastLeadingTs, leadingTs } from '../capture/batch-lines.js';
import type { ContainerInfo } from '../capture/containers.js';
import { LiddsRecorder } from '../capture/recorder.js';
import { captureMeta, type CaptureRunOptions, runCaptureSource } from './capture-run.js';

export interface CaptureOptions extends CaptureRunOptions {
  /** The recording, `DIR/NAME.zip`. */
  out: string;
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
  return runCaptureSource(o, (source) => {
    const recorder = new LiddsRecorder(o.out);
    const containers = new Map<string, { info: ContainerInfo; events: number }>();
    let events = 0;
    let firstNs: string | null = null;
    let lastNs: string | null = null;
    let formatChecked = false;
    return {
      started: { out: recorder.target },
      completes: 'the recording',
      consume: ({ container: c, data, lines }) => {
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
        firstNs ??= leadingTs(data);
        lastNs = lastLeadingTs(data) ?? lastNs;
        recorder.write(data);
      },
      finish: ({ end, dropped, restarts, startWall, elapsed }) => {
        if (events === 0) throw new ChidsError(`no events were captured (${end.detail ?? end.reason}); nothing written to ${o.out}`);
        const seconds = elapsed();
        if (containers.size > 1) log.warn('the recording mixes several containers (LID-DS lines carry no container id)', { containers: [...containers.values()].map((c) => c.info.id) });
        const list = [...containers.values()].sort((a, b) => b.events - a.events);
        const main = list[0].info;
        const meta = captureMeta({
          containers: list.map((c) => ({ name: c.info.id, role: 'victim', pidns: c.info.pidns, cgroup: c.info.cgroup, events: c.events })),
          image: o.source.cmd ?? (o.source.pids?.length ? `pid:${o.source.pids.join(',')}` : o.source.kind),
          firstNs,
          lastNs,
          startSec: () => startWall,
          endSec: (startSec) => startSec + seconds,
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
        });
        const written = recorder.finish(meta);
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
      },
      abort: () => recorder.abort(),
    };
  });
}
