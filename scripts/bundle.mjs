#!/usr/bin/env node
// Bundles the `chids` command into dist/bin/ (run by `npm run build`, after tsc).
//
// One file per lazily-loaded part (code splitting keeps every `await import()` lazy, so
// `chids encode` still never loads zod or TF.js) instead of ~40 module files resolved and read
// one by one at start-up. Measured on `chids encode` (CPU, median of 9): 0.24 → 0.20 s on a
// 20-event trace, 0.67 → 0.57 s on 1 M events. TF.js, yauzl and prom-client stay external
// (large, loaded on demand from node_modules). The chunks sit two levels below the package
// root, like the tsc output, so the `../..` paths to package.json and data/ hold in both.
// An optional argument names another output directory, also two levels below the root (npm test
// bundles into .tmp/ so that its child processes skip tsx, without touching dist/).
import { build } from 'esbuild';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist', 'bin');
rmSync(outdir, { recursive: true, force: true });
await build({
  // The worker of `evaluate --jobs` is started by file name (src/app/evaluate-pool.ts): an entry of its own.
  entryPoints: { chids: path.join(root, 'src', 'cli', 'main.ts'), 'evaluate-worker': path.join(root, 'src', 'app', 'evaluate-worker.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['@tensorflow/*', 'yauzl', 'prom-client'],
  // CommonJS dependencies (commander) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __chidsRequire } from 'node:module'; const require = __chidsRequire(import.meta.url);" },
  logLevel: 'warning',
});
