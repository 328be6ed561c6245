/**
 * The ten θ values and the threshold rule (DESIGN.md §6), free of TF.js so that commands that
 * never load a model can use them.
 *
 * θ is what numpy's `np.arange(0.2, 2.2, 0.2)` yields in the reference: 0.2 + i·0.2 in
 * float64, so 0.6000000000000001 and 1.4000000000000001 are not typos.
 */
export const THETAS: readonly number[] = Object.freeze(Array.from({ length: 10 }, (_, i) => 0.2 + i * 0.2));

/** threshold_i = max(training errors) × θ_i */
export function thresholdsFrom(maxTrainingError: number): number[] {
  return THETAS.map((t) => maxTrainingError * t);
}

/** Is a recording anomalous at each threshold? (any window's error strictly above it) */
export function flagsAt(maxError: number, thresholds: readonly number[]): boolean[] {
  return thresholds.map((t) => maxError > t);
}
