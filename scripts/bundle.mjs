#!/usr/bin/env node
// Bundles the `chids` command into dist/bin/ (run by `npm run build`, after tsc).
//
// Two bundles and a dispatcher, chids.js, which reads the command name:
//  - `chids encode` has a start-up target (within 1.5× of `node -e 0`, `npm run bench`). It runs
//    chids-encode.cjs: src/cli/main-encode.ts, the program holding only that command, bundled
//    into one CommonJS file. CommonJS because Node's ES module loader costs ~0.12× `node -e 0`
//    to start and ~1 ms per file; one file because a bundle shared with the other commands splits
//    what they share into many chunks. Its one lazy part, the manifest schemas (zod, ~0.76 MB,
//    needed only with --od), is a file of its own, chids-manifest.cjs.
//  - every other command runs main-all.mjs (src/cli/main-all.ts), an ES module bundle with one
//    file per lazily-loaded part (code splitting keeps every `await import()` lazy, so no
//    command loads zod or TF.js before it needs them) instead of ~40 module files resolved and
//    read one by one. Its files are .mjs since dist/bin/package.json makes .js CommonJS there
//    (the dispatcher has to be: the bin is named chids.js).
// src/cli/main.ts is the same dispatch for runs from the sources (tsx).
// TF.js, yauzl and prom-client stay external (large, loaded on demand from node_modules).
// Every file sits two levels below the package root, like the tsc output, so the `../..` paths
// to package.json and data/ hold in both.
// An optional argument names another output directory, also two levels below the root (npm test
// bundles into .tmp/ so that its child processes skip tsx, without touching dist/).
import { build } from 'esbuild';
import path from 'node:path';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist', 'bin');
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

// commander requires node:child_process at load time, for executable subcommands chids does not
// have; that module pulls in net, dgram and the stream stack (~5 ms of every start). Its one use,
// spawn(), now loads it when called.
const lazyChildProcess = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'chids-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'chids-lazy' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['@tensorflow/*', 'yauzl', 'prom-client'],
  logLevel: 'warning',
};

// The CommonJS bundles: import.meta.url (createRequire, package.json) is the file's own URL.
const commonjs = {
  ...common,
  format: 'cjs',
  define: { 'import.meta.url': '__chidsFileUrl' },
  banner: { js: "const __chidsFileUrl = require('node:url').pathToFileURL(__filename).href;" },
};
// src/engine/baseline-dir.ts imports the schemas with `import('./manifest.js')`: in
// chids-encode.cjs that becomes a require() of chids-manifest.cjs when a manifest is read.
// (Left an import() of a CommonJS file, Node would first scan its 0.76 MB for export names:
// ~0.1 s.)
const manifestApart = {
  name: 'manifest-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/manifest\.js$/ }, (args) =>
      /[\\/]src[\\/]engine[\\/]baseline-dir\.ts$/.test(args.importer) ? { path: 'manifest', namespace: 'chids-manifest' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'chids-manifest' }, () => ({ contents: "module.exports = require('./chids-manifest.cjs');", loader: 'js' }));
    b.onResolve({ filter: /^\.\/chids-manifest\.cjs$/ }, () => ({ path: './chids-manifest.cjs', external: true }));
  },
};
await build({
  ...commonjs,
  entryPoints: [path.join(root, 'src', 'cli', 'main-encode.ts')],
  outfile: path.join(outdir, 'chids-encode.cjs'),
  plugins: [lazyChildProcess, manifestApart],
});
await build({ ...commonjs, entryPoints: [path.join(root, 'src', 'engine', 'manifest.ts')], outfile: path.join(outdir, 'chids-manifest.cjs') });

await build({
  ...common,
  // The worker of `evaluate --jobs` is started by file name (src/app/evaluate-pool.ts): an entry of its own.
  entryPoints: { 'main-all': path.join(root, 'src', 'cli', 'main-all.ts'), 'evaluate-worker': path.join(root, 'src', 'app', 'evaluate-worker.ts') },
  outdir,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  format: 'esm',
  // CommonJS dependencies (commander) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __chidsRequire } from 'node:module'; const require = __chidsRequire(import.meta.url);" },
  plugins: [lazyChildProcess],
});

writeFileSync(path.join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
const bin = path.join(outdir, 'chids.js');
writeFileSync(
  bin,
  `#!/usr/bin/env node
// The chids executable, written by scripts/bundle.mjs (the same dispatch as src/cli/main.ts).
'use strict';
if (process.argv[2] === 'encode') require('./chids-encode.cjs');
else import('./main-all.mjs');
`,
);
chmodSync(bin, 0o755);
