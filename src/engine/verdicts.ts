/**
 * The verdict rule: a recording is anomalous at θ when a window's score exceeds θ × the largest
 * training score. The θ values and thresholds live in src/model/thresholds.ts,
 * which is free of TF.js so that commands that never load a model can use them.
 */
import { THETAS } from '../model/thresholds.js';

export { THETAS, thresholdsFrom } from '../model/thresholds.js';

/** The largest training score, from the ten thresholds (its value at θ = 1.0). */
export function maxScoreOf(thresholds: readonly number[]): number {
  const i = THETAS.findIndex((t) => Math.abs(t - 1) < 1e-9);
  return thresholds[i] / THETAS[i];
}

/** Is a recording anomalous at each threshold? (any window's error strictly above it) */
export function flagsAt(maxError: number, thresholds: readonly number[]): boolean[] {
  return thresholds.map((t) => maxError > t);
}
