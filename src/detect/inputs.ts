/**
 * Turning the paths a user gives into trace sources, with the rule every command shares:
 * a path named explicitly must work (its failure is the command's failure), while a bad
 * recording found inside a directory is skipped with a warning and counted (the reference
 * aborts the whole run on one bad file).
 */
import { stat } from 'node:fs/promises';
import { expandInputs, openSource, type TraceSource } from '../events/sources.js';
import { InputError, describeError } from '../util/errors.js';

export interface PlannedSource {
  source: TraceSource;
  /** True when the source was found by expanding a directory (then its failure is skippable). */
  fromDirectory: boolean;
}

export interface SkippedInput {
  path: string;
  reason: string;
}

export async function planSources(paths: readonly string[]): Promise<PlannedSource[]> {
  const out: PlannedSource[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ source: await openSource(p), fromDirectory: false });
      continue;
    }
    let isDir = false;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch {
      throw new InputError(p, 'no such file or directory');
    }
    if (isDir) {
      for (const source of await expandInputs([p])) out.push({ source, fromDirectory: true });
    } else {
      out.push({ source: await openSource(p), fromDirectory: false });
    }
  }
  return out;
}

/**
 * Runs `work` on every source; failures of directory members are recorded in `skipped` and
 * reported through `onWarning`, failures of named files are thrown.
 */
export async function forEachSource<T>(
  planned: readonly PlannedSource[],
  work: (src: TraceSource, index: number) => Promise<T>,
  skipped: SkippedInput[],
  onWarning?: (msg: string) => void,
): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < planned.length; i++) {
    const { source, fromDirectory } = planned[i];
    try {
      results.push(await work(source, i));
    } catch (err) {
      if (!fromDirectory || !(err instanceof InputError)) throw err;
      const reason = describeError(err);
      skipped.push({ path: source.path, reason });
      onWarning?.(`skipped ${reason}`);
    }
  }
  return results;
}
