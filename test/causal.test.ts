/**
 * Causality of every detector's scores (issue 9), the default `calibrated` one included: a window's score depends only on the events
 * up to its end. Property: cut a recording after any event; every window of the cut recording
 * that is complete (all but the last one, which the cut may have shortened) keeps exactly the
 * score it has in the whole recording. A detector that looks ahead (e.g. a sequence model that
 * gives its first windows the error of a sequence holding later windows) fails it.
 *
 * Models are small and trained for a few epochs: the property is about which events a score
 * reads, not about detection quality.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeTrace, type ChunkSource } from '../src/encode/pipeline.js';
import type { Vocabulary } from '../src/encode/vocabulary.js';
import type { Detector } from '../src/model/detector.js';
import { MODEL_NAMES, type ModelName, type ModelOptions } from '../src/model/registry.js';
import { NameTable } from '../src/trace/names.js';
import { bufferSource } from './helpers/file-source.js';
import { fitOn } from './helpers/train.js';
import { recordingText, writeDataset } from './helpers/lidds-dataset.js';

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** Small and quick; a sequence length of 4 so that cuts fall both inside and after the first T−1 windows. */
const QUICK: Partial<Record<ModelName, ModelOptions>> = {
  calibrated: {},
  chids: { epochs: 3 },
  'dense-seq': { epochs: 3, seqLen: 4 },
  enhanced: { epochs: 3, seqLen: 4 },
  lstm: { epochs: 2, seqLen: 4 },
  tcn: { epochs: 3, seqLen: 4 },
  stide: { ngram: 4 },
  bosc: {},
};

let training: string[];
/** The recording that is cut: a web shell 5 s into 9 s of traffic. */
const lines = recordingText({ name: 'cut', seconds: 9, exploitAt: 5, seed: 4242, startSec: 1_700_100_000, attackSeconds: 2 }).split('\n').filter((l) => l !== '');

before(() => {
  const root = writeDataset(mkdtempSync(path.join(tmpdir(), 'chids-causal-')), { training: 3, normal: 0, attack: 0, seconds: 8, seed: 21 });
  tmpDirs.push(root);
  const dir = path.join(root, 'training');
  training = readdirSync(dir)
    .filter((f) => f.endsWith('.zip'))
    .sort()
    .map((f) => path.join(dir, f));
});

async function fit(opts: ModelOptions): Promise<{ det: Detector; vocab: Vocabulary }> {
  const { fit: result, vocab } = await fitOn(opts, training);
  return { det: result.detector, vocab };
}

/** Scores a trace as evaluate does: one pass feeding the detector's tap, then scoreRecording. */
async function scores(det: Detector, vocab: Vocabulary, src: ChunkSource): Promise<number[]> {
  const names = new NameTable();
  const tap = det.newTap?.(names) ?? null;
  const rows: number[] = [];
  await encodeTrace(src, vocab, { faithful: false, windowNs: 1e9, tap: tap ?? undefined }, (w) => {
    if (w.av !== null) rows.push(...w.av);
  }, names);
  return Array.from(det.scoreRecording({ avs: Float64Array.from(rows), n: rows.length / 3, tap }));
}

const prefix = (k: number) => bufferSource(`cut-${k}.sc`, lines.slice(0, k).join('\n') + '\n', 'lidds');

describe('causal scores: cutting a recording leaves every earlier complete window’s score unchanged', () => {
  for (const name of MODEL_NAMES) {
    test(name, async () => {
      const { det, vocab } = await fit({ model: name, seed: 3, ...QUICK[name] });
      try {
        const whole = await scores(det, vocab, prefix(lines.length));
        assert.ok(whole.length >= 8, `${whole.length} windows`);
        assert.ok(new Set(whole).size > 1, 'scores vary over the recording (else the property says nothing)');
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: lines.length }), async (k) => {
            const cut = await scores(det, vocab, prefix(k));
            assert.ok(cut.length >= 1 && cut.length <= whole.length);
            // The last window of the cut recording may be missing its later events: not compared.
            assert.deepEqual(cut.slice(0, -1), whole.slice(0, cut.length - 1), `cut after event line ${k}`);
          }),
          // Bounded: each run encodes and scores a trace of up to ~5000 lines.
          { numRuns: 12, seed: 9, examples: [[1], [40], [lines.length]] },
        );
        if (det.reads === 'vectors') {
          // Streaming (monitor): the last `history` windows give window i the score evaluate gives it.
          const avs = await vectors(vocab, prefix(lines.length));
          for (let i = 0; i < whole.length; i++) {
            const from = Math.max(0, i - det.history + 1);
            const n = i + 1 - from;
            assert.equal(det.scoreWindow({ avs: avs.subarray(from * 3, (i + 1) * 3), n, tap: null, window: i }), whole[i], `window ${i}`);
          }
        }
      } finally {
        det.dispose();
      }
    });
  }
});

async function vectors(vocab: Vocabulary, src: ChunkSource): Promise<Float64Array> {
  const rows: number[] = [];
  await encodeTrace(src, vocab, { faithful: false, windowNs: 1e9 }, (w) => {
    if (w.av !== null) rows.push(...w.av);
  });
  return Float64Array.from(rows);
}
