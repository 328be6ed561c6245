/** `--model` and the hyper-parameter flags, shared by `baseline` and `compare`. Parsing only. */
import { Option, type Command } from 'commander';
import { MODEL_NAMES, inapplicableOptions, type ModelName, type ModelOptions } from '../model/registry.js';
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
  /** Checked for applicability only (the commands pass them on themselves). */
  epochs?: number;
  batchSize?: number;
}

/** The hyper-parameter flags (not --model itself, whose form differs per command). */
export function addHyperParameterOptions(cmd: Command): Command {
  return cmd
    .option('--seq-len <T>', 'sequence models: windows per sequence (default 10)', positiveInt('--seq-len'))
    .option('--encoding-dim <n>', 'sequence models: ENCODING_DIM, width of the encoding layers (default 2)', positiveInt('--encoding-dim'))
    .option('--bottleneck <n>', 'sequence models: BOTTLENECK width (default 1)', positiveInt('--bottleneck'))
    .option('--reg-rate <x>', 'chids, dense-seq, enhanced: REG_RATE, the L1 activity rate (default 0.01)', nonNegativeNumber('--reg-rate'))
    .option('--learning-rate <x>', 'Adam learning rate (default: chids 0.001, sequence models 0.01)', positiveNumber('--learning-rate'))
    .option('--ngram <n>', 'stide: n-gram length (default 6)', positiveInt('--ngram'))
    .option('--max-bags <n>', 'bosc: most normal bags kept (default 5000)', positiveInt('--max-bags'));
}

export function modelOption(): Option {
  return new Option('--model <name>', 'detector to train').choices([...MODEL_NAMES]).default('chids');
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
