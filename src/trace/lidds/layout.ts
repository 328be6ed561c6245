/**
 * The LID-DS 2021 scenario layout that `--dataset DIR` means everywhere: `training/`,
 * `validation/`, `test/normal/` and `test/normal_and_attack/`, each full of `NAME.zip` recordings.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../../util/errors.js';

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

/** The training inputs of a command: `--td` paths, or a scenario's `training/` (not both). */
export function trainingInputs(td: readonly string[] | undefined, dataset: string | undefined): string[] {
  if (dataset !== undefined && td?.length) throw new ChidsError('give the training data with either --td or --dataset, not both');
  if (dataset !== undefined) return [datasetLayout(dataset, ['training']).training];
  if (!td?.length) throw new ChidsError('give the training recordings with --td PATH (or a LID-DS scenario with --dataset DIR)');
  return [...td];
}

/** The test inputs of a command: `--ns`/`--ms` paths, or a scenario's two test splits (not both). */
export function testInputs(
  ns: readonly string[] | undefined,
  ms: readonly string[] | undefined,
  dataset: string | undefined,
): { normal: string[]; attack: string[] } {
  if (dataset !== undefined && (ns?.length || ms?.length)) throw new ChidsError('give the recordings with either --ns/--ms or --dataset, not both');
  if (dataset !== undefined) {
    const layout = datasetLayout(dataset, ['normal', 'attack']);
    return { normal: [layout.normal], attack: [layout.attack] };
  }
  if (!ns?.length && !ms?.length) throw new ChidsError('give recordings to evaluate with --ns (normal) and/or --ms (attack), or --dataset DIR');
  return { normal: [...(ns ?? [])], attack: [...(ms ?? [])] };
}
