/**
 * `chids capture --all-containers --out DIR`: one LID-DS recording per container of the node,
 * `DIR/<container name>.zip`, its JSON metadata holding the container's id, name and image (so
 * that `chids baseline` can tell which image a baseline is for).
 *
 * A container's recording is opened once the runtime has named it (its first events wait in
 * memory meanwhile, bounded: past 16 MiB it is named by its id); every recording is completed and
 * renamed into place at the end, as `chids capture` does for one.
 */
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { lastLeadingTs, leadingTs } from '../capture/batch-lines.js';
import type { ContainerInfo } from '../capture/containers.js';
import { LiddsRecorder } from '../capture/recorder.js';
import { captureMeta, type CaptureRunOptions, runCaptureSource } from './capture-run.js';

export interface CaptureAllOptions extends CaptureRunOptions {
  /** The directory the recordings go to. */
  out: string;
}

export interface CaptureAllSummary {
  dir: string;
  seconds: number;
  dropped: number;
  restarts: number;
  end: string;
  recordings: { path: string; container: string; full_id: string | null; name: string | null; image: string | null; events: number }[];
}

const PENDING_MAX = 16 << 20;

interface PerContainer {
  info: ContainerInfo;
  events: number;
  firstNs: string | null;
  lastNs: string | null;
  recorder: LiddsRecorder | null;
  pending: Buffer[];
  pendingBytes: number;
}

/** A file name from a container name: letters, digits, `._-` kept, the rest `_`. */
export function recordingName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return s === '' ? 'container' : s.slice(0, 200);
}

export async function runCaptureAll(o: CaptureAllOptions): Promise<CaptureAllSummary> {
  const log = o.log;
  const notZip = () => {
    if (path.extname(o.out).toLowerCase() === '.zip') throw new ChidsError(`--out ${o.out}: with --all-containers, --out is a directory (one DIR/<container name>.zip per container)`);
  };
  return runCaptureSource(
    o,
    (source) => {
      const dir = path.resolve(o.out);
      const byKey = new Map<string, PerContainer>();
      const usedNames = new Set<string>();
      const open = (c: PerContainer): void => {
        const i = c.info.identity;
        let name = recordingName(i?.state === 'resolved' && i.name ? i.name : c.info.id);
        if (usedNames.has(name)) name = `${name}-${c.info.id}`;
        usedNames.add(name);
        c.recorder = new LiddsRecorder(path.join(dir, `${name}.zip`));
        for (const b of c.pending) c.recorder.write(b);
        c.pending = [];
        c.pendingBytes = 0;
        log.info('recording container', { container: c.info.id, name: i?.name ?? null, image: i?.image ?? null, out: c.recorder.target });
      };
      const ready = (c: PerContainer) => c.info.identity === undefined || c.info.identity.state !== 'pending' || c.pendingBytes > PENDING_MAX;
      return {
        started: { out: dir, all_containers: true },
        completes: 'the recordings',
        consume: (b) => {
          let c = byKey.get(b.container.key);
          if (c === undefined) {
            c = { info: b.container, events: 0, firstNs: null, lastNs: null, recorder: null, pending: [], pendingBytes: 0 };
            byKey.set(b.container.key, c);
          }
          c.events += b.lines;
          c.firstNs ??= leadingTs(b.data);
          c.lastNs = lastLeadingTs(b.data) ?? c.lastNs;
          if (c.recorder !== null) c.recorder.write(b.data);
          else {
            c.pending.push(b.data);
            c.pendingBytes += b.data.length;
            if (ready(c)) open(c);
          }
        },
        // Containers whose name came in the meantime are opened as it comes, not at their next event.
        alongside: () => {
          const opener = setInterval(() => {
            for (const c of byKey.values()) if (c.recorder === null && ready(c)) open(c);
          }, 200);
          return () => clearInterval(opener);
        },
        finish: async ({ end, dropped, restarts, elapsed }) => {
          if (byKey.size === 0) throw new ChidsError(`no container events were captured (${end.detail ?? end.reason}); nothing written to ${o.out}`);
          await source.settle?.();
          const seconds = elapsed();
          const recordings: CaptureAllSummary['recordings'] = [];
          for (const c of [...byKey.values()].sort((a, b) => b.events - a.events)) {
            if (c.recorder === null) open(c);
            const i = c.info.identity;
            const image = i?.image ?? null;
            const meta = captureMeta({
              containers: [{ name: i?.name ?? c.info.id, role: 'victim', id: c.info.id, full_id: c.info.containerId, image, events: c.events }],
              image: image ?? `container:${c.info.id}`,
              firstNs: c.firstNs,
              lastNs: c.lastNs,
              startSec: () => Date.now() / 1000,
              endSec: (startSec) => startSec,
              chids: {
                source: source.kind,
                container: {
                  id: c.info.id,
                  full_id: c.info.containerId,
                  name: i?.name ?? null,
                  image,
                  image_repository: i?.repository ?? null,
                  image_tag: i?.tag ?? null,
                  image_id: i?.imageId ?? null,
                  pod: i?.podName ?? null,
                  namespace: i?.podNamespace ?? null,
                },
                events: c.events,
                dropped,
                restarts,
                created: new Date().toISOString(),
                end: end.detail ?? end.reason,
              },
            });
            const written = c.recorder!.finish(meta);
            recordings.push({ path: written, container: c.info.id, full_id: c.info.containerId, name: i?.name ?? null, image, events: c.events });
          }
          const summary: CaptureAllSummary = { dir, seconds, dropped, restarts, end: end.detail ?? end.reason, recordings };
          log.info('captures written', summary as unknown as Record<string, unknown>);
          return summary;
        },
        abort: () => {
          for (const c of byKey.values()) c.recorder?.abort();
        },
      };
    },
    notZip,
  );
}
