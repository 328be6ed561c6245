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
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChidsError } from '../util/errors.js';
import { pathsInDir } from '../engine/baseline-dir.js';
import { chidsVersion, runBaseline, type BaselineHooks, type BaselineResult } from './train.js';
import { runEvaluate, type EvaluationResult } from './evaluate.js';

/** The splits of a LID-DS scenario directory. */
export interface DatasetLayout {
  dir: string;
  training: string;
  validation: string;
  normal: string;
  attack: string;
}

export type DatasetSplit = 'training' | 'validation' | 'normal' | 'attack';

const SPLIT_PATHS: Record<DatasetSplit, string> = {
  training: 'training',
  validation: 'validation',
  normal: path.join('test', 'normal'),
  attack: path.join('test', 'normal_and_attack'),
};

const LAYOUT_HINT = 'a LID-DS scenario directory holds training/, validation/, test/normal/ and test/normal_and_attack/';

/**
 * The split directories of a LID-DS scenario directory; ChidsError naming what is missing when
 * `dir` or one of the `need`ed splits is not there.
 */
export function datasetLayout(dir: string, need: readonly DatasetSplit[] = []): DatasetLayout {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (!isDir(dir)) throw new ChidsError(`${dir}: ${existsSync(dir) ? 'not a directory' : 'no such directory'} (${LAYOUT_HINT})`);
  const layout: DatasetLayout = {
    dir,
    training: path.join(dir, SPLIT_PATHS.training),
    validation: path.join(dir, SPLIT_PATHS.validation),
    normal: path.join(dir, SPLIT_PATHS.normal),
    attack: path.join(dir, SPLIT_PATHS.attack),
  };
  const missing = need.filter((s) => !isDir(layout[s]));
  if (missing.length) {
    throw new ChidsError(`${dir}: not a LID-DS scenario directory: missing ${missing.map((s) => SPLIT_PATHS[s] + '/').join(', ')} (${LAYOUT_HINT})`);
  }
  return layout;
}

/** The package's root directory (this file is src/app/demo.ts or dist/app/demo.js). */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Where the bundled example dataset lives. */
export function bundledDataset(): string {
  return path.join(packageRoot(), 'data', 'example');
}

export interface DemoOptions {
  /** A LID-DS scenario directory; default: the bundled example dataset. */
  dataset?: string;
  /** Output directory: `baseline/`, `results.json`, `index.html`. */
  outDir: string;
  seed: number;
  epochs?: number;
  /** θ for the report's verdicts; default 1.0. */
  theta?: number;
  hooks?: BaselineHooks;
  /** Progress messages between the stages ("training on 12 recordings…"). */
  onStage?(message: string): void;
}

export interface DemoResult {
  dataset: string;
  baselineDir: string;
  resultsPath: string;
  reportPath: string;
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

  opts.onStage?.(`training a baseline on ${layout.training} (seed ${opts.seed})`);
  const baseline = await runBaseline({
    inputs: [layout.training],
    outDir: baselineDir,
    faithful: false,
    windowNs: 1e9,
    epochs: opts.epochs ?? 120,
    batchSize: 50,
    seed: opts.seed,
    hooks: opts.hooks,
  });
  opts.onStage?.(`evaluating on ${layout.normal} and ${layout.attack}`);
  const evaluation = await runEvaluate({
    normal: [layout.normal],
    attack: [layout.attack],
    artifacts: pathsInDir(baselineDir),
    hooks: opts.hooks,
  });
  const { writeFileAtomic, writeReport } = await import('../report/html.js');
  await writeFileAtomic(resultsPath, JSON.stringify(evaluation) + '\n');
  await writeReport(reportPath, evaluation, {
    theta: opts.theta,
    source: layout.dir,
    version: chidsVersion(),
    title: `chids demo: ${path.basename(path.resolve(layout.dir))}`,
  });
  return {
    dataset: layout.dir,
    baselineDir: path.resolve(baselineDir),
    resultsPath: path.resolve(resultsPath),
    reportPath: path.resolve(reportPath),
    baseline,
    evaluation,
    ms: performance.now() - t0,
  };
}
