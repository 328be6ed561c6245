/**
 * LID-DS style metrics over an evaluation's window errors, besides the reference's
 * per-recording detection rate / false-alarm rate. Pure functions over plain data (what
 * `runEvaluate` produces, or its `--json` read back), no I/O.
 *
 * Definitions (documented in the README, "Metrics"):
 *
 * - **Alarm.** Window `i` alarms at θ when its reconstruction error is strictly above the
 *   threshold `max(training error) × θ` (the same rule as the recording verdict). Empty
 *   windows (no events, error `null`) are not scored: they never alarm and never break a run.
 * - **Before / after the exploit.** Window `i` covers `[start + i·W, start + (i+1)·W)`. With
 *   the exploit start `E` (LID-DS `time.exploit[0].absolute`), a window counts as *after* the
 *   exploit when it ends after `E` (`start + (i+1)·W > E`), otherwise *before*. So a window that
 *   straddles `E` counts as after: it may hold the attack's first calls, and this is LID-DS's
 *   own rule (a score is labelled by the time of its last call) at window granularity. An
 *   attack recording without an exploit time counts every window as after.
 * - **False alarm.** An alarming window of a normal recording, or an alarming window before
 *   the exploit in an attack recording.
 * - **Detected.** An attack recording with at least one alarming window after the exploit.
 *   (LID-DS's detection rate / recall; the reference's detection rate counts any alarm.)
 * - **Latency.** From the exploit start to the *end* of the first alarming window after it:
 *   the earliest moment a detector that decides per window could have raised the alarm.
 * - **CFA** (consecutive false alarms, LID-DS): each run of consecutive false-alarm windows
 *   counts once. A run ends at a scored window that does not alarm, at the first window after
 *   the exploit, or at the end of the recording.
 * - **Precision / F1 over CFA** (LID-DS): precision = detected / (detected + CFA), recall =
 *   detected / attack recordings, F1 = 2PR / (P + R).
 * - **ROC / AUC over recordings:** a recording's score is its highest window error, positive =
 *   attack recording. AUC is the trapezoid area under the ROC, which equals the Mann–Whitney
 *   probability that an attack recording outscores a normal one, ties counting ½.
 */
import { secondsToNs } from '../util/time.js';

export type MetricsClass = 'normal' | 'attack';

/** What the metrics need of one evaluated recording (a subset of RecordingResult). */
export interface MetricsRecording {
  file: string;
  class: MetricsClass;
  /** Start of window 0, integer ns as a decimal string (epoch ns for LID-DS recordings). */
  start_ns: string;
  window_ns: number;
  window_errors: readonly (number | null)[];
  max_error: number;
  labels: { exploitStartSec: number | null } | null;
}

export interface MetricsInput {
  theta: readonly number[];
  thresholds: readonly number[];
  recordings: readonly MetricsRecording[];
}

/** One recording's window-level results; arrays are per θ. */
export interface RecordingMetrics {
  file: string;
  class: MetricsClass;
  /** The recording's score: its highest window error. */
  score: number;
  /** Exploit start (epoch ns, decimal string) for attack recordings that have one. */
  exploit_start_ns: string | null;
  /** Exploit start in seconds after the start of window 0 (may be negative), or null. */
  exploit_offset_s: number | null;
  /** Index of the first window that counts as after the exploit (attack recordings), or null. */
  first_attack_window: number | null;
  /** Scored (non-empty) windows before the exploit (all of a normal recording's). */
  normal_windows: number;
  /** Alarming windows at each θ. */
  alarms: number[];
  false_alarms: number[];
  cfa: number[];
  /** Attack recordings: alarm after the exploit at each θ; null for normal recordings. */
  detected: (boolean | null)[];
  /** Index of the first alarming window after the exploit, or null. */
  first_detection_window: (number | null)[];
  /** Seconds from the exploit start to the end of the first alarming window after it. */
  latency_s: (number | null)[];
}

export interface RocPoint {
  /** False-positive rate (normal recordings with score ≥ min_score). */
  fpr: number;
  /** True-positive rate (attack recordings with score ≥ min_score). */
  tpr: number;
  /** The lowest recording score flagged at this point; null for the (0, 0) start. */
  min_score: number | null;
}

export interface RocCurve {
  positives: number;
  negatives: number;
  points: RocPoint[];
  /** null when either class has no recordings. */
  auc: number | null;
}

export interface Metrics {
  /** How windows around the exploit start are labelled (see the module comment). */
  window_rule: 'window-end';
  attack_recordings: number;
  normal_recordings: number;
  /** Attack recordings that have an exploit time. */
  timed_attacks: number;
  /** Scored windows that can only be false alarms (normal recordings + before the exploit). */
  normal_windows: number;
  /** Per θ: attack recordings detected after their exploit start. */
  detected: number[];
  /** Per θ: detected / attack recordings (LID-DS detection rate). */
  recall: (number | null)[];
  /** Per θ: false-alarm windows. */
  false_alarm_windows: number[];
  /** Per θ: false-alarm windows / normal_windows. */
  window_false_alarm_rate: (number | null)[];
  /** Per θ: CFA runs in normal recordings, before exploits, and both. */
  cfa_normal: number[];
  cfa_attack: number[];
  cfa: number[];
  /** Per θ: detected / (detected + cfa). */
  precision_cfa: (number | null)[];
  f1_cfa: (number | null)[];
  /** Per θ: mean latency over detected attack recordings that have an exploit time. */
  mean_latency_s: (number | null)[];
  roc: RocCurve;
  auc: number | null;
  recordings: RecordingMetrics[];
}

// ---------------------------------------------------------------------------------------------
// Time


function parseNs(s: string): bigint {
  if (!/^-?\d+$/.test(s)) throw new RangeError(`not an integer ns time: ${JSON.stringify(s)}`);
  return BigInt(s);
}

/**
 * Index of the first window that counts as after the exploit: the first window that ends after
 * it, `floor((E − start) / W)`, or 0 when the exploit precedes the recording.
 */
export function firstAttackWindow(startNs: bigint, windowNs: number, exploitNs: bigint): number {
  if (exploitNs <= startNs) return 0;
  return Number((exploitNs - startNs) / BigInt(windowNs));
}

// ---------------------------------------------------------------------------------------------
// One recording

/** One recording at one threshold. */
export interface WindowOutcome {
  alarms: number;
  falseAlarms: number;
  cfa: number;
  /** Index of the first alarming window at or after `attackFrom`, or null. */
  firstDetection: number | null;
}

/**
 * Walks a recording's window errors at one threshold. `attackFrom` is the index of the first
 * window after the exploit (Infinity for a normal recording: every window is before).
 */
export function windowOutcome(errors: readonly (number | null)[], threshold: number, attackFrom: number): WindowOutcome {
  let alarms = 0;
  let falseAlarms = 0;
  let cfa = 0;
  let inRun = false;
  let firstDetection: number | null = null;
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i];
    if (e === null || e === undefined) continue; // empty window: not scored
    const alarm = e > threshold;
    if (alarm) alarms++;
    if (i < attackFrom) {
      if (alarm) {
        falseAlarms++;
        if (!inRun) cfa++;
        inRun = true;
      } else {
        inRun = false;
      }
    } else {
      inRun = false;
      if (alarm && firstDetection === null) firstDetection = i;
    }
  }
  return { alarms, falseAlarms, cfa, firstDetection };
}

export function recordingMetrics(rec: MetricsRecording, thresholds: readonly number[]): RecordingMetrics {
  const startNs = parseNs(rec.start_ns);
  const W = rec.window_ns;
  if (!(Number.isInteger(W) && W > 0)) throw new RangeError(`${rec.file}: window_ns must be a positive integer`);
  const isAttack = rec.class === 'attack';
  const exploitSec = isAttack ? (rec.labels?.exploitStartSec ?? null) : null;
  const exploitNs = exploitSec === null ? null : secondsToNs(exploitSec);
  const attackFrom = !isAttack ? Infinity : exploitNs === null ? 0 : firstAttackWindow(startNs, W, exploitNs);
  let normalWindows = 0;
  const before = Math.min(attackFrom, rec.window_errors.length);
  for (let i = 0; i < before; i++) if (rec.window_errors[i] !== null) normalWindows++;

  const out: RecordingMetrics = {
    file: rec.file,
    class: rec.class,
    score: rec.max_error,
    exploit_start_ns: exploitNs === null ? null : exploitNs.toString(),
    exploit_offset_s: exploitNs === null ? null : Number(exploitNs - startNs) / 1e9,
    first_attack_window: isAttack ? attackFrom : null,
    normal_windows: normalWindows,
    alarms: [],
    false_alarms: [],
    cfa: [],
    detected: [],
    first_detection_window: [],
    latency_s: [],
  };
  for (const t of thresholds) {
    const o = windowOutcome(rec.window_errors, t, attackFrom);
    out.alarms.push(o.alarms);
    out.false_alarms.push(o.falseAlarms);
    out.cfa.push(o.cfa);
    out.detected.push(isAttack ? o.firstDetection !== null : null);
    out.first_detection_window.push(o.firstDetection);
    out.latency_s.push(
      o.firstDetection === null || exploitNs === null
        ? null
        : Number(startNs + BigInt(o.firstDetection + 1) * BigInt(W) - exploitNs) / 1e9,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ROC / AUC

/**
 * ROC over recordings: one point per distinct score, from the highest down, after the (0, 0)
 * start; the last point is (1, 1). Tied scores form a single step (a diagonal segment when the
 * tie mixes classes), which is what makes the trapezoid area count ties as ½.
 */
export function rocCurve(items: readonly { score: number; positive: boolean }[]): RocCurve {
  const P = items.filter((x) => x.positive).length;
  const N = items.length - P;
  if (P === 0 || N === 0) return { positives: P, negatives: N, points: [], auc: null };
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, min_score: null }];
  let tp = 0;
  let fp = 0;
  let auc = 0;
  for (let i = 0; i < sorted.length; ) {
    const s = sorted[i].score;
    const tp0 = tp;
    const fp0 = fp;
    while (i < sorted.length && sorted[i].score === s) {
      if (sorted[i].positive) tp++;
      else fp++;
      i++;
    }
    auc += ((fp - fp0) / N) * ((tp + tp0) / (2 * P));
    points.push({ fpr: fp / N, tpr: tp / P, min_score: s });
  }
  return { positives: P, negatives: N, points, auc };
}

/** AUC by its definition, P(score⁺ > score⁻) + ½ P(score⁺ = score⁻); O(P·N), for cross-checks. */
export function aucMannWhitney(pos: readonly number[], neg: readonly number[]): number | null {
  if (pos.length === 0 || neg.length === 0) return null;
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

// ---------------------------------------------------------------------------------------------
// Everything

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

export function f1(precision: number | null, recall: number | null): number | null {
  if (precision === null || recall === null) return null;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

export function computeMetrics(input: MetricsInput): Metrics {
  const K = input.thresholds.length;
  const recs = input.recordings.map((r) => recordingMetrics(r, input.thresholds));
  const attacks = recs.filter((r) => r.class === 'attack');
  const normals = recs.filter((r) => r.class === 'normal');
  const perTheta = <T>(f: (k: number) => T): T[] => Array.from({ length: K }, (_, k) => f(k));
  const sum = (rs: RecordingMetrics[], f: (r: RecordingMetrics) => number) => rs.reduce((a, r) => a + f(r), 0);

  const normalWindows = sum(recs, (r) => r.normal_windows);
  const detected = perTheta((k) => attacks.filter((r) => r.detected[k]).length);
  const recall = perTheta((k) => ratio(detected[k], attacks.length));
  const falseAlarmWindows = perTheta((k) => sum(recs, (r) => r.false_alarms[k]));
  const cfaNormal = perTheta((k) => sum(normals, (r) => r.cfa[k]));
  const cfaAttack = perTheta((k) => sum(attacks, (r) => r.cfa[k]));
  const cfa = perTheta((k) => cfaNormal[k] + cfaAttack[k]);
  const precision = perTheta((k) => ratio(detected[k], detected[k] + cfa[k]));
  const meanLatency = perTheta((k) => {
    const ls = attacks.map((r) => r.latency_s[k]).filter((l): l is number => l !== null);
    return ls.length === 0 ? null : ls.reduce((a, b) => a + b, 0) / ls.length;
  });
  const roc = rocCurve(recs.map((r) => ({ score: r.score, positive: r.class === 'attack' })));
  return {
    window_rule: 'window-end',
    attack_recordings: attacks.length,
    normal_recordings: normals.length,
    timed_attacks: attacks.filter((r) => r.exploit_start_ns !== null).length,
    normal_windows: normalWindows,
    detected,
    recall,
    false_alarm_windows: falseAlarmWindows,
    window_false_alarm_rate: perTheta((k) => ratio(falseAlarmWindows[k], normalWindows)),
    cfa_normal: cfaNormal,
    cfa_attack: cfaAttack,
    cfa,
    precision_cfa: precision,
    f1_cfa: perTheta((k) => f1(precision[k], recall[k])),
    mean_latency_s: meanLatency,
    roc,
    auc: roc.auc,
    recordings: recs,
  };
}

/** Index of the θ nearest to `value` (θ values are floats like 0.6000000000000001). */
export function thetaIndex(theta: readonly number[], value: number): number {
  let best = 0;
  for (let i = 1; i < theta.length; i++) if (Math.abs(theta[i] - value) < Math.abs(theta[best] - value)) best = i;
  return best;
}

export type Verdict = 'detected' | 'missed' | 'false alarm' | 'clean';

/** A recording's verdict at θ index k (LID-DS sense: an attack is detected only after its exploit). */
export function verdictAt(r: RecordingMetrics, k: number): Verdict {
  if (r.class === 'attack') return r.detected[k] ? 'detected' : 'missed';
  return r.false_alarms[k] > 0 ? 'false alarm' : 'clean';
}
