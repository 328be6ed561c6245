/**
 * `chids baseline`: learn what normal looks like from training recordings.
 *
 * One pass over each training trace collects its vocabulary (seen syscalls and arguments) and
 * its windows' sizes; training windows need nothing else (see TrainingCollector). Then
 * max_freq fixes the anomaly vectors, the autoencoder is trained on them, the thresholds are
 * derived from its training errors, and everything is written atomically to the output
 * directory.
 */
import { createRequire } from 'node:module';
import { NameTable } from '../events/names.js';
import { argSyscalls } from '../encode/args.js';
import { BETA_FOLD_INCREASE, trainingVectors } from '../encode/anomaly.js';
import { collectTrace, type TraceSummary } from '../encode/pipeline.js';
import { ChidsError } from '../util/errors.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, writeBaseline, type Manifest } from './artifacts.js';
import { forEachSource, planSources, type SkippedInput } from './inputs.js';
import { THETAS } from './thresholds.js';

export const PATH_LENGTH = 3;

export interface RunHooks {
  /** A trace starts: its position, the number of traces, and its size when known. */
  onTraceStart?(index: number, total: number, path: string, bytes: number | null): void;
  onBytes?(bytes: number): void;
  onTraceEnd?(summary: TraceSummary): void;
  onWarning?(message: string): void;
}

export interface BaselineHooks extends RunHooks {
  onTrainStart?(vectors: number, epochs: number): void;
  onEpoch?(epoch: number, epochs: number, loss: number, valLoss: number | null): void;
}

export interface BaselineOptions {
  inputs: readonly string[];
  outDir: string;
  faithful: boolean;
  windowNs: number;
  epochs: number;
  batchSize: number;
  seed: number | null;
  hooks?: BaselineHooks;
}

export interface BaselineResult {
  outDir: string;
  recordings: number;
  skipped: SkippedInput[];
  windows: number;
  vectors: number;
  seenSyscalls: number;
  seenArgs: number;
  maxFreq: number;
  thetas: number[];
  thresholds: number[];
  trainingMs: number;
  finalLoss: number | null;
  finalValLoss: number | null;
  manifest: Manifest;
}

export function chidsVersion(): string {
  const require = createRequire(import.meta.url);
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export async function runBaseline(opts: BaselineOptions): Promise<BaselineResult> {
  const hooks = opts.hooks ?? {};
  const planned = await planSources(opts.inputs);
  if (planned.length === 0) throw new ChidsError('no training recordings given (--td)');
  const skipped: SkippedInput[] = [];
  const names = new NameTable();
  const seenSyscalls = new Set<string>();
  const seenArgs = new Set<string>();
  const perTrace = await forEachSource(
    planned,
    async (src, i) => {
      hooks.onTraceStart?.(i, planned.length, src.path, src.textBytes);
      const r = await collectTrace(
        src,
        { faithful: opts.faithful, windowNs: opts.windowNs, onBytes: hooks.onBytes, onWarning: hooks.onWarning, hash: true },
        names,
      );
      hooks.onTraceEnd?.(r.summary);
      return r;
    },
    skipped,
    hooks.onWarning,
  );
  if (perTrace.length === 0) {
    throw new ChidsError(`no usable training recordings: all ${skipped.length} were skipped (first: ${skipped[0]?.reason})`);
  }
  let maxFreq = 0;
  let windows = 0;
  for (const r of perTrace) {
    r.seenSyscalls.forEach((s) => seenSyscalls.add(s));
    r.seenArgs.forEach((s) => seenArgs.add(s));
    for (const c of r.counts) if (c > maxFreq) maxFreq = c;
    windows += r.counts.length;
  }
  // Rows in recording order, as the reference feeds them (the last 20 % are Keras' validation split).
  const rows: number[] = [];
  for (const r of perTrace) {
    for (const v of trainingVectors(r.counts, maxFreq)) if (v !== null) rows.push(v[0], v[1], v[2]);
  }
  const vectors = rows.length / 3;
  const { trainChids } = await import('../model/index.js');
  hooks.onTrainStart?.(vectors, opts.epochs);
  const trained = await trainChids(Float64Array.from(rows), vectors, {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed ?? undefined,
    onEpoch: hooks.onEpoch ? (e: number, loss: number, val: number | null) => hooks.onEpoch!(e, opts.epochs, loss, val) : undefined,
  });
  try {
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      created: new Date().toISOString(),
      chids_version: chidsVersion(),
      model: {
        type: 'chids',
        encoding_dim: 2,
        bottleneck: 1,
        reg_rate: 0.01,
        activation: 'sigmoid',
        optimizer: 'adam',
        learning_rate: 0.001,
        loss: 'mse',
        epochs: opts.epochs,
        batch_size: opts.batchSize,
        validation_split: 0.2,
        seed: trained.seed,
      },
      encoding: {
        faithful: opts.faithful,
        window_ns: opts.windowNs,
        beta_fold_increase: BETA_FOLD_INCREASE,
        path_length: PATH_LENGTH,
        arg_syscalls: argSyscalls(opts.faithful),
      },
      counts: {
        recordings: perTrace.length,
        skipped: skipped.length,
        windows,
        vectors,
        seen_syscalls: seenSyscalls.size,
        seen_args: seenArgs.size,
        max_freq: maxFreq,
      },
      training: {
        ms: Math.round(trained.ms),
        final_loss: trained.finalLoss,
        final_val_loss: trained.finalValLoss,
        epochs: trained.epochs,
      },
      thetas: [...THETAS],
      inputs: perTrace.map((r) => ({
        path: r.summary.file,
        sha256: r.summary.sha256 ?? '',
        events: r.summary.events,
        windows: r.counts.length,
      })),
    };
    await writeBaseline(opts.outDir, {
      manifest,
      seenSyscalls: [...seenSyscalls],
      seenArgs: [...seenArgs],
      maxFreq,
      thresholds: trained.thresholds,
      saveModel: (dir) => trained.scorer.save(dir),
    });
    return {
      outDir: opts.outDir,
      recordings: perTrace.length,
      skipped,
      windows,
      vectors,
      seenSyscalls: seenSyscalls.size,
      seenArgs: seenArgs.size,
      maxFreq,
      thetas: [...THETAS],
      thresholds: trained.thresholds,
      trainingMs: trained.ms,
      finalLoss: trained.finalLoss,
      finalValLoss: trained.finalValLoss,
      manifest,
    };
  } finally {
    trained.scorer.dispose();
  }
}
