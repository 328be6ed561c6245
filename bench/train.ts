/**
 * Training speed: our custom loop (trainChids: Keras-style L1 activity penalty, Keras Adam)
 * against TF.js' own `model.fit` on the same network *without* the activity regularizer
 * (TF.js cannot run it), same epochs, batch size and validation split.
 *
 *     npx tsx bench/train.ts [--rows 10000] [--epochs 120] [--repeat 1]
 *
 * Prints one JSON line: {"ours_ms", "fit_ms", "ratio" (= ours / fit), …}. The custom loop
 * must not be slower than model.fit. Both are warmed up first; with --repeat R they run
 * alternately R times and the best time of each is reported (the machine may be shared).
 */
import { buildChidsModel, ensureTf, mulberry32, tf, trainChids } from '../src/model/nn/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const rows = arg('rows', 10_000);
const epochs = arg('epochs', 120);
const batchSize = 50;
const validationSplit = 0.2;
const SEED = 20240601;

/** AVs shaped like real ones: fi mostly small, usi/uai mostly 0 with occasional spikes. */
function syntheticAVs(n: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  const avs = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    avs[i * 3] = Math.pow(rng(), 3) * 0.8;
    avs[i * 3 + 1] = rng() < 0.05 ? Math.floor(rng() * 4) * 0.5 : 0;
    avs[i * 3 + 2] = rng() < 0.03 ? rng() * 2 : 0;
  }
  return avs;
}

await ensureTf();
const avs = syntheticAVs(rows, SEED);
const repeat = arg('repeat', 1);

async function runOurs(data: Float64Array, n: number, ep: number): Promise<{ ms: number; loss: number }> {
  const t0 = performance.now();
  const r = await trainChids(data, n, { epochs: ep, batchSize, validationSplit, seed: SEED });
  const ms = performance.now() - t0;
  r.scorer.dispose();
  return { ms, loss: r.finalLoss };
}

async function runFit(data: Float64Array, n: number, ep: number): Promise<{ ms: number; loss: number | null }> {
  const model = buildChidsModel(SEED);
  model.compile({ optimizer: tf.train.adam(0.001, 0.9, 0.999, 1e-7), loss: 'meanSquaredError' });
  const x = tf.tensor2d(Float32Array.from(data), [n, 3]);
  const t0 = performance.now();
  const h = await model.fit(x, x, { epochs: ep, batchSize, validationSplit, shuffle: true, verbose: 0 });
  const ms = performance.now() - t0;
  x.dispose();
  model.dispose();
  const loss = h.history['loss']?.at(-1);
  return { ms, loss: typeof loss === 'number' ? loss : null };
}

// Warm up both paths (JIT, kernel registration) on a small slice so neither pays it in the timing.
const warm = Math.min(rows, 1000);
await runOurs(avs.subarray(0, warm * 3), warm, 2);
await runFit(avs.subarray(0, warm * 3), warm, 2);

// Alternate the two and keep each one's best run: the machine may be shared.
let ours = { ms: Infinity, loss: NaN };
let fit: { ms: number; loss: number | null } = { ms: Infinity, loss: null };
for (let r = 0; r < repeat; r++) {
  const a = await runOurs(avs, rows, epochs);
  if (a.ms < ours.ms) ours = a;
  const b = await runFit(avs, rows, epochs);
  if (b.ms < fit.ms) fit = b;
}

console.log(
  JSON.stringify({
    ours_ms: Math.round(ours.ms),
    fit_ms: Math.round(fit.ms),
    ratio: Number((ours.ms / fit.ms).toFixed(3)),
    rows,
    epochs,
    batch: batchSize,
    repeat,
    ours_final_loss: ours.loss,
    fit_final_loss: fit.loss,
  }),
);
