/**
 * A Node `--import` preload that records every module specifier the process resolves, one line
 * each, appended to the file named by CHIDS_TRACE_LOADS: ESM `import` and `import()` as
 * `SPECIFIER<TAB>RESOLVED-URL`, CommonJS `require` (how TF.js is loaded) as `SPECIFIER<TAB>require`.
 *
 *   CHIDS_TRACE_LOADS=/tmp/loads.txt node --import tsx --import ./test/helpers/trace-loads.mjs src/cli/main.ts encode …
 *
 * The same file is both the preload (main thread: registers itself) and the hooks module (the
 * loader thread: `initialize` + `resolve`). Registered after tsx, its resolve hook runs first
 * and sees the specifiers exactly as written in the source.
 */
import { appendFileSync } from 'node:fs';
import { Module, register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

let target = null;

if (isMainThread && process.env.CHIDS_TRACE_LOADS) {
  const file = process.env.CHIDS_TRACE_LOADS;
  register(import.meta.url, { data: { file } });
  // Every require() of a module, from createRequire too, goes through Module.prototype.require.
  const original = Module.prototype.require;
  Module.prototype.require = function (id) {
    appendFileSync(file, `${id}\trequire\n`);
    return original.call(this, id);
  };
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
