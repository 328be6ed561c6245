/**
 * `chids evaluate`: score normal and attack recordings with a trained baseline and report the
 * detection rate and false-alarm rate at each θ (the reference's evaluation table).
 *
 * A recording is anomalous at θ when any of its windows' reconstruction error exceeds
 * max(training error) × θ. Detection rate = share of attack recordings flagged, false-alarm
 * rate = share of normal recordings flagged.
 */
import { NameTable } from '../trace/names.js';
import type { RecordingLabels, TraceSource } from '../trace/sources/readers.js';
import { encodeTrace } from '../encode/pipeline.js';
import type { Vocabulary } from '../encode/vocabulary.js';
import type { Detector, WindowExplanation } from '../model/detector.js';
import { ChidsError } from '../util/errors.js';
import { resolveEncoding } from '../engine/encoding.js';
import { readBaselineData, type ArtifactPaths } from '../engine/baseline-dir.js';
import type { RunHooks } from './train.js';
import { forEachSource, planSources, reportUnexpected, type SkippedInput } from '../trace/sources/plan.js';
import { computeMetrics, type Metrics } from '../engine/metrics.js';
import { THETAS, flagsAt } from '../engine/verdicts.js';
import { loadDetector } from '../model/registry.js';

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

export interface ClassCounts {
  recordings: number;
  /** Recordings flagged at each θ. */
  flagged: number[];
}

export interface EvaluationResult {
  theta: number[];
  thresholds: number[];
  detection_rate: (number | null)[];
  false_alarm_rate: (number | null)[];
  counts: { normal: ClassCounts; attack: ClassCounts };
  skipped: (SkippedInput & { class: RecordingClass })[];
  recordings: RecordingResult[];
  faithful: boolean;
  window_ns: number;
  model: string;
  /** Wall time of reading, encoding and scoring the recordings (model loaded), and of the detector's scoring alone. */
  timing?: { total_ms: number; score_ms: number; windows_scored: number };
  /** LID-DS window-level metrics, latency, CFA, precision/F1 and ROC/AUC (src/engine/metrics.ts). */
  metrics: Metrics;
}

export interface EvaluateOptions {
  normal: readonly string[];
  attack: readonly string[];
  artifacts: ArtifactPaths;
  /** Encoding mode; defaults to the baseline's (from its manifest), else improved. */
  faithful?: boolean;
  windowNs?: number;
  /** Work budget: empty windows a trace may open between its events (default DEFAULT_MAX_EMPTY_WINDOWS). */
  maxEmptyWindows?: number;
  hooks?: RunHooks;
}

export async function runEvaluate(opts: EvaluateOptions): Promise<EvaluationResult> {
  const hooks = opts.hooks ?? {};
  const data = await readBaselineData(opts.artifacts);
  if (data.thresholds === null) throw new ChidsError('no threshold list given (--tl)');
  if (opts.artifacts.model === null) throw new ChidsError('no model given (--tm)');
  const thresholds = data.thresholds;
  const { faithful, windowNs } = resolveEncoding(data.manifest, opts, hooks.onWarning);
  const normal = await planSources(opts.normal, reportUnexpected(hooks.onWarning));
  const attack = await planSources(opts.attack, reportUnexpected(hooks.onWarning));
  if (normal.length + attack.length === 0) throw new ChidsError('no recordings to evaluate (--ns, --ms)');
  const scorer = await loadDetector(opts.artifacts.model, data.manifest?.model.type);
  const timing = { total_ms: 0, score_ms: 0, windows_scored: 0 };
  const t0 = performance.now();
  try {
    const all = [...normal.map((p) => ({ ...p, cls: 'normal' as const })), ...attack.map((p) => ({ ...p, cls: 'attack' as const }))];
    const skipped: EvaluationResult['skipped'] = [];
    const recordings: RecordingResult[] = [];
    const names = new NameTable();
    for (let i = 0; i < all.length; i++) {
      const one: SkippedInput[] = [];
      const [r] = await forEachSource(
        [all[i]],
        async (src) => {
          hooks.onTraceStart?.(i, all.length, src.path, src.textBytes);
          const r = await scoreRecording(src, data.vocab, scorer, thresholds, all[i].cls, faithful, windowNs, opts.maxEmptyWindows, hooks, names, timing);
          return r;
        },
        one,
        hooks.onWarning,
      );
      for (const s of one) skipped.push({ ...s, class: all[i].cls });
      if (r) recordings.push(r);
    }
    const counts = {
      normal: classCounts(recordings, 'normal'),
      attack: classCounts(recordings, 'attack'),
    };
    const rate = (c: ClassCounts) => c.flagged.map((f) => (c.recordings === 0 ? null : f / c.recordings));
    const theta = [...THETAS];
    return {
      theta,
      thresholds,
      detection_rate: rate(counts.attack),
      false_alarm_rate: rate(counts.normal),
      counts,
      skipped,
      recordings,
      faithful,
      window_ns: windowNs,
      model: scorer.kind,
      timing: { ...timing, total_ms: performance.now() - t0 },
      metrics: computeMetrics({ theta, thresholds, recordings }),
    };
  } finally {
    scorer.dispose();
  }
}

function classCounts(recs: RecordingResult[], cls: RecordingClass): ClassCounts {
  const mine = recs.filter((r) => r.class === cls);
  return { recordings: mine.length, flagged: THETAS.map((_, i) => mine.filter((r) => r.flagged[i]).length) };
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
      rows[3 * n] = w.av[0];
      rows[3 * n + 1] = w.av[1];
      rows[3 * n + 2] = w.av[2];
      n++;
    },
    names,
  );
  hooks.onTraceEnd?.(summary);
  const ts = performance.now();
  const errors = n > 0 ? scorer.scoreRecording({ avs: rows.subarray(0, 3 * n), n, tap }) : new Float64Array(0);
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
      explanations.push(has ? scorer.explain(rows.subarray(3 * k, 3 * k + 3), errors[k]) : null);
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
