/** The lab's seeded choices (same seed, same recording plan), on the project's one generator. */
import { mulberry32 } from '../util/rng.js';

export interface Rng {
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** Float in [lo, hi). */
  range(lo: number, hi: number): number;
  pick<T>(arr: readonly T[]): T;
}

export function rng(seed: number): Rng {
  const next = mulberry32(seed);
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    range: (lo, hi) => lo + next() * (hi - lo),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}
