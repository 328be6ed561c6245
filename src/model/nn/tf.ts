/**
 * The one place that loads TensorFlow.js.
 *
 * We use the umbrella `@tensorflow/tfjs` package (the declared dependency) with its pure-JS CPU
 * backend; the native `tfjs-node` backend is not available. On its first tensor write in Node,
 * the CPU backend prints a "install our node backend" banner through tfjs' `warn()`, which is
 * silenced by production mode (`PROD` flag). We enable it here, at import time and before any
 * tensor exists, so importing `src/model` prints nothing. Production mode only turns off tfjs'
 * console warnings and some debug checks; it does not change any arithmetic.
 *
 * The package is CommonJS and is loaded with `require`, not `import`: importing a CommonJS
 * module from ESM makes Node scan the source of it and of every module it re-exports for
 * export names (cjs-module-lexer) before running it; for TF.js's bundles that doubled the
 * load (measured ~1.0 s CPU by `import` against ~0.45 s by `require`, `node -e 0` ~0.13 s).
 */
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';

export const tf: typeof TF = createRequire(import.meta.url)('@tensorflow/tfjs');

/** The TF.js types the models name as `tf.X` (the value above carries no types). */
export declare namespace tf {
  type Rank = TF.Rank;
  type Tensor<R extends Rank = Rank> = TF.Tensor<R>;
  type Tensor2D = TF.Tensor2D;
  type Tensor3D = TF.Tensor3D;
  type Scalar = TF.Scalar;
  type Variable<R extends Rank = Rank> = TF.Variable<R>;
  type Shape = TF.Shape;
  type LayersModel = TF.LayersModel;
  type Sequential = TF.Sequential;
  namespace io {
    type ModelArtifacts = TF.io.ModelArtifacts;
    type ModelJSON = TF.io.ModelJSON;
    type WeightsManifestEntry = TF.io.WeightsManifestEntry;
  }
  namespace serialization {
    type ConfigDict = TF.serialization.ConfigDict;
  }
}

tf.enableProdMode();

let ready: Promise<void> | null = null;

/** Selects the CPU backend (once per process). Every entry point that makes tensors awaits it. */
export function ensureTf(): Promise<void> {
  if (ready === null) {
    ready = (async () => {
      const ok = await tf.setBackend('cpu');
      if (!ok) throw new Error('TensorFlow.js: the cpu backend failed to initialize');
      await tf.ready();
    })();
  }
  return ready;
}
