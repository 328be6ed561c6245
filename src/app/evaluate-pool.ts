/**
 * `chids evaluate --jobs N`: recordings scored on N worker threads at once (evaluate-worker.ts),
 * each worker reading, encoding and scoring one recording at a time with its own copy of the
 * detector. This thread hands out the recordings in input order and takes the results back in
 * that order, whatever order they finish in: the result, the warnings on stderr and the first
 * error are the ones of the in-process loop. Progress shows the first unfinished recording;
 * another worker's events wait until that recording is the first unfinished one.
 */
import { Worker } from 'node:worker_threads';
import type { ArtifactPaths } from '../engine/baseline-dir.js';
import type { TraceSummary } from '../encode/pipeline.js';
import { ChidsError, InputError } from '../util/errors.js';
import type { SkippedInput } from '../trace/sources/plan.js';
import type { EvaluationJob, RecordingClass, RecordingResult } from './evaluate-recording.js';
import type { RunHooks } from './train.js';

/** What every worker needs to score recordings like this thread would (workerData). */
export interface WorkerConfig {
  artifacts: ArtifactPaths;
  modelType: string | undefined;
  thresholds: number[];
  faithful: boolean;
  windowNs: number;
  maxEmptyWindows: number | undefined;
}

/** An error crossing threads: enough to rebuild the same ChidsError (same message, same exit code). */
export interface WireError {
  kind: 'input' | 'chids' | 'internal';
  message: string;
  exitCode?: number;
  file?: string;
  stack?: string;
}

export type ToWorker = { index: number; total: number; job: EvaluationJob };

export type FromWorker =
  | { type: 'ready'; kind: string }
  | { type: 'start'; index: number; path: string; bytes: number | null }
  | { type: 'bytes'; index: number; bytes: number }
  | { type: 'warning'; index: number; message: string }
  | { type: 'end'; index: number; summary: TraceSummary }
  | { type: 'done'; index: number; result: RecordingResult | null; skipped: SkippedInput[]; score_ms: number; windows_scored: number }
  | { type: 'failed'; index: number | null; error: WireError };

export function toWire(err: unknown): WireError {
  if (err instanceof InputError) return { kind: 'input', message: err.message, exitCode: err.exitCode, file: err.file };
  if (err instanceof ChidsError) return { kind: 'chids', message: err.message, exitCode: err.exitCode };
  const e = err instanceof Error ? err : new Error(String(err));
  return { kind: 'internal', message: e.message, stack: e.stack };
}

export function fromWire(w: WireError): Error {
  if (w.kind === 'input') {
    const e = new InputError(w.file ?? '', '');
    e.message = w.message;
    return e;
  }
  if (w.kind === 'chids') return new ChidsError(w.message, w.exitCode);
  const e = new Error(w.message);
  // The worker's stack says where it failed; this thread's would only show the message handler.
  if (w.stack) e.stack = w.stack;
  return e;
}

/** A worker running evaluate-worker next to this module: .js in dist/ (tsc), .mjs in the bundle (dist/bin), .ts under tsx. */
function startWorker(config: WorkerConfig): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    const ext = import.meta.url.endsWith('.mjs') ? '.mjs' : '.js';
    return new Worker(new URL(`./evaluate-worker${ext}`, import.meta.url), { workerData: config });
  }
  // Under tsx (tests, `npm run chids`): Node 20 does not run the parent's `--import tsx` in a
  // worker, so the worker registers tsx's loader itself before importing the TypeScript module.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./evaluate-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: config });
}

type ProgressEvent = Extract<FromWorker, { type: 'start' | 'bytes' | 'warning' | 'end' }>;

export interface PoolRun {
  kind: string;
  recordings: RecordingResult[];
  skipped: (SkippedInput & { class: RecordingClass })[];
  timing: { score_ms: number; windows_scored: number };
}

export function evaluateInWorkers(all: readonly EvaluationJob[], config: WorkerConfig, jobs: number, hooks: RunHooks): Promise<PoolRun> {
  const total = all.length;
  const workers: Worker[] = [];
  const done: (Extract<FromWorker, { type: 'done' }> | undefined)[] = Array(total);
  /** Events of recordings after the first unfinished one, replayed when it is their turn. */
  const waiting: ProgressEvent[][] = all.map(() => []);
  const run: PoolRun = { kind: '', recordings: [], skipped: [], timing: { score_ms: 0, windows_scored: 0 } };
  let nextToSend = 0;
  /** The first recording whose result is not merged yet: its events go to the hooks at once. */
  let head = 0;
  let settled = false;

  return new Promise<PoolRun>((resolve, reject) => {
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(run);
    };
    const deliver = (ev: ProgressEvent) => {
      switch (ev.type) {
        case 'start':
          hooks.onTraceStart?.(ev.index, total, ev.path, ev.bytes);
          break;
        case 'bytes':
          hooks.onBytes?.(ev.bytes);
          break;
        case 'warning':
          hooks.onWarning?.(ev.message);
          break;
        case 'end':
          hooks.onTraceEnd?.(ev.summary);
          break;
      }
    };
    const event = (ev: ProgressEvent) => {
      if (ev.index === head) return deliver(ev);
      const q = waiting[ev.index];
      // Only the latest byte count matters to a bar that is not shown yet.
      if (ev.type === 'bytes' && q.length > 0 && q[q.length - 1].type === 'bytes') q[q.length - 1] = ev;
      else q.push(ev);
    };
    // Merges finished recordings in input order; the recording now first unfinished gets its events replayed.
    const advance = () => {
      while (head < total && done[head]) {
        const d = done[head]!;
        for (const s of d.skipped) run.skipped.push({ ...s, class: all[head].cls });
        if (d.result) run.recordings.push(d.result);
        run.timing.score_ms += d.score_ms;
        run.timing.windows_scored += d.windows_scored;
        done[head] = undefined;
        head++;
        if (head < total) {
          for (const ev of waiting[head]) deliver(ev);
          waiting[head] = [];
        }
      }
      if (head === total) finish(null);
    };
    const failures = new Map<number, Error>();
    const send = (w: Worker) => {
      if (nextToSend >= total) return;
      const index = nextToSend++;
      const msg: ToWorker = { index, total, job: all[index] };
      w.postMessage(msg);
    };
    const onMessage = (w: Worker, m: FromWorker) => {
      if (settled) return;
      switch (m.type) {
        case 'ready':
          run.kind ||= m.kind;
          return;
        case 'done':
          done[m.index] = m;
          send(w);
          advance();
          checkFailure();
          return;
        case 'failed':
          if (m.index === null) return finish(fromWire(m.error)); // the detector or baseline did not load
          // Thrown once every recording before it is merged: the in-process loop would have
          // printed their warnings and stopped at this one.
          failures.set(m.index, fromWire(m.error));
          checkFailure();
          return;
        default:
          event(m);
      }
    };
    const checkFailure = () => {
      const err = failures.get(head);
      if (err) finish(err);
    };
    for (let k = 0; k < jobs; k++) {
      const w = startWorker(config);
      workers.push(w);
      w.on('message', (m: FromWorker) => onMessage(w, m));
      w.on('error', (err) => finish(err instanceof Error ? err : new Error(String(err))));
      w.on('exit', (code) => {
        if (!settled) finish(new Error(`evaluate worker ${k} exited (code ${code}) before the recordings were scored`));
      });
      send(w);
    }
  });
}
