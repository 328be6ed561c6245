/**
 * Saving and loading the classic detectors (STIDE, BoSC), which are plain data: one JSON file
 * in `DIR/model/`, written atomically and validated on load. Free of TF.js.
 */
import { join } from 'node:path';
import type { z } from 'zod';
import { replaceDirAtomic } from '../../util/fs.js';
import { readJsonChecked } from '../../util/json.js';
import { writeFile } from 'node:fs/promises';

const MODEL_DIR = 'model';

/** Writes `dir/model/<file>` (replacing any previous `dir/model/`). */
export async function saveJsonModel(dir: string, file: string, doc: unknown): Promise<void> {
  await replaceDirAtomic(join(dir, MODEL_DIR), (tmp) => writeFile(join(tmp, file), JSON.stringify(doc) + '\n'));
}

/** Writes several files into `dir/model/` at once (replacing any previous `dir/model/`). */
export async function saveJsonModels(dir: string, docs: Readonly<Record<string, unknown>>): Promise<void> {
  await replaceDirAtomic(join(dir, MODEL_DIR), async (tmp) => {
    for (const [file, doc] of Object.entries(docs)) await writeFile(join(tmp, file), JSON.stringify(doc) + '\n');
  });
}

/** Reads and validates `dir/model/<file>`; every problem is one InputError naming the file. */
export function readJsonModel<T>(dir: string, file: string, schema: z.ZodType<T>, what: string): Promise<T> {
  return readJsonChecked(join(dir, MODEL_DIR, file), schema, what);
}
