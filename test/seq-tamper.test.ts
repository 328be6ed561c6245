/**
 * Hand-edited sequence-model files (found by the architecture fuzzer, test/fuzz/fuzz.ts):
 * each must be refused on load with one line naming model.json, never crash or score NaN
 * in the middle of a recording, and never take unbounded time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runBaseline } from '../src/app/train.js';
import { loadDetector } from '../src/model/registry.js';
import { MAX_SEQ_LEN } from '../src/model/nn/seq-autoencoder.js';
import { probeTrace, tamperArchitecture, type ArchEdit } from './fuzz/fuzz.js';

let dir = '';
const base: Record<string, string> = {};
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'chids-seqtamper-'));
  const td = path.join(dir, 'train.sc');
  writeFileSync(td, probeTrace());
  for (const model of ['tcn', 'enhanced'] as const) {
    base[model] = path.join(dir, `base-${model}`);
    await runBaseline({ inputs: [td], outDir: base[model], faithful: false, windowNs: 1e9, seed: 1, epochs: 1, model: { model } });
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a baseline with one architecture edit to its model.json. */
function tampered(model: string, edit: ArchEdit): string {
  const out = path.join(dir, `t-${model}-${edit.kind}-${Math.random().toString(36).slice(2)}`);
  cpSync(base[model], out, { recursive: true });
  const file = path.join(out, 'model', 'model.json');
  writeFileSync(file, JSON.stringify(tamperArchitecture(JSON.parse(readFileSync(file, 'utf8')), edit)));
  return out;
}
const edit = { layer: 0, other: 0, field: 0, value: 0, seqLen: 10, cls: 'Dense' };

describe('tampered sequence models', () => {
  it('the untouched baselines load (the checks below refuse only the edits)', async () => {
    for (const m of ['tcn', 'enhanced']) (await loadDetector(base[m])).dispose();
  });

  it(`a sequence length over ${MAX_SEQ_LEN}, changed consistently everywhere, is refused (T = 1000 took seconds, 10⁵ ran out of memory)`, async () => {
    const d = tampered('tcn', { ...edit, kind: 'seq-len', seqLen: 1000 });
    const json = path.join(d, 'model', 'model.json');
    await assert.rejects(loadDetector(d), (err: Error) => err.message === `${json}: records a sequence length of 1000 (userDefinedMetadata.chids.seq_len), more than the ${MAX_SEQ_LEN} chids allows`);
    // Still within the bound, the same edit loads and runs.
    (await loadDetector(tampered('tcn', { ...edit, kind: 'seq-len', seqLen: 20 }))).dispose();
  });

  it('a layer turned into a Masking layer (shapes agree at the ends; TF.js failed mid-scoring) is refused on load', async () => {
    const d = tampered('enhanced', { ...edit, kind: 'class', layer: 2, cls: 'Masking' });
    await assert.rejects(loadDetector(d), (err: Error) => err.message.startsWith(`${path.join(d, 'model', 'model.json')}: cannot run the model: `) && !err.message.includes('\n'));
  });

  it('a batch-norm epsilon of −1 (NaN scores, which never cross a threshold: silent blindness) is refused on load', async () => {
    const d = tampered('enhanced', { ...edit, kind: 'layer-field', layer: 1, field: 2, value: -1 });
    const layer = JSON.parse(readFileSync(path.join(d, 'model', 'model.json'), 'utf8')).modelTopology.config.layers[1];
    assert.equal(layer.config.epsilon, -1, 'the edit hit the epsilon');
    await assert.rejects(loadDetector(d), (err: Error) => err.message === `${path.join(d, 'model', 'model.json')}: the model gives a non-finite score (NaN) on a trial input: its architecture or weights are damaged`);
  });
});
