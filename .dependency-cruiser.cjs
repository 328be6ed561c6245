/**
 * The layering of src/: each folder is one layer and may import only the layers listed before
 * it (and itself). A wrong-way import or a module cycle fails `npm test` (test/layers.test.ts)
 * and `npm run lint`.
 */
const { existsSync } = require('node:fs');

const LAYERS = ['util', 'trace', 'encode', 'model', 'engine', 'capture', 'outputs', 'app', 'report', 'lab', 'cli'];

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `${layer}-imports-upward`,
  comment: `src/${layer}/ may import only ${LAYERS.slice(0, i + 1).join(', ')}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'modules must not depend on themselves through others',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-layer-imports-front-door',
      comment: 'src/index.ts is the public API; nothing inside imports it',
      severity: 'error',
      from: { path: '^src/.+/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'cli-commands-independent',
      comment: "one file per command: a command does not import another command (its own action module, X-action.ts, is part of it; the program's base and the executable's wiring are shared)",
      severity: 'error',
      from: { path: '^src/cli/([^/.]+)\\.ts$', pathNot: '^src/cli/(main|main-all|main-encode|program)\\.ts$' },
      to: { path: '^src/cli/', pathNot: ['^src/cli/(common|model-options|program-base|executable)\\.ts$', '^src/cli/$1-action\\.ts$'] },
    },
    {
      name: 'tfjs-on-demand',
      comment: 'TF.js costs ~0.3 s and ~45 MB: only model/nn/ imports it, and the rest reaches model/nn/ only through a dynamic import (the registry), so commands that need no neural model never load it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/model/nn/' },
      to: { path: '(^src/model/nn/|@tensorflow)', dynamic: false, dependencyTypesNot: ['type-only', 'type-import'] },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    ...(existsSync('tsconfig.json') ? { tsConfig: { fileName: 'tsconfig.json' } } : {}),
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
