/**
 * `chids compare`: train and evaluate several detectors on the same LID-DS split and put the
 * figures side by side. Each model goes through exactly what `chids baseline` and `chids
 * evaluate` do (same code, same θ rule, same metrics), on DIR/training for training and
 * DIR/test/normal + DIR/test/normal_and_attack for evaluation.
 *
 * Columns (per model):
 * - DR at FAR ≤ 1 % / ≤ 5 %: the best detection rate over the ten θ among the θ whose
 *   false-alarm rate is at most 1 % / 5 % (per recording, the reference's rule: a recording is
 *   flagged when any window's score exceeds the threshold); null when no θ qualifies.
 * - AUC: area under the ROC over recordings, a recording's score being its highest window
 *   score (= the Mann–Whitney probability that an attack recording outscores a normal one).
 * - latency: mean time from the exploit start to the end of the first alarming window after it,
 *   over detected attack recordings with an exploit time, at the θ of the "FAR ≤ 5 %" column
 *   (the largest such θ when several reach the same rate); null when none.
 * - training time: the model's fit (training and training scores), as `baseline` reports it.
 * - throughput: windows scored per second by `evaluate`, end to end (reading, encoding and
 *   scoring); the JSON also has the model-only rate (scoring after encoding; for STIDE and BoSC
 *   part of the work happens in the tap, during encoding).
 * - at θ = 1.0, the operating point whose threshold comes from training alone (the monitor's
 *   default): DR and FAR with their counts, and the LID-DS window-level figures (attacks
 *   detected after their exploit start, CFA, precision over CFA, mean latency). The JSON has
 *   these per θ too (`lidds`, `flagged_*`).
 * - FAR resolution: with n normal recordings a false-alarm rate moves in steps of 1/n, so
 *   `far_resolution` (1/n) is reported with every comparison; "FAR ≤ 1 %" on 6 normal
 *   recordings means no false alarm at all.
 */
import type { Jobs } from './jobs.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inapplicableOptions, type ModelName, type ModelOptions } from '../model/registry.js';
import { randomSeed } from '../util/rng.js';
import { ChidsError } from '../util/errors.js';
import { pathsInDir } from '../engine/baseline-dir.js';
import { runBaseline, type BaselineHooks } from './train.js';
import { datasetLayout } from '../trace/lidds/layout.js';
import { runEvaluate, type EvaluationResult } from './evaluate.js';
import type { Metrics } from '../engine/metrics.js';
import { THETAS } from '../engine/verdicts.js';

export interface CompareHooks extends BaselineHooks {
  /** A model starts (training, then evaluation). */
  onModelStart?(model: ModelName, index: number, total: number): void;
  onModelEnd?(row: ModelComparison): void;
}

export interface CompareOptions {
  dataset: string;
  models: readonly ModelName[];
  /** One seed for every model; null = one random seed, drawn once and reported. */
  seed: number | null;
  /** Epochs for every neural model (default: each model's own). */
  epochs?: number;
  /** Hyper-parameters, applied to the models that take them. */
  hyper?: Omit<ModelOptions, 'model' | 'epochs' | 'seed'>;
  faithful?: boolean;
  windowNs?: number;
  /** Work budget: empty windows a trace may open between its events (default DEFAULT_MAX_EMPTY_WINDOWS). */
  maxEmptyWindows?: number;
  /** Recordings evaluated at once on worker threads (runEvaluate's `jobs`); default 1. */
  jobs?: Jobs;
  /** Keep each model's baseline in OUT/<model> (default: a temporary directory, removed). */
  outDir?: string | null;
  hooks?: CompareHooks;
}

/** A model at θ = 1.0: the operating point set by training alone. */
export interface AtTheta1 {
  theta: number;
  /** Reference rule (any alarm) per recording, with counts. */
  detection_rate: number | null;
  flagged_attack: number;
  false_alarm_rate: number | null;
  flagged_normal: number;
  /** LID-DS: detected after the exploit start, CFA, precision, mean latency. */
  detected: number;
  cfa: number;
  precision: number | null;
  mean_latency_s: number | null;
}

export interface ModelComparison {
  model: ModelName;
  kind: string;
  dr_at_far_1: number | null;
  theta_at_far_1: number | null;
  dr_at_far_5: number | null;
  theta_at_far_5: number | null;
  auc: number | null;
  /** Mean latency (s) at theta_at_far_5. */
  mean_latency_s: number | null;
  /** LID-DS recall (detected after the exploit) at theta_at_far_5. */
  recall_at_far_5: number | null;
  training_ms: number;
  epochs: number;
  /** Training examples: AVs, sequences, distinct n-grams or bags. */
  examples: number;
  windows_scored: number;
  /** Windows per second, evaluate end to end. */
  windows_per_s: number;
  /** Windows per second, the detector's scoring alone. */
  model_windows_per_s: number | null;
  detection_rate: (number | null)[];
  false_alarm_rate: (number | null)[];
  /** Per θ: attack / normal recordings flagged (the counts behind the two rates). */
  flagged_attack: number[];
  flagged_normal: number[];
  /** The figures at θ = 1.0; null when the model failed. */
  at_theta_1: AtTheta1 | null;
  thresholds: number[];
  /**
   * LID-DS metrics per θ (aligned with `thresholds`), so that a reader can take them at any
   * false-alarm limit of its own (bench:detect reports them at FAR 0 and ≤ 2 %); null for a
   * model that failed.
   */
  lidds: Pick<Metrics, 'detected' | 'recall' | 'cfa' | 'precision_cfa' | 'f1_cfa' | 'mean_latency_s'> | null;
  /** ROC over recordings (false-positive rate, true-positive rate), from (0, 0) to (1, 1). */
  roc: { fpr: number; tpr: number }[];
  seed: number;
  settings: Record<string, unknown>;
  baseline: string | null;
  /** Why this model could not be trained or evaluated (the others still are); null when it ran. */
  error: string | null;
}

export interface CompareResult {
  dataset: string;
  training: string;
  normal: string;
  attack: string;
  recordings: { training: number; normal: number; attack: number };
  /** 1 / normal recordings: the step of every false-alarm rate; null without normal recordings. */
  far_resolution: number | null;
  theta: number[];
  seed: number;
  models: ModelComparison[];
}

/** Index of θ = 1.0 in THETAS. */
const THETA_1 = THETAS.findIndex((t) => t === 1);

/** Best detection rate among θ with false-alarm rate ≤ limit; ties go to the larger θ (fewer false alarms). */
export function bestAtFar(dr: readonly (number | null)[], far: readonly (number | null)[], limit: number): { rate: number | null; index: number | null } {
  let rate: number | null = null;
  let index: number | null = null;
  for (let k = 0; k < dr.length; k++) {
    const f = far[k];
    const d = dr[k];
    if (d === null || (f !== null && f > limit + 1e-12)) continue;
    if (rate === null || d >= rate) {
      rate = d;
      index = k;
    }
  }
  return { rate, index };
}

/** One model's row from its evaluation. */
export function summarize(model: ModelName, ev: EvaluationResult, training: { ms: number; epochs: number; examples: number; seed: number; settings: Record<string, unknown> }, baseline: string | null): ModelComparison {
  const at1 = bestAtFar(ev.detection_rate, ev.false_alarm_rate, 0.01);
  const at5 = bestAtFar(ev.detection_rate, ev.false_alarm_rate, 0.05);
  const timing = ev.timing ?? { total_ms: 0, score_ms: 0, windows_scored: 0 };
  const m = ev.metrics;
  const k1 = THETA_1;
  const perSec = (ms: number) => (ms > 0 ? (timing.windows_scored / ms) * 1000 : null);
  return {
    model,
    kind: ev.model,
    dr_at_far_1: at1.rate,
    theta_at_far_1: at1.index === null ? null : ev.theta[at1.index],
    dr_at_far_5: at5.rate,
    theta_at_far_5: at5.index === null ? null : ev.theta[at5.index],
    auc: ev.metrics?.auc ?? null,
    mean_latency_s: at5.index === null ? null : (ev.metrics?.mean_latency_s[at5.index] ?? null),
    recall_at_far_5: at5.index === null ? null : (ev.metrics?.recall[at5.index] ?? null),
    training_ms: training.ms,
    epochs: training.epochs,
    examples: training.examples,
    windows_scored: timing.windows_scored,
    windows_per_s: perSec(timing.total_ms) ?? 0,
    model_windows_per_s: perSec(timing.score_ms),
    detection_rate: ev.detection_rate,
    false_alarm_rate: ev.false_alarm_rate,
    flagged_attack: [...ev.counts.attack.flagged],
    flagged_normal: [...ev.counts.normal.flagged],
    at_theta_1: {
      theta: ev.theta[k1],
      detection_rate: ev.detection_rate[k1],
      flagged_attack: ev.counts.attack.flagged[k1],
      false_alarm_rate: ev.false_alarm_rate[k1],
      flagged_normal: ev.counts.normal.flagged[k1],
      detected: m.detected[k1],
      cfa: m.cfa[k1],
      precision: m.precision_cfa[k1],
      mean_latency_s: m.mean_latency_s[k1],
    },
    thresholds: ev.thresholds,
    lidds: ev.metrics
      ? {
          detected: ev.metrics.detected,
          recall: ev.metrics.recall,
          cfa: ev.metrics.cfa,
          precision_cfa: ev.metrics.precision_cfa,
          f1_cfa: ev.metrics.f1_cfa,
          mean_latency_s: ev.metrics.mean_latency_s,
        }
      : null,
    roc: (ev.metrics?.roc.points ?? []).map((p) => ({ fpr: p.fpr, tpr: p.tpr })),
    seed: training.seed,
    settings: training.settings,
    baseline,
    error: null,
  };
}

/** The row of a model that failed. */
function failedRow(model: ModelName, seed: number, error: string): ModelComparison {
  const none = Array<null>(THETAS.length).fill(null);
  return {
    model,
    kind: model,
    dr_at_far_1: null,
    theta_at_far_1: null,
    dr_at_far_5: null,
    theta_at_far_5: null,
    auc: null,
    mean_latency_s: null,
    recall_at_far_5: null,
    training_ms: 0,
    epochs: 0,
    examples: 0,
    windows_scored: 0,
    windows_per_s: 0,
    model_windows_per_s: null,
    detection_rate: none,
    false_alarm_rate: none,
    flagged_attack: [],
    flagged_normal: [],
    at_theta_1: null,
    thresholds: [],
    lidds: null,
    roc: [],
    seed,
    settings: {},
    baseline: null,
    error,
  };
}

export async function runCompare(opts: CompareOptions): Promise<CompareResult> {
  if (opts.models.length === 0) throw new ChidsError('no models to compare (--models)');
  const dup = opts.models.find((m, i) => opts.models.indexOf(m) !== i);
  if (dup) throw new ChidsError(`--models lists ${dup} twice`);
  const layout = datasetLayout(opts.dataset, ['training', 'normal', 'attack']);
  const hooks = opts.hooks ?? {};
  const seed = opts.seed ?? randomSeed();
  const work = opts.outDir ? path.resolve(opts.outDir) : await mkdtemp(path.join(tmpdir(), 'chids-compare-'));
  const rows: ModelComparison[] = [];
  let counts = { training: 0, normal: 0, attack: 0 };
  try {
    for (let i = 0; i < opts.models.length; i++) {
      const model = opts.models[i];
      hooks.onModelStart?.(model, i, opts.models.length);
      const hyper: ModelOptions = { model, ...opts.hyper };
      for (const k of inapplicableOptions(hyper)) delete hyper[k];
      const takesEpochs = model !== 'stide' && model !== 'bosc';
      const od = path.join(work, model);
      let b: Awaited<ReturnType<typeof runBaseline>>;
      let ev: EvaluationResult;
      try {
        b = await runBaseline({
          inputs: [layout.training],
          outDir: od,
          faithful: opts.faithful ?? false,
          windowNs: opts.windowNs ?? 1e9,
          maxEmptyWindows: opts.maxEmptyWindows,
          epochs: takesEpochs ? opts.epochs : undefined,
          seed,
          model: hyper,
          hooks,
        });
        ev = await runEvaluate({
          normal: [layout.normal],
          attack: [layout.attack],
          artifacts: pathsInDir(od),
          maxEmptyWindows: opts.maxEmptyWindows,
          jobs: opts.jobs,
          hooks,
        });
      } catch (err) {
        // One model's failure (e.g. STIDE on traces without enter events) does not end the comparison.
        if (!(err instanceof ChidsError)) throw err;
        const row = failedRow(model, seed, err.message);
        hooks.onWarning?.(`${model}: ${err.message}`);
        rows.push(row);
        hooks.onModelEnd?.(row);
        continue;
      }
      counts = { training: b.recordings, normal: ev.counts.normal.recordings, attack: ev.counts.attack.recordings };
      const { type: _type, seed: _seed, ...settings } = b.manifest.model as Record<string, unknown>;
      const row = summarize(
        model,
        ev,
        {
          ms: b.trainingMs,
          epochs: b.manifest.training.epochs,
          examples: (b.manifest.training as { examples?: number }).examples ?? b.vectors,
          seed,
          settings,
        },
        opts.outDir ? od : null,
      );
      rows.push(row);
      hooks.onModelEnd?.(row);
    }
  } finally {
    if (!opts.outDir) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
  if (rows.every((r) => r.error !== null)) throw new ChidsError(`every model failed; the first: ${rows[0].model}: ${rows[0].error}`);
  return {
    dataset: opts.dataset,
    training: layout.training,
    normal: layout.normal,
    attack: layout.attack,
    recordings: counts,
    far_resolution: counts.normal > 0 ? 1 / counts.normal : null,
    theta: [...THETAS],
    seed,
    models: rows,
  };
}
