/**
 * Detection thresholds, as the reference sets them: the largest training score × θ, θ = 0.2 … 2.0.
 *
 * The reference computes `for θ in np.arange(0.2, 2.2, 0.2): max(errors) * θ`. numpy's arange
 * fills `start + i*delta` with `delta = (start + step) - start`, in float64, which gives
 * 0.6000000000000001 and 1.4000000000000001 where a hand-written list would say 0.6 and 1.4.
 * We reproduce those values exactly so thresholds are bit-identical to the reference's.
 */
function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.ceil((stop - start) / step);
  if (length <= 0) return [];
  const out = [start];
  if (length === 1) return out;
  const second = start + step;
  out.push(second);
  const delta = second - start;
  for (let i = 2; i < length; i++) out.push(start + i * delta);
  return out;
}

/** θ values: exactly numpy's `np.arange(0.2, 2.2, 0.2)` (ten float64 values). */
export const THETAS: readonly number[] = Object.freeze(numpyArange(0.2, 2.2, 0.2));

/** `maxError × θ` for every θ in THETAS (float64, as numpy). */
export function thresholdsFrom(maxError: number): number[] {
  return THETAS.map((theta) => maxError * theta);
}

/** Largest value (as Python's `max()` over a numpy array of finite floats). 0 values ⇒ -Infinity. */
export function maxOf(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > m) m = values[i];
  return m;
}

/** Quantile p of sorted values, linear between order statistics (numpy's default). */
function quantileSorted(s: Float64Array, p: number): number {
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

/** How the θ = 1.0 threshold of STIDE and BoSC came out of their leave-one-out training scores. */
export interface NoveltyCalibration {
  /** The threshold at θ = 1.0: thresholds are value × θ. */
  value: number;
  rule: string;
  /** Largest training score (the old rule's threshold). */
  max: number;
  /** Training windows with a score above 0, and their quartiles. */
  positive: number;
  q1: number;
  q3: number;
}

/**
 * The θ = 1.0 threshold of a novelty score (STIDE's unseen n-grams, BoSC's distance to the
 * nearest normal bag) from its leave-one-out training scores (STIDE and BoSC pass the highest
 * score of each fold, foldMaxima): Tukey's far-out fence Q3 + 3·IQR of those that show some
 * novelty (score > 0), and never above the largest of them.
 *
 * Why not the largest score, as for the autoencoders: a leave-one-out score judges a window
 * without its own recording (or time block), so behaviour that occurs in one training
 * recording only (a start-up, a snapshot, a rare request) scores as novel as an attack does,
 * and the largest of many windows is that one most unusual window. It then sets θ = 1.0 so
 * high that attacks are found only at θ 0.2: trained on the first 9 s of the LID-DS
 * recording, nine BoSC windows scored ≤ 0.036 and one 0.98, and the attack (0.37) was missed
 * at every θ above 0.2. The far-out fence is the usual bound for outliers that a few extreme
 * values cannot move. It is taken over the windows with a score above 0, because a window the
 * other folds explain completely says nothing about how far normal novelty goes, and a
 * training set where most windows score 0 would otherwise get a zero threshold (one unseen
 * n-gram would alarm). Capped at the maximum, so a training set without outliers keeps the
 * old threshold. At test time normal windows score lower than their leave-one-out scores (the
 * detector then knows every training recording): that is the margin the fence relies on.
 */
export function noveltyCalibration(scores: ArrayLike<number>): NoveltyCalibration {
  const max = maxOf(scores);
  const pos: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > 0) pos.push(scores[i]);
  const rule = 'min(max, Q3 + 3·IQR of the highest leave-one-out score of each fold, those above 0)';
  if (pos.length === 0) return { value: Math.max(0, max), rule, max, positive: 0, q1: 0, q3: 0 };
  const s = Float64Array.from(pos).sort();
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  return { value: Math.min(max, q3 + 3 * (q3 - q1)), rule, max, positive: pos.length, q1, q3 };
}

/**
 * The highest leave-one-out score of each fold (training recording, or time block of a single
 * recording), in fold order. A normal recording is flagged when its highest window is, so the
 * θ = 1.0 bound is taken over these rather than over single windows: a per-window bound would
 * let a recording of many windows cross it far more often than one window does.
 */
export function foldMaxima(scores: ArrayLike<number>, fold: ArrayLike<number>): Float64Array {
  let folds = 0;
  for (let i = 0; i < fold.length; i++) if (fold[i] + 1 > folds) folds = fold[i] + 1;
  const out = new Float64Array(folds);
  for (let i = 0; i < scores.length; i++) if (scores[i] > out[fold[i]]) out[fold[i]] = scores[i];
  return out;
}

/** The manifest's record of how θ = 1.0 was set. */
export function calibrationSettings(c: NoveltyCalibration): Record<string, unknown> {
  return { rule: c.rule, value: c.value, max: c.max, q1: c.q1, q3: c.q3, windows_above_0: c.positive };
}
