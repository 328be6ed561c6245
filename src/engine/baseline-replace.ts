/**
 * Replacing a baseline directory (`baseline --od DIR`) safely.
 *
 * - DIR is taken for a baseline only when its manifest.json says so (our format name and an
 *   integer version): a web app's manifest.json is not ours to replace.
 * - Only the entries chids writes may be in it: a directory that also holds the user's notes
 *   or evaluation results is refused, not emptied.
 * - The new baseline is written into a sibling staging directory, every file and directory
 *   fsynced, the manifest last (a staging directory with a manifest is complete). It then
 *   replaces DIR with two renames: DIR → `.DIR.old-*`, staging → DIR. Node has no atomic
 *   exchange of two directories, so a crash between the renames leaves DIR missing for a
 *   moment; every command that opens DIR first completes such an interrupted replacement
 *   (recoverBaselineDir), so a complete baseline, the old or the new one, is always found.
 * - Staging and old directories left by a crashed chids (its pid no longer running) are
 *   cleaned up on the next run.
 */
import { closeSync, fsyncSync, openSync, constants as fsc } from 'node:fs';
import { lstat, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { fsProblem } from '../trace/labels.js';
import { MANIFEST_FORMAT } from './manifest-format.js';

/** What chids writes in a baseline directory (and so may replace). */
export const OWNED = new Set(['manifest.json', 'seen_syscalls.json', 'seen_args.json', 'max_freq.json', 'thresh_list.json', 'calibration.json', 'model']);

/** Steps of a replacement, for tests that kill the writer at each one. */
export type WriteStep = 'staged' | 'synced' | 'manifest' | 'moved-old' | 'moved-new' | 'done';

const STAGE = /^\.(.+)\.(tmp|old)-(\d+)-(\d+)$/;

/** `.DIR.tmp-PID-TIME` / `.DIR.old-PID-TIME`, in DIR's parent. */
export function stagingName(target: string, kind: 'tmp' | 'old'): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${kind}-${process.pid}-${Date.now()}`);
}

export { fsProblem };

/** True when DIR/manifest.json is a chids manifest (format name and an integer version). */
export async function isBaselineDir(dir: string): Promise<boolean> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return false;
  }
  const m = raw as { format?: unknown; version?: unknown } | null;
  return m !== null && typeof m === 'object' && m.format === MANIFEST_FORMAT && Number.isInteger(m.version);
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Completes or undoes a replacement of `target` that a crash interrupted, and removes the
 * staging directories of writers that are no longer running. Returns what it did (for logs
 * and tests).
 */
export async function recoverBaselineDir(target: string): Promise<string[]> {
  const abs = path.resolve(target);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const mine = names
    .map((n) => ({ n, m: STAGE.exec(n) }))
    .filter((x) => x.m !== null && x.m[1] === base && !alive(Number(x.m[3])))
    .map((x) => ({ full: path.join(parent, x.n), kind: x.m![2] as 'tmp' | 'old', time: Number(x.m![4]) }))
    .sort((a, b) => b.time - a.time);
  if (mine.length === 0) return [];
  const done: string[] = [];
  let present = await exists(abs);
  if (!present) {
    // Roll forward to the newest complete staging directory, else back to the newest old one.
    const pick = (await firstComplete(mine.filter((x) => x.kind === 'tmp'))) ?? (await firstComplete(mine.filter((x) => x.kind === 'old')));
    if (pick) {
      await rename(pick.full, abs);
      syncDir(parent);
      done.push(`restored ${abs} from ${path.basename(pick.full)}`);
      present = true;
    }
  }
  for (const x of mine) {
    if (!(await exists(x.full))) continue;
    // Never delete the only copy of a complete baseline.
    if (!present && (await isBaselineDir(x.full))) continue;
    await rm(x.full, { recursive: true, force: true });
    done.push(`removed ${path.basename(x.full)}`);
  }
  if (done.length) syncDir(parent);
  return done;
}

async function firstComplete<T extends { full: string }>(xs: T[]): Promise<T | null> {
  for (const x of xs) if (await isBaselineDir(x.full)) return x;
  return null;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses an output directory that must not be replaced: a file, a directory whose
 * manifest.json is not a chids manifest, or a baseline that also holds files chids did not
 * write. A missing or empty directory, or a baseline of nothing but chids' files, is fine.
 */
export async function checkBaselineTarget(dir: string): Promise<void> {
  await recoverBaselineDir(dir).catch(() => []);
  let entries: string[] | null;
  try {
    const st = await lstat(dir);
    if (st.isSymbolicLink()) throw new ChidsError(`${dir}: is a symbolic link; give the baseline directory itself as --od`);
    entries = st.isDirectory() ? await readdir(dir) : null;
  } catch (err) {
    if (err instanceof ChidsError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ChidsError(`${dir}: cannot be used as the output directory (${fsProblem(err)})`);
  }
  if (entries === null) throw new ChidsError(`${dir}: exists and is not a directory; choose another --od`);
  if (entries.length === 0) return;
  if (!(await isBaselineDir(dir))) {
    throw new ChidsError(`${dir}: exists and is not a chids baseline directory (no chids manifest.json); choose another --od or remove it`);
  }
  const foreign = entries.filter((e) => !OWNED.has(e)).sort();
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, … (${foreign.length} in all)` : '');
    throw new ChidsError(`${dir}: also holds files chids did not write (${shown}); move them out of the baseline directory or choose another --od`);
  }
}

/** fsyncs a directory (its entries); best effort where the platform refuses it. */
export function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the renames are still ordered
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** fsyncs every file and directory under `dir` (the model writer does not sync its files). */
export async function syncTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await syncTree(p);
    else if (e.isFile()) {
      const h = await open(p, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  syncDir(dir);
}

/** Writes a file and fsyncs it. */
export async function writeSynced(file: string, text: string): Promise<void> {
  const h = await open(file, 'wx', 0o644);
  try {
    await h.writeFile(text);
    await h.sync();
  } finally {
    await h.close();
  }
}
