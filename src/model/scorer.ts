/**
 * What every detector model offers the rest of chids (the CHIDS autoencoder today; LSTM, TCN,
 * STIDE and BoSC later). A scorer turns anomaly vectors into one anomaly score per vector
 * (for the autoencoder: the reconstruction error); thresholds and verdicts live outside.
 */

/** Features per anomaly vector: [fi, usi, uai] (DESIGN.md §5). */
export const AV_FEATURES = 3;

export interface AnomalyScorer {
  /** Model type, as recorded in the baseline manifest (e.g. "chids-autoencoder"). */
  readonly kind: string;
  /**
   * One score per anomaly vector. `avs` is `n × 3`, row-major (`[fi0, usi0, uai0, fi1, …]`).
   * Throws a ChidsError on a non-finite input value.
   */
  scoreAVs(avs: Float64Array, n: number): Float64Array;
  /**
   * Writes the model's files under `dir` (for the autoencoder: `dir/model/model.json` and
   * `dir/model/weights.bin`). Leaves no partial files behind if it throws.
   */
  save(dir: string): Promise<void>;
  /** Frees the model's tensors. The scorer is unusable afterwards. */
  dispose(): void;
}

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
