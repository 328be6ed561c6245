/**
 * Trains a detector on recordings in memory, as `chids baseline` does (one pass each, the
 * training vectors, the calibration vectors of the fold plan), without writing a baseline.
 */
import { trainingVectors } from '../../src/encode/anomaly.js';
import { foldPasses, planFolds } from '../../src/encode/calibration.js';
import { collectTrace, encodeTrace } from '../../src/encode/pipeline.js';
import { makeVocabulary, type Vocabulary } from '../../src/encode/vocabulary.js';
import type { FitResult, TrainingRecording } from '../../src/model/detector.js';
import { createTrainer, type ModelOptions } from '../../src/model/registry.js';
import { NameTable } from '../../src/trace/names.js';
import { openSource } from '../../src/trace/sources/readers.js';

export async function fitOn(opts: ModelOptions, inputs: readonly string[]): Promise<{ fit: FitResult; vocab: Vocabulary; recordings: TrainingRecording[] }> {
  const trainer = await createTrainer(opts);
  const names = new NameTable();
  const per = [];
  for (const f of inputs) {
    const tap = trainer.trainingTap?.(names);
    const r = await collectTrace(await openSource(f), { faithful: false, windowNs: 1e9, tap }, names);
    per.push({ r, tap: tap ?? null, file: f });
  }
  let maxFreq = 0;
  const ss = new Set<string>();
  const sa = new Set<string>();
  for (const { r } of per) {
    for (const c of r.counts) maxFreq = Math.max(maxFreq, c);
    r.seenSyscalls.forEach((s) => ss.add(s));
    r.seenArgs.forEach((s) => sa.add(s));
  }
  const recordings: TrainingRecording[] = per.map(({ r, tap, file }) => {
    const rows: number[] = [];
    for (const v of trainingVectors(r.counts, maxFreq)) if (v !== null) rows.push(...v);
    return { avs: Float64Array.from(rows), n: rows.length / 3, tap, file };
  });
  if (trainer.usesCalibration) {
    // Calibration vectors: the training vectors, except for the recordings the fold plan re-reads.
    const inputs = per.map(({ r }) => ({ seenSyscalls: r.seenSyscalls, seenArgs: r.seenArgs, segments: r.segments, windows: r.counts.length }));
    for (const rec of recordings) rec.calibration = rec.avs;
    for (const p of foldPasses(planFolds(inputs), inputs, maxFreq)) {
      const rows: number[] = [];
      await encodeTrace(await openSource(per[p.recording].file), p.vocabAt(0), { faithful: false, windowNs: 1e9, vocabAt: p.vocabAt }, (w) => {
        if (w.av !== null) rows.push(...w.av);
      }, names);
      recordings[p.recording].calibration = Float64Array.from(rows);
    }
  }
  const fit = await trainer.fit(recordings);
  return { fit, vocab: makeVocabulary(ss, sa, maxFreq), recordings };
}
