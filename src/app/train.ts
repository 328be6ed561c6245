/**
 * `chids baseline`: learn what normal looks like from training recordings.
 *
 * One pass over each training trace collects its vocabulary (seen syscalls and arguments) and
 * its windows' sizes; training windows need nothing else (see TrainingCollector). Then
 * max_freq fixes the anomaly vectors, the detector (`--model`, default the CHIDS autoencoder)
 * is trained on them, the thresholds are derived from its training scores, and everything is
 * written atomically to the output directory. Detectors that read the syscalls themselves
 * (STIDE, BoSC) get a tap on the same single pass over each trace.
 *
 * Calibration (src/encode/calibration.ts): detectors that ask for it (the default, calibrated)
 * also get each recording's windows encoded against the vocabulary of the other training
 * recordings. That needs a second read of only those recordings that hold a syscall or argument
 * no other fold has (known from the first pass); the others' calibration vectors are their
 * training vectors. The fold plan is recorded in the manifest either way.
 */
import { NameTable } from '../trace/names.js';
import { COMMAND_SHAPE } from '../trace/command.js';
import { argSyscalls } from '../encode/args.js';
import { BETA_FOLD_INCREASE, trainingVectors } from '../encode/anomaly.js';
import { foldPasses, planFolds, summarize, type CalibrationSummary, type FoldPlan } from '../encode/calibration.js';
import { collectTrace, encodeTrace, type TraceSummary } from '../encode/pipeline.js';
import { openSource } from '../trace/sources/readers.js';
import type { TrainingRecording } from '../model/detector.js';
import { createTrainer, type ModelOptions } from '../model/registry.js';
import { chidsVersion } from '../util/package.js';
import { ChidsError } from '../util/errors.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, writeBaseline, type Manifest } from '../engine/baseline-dir.js';
import { forEachSource, planSources, reportUnexpected, type SkippedInput } from '../trace/sources/plan.js';
import { THETAS } from '../engine/verdicts.js';

export const PATH_LENGTH = 3;

export interface RunHooks {
  /** A trace starts: its position, the number of traces, and its size when known. */
  onTraceStart?(index: number, total: number, path: string, bytes: number | null): void;
  onBytes?(bytes: number): void;
  onTraceEnd?(summary: TraceSummary): void;
  onWarning?(message: string): void;
}

export interface BaselineHooks extends RunHooks {
  /** The training recordings (with their calibration vectors, when computed), just before the fit. */
  onTrainingSet?(recordings: readonly TrainingRecording[]): void;
  onTrainStart?(vectors: number, epochs: number): void;
  onEpoch?(epoch: number, epochs: number, loss: number, valLoss: number | null): void;
}

export interface BaselineOptions {
  inputs: readonly string[];
  outDir: string;
  faithful: boolean;
  windowNs: number;
  /** Work budget: empty windows a trace may open between its events (default DEFAULT_MAX_EMPTY_WINDOWS). */
  maxEmptyWindows?: number;
  /** Training epochs and batch size; omitted = the model's defaults (chids: 120 and 50). */
  epochs?: number;
  batchSize?: number;
  seed: number | null;
  /** The detector and its hyper-parameters (src/model/registry.ts); default: chids. */
  model?: Omit<ModelOptions, 'epochs' | 'batchSize' | 'seed'>;
  hooks?: BaselineHooks;
  /** The container image the baseline is for (`--image`); default: the one the recordings' metadata names. */
  image?: string;
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
  /** The detector's name (`--model`). */
  model: string;
  manifest: Manifest;
}


/** The container image a recording's metadata names (`chids capture --all-containers` writes it), or null. */
function recordedImage(raw: unknown): string | null {
  const c = (raw as { chids?: { container?: { image?: unknown } } } | null)?.chids?.container;
  return typeof c?.image === 'string' && c.image !== '' ? c.image : null;
}

export async function runBaseline(opts: BaselineOptions): Promise<BaselineResult> {
  const hooks = opts.hooks ?? {};
  const planned = await planSources(opts.inputs, reportUnexpected(hooks.onWarning));
  if (planned.length === 0) throw new ChidsError('no training recordings given (--td)');
  const skipped: SkippedInput[] = [];
  const trainer = await createTrainer({ ...opts.model, epochs: opts.epochs, batchSize: opts.batchSize, seed: opts.seed ?? undefined, improved: !opts.faithful });
  const names = new NameTable();
  const seenSyscalls = new Set<string>();
  const seenArgs = new Set<string>();
  const images = new Set<string>();
  const perTrace = await forEachSource(
    planned,
    async (src, i) => {
      hooks.onTraceStart?.(i, planned.length, src.path, src.textBytes);
      if (opts.image === undefined) {
        const image = recordedImage((await src.labels())?.raw);
        if (image !== null) images.add(image);
      }
      const tap = trainer.trainingTap?.(names);
      const r = await collectTrace(
        src,
        { faithful: opts.faithful, windowNs: opts.windowNs, maxEmptyWindows: opts.maxEmptyWindows, onBytes: hooks.onBytes, onWarning: hooks.onWarning, hash: true, tap },
        names,
      );
      hooks.onTraceEnd?.(r.summary);
      return { ...r, tap: tap ?? null };
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
  // Each recording's non-empty windows in order (CHIDS concatenates them in recording order,
  // as the reference does: the last 20 % are Keras' validation split).
  const recordings: TrainingRecording[] = perTrace.map((r) => {
    const rows: number[] = [];
    for (const v of trainingVectors(r.counts, maxFreq)) if (v !== null) rows.push(v[0], v[1], v[2]);
    return { avs: Float64Array.from(rows), n: rows.length / 3, tap: r.tap, file: r.summary.file };
  });
  const vectors = recordings.reduce((a, r) => a + r.n, 0);
  const foldInputs = perTrace.map((r) => ({ seenSyscalls: r.seenSyscalls, seenArgs: r.seenArgs, segments: r.segments, windows: r.counts.length }));
  const plan = planFolds(foldInputs);
  let calibration: CalibrationRecord | null = null;
  if (trainer.usesCalibration) {
    calibration = await calibrate(plan, foldInputs, perTrace, recordings, maxFreq, names, opts, hooks);
  }
  let image: string | null = opts.image ?? null;
  if (opts.image === undefined && images.size === 1) image = [...images][0];
  else if (images.size > 1) hooks.onWarning?.(`the training recordings come from ${images.size} images (${[...images].slice(0, 3).join(', ')}): the baseline is for none of them (give --image REF to say which)`);
  hooks.onTrainingSet?.(recordings);
  const trained = await trainer.fit(recordings, { onTrainStart: hooks.onTrainStart, onEpoch: hooks.onEpoch });
  try {
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      created: new Date().toISOString(),
      chids_version: chidsVersion(),
      image,
      model: {
        type: trainer.name,
        ...trained.detector.settings,
        seed: trained.seed,
      },
      encoding: {
        faithful: opts.faithful,
        window_ns: opts.windowNs,
        beta_fold_increase: BETA_FOLD_INCREASE,
        path_length: PATH_LENGTH,
        arg_syscalls: argSyscalls(opts.faithful),
        exec_commands: !opts.faithful,
        ...(opts.faithful ? {} : { command_shape: COMMAND_SHAPE, proc_numbers: true }),
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
        examples: trained.examples,
        max_score: trained.maxScore,
      },
      thetas: [...THETAS],
      calibration: {
        folds: plan,
        used: calibration !== null,
        reread: calibration?.reread ?? [],
        summary: calibration?.summary ?? null,
      },
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
      calibration: calibration === null ? null : { format: 'chids-calibration', version: 1, folds: plan, summary: calibration.summary, reread: calibration.reread, unseen_windows: calibration.unseenWindows },
      saveModel: (dir) => trained.detector.save(dir),
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
      model: trainer.name,
      manifest,
    };
  } finally {
    trained.detector.dispose();
  }
}

/** What calibration produced (the vectors themselves go to the trainer). */
interface CalibrationRecord {
  summary: CalibrationSummary;
  /** Recordings read a second time, with the count of their items the fold vocabulary lacks. */
  reread: { path: string; unseen_syscalls: number; unseen_args: number }[];
  /** Every calibration window with unseen activity (the others equal their training vectors). */
  unseenWindows: { recording: number; window: number; av: [number, number, number] }[];
}

/**
 * Fills each recording's `calibration` vectors: its training vectors, except for the recordings
 * that hold an item their fold vocabulary lacks, which are encoded again against it.
 */
async function calibrate(
  plan: FoldPlan,
  foldInputs: Parameters<typeof foldPasses>[1],
  perTrace: readonly { summary: TraceSummary }[],
  recordings: TrainingRecording[],
  maxFreq: number,
  names: NameTable,
  opts: BaselineOptions,
  hooks: BaselineHooks,
): Promise<CalibrationRecord> {
  for (const r of recordings) {
    r.calibration = r.avs;
    // Training windows have no unseen activity of either kind (improved mode only: the split is the encoder's).
    if (!opts.faithful) r.calibrationSplit = new Float64Array(2 * r.n);
  }
  const reread: CalibrationRecord['reread'] = [];
  const passes = foldPasses(plan, foldInputs, maxFreq);
  for (const p of passes) {
    const first = perTrace[p.recording].summary;
    if (first.file === '-') {
      hooks.onWarning?.('stdin cannot be read twice: its calibration vectors show no unseen activity (give the recording as a file to calibrate it)');
      continue;
    }
    hooks.onTraceStart?.(p.recording, recordings.length, `${first.file} (calibration)`, null);
    const rows: number[] = [];
    const split: number[] = [];
    const again = await encodeTrace(
      await openSource(first.file),
      p.vocabAt(0),
      { faithful: opts.faithful, windowNs: opts.windowNs, hash: true, vocabAt: p.vocabAt },
      (w) => {
        if (w.av !== null) rows.push(w.av[0], w.av[1], w.av[2]);
        if (w.av !== null && w.split !== undefined) split.push(w.split[0], w.split[1]);
      },
      names,
    );
    if (again.sha256 !== first.sha256 || rows.length !== recordings[p.recording].n * 3) {
      throw new ChidsError(`${first.file}: changed while chids baseline was reading it (the calibration pass read different content); run baseline again`);
    }
    recordings[p.recording].calibration = Float64Array.from(rows);
    recordings[p.recording].calibrationSplit = split.length === rows.length * (2 / 3) ? Float64Array.from(split) : undefined;
    reread.push({ path: first.file, unseen_syscalls: p.unseen.syscalls, unseen_args: p.unseen.args });
  }
  let n = 0;
  for (const r of recordings) n += r.n;
  const all = new Float64Array(n * 3);
  let o = 0;
  const unseenWindows: CalibrationRecord['unseenWindows'] = [];
  recordings.forEach((r, ri) => {
    const c = r.calibration!;
    all.set(c, o);
    o += c.length;
    for (let i = 0; i < r.n; i++) if (c[3 * i + 1] + c[3 * i + 2] > 0) unseenWindows.push({ recording: ri, window: i, av: [c[3 * i], c[3 * i + 1], c[3 * i + 2]] });
  });
  return { summary: summarize(all, n), reread, unseenWindows };
}
