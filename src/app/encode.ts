/**
 * `chids encode`: anomaly vectors of every window of some traces, against a training
 * vocabulary, without any model (and without loading TF.js).
 */
import { NameTable } from '../trace/names.js';
import { encodeTrace } from '../encode/pipeline.js';
import type { AnomalyVector } from '../encode/anomaly.js';
import { ChidsError } from '../util/errors.js';
import { resolveEncoding } from '../engine/encoding.js';
import { readBaselineData, type ArtifactPaths } from '../engine/baseline-dir.js';
import type { RunHooks } from './train.js';
import { forEachSource, planSources, reportUnexpected, type SkippedInput } from '../trace/sources/plan.js';

export interface WindowLine {
  file: string;
  window: number;
  /** Window start in ns: epoch (LID-DS) or since midnight (sysdig text). */
  start_ns: bigint;
  events: number;
  /** [] for an empty window, as the reference. */
  av: AnomalyVector | [];
}

export interface EncodeFilesOptions {
  files: readonly string[];
  artifacts: ArtifactPaths;
  faithful?: boolean;
  windowNs?: number;
  /** Work budget: empty windows a trace may open between its events (default DEFAULT_MAX_EMPTY_WINDOWS). */
  maxEmptyWindows?: number;
  hooks?: RunHooks;
}

export async function encodeFiles(
  opts: EncodeFilesOptions,
  onWindow: (w: WindowLine) => void,
): Promise<{ traces: number; windows: number; skipped: SkippedInput[] }> {
  const hooks = opts.hooks ?? {};
  const data = await readBaselineData({ ...opts.artifacts, thresholds: null, model: null });
  const { faithful, windowNs } = resolveEncoding(data.manifest, opts, hooks.onWarning);
  const planned = await planSources(opts.files, reportUnexpected(hooks.onWarning));
  if (planned.length === 0) throw new ChidsError('no traces to encode');
  const skipped: SkippedInput[] = [];
  const names = new NameTable();
  let windows = 0;
  const done = await forEachSource(
    planned,
    async (src, i) => {
      hooks.onTraceStart?.(i, planned.length, src.path, src.textBytes);
      const summary = await encodeTrace(
        src,
        data.vocab,
        { faithful, windowNs, maxEmptyWindows: opts.maxEmptyWindows, onBytes: hooks.onBytes, onWarning: hooks.onWarning },
        (w) => {
          windows++;
          onWindow({ file: src.path, window: w.index, start_ns: w.startNs, events: w.events, av: w.av ?? [] });
        },
        names,
      );
      hooks.onTraceEnd?.(summary);
      return summary;
    },
    skipped,
    hooks.onWarning,
  );
  return { traces: done.length, windows, skipped };
}
