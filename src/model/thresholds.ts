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
