/**
 * Sequences of anomaly vectors for the sequence autoencoders (dense-seq, enhanced, lstm, tcn),
 * one per window, each ending at its window: scores are causal.
 *
 * Over a recording's non-empty windows (AVs `a_0 … a_{n−1}`), window i's sequence is the T
 * windows that END at it, `s_i = a_{i−T+1} … a_i`. The first T−1 windows have fewer than T
 * windows behind them: their sequence is padded at the START with `T − 1 − i` steps of
 * `padValue`, masked there (mask 0), so its real AVs end the sequence as in a full one.
 * Sequences never span two recordings.
 *
 * Why one sequence per window, ending at it: a window's score must depend only on the events
 * up to its end, so that an alarm can be raised when the window closes and never before the
 * activity that caused it. Giving the first T−1 windows the error of the first full sequence
 * (which holds later windows) let those windows see up to T−1 seconds into the future: alarms
 * fired before an exploit that started within the first T windows, and a recording cut short
 * changed the scores of its earlier windows. With this rule the live monitor, which only ever
 * has the windows so far, scores exactly as `evaluate` does.
 *
 * Training uses the same sequences (the padded ones included), so the models learn to
 * reconstruct the start of a recording too, rather than meeting padded input only at test time.
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

/** Number of sequences a recording of n windows gives: one per window. */
export function sequenceCount(n: number, seqLen: number): number {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`sequence length must be a positive integer, got ${seqLen}`);
  return n > 0 ? n : 0;
}

/**
 * The sequences of several recordings, recording after recording; within a recording,
 * sequence i ends at window i. `from` (default 0) skips each recording's first windows: only
 * the sequences ending at windows ≥ from are built (they still read the windows before).
 */
export function buildSequences(recs: readonly { avs: Float64Array; n: number }[], seqLen: number, padValue: number, from = 0): SequenceBatch {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`sequence length must be a positive integer, got ${seqLen}`);
  let count = 0;
  for (const r of recs) count += Math.max(0, r.n - from);
  const step = seqLen * AV_FEATURES;
  const x = new Float32Array(count * step);
  const mask = new Float32Array(count * seqLen);
  let s = 0;
  for (const r of recs) {
    const { avs, n } = r;
    for (let i = from; i < n; i++, s++) {
      const first = i - seqLen + 1;
      const pad = first < 0 ? -first : 0;
      if (pad > 0) x.fill(padValue, s * step, s * step + pad * AV_FEATURES);
      x.set(avs.subarray((first + pad) * AV_FEATURES, (i + 1) * AV_FEATURES), s * step + pad * AV_FEATURES);
      mask.fill(1, s * seqLen + pad, (s + 1) * seqLen);
    }
  }
  return { x, mask, count, seqLen };
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
