/**
 * A Node `--import` preload that records every module specifier the process resolves (ESM
 * `import` and `import()`, which is how chids loads everything, TF.js included), one line each:
 * `SPECIFIER<TAB>RESOLVED-URL`, appended to the file named by CHIDS_TRACE_LOADS.
 *
 *   CHIDS_TRACE_LOADS=/tmp/loads.txt node --import tsx --import ./test/helpers/trace-loads.mjs src/cli/main.ts encode …
 *
 * The same file is both the preload (main thread: registers itself) and the hooks module (the
 * loader thread: `initialize` + `resolve`). Registered after tsx, its resolve hook runs first
 * and sees the specifiers exactly as written in the source.
 */
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

let target = null;

if (isMainThread && process.env.CHIDS_TRACE_LOADS) {
  register(import.meta.url, { data: { file: process.env.CHIDS_TRACE_LOADS } });
}

export function initialize(data) {
  target = data?.file ?? null;
  if (target) appendFileSync(target, `#trace-loads initialized\n`);
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (target) appendFileSync(target, `${specifier}\t${result.url}\n`);
  return result;
}
