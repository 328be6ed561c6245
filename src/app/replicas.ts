/**
 * `chids replicas`: recordings of replicas of one service, made over the same span, compared
 * window by window without training (the ReplicaWatcher method, src/model/replicas/). A replica
 * whose activity differs from its siblings' (an attacked one: a shell, /etc/shadow, a connect
 * out) is flagged.
 *
 * The recordings are read side by side, each as a stream; a replica that runs ahead of the
 * slowest one by more than MAX_AHEAD closed windows waits, so memory stays bounded by
 * replicas × MAX_AHEAD × aspects × the set cap whatever the recordings' length.
 */

import { readEvents } from '../encode/pipeline.js';
import { type ComparedWindow, ReplicaComparison, type ReplicaVerdict, type Similarity } from '../model/replicas/compare.js';
import { NameTable } from '../trace/names.js';
import { planSources } from '../trace/sources/plan.js';
import { openSource, type TraceSource } from '../trace/sources/readers.js';
import { ChidsError } from '../util/errors.js';

/**
 * Defaults, measured on lab replicas (`npm run bench:replicas`: groups of three web replicas,
 * `chids lab record --replicas 3 --seconds 45`, 8 attack-free groups and 12 attack groups):
 * - similarity `programs` (`counted` with each program's own share of new items in syscalls,
 *   categories and directories): at the threshold the benchmark's rule picks for each
 *   similarity, it detected 12/12 attacked replicas with 0/36 false alarms, and 6/6 with 0/18
 *   on a second set recorded with other seeds (`counted`: 11/12 and 5/6, both missing Redis
 *   writing its snapshot into /root/.ssh, a few per cent of a busy replica's items but most of
 *   Redis's own; `covered`: 10/12, 0/36; `nearest` and `mean`: 7/12 and 8/12 with 11/36 and
 *   16/36, normal replicas scoring up to 0.95 with them: a request near a window's edge counted
 *   in different windows by different replicas). Only the count part (`counted`, `programs`)
 *   sees the brute force (the same login requests normal users send, more of them);
 * - threshold 0.15: the benchmark's rule, which sees attack-free groups only: the highest score
 *   in its 4 calibration groups (0.137: one replica served two more requests of the status CGI,
 *   dozens of processes each), rounded up to the next 0.05;
 * - window 10 s: kept from the first, synthetic measurement (with 5 s windows a rare CGI child
 *   seen in one replica only made normal synthetic replicas score 0.894 with the mean); not tuned
 *   on the lab groups.
 * On the synthetic replicas of the tests (test/helpers/lidds-dataset.ts) normal replicas score
 * 0.000 and the attacked one 1.09 with `counted`, 1.52 with `programs` (its shell's syscalls and
 * directories are mostly its own).
 */
export const DEFAULT_WINDOW_NS = 10_000_000_000;
export const DEFAULT_THRESHOLD = 0.15;
export const DEFAULT_SIMILARITY: Similarity = 'programs';
/** Closed windows a replica may hold while waiting for the slowest one. */
const MAX_AHEAD = 8;

export interface ReplicasOptions {
  files: readonly string[];
  windowNs?: number;
  threshold?: number;
  similarity?: Similarity;
  alignStarts?: boolean;
  onWarning?: (msg: string) => void;
}

export interface ReplicaResult extends ReplicaVerdict {
  file: string;
  events: number;
}

export interface ReplicasResult {
  threshold: number;
  window_ns: number;
  similarity: Similarity;
  align_starts: boolean;
  /** Windows compared (inside the span all replicas cover) and outside it (not compared). */
  windows_compared: number;
  windows_outside_span: number;
  replicas: ReplicaResult[];
  windows: ComparedWindow[];
}

export async function runReplicas(opts: ReplicasOptions): Promise<ReplicasResult> {
  const windowNs = opts.windowNs ?? DEFAULT_WINDOW_NS;
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  const similarity = opts.similarity ?? DEFAULT_SIMILARITY;
  if (windowNs < 1_000_000) throw new ChidsError('--window must be at least 1ms for replica comparison');
  const planned = await planSources(opts.files, (p, reason) => {
    if (!reason.startsWith('LID-DS')) opts.onWarning?.(`passed over ${p}: ${reason}`);
  });
  if (planned.some((p) => p.path === '-')) throw new ChidsError('replicas are read from files; stdin (-) is not supported');
  if (planned.length < 2) throw new ChidsError(`comparing replicas needs at least two recordings (got ${planned.length})`);
  // Every replica is needed for the comparison: a bad one fails the run, wherever it was found.
  const sources: TraceSource[] = [];
  for (const p of planned) sources.push(await openSource(p.path));

  const windows: ComparedWindow[] = [];
  const cmp = new ReplicaComparison(sources.length, { windowNs, threshold, similarity, alignStarts: opts.alignStarts, onWindow: (w) => windows.push(w) });
  const waiting = new Set<() => void>();
  const wake = () => {
    cmp.drain();
    for (const w of waiting) w();
    waiting.clear();
  };
  const events = new Array<number>(sources.length).fill(0);
  // One failing recording fails the run: the others stop reading instead of running to their end.
  let failed = false;
  let firstFailure: { err: unknown } | null = null;

  const readOne = async (src: TraceSource, r: number) => {
    const names = new NameTable();
    const gated = {
      path: src.path,
      hint: src.hint,
      textBytes: src.textBytes,
      async *chunks() {
        for await (const c of src.chunks()) {
          if (failed) return;
          yield c;
          wake();
          while (cmp.pending(r) >= MAX_AHEAD && !cmp.othersFinished(r)) await new Promise<void>((res) => waiting.add(res));
        }
      },
    };
    try {
      // A reader stopped because another failed ends mid-file: its cut line is ours, not the recording's.
      const onWarning = (msg: string) => {
        if (!failed) opts.onWarning?.(msg);
      };
      await readEvents(gated, names, { faithful: false, windowNs, onWarning }, (ev) => {
        events[r]++;
        cmp.event(r, ev, names.name(ev.nameId));
      });
    } catch (err) {
      // The first failure is the run's; a reader stopped because of it then fails too (it read
      // nothing, or a cut line), which says nothing about its own recording.
      if (!failed) firstFailure = { err };
      failed = true;
      throw err;
    } finally {
      cmp.finish(r);
      wake();
    }
  };
  // Wait for every reader, failed or stopped, so that nothing of this run is still reading (or
  // warning) once it returns.
  await Promise.allSettled(sources.map(readOne));
  if (firstFailure !== null) throw (firstFailure as { err: unknown }).err;

  const verdicts = cmp.verdicts();
  if (cmp.late > 0) opts.onWarning?.(`${cmp.late} events were out of time order and counted in a later window`);
  if (cmp.compared === 0) {
    throw new ChidsError(
      `the recordings share no time window: replicas must be recorded over the same span, and only whole windows of it are compared (at least ${(2 * windowNs) / 1e9}s; a shorter --window helps), or give --align-starts to compare them from their own starts`,
    );
  }
  return {
    threshold,
    window_ns: windowNs,
    similarity,
    align_starts: opts.alignStarts === true,
    windows_compared: cmp.compared,
    windows_outside_span: cmp.outsideSpan,
    replicas: verdicts.map((v, i) => ({ file: sources[i].path, events: events[i], ...v })),
    windows,
  };
}
