/** The row-major layout detectors take anomaly vectors in: `n × 3`, `[fi0, usi0, uai0, fi1, …]`. */

/** Features per anomaly vector: [fi, usi, uai]. */
export const AV_FEATURES = 3;


/** Packs anomaly vectors (`[fi, usi, uai]` tuples) into the row-major layout scorers take. */
export function packAVs(vectors: readonly (readonly number[])[]): { avs: Float64Array; n: number } {
  const n = vectors.length;
  const avs = new Float64Array(n * AV_FEATURES);
  for (let i = 0; i < n; i++) {
    const v = vectors[i];
    if (v.length !== AV_FEATURES) {
      throw new RangeError(`anomaly vector ${i} has ${v.length} values, expected ${AV_FEATURES}`);
    }
    avs[i * 3] = v[0];
    avs[i * 3 + 1] = v[1];
    avs[i * 3 + 2] = v[2];
  }
  return { avs, n };
}

/** Checks the `n × 3` layout; a mismatch is a programming error, not a user error. */
export function checkAVShape(avs: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`row count must be a non-negative integer, got ${n}`);
  if (avs.length !== n * AV_FEATURES) {
    throw new RangeError(`anomaly vectors: expected ${n} × ${AV_FEATURES} = ${n * AV_FEATURES} values, got ${avs.length}`);
  }
}
