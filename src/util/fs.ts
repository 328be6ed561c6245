/**
 * Writing so that nothing half-written is ever seen: a file or a directory is built under a
 * temporary sibling name and renamed into place only when complete (rename is atomic within a
 * file system). A failed write removes its temporary and leaves any previous version untouched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ChidsError } from './errors.js';

/** A temporary sibling of `target`: hidden, unique, recognisable as ours. */
export function tempSibling(target: string, tag = 'tmp'): string {
  const abs = path.resolve(target);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC') return 'no space left on the device';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied';
  if (e?.code === 'EROFS') return 'read-only file system';
  return e?.code ?? (e?.message ?? String(err)).split('\n')[0];
}

/** Writes `file` atomically (temporary sibling, then rename). ChidsError naming the file on failure. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSibling(file);
  try {
    await mkdir(path.dirname(tmp), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new ChidsError(`${file}: cannot write (${reason(err)})`);
  }
}

/**
 * Replaces the directory `target` by one that `fill` builds in a temporary sibling. The old
 * `target` (if any) is removed only after the new one is complete. `fill` may throw a
 * ChidsError of its own; any other failure becomes one naming `target`.
 */
export async function replaceDirAtomic(target: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const tmp = tempSibling(target);
  try {
    await mkdir(tmp, { recursive: true });
    await fill(tmp);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof ChidsError) throw err;
    throw new ChidsError(`${target}: cannot write (${reason(err)})`);
  }
}
