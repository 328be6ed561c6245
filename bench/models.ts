/**
 * Training time and scoring throughput of every detector, on the bundled dataset.
 *
 *     npx tsx bench/models.ts [DATASET_DIR] [--models chids,lstm,…] [--seed N] [--epochs N] [--json FILE]
 *
 * DATASET_DIR defaults to data/example (the bundled LID-DS scenario) when it exists, else to
 * a synthetic scenario generated once into bench/.data/models-dataset (20 training, 10 normal
 * and 10 attack recordings of 60 s of a web server; test/helpers/lidds-dataset.ts). Each model
 * is trained and evaluated exactly as `chids compare` does (each model's default epochs unless
 * --epochs), one after the other in this process; prints a markdown table.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCompare } from '../src/app/compare.js';
import { MODEL_NAMES, isModelName, type ModelName } from '../src/model/registry.js';
import { writeDataset } from '../test/helpers/lidds-dataset.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));
let dataset = positional[0];
if (dataset === undefined) {
  const bundled = path.join(root, 'data', 'example');
  if (existsSync(path.join(bundled, 'training'))) dataset = bundled;
  else {
    dataset = path.join(root, 'bench', '.data', 'models-dataset');
    if (!existsSync(path.join(dataset, 'test', 'normal_and_attack'))) {
      process.stderr.write(`data/example is absent: generating a synthetic scenario in ${dataset} …\n`);
      mkdirSync(dataset, { recursive: true });
      writeDataset(dataset, { training: 20, normal: 10, attack: 10, seconds: 60, seed: 1 });
    }
  }
}
const models = (flag('models') ?? MODEL_NAMES.join(',')).split(',').map((s) => s.trim());
for (const m of models) if (!isModelName(m)) throw new Error(`unknown model ${m}`);
const seed = Number(flag('seed') ?? 1);
const epochs = flag('epochs') === undefined ? undefined : Number(flag('epochs'));

const result = await runCompare({
  dataset,
  models: models as ModelName[],
  seed,
  epochs,
  hooks: {
    onModelStart: (m, i, n) => process.stderr.write(`[${i + 1}/${n}] ${m} …\n`),
    onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
  },
});

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(0)} %`);
const num = (v: number | null, d = 0) => (v === null ? '—' : v.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }));
console.log(`machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}; TF.js CPU backend (pure JS)`);
console.log(
  `dataset: ${path.relative(root, dataset) || dataset}: ${result.recordings.training} training, ${result.recordings.normal} normal and ${result.recordings.attack} attack recordings; seed ${seed}\n`,
);
console.log('| model | epochs | trained on | training time | windows/s (evaluate, end to end) | windows/s (model only) | DR @ FAR ≤ 1 % | DR @ FAR ≤ 5 % | AUC | latency |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const m of result.models) {
  const unit = m.model === 'chids' || m.model === 'calibrated' ? 'AVs' : m.model === 'stide' ? 'n-grams' : m.model === 'bosc' ? 'bags' : 'sequences';
  console.log(
    `| ${m.model} | ${m.epochs || '—'} | ${num(m.examples)} ${unit} | ${(m.training_ms / 1000).toFixed(1)} s | ${num(m.windows_per_s)} | ${num(m.model_windows_per_s)} | ${pct(m.dr_at_far_1)} | ${pct(m.dr_at_far_5)} | ${num(m.auc, 3)} | ${m.mean_latency_s === null ? '—' : `${m.mean_latency_s.toFixed(2)} s`} |`,
  );
}
const out = flag('json') ?? path.join(root, 'bench', '.data', 'models.json');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
