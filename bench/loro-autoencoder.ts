/**
 * Does the CHIDS autoencoder get better when it trains on the LORO calibration vectors with
 * scaled inputs? (issue 9, item 3). Trains, on the training split of a LID-DS scenario:
 *
 *   ref     the reference autoencoder on the training AVs (what `--model chids` does);
 *   loro    the same network on the calibration vectors (each recording encoded against the
 *           other recordings' vocabulary), threshold = max error over them;
 *   scaled  as loro, each feature divided by its calibration maximum first (so the training
 *           inputs span [0, 1], the sigmoid output's range), test AVs scaled alike;
 *   calibrated  the default detector, for comparison;
 *
 * then scores test/normal and test/normal_and_attack and prints, per variant and seed, the
 * recordings flagged at θ 1.0 and the AUC of the recordings' max scores.
 *
 *     npx tsx bench/loro-autoencoder.ts [--dataset data/example] [--seeds 1,2,3] [--epochs 120]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBaseline } from '../src/app/train.js';
import { pathsInDir, readBaselineData } from '../src/engine/baseline-dir.js';
import { datasetLayout } from '../src/trace/lidds/layout.js';
import { forEachSource, planSources } from '../src/trace/sources/plan.js';
import { encodeTrace } from '../src/encode/pipeline.js';
import { NameTable } from '../src/trace/names.js';
import type { TrainingRecording } from '../src/model/detector.js';
import { ensureTf, trainChids } from '../src/model/nn/index.js';
import { CalibratedDetector, referencesFrom } from '../src/model/calibrated.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
}
const dataset = arg('dataset', 'data/example');
const seeds = arg('seeds', '1,2,3').split(',').map(Number);
const epochs = Number(arg('epochs', '120'));
const layout = datasetLayout(dataset, ['training', 'normal', 'attack']);

await ensureTf();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chids-loro-'));
let training: readonly TrainingRecording[] = [];
await runBaseline({
  inputs: [layout.training],
  outDir: path.join(tmp, 'b'),
  faithful: false,
  windowNs: 1e9,
  seed: 1,
  hooks: { onTrainingSet: (r) => (training = r) },
});
const data = await readBaselineData(pathsInDir(path.join(tmp, 'b')));

/** Test recordings' AVs, encoded once. */
const tests: { cls: 'normal' | 'attack'; avs: Float64Array; n: number }[] = [];
for (const [cls, dir] of [['normal', layout.normal], ['attack', layout.attack]] as const) {
  await forEachSource(await planSources([dir]), async (src) => {
    const rows: number[] = [];
    await encodeTrace(src, data.vocab, { faithful: false, windowNs: 1e9 }, (w) => w.av && rows.push(...w.av), new NameTable());
    tests.push({ cls, avs: Float64Array.from(rows), n: rows.length / 3 });
  }, []);
}

const concat = (pick: (r: TrainingRecording) => Float64Array) => {
  const parts = training.map(pick);
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const trainAVs = concat((r) => r.avs);
const calAVs = concat((r) => r.calibration!);
const n = trainAVs.length / 3;
const scale = [0, 1, 2].map((j) => {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, calAVs[3 * i + j]);
  return m > 0 ? m : 1;
});
const scaled = (a: Float64Array) => a.map((v, i) => v / scale[i % 3]);

function auc(pos: number[], neg: number[]): number {
  let s = 0;
  for (const p of pos) for (const q of neg) s += p > q ? 1 : p === q ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

function report(variant: string, seed: number | null, threshold: number, score: (avs: Float64Array, n: number) => Float64Array): void {
  const max = tests.map((t) => (t.n === 0 ? 0 : Math.max(...score(t.avs, t.n))));
  const att = tests.map((t, i) => [t.cls, max[i]] as const);
  const pos = att.filter(([c]) => c === 'attack').map(([, m]) => m);
  const neg = att.filter(([c]) => c === 'normal').map(([, m]) => m);
  const dr = pos.filter((m) => m > threshold).length;
  const fa = neg.filter((m) => m > threshold).length;
  console.log(JSON.stringify({ variant, seed, detected: `${dr}/${pos.length}`, false_alarms: `${fa}/${neg.length}`, auc: Number(auc(pos, neg).toFixed(4)) }));
}

const cal = new CalibratedDetector(referencesFrom(calAVs, n));
report('calibrated', null, 1, (avs, k) => cal.scoreRecording({ avs, n: k, tap: null }));
for (const seed of seeds) {
  for (const [variant, x, transform] of [
    ['ref', trainAVs, (a: Float64Array) => a],
    ['loro', calAVs, (a: Float64Array) => a],
    ['scaled', scaled(calAVs), scaled],
  ] as const) {
    const r = await trainChids(x, n, { epochs, seed });
    report(variant, seed, r.maxError, (avs, k) => r.scorer.scoreAVs(transform(avs), k));
    r.scorer.dispose();
  }
}
rmSync(tmp, { recursive: true, force: true });
