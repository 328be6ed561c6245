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
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from './manifest.js';
import { ChidsError, InputError } from '../util/errors.js';
import { readJsonFile, validate } from '../util/json.js';
import { makeVocabulary, type Vocabulary } from '../encode/vocabulary.js';
import { COMMAND_SHAPE } from '../trace/command.js';

import { MANIFEST_FORMAT, MANIFEST_VERSION, READABLE_MANIFEST_VERSIONS } from './manifest-format.js';
import { checkBaselineTarget, fsProblem, recoverBaselineDir, stagingName, syncDir, syncTree, writeSynced, type WriteStep } from './baseline-replace.js';

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
    // A `baseline` killed while swapping a new baseline in leaves it beside DIR: finish that.
    await recoverBaselineDir(paths.dir).catch(() => []);
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(paths.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(paths.dir, code === 'ENOENT' ? 'no such baseline directory' : `cannot open the baseline directory (${fsProblem(err)})`);
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
  const vocab = makeVocabulary(ss, sa, mf);
  let v: Vocabulary = vocab;
  if (manifest && !manifest.encoding.faithful) {
    const e = manifest.encoding;
    // A baseline from before command shapes were arguments has none in seen_args: read execve as it did.
    if (e.exec_commands !== true) v = { ...v, execCommands: false };
    else {
      // One from before argv-element shapes (version 2) holds version 1 shapes: read commands as it did.
      const shape = e.command_shape ?? 1;
      if (shape > COMMAND_SHAPE) throw new InputError(path.join(paths.dir ?? '.', FILES.manifest), `records command shape version ${shape}; this chids reads up to ${COMMAND_SHAPE}`);
      if (shape !== COMMAND_SHAPE) v = { ...v, commandShape: shape };
    }
    // One from before /proc numbers were a class holds its run's pids: read /proc paths as it did.
    if (e.proc_numbers !== true) v = { ...v, procNumbers: false };
  }
  return { manifest, vocab: v, thresholds: tl };
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

export { checkBaselineTarget } from './baseline-replace.js';

/**
 * Writes a baseline directory: staged in a sibling directory (every file fsynced, the manifest
 * last), then swapped in (src/engine/baseline-replace.ts says how a crash at any step is undone).
 * `onStep` is called after each step (tests kill the writer there).
 */
export async function writeBaseline(dir: string, data: BaselineWrite, onStep?: (step: WriteStep) => void): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  try {
    await mkdir(parent, { recursive: true });
  } catch (err) {
    throw new ChidsError(`${dir}: cannot create the parent directory (${fsProblem(err)})`);
  }
  await checkBaselineTarget(dir);
  const tmp = stagingName(target, 'tmp');
  const old = stagingName(target, 'old');
  let swapped = false;
  try {
    await mkdir(tmp);
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    await writeSynced(path.join(tmp, FILES.seenSyscalls), json([...data.seenSyscalls].sort()));
    await writeSynced(path.join(tmp, FILES.seenArgs), json([...data.seenArgs].sort()));
    await writeSynced(path.join(tmp, FILES.maxFreq), json(data.maxFreq));
    await writeSynced(path.join(tmp, FILES.thresholds), json(data.thresholds));
    if (data.calibration !== null) await writeSynced(path.join(tmp, FILES.calibration), json(data.calibration));
    await data.saveModel(tmp); // writes tmp/model/…
    onStep?.('staged');
    await syncTree(tmp);
    onStep?.('synced');
    // The manifest goes last: a directory with a manifest is a complete one.
    await writeSynced(path.join(tmp, FILES.manifest), json(data.manifest));
    syncDir(tmp);
    onStep?.('manifest');
    if (existsSync(target)) {
      await rename(target, old);
      syncDir(parent);
      onStep?.('moved-old');
      swapped = true;
      await rename(tmp, target);
      syncDir(parent);
      onStep?.('moved-new');
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
      syncDir(parent);
    }
    onStep?.('done');
  } catch (err) {
    // Put the old baseline back if it was moved away and the new one is not in place.
    if (swapped && !existsSync(target)) await rename(old, target).catch(() => {});
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (err instanceof ChidsError) throw err;
    throw new ChidsError(`${dir}: cannot write the baseline (${fsProblem(err)})`);
  }
}

export interface ArtifactFlags {
  od?: string;
  ss?: string;
  sa?: string;
  fm?: string;
  tm?: string;
  tl?: string;
}

/** The baseline as the commands' flags give it: `--od DIR`, or the reference's individual files `--ss --sa --fm [--tm --tl]`. */
export function artifactPaths(flags: ArtifactFlags, needModel: boolean): ArtifactPaths {
  const individual: (keyof ArtifactFlags)[] = needModel ? ['ss', 'sa', 'fm', 'tm', 'tl'] : ['ss', 'sa', 'fm'];
  if (flags.od) {
    const extra = (['ss', 'sa', 'fm', 'tm', 'tl'] as const).filter((k) => flags[k]);
    if (extra.length) throw new ChidsError(`--od cannot be combined with ${extra.map((k) => '--' + k).join(', ')}`);
    return pathsInDir(flags.od);
  }
  const missing = individual.filter((k) => !flags[k]);
  if (missing.length === individual.length) {
    throw new ChidsError(`give the baseline directory with --od DIR (or its files with ${individual.map((k) => '--' + k).join(' ')})`);
  }
  if (missing.length) throw new ChidsError(`missing ${missing.map((k) => '--' + k).join(', ')} (or use --od DIR)`);
  const model = flags.tm ? modelHome(flags.tm) : null;
  return { dir: null, seenSyscalls: flags.ss!, seenArgs: flags.sa!, maxFreq: flags.fm!, thresholds: flags.tl ?? null, model };
}
