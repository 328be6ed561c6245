/**
 * The one place that loads TensorFlow.js.
 *
 * We use the umbrella `@tensorflow/tfjs` package (the declared dependency) with its pure-JS CPU
 * backend; the native `tfjs-node` backend is not available. On its first tensor write in Node,
 * the CPU backend prints a "install our node backend" banner through tfjs' `warn()`, which is
 * silenced by production mode (`PROD` flag). We enable it here, at import time and before any
 * tensor exists, so importing `src/model` prints nothing. Production mode only turns off tfjs'
 * console warnings and some debug checks; it does not change any arithmetic.
 */
import * as tf from '@tensorflow/tfjs';

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

export { tf };
