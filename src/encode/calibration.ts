/**
 * Leave-one-recording-out (LORO) calibration folds.
 *
 * A training window's own anomaly vector has usi = uai = 0 by construction: the vocabulary is
 * built from the very windows it encodes. So nothing trained on those vectors can learn how much
 * unseen activity normal traffic shows once it meets a vocabulary that did not see it. The
 * calibration vectors fix that: each training recording is encoded against the vocabulary
 * (seen syscalls, seen arguments) of the OTHER training recordings, with the same max_freq.
 *
 * Folds:
 * - two or more recordings: k = min(recordings, 10) folds, recording i in fold i mod k; a
 *   recording is encoded against the union of the other folds' vocabularies (with ≤ 10
 *   recordings, exactly leave one recording out);
 * - one recording: k time blocks of contiguous windows (about 30 windows each, 2 ≤ k ≤ 10);
 *   each block is encoded against the vocabulary of the other blocks;
 * - one recording of a single window: no folds (the calibration vectors are the training ones).
 *
 * Everything here works on what the single training pass already collected: each recording's
 * vocabulary and, per item, a mask of the segments of the recording it occurs in
 * (TrainingCollector). From those alone we know, for each recording, whether any of its items
 * is missing from its fold vocabulary. When none is, its calibration vectors ARE its training
 * vectors (nothing is renamed, fi does not depend on the vocabulary) and it is not read again.
 * Only a recording that owns an item the other folds lack is read a second time: its usi and
 * uai depend on where in each window's event sequence that item occurs (the graph's degrees),
 * which the first pass cannot keep without storing every window's transitions, and which
 * vocabulary is "other" is known only after every recording has been read.
 */
import type { ItemSegments } from './anomaly.js';
import type { Vocabulary } from './vocabulary.js';

/** Most folds. */
export const MAX_FOLDS = 10;
/** Target block length, in windows, when the folds are time blocks of a single recording. */
export const BLOCK_WINDOWS = 30;

/** What the training pass knows about one recording. */
export interface FoldInput {
  seenSyscalls: ReadonlySet<string>;
  seenArgs: ReadonlySet<string>;
  segments: ItemSegments;
  /** Windows of the recording, empty ones included. */
  windows: number;
}

/** The fold plan, as recorded in the manifest. */
export type FoldPlan =
  | { kind: 'none'; k: 0; reason: string }
  | { kind: 'recordings'; k: number; fold_of_recording: number[] }
  | {
      kind: 'time-blocks';
      k: number;
      /** First window (index, empty windows counted) of each block; block b ends where b + 1 starts. */
      block_starts: number[];
      windows: number;
    };

export function planFolds(recs: readonly FoldInput[]): FoldPlan {
  if (recs.length === 0) return { kind: 'none', k: 0, reason: 'no training recordings' };
  if (recs.length >= 2) {
    const k = Math.min(MAX_FOLDS, recs.length);
    return { kind: 'recordings', k, fold_of_recording: recs.map((_, i) => i % k) };
  }
  const r = recs[0];
  const w = r.windows;
  if (w < 2) return { kind: 'none', k: 0, reason: 'a single training recording of a single window' };
  const g = r.segments.perSegment;
  const segments = Math.floor((w - 1) / g) + 1;
  const k = Math.min(segments, Math.max(2, Math.min(MAX_FOLDS, Math.round(w / BLOCK_WINDOWS))));
  // Blocks are whole segments (the masks cannot split one): block of segment s = ⌊s·k / segments⌋.
  const starts: number[] = [];
  for (let s = 0; s < segments; s++) {
    const b = Math.floor((s * k) / segments);
    if (b === starts.length) starts.push(s * g);
  }
  return { kind: 'time-blocks', k, block_starts: starts, windows: w };
}

/** A recording to encode a second time, and the vocabulary each of its windows is encoded against. */
export interface FoldPass {
  recording: number;
  /** Vocabulary of window `w` (index counting empty windows). */
  vocabAt: (w: number) => Vocabulary;
  /** Items of the recording (or its block) that its fold vocabulary lacks. */
  unseen: { syscalls: number; args: number };
}

/** Block index of window w in a time-block plan. */
export function blockOf(plan: Extract<FoldPlan, { kind: 'time-blocks' }>, w: number): number {
  let b = 0;
  while (b + 1 < plan.block_starts.length && plan.block_starts[b + 1] <= w) b++;
  return b;
}

/**
 * The second passes the plan needs: one per recording that has an item its fold vocabulary
 * lacks. Every other recording's calibration vectors equal its training vectors.
 */
export function foldPasses(plan: FoldPlan, recs: readonly FoldInput[], maxFreq: number): FoldPass[] {
  if (plan.kind === 'none') return [];
  if (plan.kind === 'recordings') {
    const fold = plan.fold_of_recording;
    const sys = new Map<string, number>();
    const args = new Map<string, number>();
    recs.forEach((r, i) => {
      const bit = 1 << fold[i];
      for (const s of r.seenSyscalls) sys.set(s, (sys.get(s) ?? 0) | bit);
      for (const a of r.seenArgs) args.set(a, (args.get(a) ?? 0) | bit);
    });
    const vocabs = new Map<number, Vocabulary>();
    const passes: FoldPass[] = [];
    recs.forEach((r, i) => {
      const bit = 1 << fold[i];
      let us = 0;
      let ua = 0;
      for (const s of r.seenSyscalls) if (sys.get(s) === bit) us++;
      for (const a of r.seenArgs) if (args.get(a) === bit) ua++;
      if (us + ua === 0) return;
      let v = vocabs.get(fold[i]);
      if (v === undefined) {
        v = leaveOut(sys, args, bit, maxFreq);
        vocabs.set(fold[i], v);
      }
      const vocab = v;
      passes.push({ recording: i, vocabAt: () => vocab, unseen: { syscalls: us, args: ua } });
    });
    return passes;
  }
  // Time blocks of the one recording: segment masks → block masks.
  const seg = recs[0].segments;
  const g = seg.perSegment;
  const blockOfSegment: number[] = [];
  for (let s = 0; s < 32; s++) blockOfSegment.push(blockOf(plan, s * g));
  const toBlocks = (m: number): number => {
    let out = 0;
    for (let s = 0; m !== 0 && s < 32; s++, m >>>= 1) if (m & 1) out |= 1 << blockOfSegment[s];
    return out;
  };
  const sys = new Map<string, number>();
  const args = new Map<string, number>();
  for (const [s, m] of seg.syscalls) sys.set(s, toBlocks(m));
  for (const [a, m] of seg.args) args.set(a, toBlocks(m));
  let us = 0;
  let ua = 0;
  const single = (m: number) => m !== 0 && (m & (m - 1)) === 0;
  for (const m of sys.values()) if (single(m)) us++;
  for (const m of args.values()) if (single(m)) ua++;
  if (us + ua === 0) return [];
  const vocabs: Vocabulary[] = [];
  for (let b = 0; b < plan.k; b++) vocabs.push(leaveOut(sys, args, 1 << b, maxFreq));
  return [{ recording: 0, vocabAt: (w) => vocabs[blockOf(plan, w)], unseen: { syscalls: us, args: ua } }];
}

/** The vocabulary of every fold but the one of `bit`: items seen in some other fold. */
function leaveOut(sys: ReadonlyMap<string, number>, args: ReadonlyMap<string, number>, bit: number, maxFreq: number): Vocabulary {
  const seenSyscalls = new Set<string>();
  const seenArgs = new Set<string>();
  for (const [s, m] of sys) if ((m & ~bit) !== 0) seenSyscalls.add(s);
  for (const [a, m] of args) if ((m & ~bit) !== 0) seenArgs.add(a);
  return { seenSyscalls, seenArgs, maxFreq };
}

/** Per-feature maxima of calibration vectors (`n × 3`), and how many windows show unseen activity. */
export interface CalibrationSummary {
  windows: number;
  windows_with_unseen: number;
  max_fi: number;
  max_usi: number;
  max_uai: number;
  /** Largest usi + uai of one window. */
  max_unseen: number;
}

export function summarize(avs: Float64Array, n: number): CalibrationSummary {
  const s: CalibrationSummary = { windows: n, windows_with_unseen: 0, max_fi: 0, max_usi: 0, max_uai: 0, max_unseen: 0 };
  for (let i = 0; i < n; i++) {
    const fi = avs[3 * i];
    const usi = avs[3 * i + 1];
    const uai = avs[3 * i + 2];
    if (fi > s.max_fi) s.max_fi = fi;
    if (usi > s.max_usi) s.max_usi = usi;
    if (uai > s.max_uai) s.max_uai = uai;
    if (usi + uai > 0) s.windows_with_unseen++;
    if (usi + uai > s.max_unseen) s.max_unseen = usi + uai;
  }
  return s;
}
