/**
 * The CI slice of the fuzz suite (test/fuzz/fuzz.ts): CHIDS_FUZZ_RUNS inputs in all (default
 * 2,000: a smoke slice with a new seed every run; `npm run fuzz` runs 100,000), seeded by CHIDS_FUZZ_SEED (default: a new seed each
 * run, printed, so a finding can be replayed). Every input must end with a result or a clear
 * error, within a second, with finite vectors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runBaseline } from '../src/app/train.js';
import { fuzzArchitectures, fuzzBaselines, fuzzTraces, fuzzZips, probeTrace, scratch, type FuzzStats } from './fuzz/fuzz.js';

// 2,000 in npm test: twenty times fast-check's default of 100 runs, and each run of the suite
// draws a new seed, so successive CI runs cover new inputs rather than the same ones again; what
// a slice this size is for is proving that every fuzzer and every check still works (the search
// itself is `npm run fuzz`). 5,000 cost ~8 s more of CPU per suite run, for inputs the next runs
// reach anyway.
const TOTAL = Number(process.env.CHIDS_FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.CHIDS_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
// Shares of the inputs: traces are cheap and where most of the logic is; a baseline input
// copies a directory and loads a model.
const SHARE = { traces: 0.83, zips: 0.1, baselines: 0.05, architectures: 0.02 };

function verdict(s: FuzzStats): void {
  console.log(
    `fuzz ${s.name}: ${s.inputs} inputs (seed ${SEED}), ${s.refused} refused with a clear error, ${s.crashes} crashes, ${s.slow} ≥ 1 s of CPU (max ${s.maxMs.toFixed(0)} ms CPU, ${s.maxWallMs.toFixed(0)} ms wall), ${s.vectors} vectors, ${s.nonFinite} non-finite`,
  );
  assert.equal(s.crashes, 0, `crashes:\n${s.crashSamples.join('\n\n')}`);
  assert.equal(s.slow, 0, `slow inputs:\n${s.slowSamples.join('\n\n')}`);
  assert.equal(s.nonFinite, 0, `non-finite vectors or scores:\n${s.nonFiniteSamples.join('\n\n')}`);
  assert.ok(s.inputs > 0);
}

describe(`fuzz: ${TOTAL} inputs, seed ${SEED}`, { timeout: Infinity }, () => {
  let dir = '';
  const baselines: string[] = [];
  const SEQ_MODELS = new Set(['lstm', 'tcn', 'dense-seq', 'enhanced']);
  before(async () => {
    dir = scratch();
    const td = path.join(dir, 'train.sc');
    writeFileSync(td, probeTrace());
    // Every detector kind, the sequence autoencoders included (their architecture is in the
    // JSON, so a tampered file can ask for any layer, size or length). One epoch: the weights'
    // values do not matter here, only their files.
    for (const model of ['calibrated', 'chids', 'stide', 'bosc', 'lstm', 'tcn', 'dense-seq', 'enhanced'] as const) {
      const od = path.join(dir, `base-${model}`);
      const nn = model !== 'calibrated' && model !== 'stide' && model !== 'bosc';
      await runBaseline({ inputs: [td], outDir: od, faithful: false, windowNs: 1e9, seed: 1, epochs: nn ? (model === 'chids' ? 2 : 1) : undefined, model: { model } });
      baselines.push(od);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('traces: LID-DS and sysdig text, both modes, any chunking', async () => {
    verdict(await fuzzTraces(Math.round(TOTAL * SHARE.traces), SEED));
  });
  it('zips: LID-DS recordings with odd members, damaged', async () => {
    verdict(await fuzzZips(Math.round(TOTAL * SHARE.zips), SEED, path.join(dir, 'z')));
  });
  it('baselines: damaged manifests, vocabularies, thresholds and model files', async () => {
    verdict(await fuzzBaselines(Math.round(TOTAL * SHARE.baselines), SEED, baselines, dir));
  });
  it('architectures: tampered lstm, tcn, dense-seq and enhanced model files', async () => {
    const seq = baselines.filter((b) => SEQ_MODELS.has(path.basename(b).slice('base-'.length)));
    assert.equal(seq.length, SEQ_MODELS.size);
    verdict(await fuzzArchitectures(Math.round(TOTAL * SHARE.architectures), SEED, seq, dir));
  });
});
