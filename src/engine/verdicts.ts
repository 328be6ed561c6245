/**
 * The verdict rule (DESIGN.md §6). The θ values and thresholds live in src/model/thresholds.ts,
 * which is free of TF.js so that commands that never load a model can use them.
 */
export { THETAS, thresholdsFrom } from '../model/thresholds.js';

/** Is a recording anomalous at each threshold? (any window's error strictly above it) */
export function flagsAt(maxError: number, thresholds: readonly number[]): boolean[] {
  return thresholds.map((t) => maxError > t);
}
