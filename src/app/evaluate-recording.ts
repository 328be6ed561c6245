/**
 * One recording of `chids evaluate`: read, encode and score it. Shared by the in-process loop
 * (src/app/evaluate.ts) and the worker threads (evaluate-worker.ts), so both produce the same
 * result for the same recording.
 */
import type { NameTable } from '../trace/names.js';
import type { RecordingLabels, TraceSource } from '../trace/sources/readers.js';
import { encodeTrace } from '../encode/pipeline.js';
import type { Vocabulary } from '../encode/vocabulary.js';
import type { Detector, WindowExplanation } from '../model/detector.js';
import type { RunHooks } from './train.js';
import { forEachSource, type PlannedSource, type SkippedInput } from '../trace/sources/plan.js';
import { flagsAt } from '../engine/verdicts.js';

export type RecordingClass = 'normal' | 'attack';

export interface RecordingResult {
  file: string;
  class: RecordingClass;
  events: number;
  windows: number;
  /** Non-empty windows, the ones scored. */
  vectors: number;
  /** Highest window error (the recording's score); 0 when it has no scored window. */
  max_error: number;
  /** Anomalous at each θ. */
  flagged: boolean[];
  /** Start of the first window: epoch ns (LID-DS) or ns since midnight (sysdig text), as a decimal string. */
  start_ns: string;
  window_ns: number;
  /** Error of every window in order; null for an empty window. */
  window_errors: (number | null)[];
  /**
   * For detectors that explain their scores (calibrated): per window, the feature that gave the
   * score, its value and its normal reference (score = value / reference); null for an empty window.
   */
  window_explanations?: (WindowExplanation | null)[];
  /** LID-DS labels, when the recording has them. */
  labels: RecordingLabels | null;
}

/** A recording to evaluate: where it is and which class it belongs to. */
export interface EvaluationJob extends PlannedSource {
  cls: RecordingClass;
}

/** What stays the same from one recording to the next. */
export interface RecordingContext {
  vocab: Vocabulary;
  scorer: Detector;
  thresholds: number[];
  faithful: boolean;
  windowNs: number;
  maxEmptyWindows: number | undefined;
  names: NameTable;
  timing: { score_ms: number; windows_scored: number };
}

/**
 * Recording `index` of `total`: its result, or null with the reason in `skipped` when it is a
 * bad member of a directory (a named file's failure is thrown: forEachSource's rule).
 */
export async function evaluateOne(
  job: EvaluationJob,
  index: number,
  total: number,
  ctx: RecordingContext,
  hooks: RunHooks,
): Promise<{ result: RecordingResult | null; skipped: SkippedInput[] }> {
  const skipped: SkippedInput[] = [];
  const [r] = await forEachSource(
    [job],
    async (src) => {
      hooks.onTraceStart?.(index, total, src.path, src.textBytes);
      return scoreRecording(src, ctx.vocab, ctx.scorer, ctx.thresholds, job.cls, ctx.faithful, ctx.windowNs, ctx.maxEmptyWindows, hooks, ctx.names, ctx.timing);
    },
    skipped,
    hooks.onWarning,
  );
  return { result: r ?? null, skipped };
}

async function scoreRecording(
  src: TraceSource,
  vocab: Vocabulary,
  scorer: Detector,
  thresholds: number[],
  cls: RecordingClass,
  faithful: boolean,
  windowNs: number,
  maxEmptyWindows: number | undefined,
  hooks: RunHooks,
  names: NameTable,
  timing: { score_ms: number; windows_scored: number },
): Promise<RecordingResult> {
  const tap = scorer.newTap?.(names) ?? null;
  let rows = new Float64Array(3 * 256);
  let split: Float64Array | undefined;
  let n = 0;
  const windowHasAv: boolean[] = [];
  const summary = await encodeTrace(
    src,
    vocab,
    { faithful, windowNs, maxEmptyWindows, onBytes: hooks.onBytes, onWarning: hooks.onWarning, tap: tap ?? undefined },
    (w) => {
      windowHasAv.push(w.av !== null);
      if (w.av === null) return;
      if (3 * (n + 1) > rows.length) {
        const bigger = new Float64Array(rows.length * 2);
        bigger.set(rows);
        rows = bigger;
      }
      if (w.split !== undefined) {
        if (split === undefined) split = new Float64Array((2 * rows.length) / 3);
        else if (2 * (n + 1) > split.length) {
          const bigger = new Float64Array((2 * rows.length) / 3);
          bigger.set(split);
          split = bigger;
        }
        split[2 * n] = w.split[0];
        split[2 * n + 1] = w.split[1];
      }
      rows[3 * n] = w.av[0];
      rows[3 * n + 1] = w.av[1];
      rows[3 * n + 2] = w.av[2];
      n++;
    },
    names,
  );
  hooks.onTraceEnd?.(summary);
  const ts = performance.now();
  const errors = n > 0 ? scorer.scoreRecording({ avs: rows.subarray(0, 3 * n), n, tap, split: split?.subarray(0, 2 * n) }) : new Float64Array(0);
  timing.score_ms += performance.now() - ts;
  timing.windows_scored += n;
  let maxError = 0;
  for (let i = 0; i < errors.length; i++) if (errors[i] > maxError) maxError = errors[i];
  const windowErrors: (number | null)[] = [];
  let j = 0;
  for (const has of windowHasAv) windowErrors.push(has ? errors[j++] : null);
  let explanations: (WindowExplanation | null)[] | undefined;
  if (scorer.explain) {
    explanations = [];
    let k = 0;
    for (const has of windowHasAv) {
      explanations.push(has ? scorer.explain(rows.subarray(3 * k, 3 * k + 3), errors[k], split?.subarray(2 * k, 2 * k + 2)) : null);
      if (has) k++;
    }
  }
  let labels: RecordingLabels | null = null;
  try {
    const full = await src.labels();
    // The label fields, not the whole document (a LID-DS .json lists every client container).
    labels = full && { ...full, raw: undefined };
  } catch (err) {
    hooks.onWarning?.(`${(err as Error).message} (labels ignored)`);
  }
  return {
    file: src.path,
    class: cls,
    events: summary.events,
    windows: summary.windows,
    vectors: n,
    max_error: maxError,
    flagged: flagsAt(maxError, thresholds),
    start_ns: summary.startNs ?? '0',
    window_ns: windowNs,
    window_errors: windowErrors,
    ...(explanations ? { window_explanations: explanations } : {}),
    labels,
  };
}
