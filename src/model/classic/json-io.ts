/**
 * Saving and loading the classic detectors (STIDE, BoSC), which are plain data: one JSON file
 * in `DIR/model/`, written atomically (temporary sibling directory renamed into place, as
 * io.ts does for TF.js models) and validated on load. Free of TF.js.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../util/errors.js';

const MODEL_DIR = 'model';

/** Writes `dir/model/<file>` (replacing any previous `dir/model/`). */
export async function saveJsonModel(dir: string, file: string, doc: unknown): Promise<void> {
  const target = join(dir, MODEL_DIR);
  const tmp = join(dir, `.${MODEL_DIR}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, file), JSON.stringify(doc) + '\n');
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new InputError(join(target, file), `cannot write: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Reads and validates `dir/model/<file>`; every problem is one InputError naming the file. */
export async function readJsonModel<T>(dir: string, file: string, schema: z.ZodType<T>, what: string): Promise<T> {
  const path = join(dir, MODEL_DIR, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'missing (no such file)' : `cannot read: ${(err as Error).message.split('\n')[0]}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new InputError(path, `not a valid ${what}${where}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}
