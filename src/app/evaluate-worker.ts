/**
 * A worker thread of `chids evaluate --jobs N` (started by evaluate-pool.ts): loads the baseline's
 * vocabulary and detector once, then scores the recordings it is sent one at a time with the
 * same code as the in-process loop (evaluateOne), reporting progress, warnings and the result
 * as messages. Errors go back as messages too, so the main thread ends with the same one-line
 * error as it would have by itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NameTable } from '../trace/names.js';
import { readBaselineData } from '../engine/baseline-dir.js';
import { loadDetector } from '../model/registry.js';
import { evaluateOne, type RecordingContext } from './evaluate-recording.js';
import { toWire, type FromWorker, type ToWorker, type WorkerConfig } from './evaluate-pool.js';

const port = parentPort;
if (port === null) throw new Error('evaluate-worker.ts runs only as a worker thread');
const config = workerData as WorkerConfig;
const post = (m: FromWorker) => port.postMessage(m);

async function load(): Promise<Omit<RecordingContext, 'timing'>> {
  const data = await readBaselineData(config.artifacts);
  if (config.artifacts.model === null) throw new Error('evaluate worker: no model');
  const scorer = await loadDetector(config.artifacts.model, config.modelType);
  post({ type: 'ready', kind: scorer.kind });
  return {
    vocab: data.vocab,
    scorer,
    thresholds: config.thresholds,
    faithful: config.faithful,
    windowNs: config.windowNs,
    maxEmptyWindows: config.maxEmptyWindows,
    // One name table for every recording this worker scores, as the in-process loop keeps one.
    names: new NameTable(),
  };
}

const ready = load();
ready.catch((err: unknown) => post({ type: 'failed', index: null, error: toWire(err) }));

port.on('message', async ({ index, total, job }: ToWorker) => {
  let ctx: Omit<RecordingContext, 'timing'>;
  try {
    ctx = await ready;
  } catch {
    return; // reported once, above
  }
  const timing = { score_ms: 0, windows_scored: 0 };
  let lastBytesPost = 0;
  try {
    const { result, skipped } = await evaluateOne(job, index, total, { ...ctx, timing }, {
      onTraceStart: (_i, _n, path, bytes) => post({ type: 'start', index, path, bytes }),
      // At most ten a second (the bar's refresh rate): a message per chunk cost more than the bar.
      onBytes: (bytes) => {
        const now = performance.now();
        if (now - lastBytesPost < 100) return;
        lastBytesPost = now;
        post({ type: 'bytes', index, bytes });
      },
      onWarning: (message) => post({ type: 'warning', index, message }),
      onTraceEnd: (summary) => post({ type: 'end', index, summary }),
    });
    post({ type: 'done', index, result, skipped, ...timing });
  } catch (err) {
    post({ type: 'failed', index, error: toWire(err) });
  }
});
