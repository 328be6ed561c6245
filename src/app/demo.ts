/**
 * `chids demo`, and the LID-DS scenario layout that `--dataset DIR` means everywhere.
 *
 * A LID-DS 2021 scenario directory holds `training/`, `validation/`, `test/normal/` and
 * `test/normal_and_attack/`, each full of `NAME.zip` recordings. The demo trains a baseline on
 * `training/` (seeded), evaluates it on the two test splits, and writes the evaluation
 * (`results.json`) and the HTML report (`index.html`) beside the baseline in one output
 * directory. With no `--dataset` it uses the example dataset bundled in the repository
 * (`data/example/`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ModelName } from '../model/detector.js';
import { ChidsError } from '../util/errors.js';
import { pathsInDir } from '../engine/baseline-dir.js';
import { datasetLayout } from '../trace/lidds/layout.js';
import { bundledDataset, chidsVersion } from '../util/package.js';
import { writeFileAtomic } from '../util/fs.js';
import { toJson } from '../util/json.js';
import { runBaseline, type BaselineHooks, type BaselineResult } from './train.js';
import { runEvaluate, type EvaluationResult } from './evaluate.js';

export interface DemoOptions {
  /** A LID-DS scenario directory; default: the bundled example dataset. */
  dataset?: string;
  /** Output directory: `baseline/`, `results.json`, `index.html`. */
  outDir: string;
  seed: number;
  /** The detector; default: the default detector (calibrated). */
  model?: ModelName;
  /** Training epochs of the autoencoders; default: the model's. */
  epochs?: number;
  /** θ for the report's verdicts; default 1.0. */
  theta?: number;
  hooks?: BaselineHooks;
  /** Progress messages between the stages ("training on 12 recordings…"). */
  onStage?(message: string): void;
  /**
   * Writes the HTML report of the evaluation (the CLI passes the report module's writer; the
   * use case does not depend on presentation). Without it no `index.html` is written.
   */
  writeReport?(file: string, evaluation: EvaluationResult, meta: { theta?: number; source: string; version: string; title: string }): Promise<unknown>;
}

export interface DemoResult {
  dataset: string;
  baselineDir: string;
  resultsPath: string;
  /** null when no report writer was given. */
  reportPath: string | null;
  baseline: BaselineResult;
  evaluation: EvaluationResult;
  ms: number;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  let dir = opts.dataset;
  if (dir === undefined) {
    dir = bundledDataset();
    if (!existsSync(dir)) {
      throw new ChidsError(
        `the bundled example dataset is not there (${path.relative(process.cwd(), dir) || dir}); run the demo on a LID-DS scenario directory with --dataset DIR`,
      );
    }
  }
  const layout = datasetLayout(dir, ['training', 'normal', 'attack']);
  const baselineDir = path.join(opts.outDir, 'baseline');
  const resultsPath = path.join(opts.outDir, 'results.json');
  const reportPath = path.join(opts.outDir, 'index.html');

  opts.onStage?.(`training a baseline (${opts.model ?? 'calibrated'}) on ${layout.training} (seed ${opts.seed})`);
  const baseline = await runBaseline({
    inputs: [layout.training],
    outDir: baselineDir,
    faithful: false,
    windowNs: 1e9,
    epochs: opts.epochs,
    seed: opts.seed,
    model: opts.model === undefined ? undefined : { model: opts.model },
    hooks: opts.hooks,
  });
  opts.onStage?.(`evaluating on ${layout.normal} and ${layout.attack}`);
  const evaluation = await runEvaluate({
    normal: [layout.normal],
    attack: [layout.attack],
    artifacts: pathsInDir(baselineDir),
    hooks: opts.hooks,
  });
  await writeFileAtomic(resultsPath, toJson(evaluation) + '\n');
  await opts.writeReport?.(reportPath, evaluation, {
    theta: opts.theta,
    source: layout.dir,
    version: chidsVersion(),
    title: `chids demo: ${path.basename(path.resolve(layout.dir))}`,
  });
  return {
    dataset: layout.dir,
    baselineDir: path.resolve(baselineDir),
    resultsPath: path.resolve(resultsPath),
    reportPath: opts.writeReport ? path.resolve(reportPath) : null,
    baseline,
    evaluation,
    ms: performance.now() - t0,
  };
}
