/**
 * Turning the paths a user gives into trace sources, with the rule every command shares:
 * a path named explicitly must work (its failure is the command's failure), while a bad
 * recording found inside a directory (unreadable, corrupt zip, no events…) is skipped with a
 * warning and counted; the reference aborts the whole run on one bad file.
 */
import { stat } from 'node:fs/promises';
import { listRecordings } from './paths.js';
import { openSource, type TraceSource } from './readers.js';
import { InputError, describeError } from '../../util/errors.js';
import { fsProblem } from '../labels.js';

export interface PlannedSource {
  path: string;
  /** True when the path was found by expanding a directory (then its failure is skippable). */
  fromDirectory: boolean;
}

export interface SkippedInput {
  path: string;
  reason: string;
}

/**
 * Lists the recordings to read, without opening them: '-' (stdin, at most once) and files as
 * given, directories expanded recursively to their recordings in path order. What a directory
 * holds that is not a recording is passed over and reported to `onSkip` (LID-DS side files, other
 * extensions, hidden entries, links to directories).
 */
export async function planSources(paths: readonly string[], onSkip?: (path: string, reason: string) => void): Promise<PlannedSource[]> {
  const out: PlannedSource[] = [];
  let sawStdin = false;
  for (const p of paths) {
    if (p === '-') {
      if (sawStdin) throw new InputError('stdin', "'-' was given more than once");
      sawStdin = true;
      out.push({ path: p, fromDirectory: false });
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      throw new InputError(p, fsProblem(err));
    }
    if (!isDir) {
      out.push({ path: p, fromDirectory: false });
      continue;
    }
    // What was passed over is reported only for a directory that holds recordings: for one that
    // holds none, the error says all there is to say (in one line).
    const passed: [string, string][] = [];
    const found = await listRecordings(p, (f, why) => passed.push([f, why]));
    if (found.length === 0) throw new InputError(p, 'no recordings (.zip, .sc, .scap, .txt) found in this directory');
    for (const [f, why] of passed) onSkip?.(f, why);
    for (const f of found) out.push({ path: f, fromDirectory: true });
  }
  return out;
}

/**
 * A warning for what a directory held besides recordings, except LID-DS side files (labels,
 * captures) and hidden entries, which are expected there: e.g. a stray `notes.md`.
 */
export function reportUnexpected(onWarning: ((msg: string) => void) | undefined): (path: string, reason: string) => void {
  return (path, reason) => {
    if (reason.startsWith('LID-DS') || /(^|\/)\.[^/]*$/.test(path)) return;
    onWarning?.(`passed over ${path}: ${reason}`);
  };
}

/**
 * Opens every planned source and runs `work` on it; failures of directory members are
 * recorded in `skipped` and reported through `onWarning`, failures of named files are thrown.
 */
export async function forEachSource<T>(
  planned: readonly PlannedSource[],
  work: (src: TraceSource, index: number) => Promise<T>,
  skipped: SkippedInput[],
  onWarning?: (msg: string) => void,
): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < planned.length; i++) {
    const { path, fromDirectory } = planned[i];
    try {
      results.push(await work(await openSource(path), i));
    } catch (err) {
      if (!fromDirectory || !(err instanceof InputError)) throw err;
      const reason = describeError(err);
      skipped.push({ path, reason });
      onWarning?.(`skipped ${reason}`);
    }
  }
  return results;
}
