/**
 * Sliding sequences of anomaly vectors for the sequence autoencoders (dense-seq, enhanced,
 * lstm, tcn), and the rule that turns a score per sequence back into a score per window.
 *
 * Sequences: over each recording's non-empty windows (AVs `a_0 … a_{n−1}`), the windows of `T`
 * consecutive AVs with stride 1: `s_j = a_j … a_{j+T−1}` for j = 0 … n−T. A recording shorter
 * than T (0 < n < T) gives one sequence, padded at the START with `T − n` steps of `padValue`
 * and masked there (mask 0), so its real AVs end the sequence as in a full one. Sequences never
 * span two recordings.
 *
 * Attribution (one score per window): a sequence's error is attributed to its LAST window, so
 * window i ≥ T−1 gets the error of `s_{i−T+1}`; the first T−1 windows, which end no full
 * sequence, get the error of the first sequence `s_0` (the first sequence that contains them).
 * A recording shorter than T gives every window the error of its one padded sequence.
 * Streaming (live) scoring follows the same rule: once T windows are known, each new window
 * gets the error of the sequence it ends.
 *
 * Free of TF.js: plain typed arrays.
 */
import { AV_FEATURES } from '../scorer.js';

export interface SequenceBatch {
  /** `count × T × 3`, row-major, float32 (what the model consumes). */
  x: Float32Array;
  /** `count × T`: 1 for a real step, 0 for padding. */
  mask: Float32Array;
  count: number;
  seqLen: number;
}

/** Number of sequences a recording of n windows gives. */
export function sequenceCount(n: number, seqLen: number): number {
  if (n <= 0) return 0;
  return n >= seqLen ? n - seqLen + 1 : 1;
}

/** The sequences of several recordings, recording after recording. */
export function buildSequences(recs: readonly { avs: Float64Array; n: number }[], seqLen: number, padValue: number): SequenceBatch {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`sequence length must be a positive integer, got ${seqLen}`);
  let count = 0;
  for (const r of recs) count += sequenceCount(r.n, seqLen);
  const step = seqLen * AV_FEATURES;
  const x = new Float32Array(count * step);
  const mask = new Float32Array(count * seqLen);
  let s = 0;
  for (const r of recs) {
    const { avs, n } = r;
    if (n <= 0) continue;
    if (n >= seqLen) {
      for (let j = 0; j + seqLen <= n; j++, s++) {
        x.set(avs.subarray(j * AV_FEATURES, (j + seqLen) * AV_FEATURES), s * step);
        mask.fill(1, s * seqLen, (s + 1) * seqLen);
      }
    } else {
      const pad = seqLen - n;
      x.fill(padValue, s * step, s * step + pad * AV_FEATURES);
      x.set(avs.subarray(0, n * AV_FEATURES), s * step + pad * AV_FEATURES);
      mask.fill(1, s * seqLen + pad, (s + 1) * seqLen);
      s++;
    }
  }
  return { x, mask, count, seqLen };
}

/** Per-window scores of one recording of n windows from its sequences' errors (see the rule above). */
export function attributeToWindows(seqErrors: ArrayLike<number>, n: number, seqLen: number): Float64Array {
  const out = new Float64Array(n);
  if (n <= 0) return out;
  const expected = sequenceCount(n, seqLen);
  if (seqErrors.length !== expected) throw new RangeError(`expected ${expected} sequence errors for ${n} windows, got ${seqErrors.length}`);
  if (n < seqLen) {
    out.fill(seqErrors[0]);
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = seqErrors[Math.max(0, i - seqLen + 1)];
  return out;
}

/**
 * Masked reconstruction error per sequence: the mean of (x̂ − x)² over the 3 features of the
 * real (unmasked) steps, in float64 from the float32 prediction.
 */
export function sequenceErrors(batch: SequenceBatch, predicted: Float32Array, out = new Float64Array(batch.count)): Float64Array {
  const T = batch.seqLen;
  const { x, mask } = batch;
  for (let s = 0; s < batch.count; s++) {
    let sum = 0;
    let steps = 0;
    for (let t = 0; t < T; t++) {
      if (mask[s * T + t] === 0) continue;
      const p = (s * T + t) * AV_FEATURES;
      const d0 = predicted[p] - x[p];
      const d1 = predicted[p + 1] - x[p + 1];
      const d2 = predicted[p + 2] - x[p + 2];
      sum += d0 * d0 + d1 * d1 + d2 * d2;
      steps++;
    }
    out[s] = steps === 0 ? 0 : sum / (steps * AV_FEATURES);
  }
  return out;
}
