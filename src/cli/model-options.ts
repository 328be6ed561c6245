/** `--model` and the hyper-parameter flags, shared by `baseline` and `compare`. Parsing only. */
import { Option, type Command } from 'commander';
import { DEFAULT_MODEL, MODEL_NAMES, describeDefaults, inapplicableOptions, type ModelName, type ModelOptions } from '../model/registry.js';
import { ChidsError } from '../util/errors.js';
import { nonNegativeNumber, positiveInt, positiveNumber } from './common.js';

export interface ModelFlags {
  model?: string;
  seqLen?: number;
  ngram?: number;
  encodingDim?: number;
  bottleneck?: number;
  regRate?: number;
  learningRate?: number;
  maxBags?: number;
  fiRisk?: number;
  splitCommands?: boolean;
  /** Checked for applicability only (the commands pass them on themselves). */
  epochs?: number;
  batchSize?: number;
}

/** The hyper-parameter flags (not --model itself, whose form differs per command). */
export function addHyperParameterOptions(cmd: Command): Command {
  return cmd
    .option('--seq-len <T>', `windows per sequence (default: ${describeDefaults('seqLen')})`, positiveInt('--seq-len'))
    .option('--encoding-dim <n>', `ENCODING_DIM, width of the encoding layers (default: ${describeDefaults('encodingDim')})`, positiveInt('--encoding-dim'))
    .option('--bottleneck <n>', `BOTTLENECK width (default: ${describeDefaults('bottleneck')})`, positiveInt('--bottleneck'))
    .option('--reg-rate <x>', `REG_RATE, the L1 activity rate (default: ${describeDefaults('regRate')})`, nonNegativeNumber('--reg-rate'))
    .option('--learning-rate <x>', `Adam learning rate (default: ${describeDefaults('learningRate')})`, positiveNumber('--learning-rate'))
    .option('--ngram <n>', `n-gram length (default: ${describeDefaults('ngram')})`, positiveInt('--ngram'))
    .option('--max-bags <n>', `most normal bags kept (default: ${describeDefaults('maxBags')})`, positiveInt('--max-bags'))
    .option(
      '--fi-risk <p>',
      `volume bound above the busiest training window: where a normal window exceeds it once in 1/p, under an exponential tail fitted to the busiest tenth (e.g. 1e-4; 0: the busiest window) (default: ${describeDefaults('fiRisk')})`,
      nonNegativeNumber('--fi-risk'),
    )
    .option('--split-commands', 'unseen command shapes as a feature of their own, with their own normal reference, apart from unseen paths (calibrated, improved mode; the default)')
    .option('--no-split-commands', 'pool unseen command shapes with the other unseen arguments (calibrated; the default before command shape version 2)');
}

export function modelOption(): Option {
  return new Option('--model <name>', 'detector to train').choices([...MODEL_NAMES]).default(DEFAULT_MODEL);
}

/** The hyper-parameter flags that were given, for any model. */
export function hyperParameters(flags: ModelFlags): Omit<ModelOptions, 'model' | 'epochs' | 'seed'> {
  const { model: _model, ...rest } = modelOptionsFrom({ ...flags, epochs: undefined, batchSize: undefined }, 'chids', false, false);
  return rest;
}

/**
 * The flags as ModelOptions for one model. `strict` refuses flags the model does not take;
 * otherwise they are dropped (unless `drop` is false).
 */
export function modelOptionsFrom(flags: ModelFlags, model: ModelName, strict: boolean, drop = true): ModelOptions {
  const opts: ModelOptions = { model };
  if (flags.seqLen !== undefined) opts.seqLen = flags.seqLen;
  if (flags.ngram !== undefined) opts.ngram = flags.ngram;
  if (flags.encodingDim !== undefined) opts.encodingDim = flags.encodingDim;
  if (flags.bottleneck !== undefined) opts.bottleneck = flags.bottleneck;
  if (flags.regRate !== undefined) opts.regRate = flags.regRate;
  if (flags.learningRate !== undefined) opts.learningRate = flags.learningRate;
  if (flags.maxBags !== undefined) opts.maxBags = flags.maxBags;
  if (flags.fiRisk !== undefined) opts.fiRisk = flags.fiRisk;
  if (flags.splitCommands !== undefined) opts.splitCommands = flags.splitCommands ? 1 : 0;
  const extra = inapplicableOptions({ ...opts, epochs: flags.epochs, batchSize: flags.batchSize });
  if (strict && extra.length > 0) {
    const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    throw new ChidsError(`${extra.map(flag).join(', ')} ${extra.length === 1 ? 'does' : 'do'} not apply to --model ${model}`);
  }
  if (drop) for (const k of extra) delete opts[k];
  delete opts.epochs;
  delete opts.batchSize;
  return opts;
}
