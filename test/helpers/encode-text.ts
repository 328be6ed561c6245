/** Trains a vocabulary on one trace's text and encodes another against it (window details on): what the encoder tests of argument reading share. */
import type { EncodedWindow } from '../../src/encode/anomaly.js';
import { collectTrace, encodeTrace } from '../../src/encode/pipeline.js';
import { makeVocabulary, type Vocabulary } from '../../src/encode/vocabulary.js';
import { DEFAULT_WINDOW_NS } from '../../src/encode/windows.js';
import { bufferSource } from './file-source.js';

/** The vocabulary of a trace given as text. */
export async function vocabularyOf(train: string, faithful: boolean): Promise<Vocabulary> {
  const v = await collectTrace(bufferSource('train.sc', train), { faithful, windowNs: DEFAULT_WINDOW_NS });
  return makeVocabulary(v.seenSyscalls, v.seenArgs, Math.max(...v.counts));
}

/** The windows of a trace given as text, encoded against `vocab`. */
export async function encodeText(vocab: Vocabulary, test: string, faithful: boolean): Promise<EncodedWindow[]> {
  const out: EncodedWindow[] = [];
  await encodeTrace(bufferSource('test.sc', test), vocab, { faithful, windowNs: DEFAULT_WINDOW_NS, details: true }, (w) => out.push(w));
  return out;
}

/** `test` encoded against the vocabulary of `train`. */
export async function encodeAgainst(train: string, test: string, faithful: boolean): Promise<EncodedWindow[]> {
  return encodeText(await vocabularyOf(train, faithful), test, faithful);
}
