/**
 * The baseline directory: what `baseline` writes and `evaluate` / `encode` read.
 *
 *   manifest.json        format version, every setting, counts, input hashes, created time
 *   seen_syscalls.json   sorted array of syscall names
 *   seen_args.json       sorted array of processed arguments
 *   max_freq.json        integer
 *   thresh_list.json     the ten thresholds, θ = 0.2 … 2.0
 *   calibration.json     the calibration folds, per-feature maxima and every calibration window
 *                        with unseen activity (when the detector used calibration)
 *   model/               the model (TF.js layers format for the autoencoders)
 *
 * Written atomically: everything goes to a temporary sibling directory that is renamed into
 * place at the end, so a failed or interrupted run never leaves a half-written baseline.
 * Reading validates every file and names the file and the problem when one is wrong.
 *
 * This module must not import TF.js: `encode` reads a vocabulary without loading the model.
 */
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from './manifest.js';
import { ChidsError, InputError } from '../util/errors.js';
import { readJsonFile, validate } from '../util/json.js';
import { makeVocabulary, type Vocabulary } from '../encode/vocabulary.js';

import { MANIFEST_FORMAT, MANIFEST_VERSION, READABLE_MANIFEST_VERSIONS } from './manifest-format.js';

export { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest };

/** zod costs ~45 ms to load: only commands that read a manifest or a JSON list pay for it. */
const schemas = () => import('./manifest.js');

export const FILES = {
  manifest: 'manifest.json',
  seenSyscalls: 'seen_syscalls.json',
  seenArgs: 'seen_args.json',
  maxFreq: 'max_freq.json',
  thresholds: 'thresh_list.json',
  calibration: 'calibration.json',
  model: 'model',
} as const;

/** What a baseline directory holds, apart from the model. */
export interface BaselineData {
  manifest: Manifest | null;
  vocab: Vocabulary;
  thresholds: number[] | null;
}

async function readJson(file: string): Promise<unknown> {
  try {
    return await readJsonFile(file);
  } catch (err) {
    if (err instanceof InputError && !existsSync(file) && !isSymlink(file)) {
      throw new InputError(file, 'missing (is this a chids baseline directory? run `chids baseline` to make one)');
    }
    throw err;
  }
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

const check = validate;

/** A JSON array of strings; checked by hand because these are read by `encode`, which should start fast. */
function checkStrings(file: string, value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new InputError(file, `not a valid ${what}: expected a JSON array of strings`);
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') throw new InputError(file, `not a valid ${what} at ${i}: expected a string, got ${JSON.stringify(value[i])?.slice(0, 40)}`);
  }
  return value as string[];
}

export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, FILES.manifest);
  const raw = await readJson(file);
  if (raw && typeof raw === 'object' && (raw as { format?: unknown }).format === MANIFEST_FORMAT) {
    const version = (raw as { version?: unknown }).version;
    if (typeof version === 'number' && !READABLE_MANIFEST_VERSIONS.includes(version)) {
      throw new InputError(
        file,
        `baseline format version ${version} is not supported by this chids (it reads versions ${READABLE_MANIFEST_VERSIONS.join(' and ')}); re-run \`chids baseline\``,
      );
    }
  }
  return check(file, (await schemas()).ManifestSchema, raw, 'chids manifest');
}

export async function readSeenSyscalls(file: string): Promise<string[]> {
  return checkStrings(file, await readJson(file), 'list of syscall names');
}
export async function readSeenArgs(file: string): Promise<string[]> {
  return checkStrings(file, await readJson(file), 'list of arguments');
}
export async function readMaxFreq(file: string): Promise<number> {
  const v = await readJson(file);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InputError(file, `not a valid max_freq (a positive integer): got ${JSON.stringify(v)?.slice(0, 40)}`);
  return v;
}
export async function readThresholds(file: string): Promise<number[]> {
  return check(file, (await schemas()).Thresholds, await readJson(file), 'threshold list (10 non-negative numbers)');
}

/** Where each file is: from a baseline directory, or given one by one (the reference's flags). */
export interface ArtifactPaths {
  dir: string | null;
  seenSyscalls: string;
  seenArgs: string;
  maxFreq: string;
  thresholds: string | null;
  /** The directory that holds `model/` (the baseline directory), or null when no model is needed. */
  model: string | null;
}

/**
 * Where the model is, from what a user may give to --tm: the baseline directory, its `model`
 * directory, or the `model.json` inside it.
 */
export function modelHome(given: string): string {
  // The loader reads `<home>/model/model.json`, so a model directory can only be found
  // through its parent when it is called `model` (as `chids baseline` writes it).
  // model.json: the autoencoders (TF.js); calibrated.json: the default; stide.json, bosc.json: the classic detectors.
  const files = ['model.json', 'calibrated.json', 'stide.json', 'bosc.json'];
  const modelDir = files.includes(path.basename(given)) ? path.dirname(path.resolve(given)) : files.some((f) => existsSync(path.join(given, f))) ? path.resolve(given) : null;
  if (modelDir === null) return given;
  if (path.basename(modelDir) !== FILES.model) {
    throw new InputError(given, `the model directory must be named '${FILES.model}' (as \`chids baseline\` writes it); rename it or give the baseline directory that holds ${FILES.model}/`);
  }
  return path.dirname(modelDir);
}

export function pathsInDir(dir: string): ArtifactPaths {
  return {
    dir,
    seenSyscalls: path.join(dir, FILES.seenSyscalls),
    seenArgs: path.join(dir, FILES.seenArgs),
    maxFreq: path.join(dir, FILES.maxFreq),
    thresholds: path.join(dir, FILES.thresholds),
    model: dir,
  };
}

/** Reads and cross-checks the vocabulary (and thresholds, when there are any). */
export async function readBaselineData(paths: ArtifactPaths): Promise<BaselineData> {
  if (paths.dir !== null) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(paths.dir);
    } catch {
      throw new InputError(paths.dir, 'no such baseline directory');
    }
    if (!st.isDirectory()) throw new InputError(paths.dir, 'not a directory (expected the --od directory written by `chids baseline`)');
  }
  const manifest = paths.dir !== null ? await readManifest(paths.dir) : null;
  const [ss, sa, mf, tl] = await Promise.all([
    readSeenSyscalls(paths.seenSyscalls),
    readSeenArgs(paths.seenArgs),
    readMaxFreq(paths.maxFreq),
    paths.thresholds ? readThresholds(paths.thresholds) : Promise.resolve(null),
  ]);
  if (manifest) {
    const c = manifest.counts;
    if (c.seen_syscalls !== ss.length) throw new InputError(paths.seenSyscalls, `holds ${ss.length} names but the manifest says ${c.seen_syscalls}: the baseline directory is inconsistent`);
    if (c.seen_args !== sa.length) throw new InputError(paths.seenArgs, `holds ${sa.length} arguments but the manifest says ${c.seen_args}: the baseline directory is inconsistent`);
    if (c.max_freq !== mf) throw new InputError(paths.maxFreq, `is ${mf} but the manifest says ${c.max_freq}: the baseline directory is inconsistent`);
  }
  return { manifest, vocab: makeVocabulary(ss, sa, mf), thresholds: tl };
}

export interface BaselineWrite {
  manifest: Manifest;
  seenSyscalls: string[];
  seenArgs: string[];
  maxFreq: number;
  thresholds: number[];
  /** calibration.json's content, or null to write none. */
  calibration: unknown;
  /** Writes the model under the given baseline directory (as `<dir>/model/…`). */
  saveModel: (baselineDir: string) => Promise<void>;
}

/**
 * Refuses an output directory that must not be replaced: a file, or a non-empty directory
 * that is not a baseline. A missing directory or an existing baseline is fine. `baseline`
 * calls it before any work (so a long training run is not wasted on an unusable --od), and
 * writeBaseline again before writing.
 */
export async function checkBaselineTarget(dir: string): Promise<void> {
  let entries: string[] | null;
  try {
    const st = await stat(dir);
    entries = st.isDirectory() ? await readdir(dir) : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ChidsError(`${dir}: cannot be used as the output directory (${(err as Error).message})`);
  }
  if (entries === null) throw new ChidsError(`${dir}: exists and is not a directory; choose another --od`);
  if (entries.length > 0 && !entries.includes(FILES.manifest)) {
    throw new ChidsError(`${dir}: exists and is not a chids baseline directory (no ${FILES.manifest}); choose another --od or remove it`);
  }
}

/**
 * Writes a baseline directory atomically: into `<dir>.tmp-<pid>` first, renamed over `dir` at
 * the end (an existing baseline at `dir` is replaced only once the new one is complete).
 */
export async function writeBaseline(dir: string, data: BaselineWrite): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  try {
    await mkdir(parent, { recursive: true });
  } catch (err) {
    throw new ChidsError(`${dir}: cannot create the parent directory (${(err as Error).message})`);
  }
  await checkBaselineTarget(dir);
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
  const old = path.join(parent, `.${path.basename(target)}.old-${process.pid}-${Date.now()}`);
  try {
    await mkdir(tmp, { recursive: true });
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    await writeFile(path.join(tmp, FILES.seenSyscalls), json([...data.seenSyscalls].sort()));
    await writeFile(path.join(tmp, FILES.seenArgs), json([...data.seenArgs].sort()));
    await writeFile(path.join(tmp, FILES.maxFreq), json(data.maxFreq));
    await writeFile(path.join(tmp, FILES.thresholds), json(data.thresholds));
    if (data.calibration !== null) await writeFile(path.join(tmp, FILES.calibration), json(data.calibration));
    await data.saveModel(tmp); // writes tmp/model/…
    // The manifest goes last: a directory with a manifest is a complete one.
    await writeFile(path.join(tmp, FILES.manifest), json(data.manifest));
    if (existsSync(target)) {
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (err instanceof ChidsError) throw err;
    throw new ChidsError(`${dir}: cannot write the baseline (${(err as Error).message})`);
  }
}
