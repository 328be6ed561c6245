/**
 * Every detector by name: its defaults, a trainer for `baseline`, and loading a saved one for
 * `evaluate`. Importing this module loads no TF.js: the neural models are imported when asked
 * for, so STIDE and BoSC run without it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChidsError, InputError } from '../util/errors.js';
import { DEFAULT_MODEL, MODEL_NAMES, isModelName, type Detector, type DetectorTrainer, type FitResult, type ModelName, type TrainHooks, type TrainingRecording } from './detector.js';

export { DEFAULT_MODEL, MODEL_NAMES, isModelName, type ModelName } from './detector.js';

/** Everything `--model` and its hyper-parameter flags can set. Omitted = the model's default. */
export interface ModelOptions {
  model?: ModelName;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seed for reproducible training (weights, shuffles, dropout, BoSC's sample). */
  seed?: number;
  /** ENCODING_DIM (chids: fixed 2). */
  encodingDim?: number;
  /** BOTTLENECK (chids: fixed 1). */
  bottleneck?: number;
  /** REG_RATE: L1 activity rate. */
  regRate?: number;
  /** T, windows per sequence (sequence models). */
  seqLen?: number;
  /** n-gram length (stide). */
  ngram?: number;
  /** Largest number of normal bags (bosc). */
  maxBags?: number;
  /** Per-window risk of the volume (fi) bound (calibrated; 0: the busiest training window). */
  fiRisk?: number;
  /** 1 (default): unseen command shapes are their own feature, with their own reference (calibrated, improved mode); 0: pooled with usi + uai. */
  splitCommands?: number;
  /** Improved mode (not --faithful): chids trains on scaled LORO calibration vectors. Set by baseline, not a flag. */
  improved?: boolean;
}

export type Option = Exclude<keyof ModelOptions, 'model' | 'seed' | 'improved'>;

export interface ModelInfo {
  name: ModelName;
  /** What it reads. */
  input: 'calibrated anomaly vectors' | 'anomaly vectors' | 'sequences of anomaly vectors' | 'syscall n-grams' | 'syscall frequencies';
  summary: string;
  /** The options it takes, with their defaults. */
  defaults: Partial<Record<Option, number>>;
}

/** Training defaults shared by the four sequence autoencoders. */
export const SEQ_TRAIN_DEFAULTS = Object.freeze({ batchSize: 64, learningRate: 0.01 });

/**
 * Without --epochs, a sequence model trains at least this many gradient steps (more epochs on
 * a small training set). Measured on data/example (60 training sequences, one batch per
 * epoch): 20 steps leave every sequence autoencoder near its initial weights (AUC ≤ 0.5);
 * 300 steps give dense-seq, enhanced and lstm AUC 1; tcn needs about 1000. With causal
 * sequences (one per window, 150 on data/example, two batches per epoch) the same step counts
 * give AUC 1.0 for dense-seq, enhanced and lstm and 0.976 for tcn (`chids compare --seed 1`).
 */
export const SEQ_MIN_STEPS: Readonly<Record<'dense-seq' | 'enhanced' | 'lstm' | 'tcn', number>> = Object.freeze({
  'dense-seq': 300,
  enhanced: 300,
  lstm: 300,
  tcn: 1000,
});
const SEQ_HYPER = { seqLen: 10, encodingDim: 2, bottleneck: 1 };

export const MODELS: Readonly<Record<ModelName, ModelInfo>> = Object.freeze({
  calibrated: {
    name: 'calibrated',
    input: 'calibrated anomaly vectors',
    summary: 'default: max over fi, usi + uai (unseen command shapes apart in improved mode) and the share of unseen syscall 6-grams of value / normal reference, each calibrated leaving one training recording out',
    // splitCommands 1: measured with command shape version 2 (src/trace/command.ts), the split keeps
    // data/example at 7/7 with 0/6 false alarms and reaches 23/24 at 0/50 on web (README).
    defaults: { fiRisk: 0, splitCommands: 1 },
  },
  chids: {
    name: 'chids',
    input: 'anomaly vectors',
    summary: 'the CHIDS autoencoder (reference): Dense 2-1-1-2-3 sigmoid, L1 activity 0.01 on the first layer',
    defaults: { epochs: 120, batchSize: 50, learningRate: 0.001, regRate: 0.01 },
  },
  'dense-seq': {
    name: 'dense-seq',
    input: 'sequences of anomaly vectors',
    summary: 'dense autoencoder over a flattened sequence: BN, leaky ReLU, L1-sparse linear bottleneck, L2 1e-4 kernels',
    defaults: { epochs: 20, ...SEQ_TRAIN_DEFAULTS, ...SEQ_HYPER, regRate: 0.01 },
  },
  enhanced: {
    name: 'enhanced',
    input: 'sequences of anomaly vectors',
    summary: 'per-step dense autoencoder: BN, leaky ReLU 0.1, dropout 0.2, L1 activity on the second layer, sigmoid output',
    defaults: { epochs: 20, ...SEQ_TRAIN_DEFAULTS, ...SEQ_HYPER, regRate: 0.01 },
  },
  lstm: {
    name: 'lstm',
    input: 'sequences of anomaly vectors',
    summary: 'LSTM autoencoder: masking, LSTM, layer norm, LSTM bottleneck, repeat vector, LSTM, time-distributed dense',
    defaults: { epochs: 10, ...SEQ_TRAIN_DEFAULTS, ...SEQ_HYPER },
  },
  tcn: {
    name: 'tcn',
    input: 'sequences of anomaly vectors',
    summary: 'temporal convolution autoencoder: causal dilated Conv1D (1, 2, 4), global average pooling, repeat vector, transposed convolutions, dense head',
    // Converges more slowly than the others (loss 2e-2 after 20 epochs, 6e-3 after 40 on the bench data).
    defaults: { epochs: 40, ...SEQ_TRAIN_DEFAULTS, ...SEQ_HYPER },
  },
  stide: {
    name: 'stide',
    input: 'syscall n-grams',
    summary: 'STIDE: share of the window’s (per-thread) syscall n-grams never seen in training',
    defaults: { ngram: 6 },
  },
  bosc: {
    name: 'bosc',
    input: 'syscall frequencies',
    summary: 'bag of system calls: distance from the window’s syscall frequencies to the nearest normal bag',
    defaults: { maxBags: 5000 },
  },
});

/** A comma-separated list of detector names (`--models`), checked. */
export function parseModelList(text: string): ModelName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((m) => !isModelName(m));
  if (bad.length) throw new ChidsError(`unknown model${bad.length > 1 ? 's' : ''} ${bad.join(', ')} in --models (choose from: ${MODEL_NAMES.join(', ')})`);
  return names as ModelName[];
}

/**
 * A hyper-parameter's defaults as help text, from the table above (so help never disagrees with
 * what training uses): models with the same default grouped, e.g. "chids 0.001; dense-seq,
 * enhanced, lstm, tcn 0.01".
 */
export function describeDefaults(k: Option): string {
  const byValue = new Map<number, string[]>();
  for (const info of Object.values(MODELS)) {
    const v = info.defaults[k];
    if (v === undefined) continue;
    byValue.set(v, [...(byValue.get(v) ?? []), info.name]);
  }
  return [...byValue].map(([v, names]) => `${names.join(', ')} ${v}`).join('; ');
}

/** Options given that the model does not take (for a clear CLI error). */
export function inapplicableOptions(opts: ModelOptions): Option[] {
  const info = MODELS[opts.model ?? DEFAULT_MODEL];
  return (Object.keys(opts) as (keyof ModelOptions)[]).filter(
    (k): k is Option => k !== 'model' && k !== 'seed' && k !== 'improved' && opts[k] !== undefined && !(k in info.defaults),
  );
}

/** The value of an option for a model: the given one, else the model's default. */
function pick(opts: ModelOptions, info: ModelInfo, k: Option): number {
  const v = opts[k] ?? info.defaults[k];
  if (v === undefined) throw new Error(`${info.name} has no default for ${k}`);
  return v;
}

class SeqTrainer implements DetectorTrainer {
  readonly settings: Readonly<Record<string, unknown>>;
  readonly epochs: number;

  constructor(
    readonly name: ModelName,
    private readonly arch: import('./nn/seq-autoencoder.js').SeqArchitecture,
    private readonly hp: import('./nn/seq-autoencoder.js').SeqHyper,
    private readonly seed: number | undefined,
    settings: Record<string, unknown>,
  ) {
    this.epochs = hp.epochs;
    this.settings = settings;
  }

  async fit(recordings: readonly TrainingRecording[], hooks?: TrainHooks): Promise<FitResult> {
    const { trainSequenceModel } = await import('./nn/seq-autoencoder.js');
    return trainSequenceModel(this.arch, this.hp, recordings, this.seed, hooks);
  }
}

async function architecture(name: 'dense-seq' | 'enhanced' | 'lstm' | 'tcn') {
  switch (name) {
    case 'dense-seq':
      return (await import('./nn/dense-seq.js')).DENSE_SEQ;
    case 'enhanced':
      return (await import('./nn/enhanced.js')).ENHANCED;
    case 'lstm':
      return (await import('./nn/lstm.js')).LSTM;
    case 'tcn':
      return (await import('./nn/tcn.js')).TCN;
  }
}

/** A trainer for the model `opts.model` (default: calibrated) with every default filled in. */
export async function createTrainer(opts: ModelOptions = {}): Promise<DetectorTrainer> {
  const name = opts.model ?? DEFAULT_MODEL;
  if (!isModelName(name)) throw new ChidsError(`unknown model '${String(name)}' (choose one of: ${MODEL_NAMES.join(', ')})`);
  const info = MODELS[name];
  switch (name) {
    case 'calibrated': {
      const { CalibratedTrainer } = await import('./calibrated.js');
      return new CalibratedTrainer(opts.seed, { fiRisk: pick(opts, info, 'fiRisk'), commands: pick(opts, info, 'splitCommands') === 1 });
    }
    case 'chids': {
      const { ChidsTrainer } = await import('./nn/chids-detector.js');
      return new ChidsTrainer({
        epochs: pick(opts, info, 'epochs'),
        batchSize: pick(opts, info, 'batchSize'),
        learningRate: pick(opts, info, 'learningRate'),
        regRate: pick(opts, info, 'regRate'),
        seed: opts.seed,
        loroScaled: opts.improved ?? false,
      });
    }
    case 'stide': {
      const { StideTrainer } = await import('./classic/stide.js');
      return new StideTrainer({ ngram: pick(opts, info, 'ngram'), seed: opts.seed });
    }
    case 'bosc': {
      const { BoscTrainer } = await import('./classic/bosc.js');
      return new BoscTrainer({ maxBags: pick(opts, info, 'maxBags'), seed: opts.seed });
    }
    default: {
      const { checkSeqHyper, seqSettings, SEQ_DEFAULTS } = await import('./nn/seq-autoencoder.js');
      const arch = await architecture(name);
      const hp = {
        seqLen: pick(opts, info, 'seqLen'),
        encodingDim: pick(opts, info, 'encodingDim'),
        bottleneck: pick(opts, info, 'bottleneck'),
        regRate: 'regRate' in info.defaults ? pick(opts, info, 'regRate') : 0,
        epochs: pick(opts, info, 'epochs'),
        batchSize: pick(opts, info, 'batchSize'),
        learningRate: pick(opts, info, 'learningRate'),
        validationSplit: SEQ_DEFAULTS.validationSplit,
        minSteps: opts.epochs === undefined ? SEQ_MIN_STEPS[name] : 0,
      };
      checkSeqHyper(hp);
      const settings = seqSettings(arch, hp);
      if (!('regRate' in info.defaults)) delete settings['reg_rate'];
      return new SeqTrainer(name, arch, hp, opts.seed, settings);
    }
  }
}

/**
 * Which model a baseline's `model/` directory holds, from its files; null when it holds none
 * of them (the loader then names the missing file).
 */
export async function detectModel(dir: string): Promise<ModelName | null> {
  const modelDir = join(dir, 'model');
  let files: string[];
  try {
    files = await readdir(modelDir);
  } catch {
    return null;
  }
  if (files.includes('calibrated.json')) return 'calibrated';
  if (files.includes('stide.json')) return 'stide';
  if (files.includes('bosc.json')) return 'bosc';
  if (files.includes('model.json')) {
    const jsonPath = join(modelDir, 'model.json');
    let kind: unknown;
    try {
      const doc = JSON.parse(await readFile(jsonPath, 'utf8')) as { userDefinedMetadata?: { chids?: { kind?: unknown } } } | null;
      kind = doc?.userDefinedMetadata?.chids?.kind;
    } catch {
      return 'chids'; // loadChids reports what is wrong with it
    }
    if (kind === undefined || kind === 'chids-autoencoder') return 'chids';
    const byKind: Record<string, ModelName> = {
      'dense-seq-autoencoder': 'dense-seq',
      'enhanced-autoencoder': 'enhanced',
      'lstm-autoencoder': 'lstm',
      'tcn-autoencoder': 'tcn',
    };
    const name = typeof kind === 'string' ? byKind[kind] : undefined;
    if (name === undefined) throw new InputError(jsonPath, `holds a model of unknown kind ${JSON.stringify(kind)}`);
    return name;
  }
  return null;
}

/**
 * Loads the detector saved under `dir/model/`. `expected` (the manifest's model type), when
 * given, must match what the directory holds.
 */
export async function loadDetector(dir: string, expected?: string): Promise<Detector> {
  const found = await detectModel(dir);
  if (expected !== undefined && !isModelName(expected)) {
    throw new InputError(join(dir, 'manifest.json'), `names an unknown model type "${expected}" (this chids knows: ${MODEL_NAMES.join(', ')})`);
  }
  if (expected !== undefined && found !== null && expected !== found) {
    throw new InputError(join(dir, 'manifest.json'), `says the model is "${expected}" but ${join(dir, 'model')} holds a "${found}" model`);
  }
  // Nothing recognisable: the manifest's type, else the CHIDS autoencoder; its loader names what is missing.
  const name: ModelName = found ?? (expected as ModelName | undefined) ?? 'chids';
  switch (name) {
    case 'calibrated':
      return (await import('./calibrated.js')).loadCalibrated(dir);
    case 'chids':
      return (await import('./nn/chids-detector.js')).loadChidsDetector(dir);
    case 'stide':
      return (await import('./classic/stide.js')).loadStide(dir);
    case 'bosc':
      return (await import('./classic/bosc.js')).loadBosc(dir);
    default: {
      const { loadSequenceModel } = await import('./nn/seq-autoencoder.js');
      return loadSequenceModel(await architecture(name), dir);
    }
  }
}
