/**
 * Small deterministic random numbers for reproducible training (`seed` option).
 * mulberry32: 32-bit state, good enough for shuffling and for deriving sub-seeds.
 */
import { randomInt } from 'node:crypto';

export type Rng = () => number;

/** Uniform floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uint32 from the generator. */
export function nextUint32(rng: Rng): number {
  return Math.floor(rng() * 4294967296) >>> 0;
}

/** Fisher–Yates shuffle of `a` in place. */
export function shuffleInPlace(a: Int32Array, rng: Rng): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/** A fresh seed for a run that did not ask for one (recorded so the run can be repeated). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 32 - 1);
}

/** True for an integer in [0, 2^32). */
export function isSeed(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 2 ** 32;
}
