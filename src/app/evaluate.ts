/**
 * `chids evaluate`: score normal and attack recordings with a trained baseline and report the
 * detection rate and false-alarm rate at each θ (the reference's evaluation table).
 *
 * A recording is anomalous at θ when any of its windows' reconstruction error exceeds
 * max(training error) × θ. Detection rate = share of attack recordings flagged, false-alarm
 * rate = share of normal recordings flagged.
 */
import { NameTable } from '../trace/names.js';
import { ChidsError } from '../util/errors.js';
import { resolveEncoding } from '../engine/encoding.js';
import { readBaselineData, type ArtifactPaths } from '../engine/baseline-dir.js';
import type { RunHooks } from './train.js';
import { planSources, reportUnexpected, type SkippedInput } from '../trace/sources/plan.js';
import { computeMetrics, type Metrics } from '../engine/metrics.js';
import { THETAS } from '../engine/verdicts.js';
import { loadDetector } from '../model/registry.js';
import { type Jobs, jobsFor } from './jobs.js';
import { evaluateOne, type EvaluationJob, type RecordingClass, type RecordingResult } from './evaluate-recording.js';

export type { RecordingClass, RecordingResult } from './evaluate-recording.js';

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
  /**
   * Recordings scored at once, each on a worker thread (src/app/evaluate-pool.ts); results keep
   * the input order, so the output is the same as with 1. Default 1: in this thread. `auto`:
   * the available cores when the recordings hold AUTO_JOBS_MIN_MIB of trace text or more (or a
   * .scap, whose size is known only once sysdig has read it), else 1. Standard input is always
   * read in this thread (src/app/jobs.ts).
   */
  jobs?: Jobs;
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
  const all: EvaluationJob[] = [...normal.map((p) => ({ ...p, cls: 'normal' as const })), ...attack.map((p) => ({ ...p, cls: 'attack' as const }))];
  const jobs = await jobsFor(opts.jobs, all);
  if (jobs > 1) {
    const { evaluateInWorkers } = await import('./evaluate-pool.js');
    const t0 = performance.now();
    const run = await evaluateInWorkers(all, { artifacts: opts.artifacts, modelType: data.manifest?.model.type, thresholds, faithful, windowNs, maxEmptyWindows: opts.maxEmptyWindows }, jobs, hooks);
    return summarizeRun(run.kind, thresholds, faithful, windowNs, run.recordings, run.skipped, { total_ms: performance.now() - t0, ...run.timing });
  }
  const scorer = await loadDetector(opts.artifacts.model, data.manifest?.model.type);
  const timing = { score_ms: 0, windows_scored: 0 };
  const t0 = performance.now();
  try {
    const skipped: EvaluationResult['skipped'] = [];
    const recordings: RecordingResult[] = [];
    const ctx = { vocab: data.vocab, scorer, thresholds, faithful, windowNs, maxEmptyWindows: opts.maxEmptyWindows, names: new NameTable(), timing };
    for (let i = 0; i < all.length; i++) {
      const one = await evaluateOne(all[i], i, all.length, ctx, hooks);
      for (const s of one.skipped) skipped.push({ ...s, class: all[i].cls });
      if (one.result) recordings.push(one.result);
    }
    return summarizeRun(scorer.kind, thresholds, faithful, windowNs, recordings, skipped, { total_ms: performance.now() - t0, ...timing });
  } finally {
    scorer.dispose();
  }
}

/** The evaluation of the recordings' results (in input order). */
function summarizeRun(
  model: string,
  thresholds: number[],
  faithful: boolean,
  windowNs: number,
  recordings: RecordingResult[],
  skipped: EvaluationResult['skipped'],
  timing: NonNullable<EvaluationResult['timing']>,
): EvaluationResult {
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
    model,
    timing,
    metrics: computeMetrics({ theta, thresholds, recordings }),
  };
}

function classCounts(recs: RecordingResult[], cls: RecordingClass): ClassCounts {
  const mine = recs.filter((r) => r.class === cls);
  return { recordings: mine.length, flagged: THETAS.map((_, i) => mine.filter((r) => r.flagged[i]).length) };
}
