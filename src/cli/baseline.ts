import { Option, type Command } from 'commander';
import { DEFAULT_MODEL, SEQ_MIN_STEPS, describeDefaults } from '../model/registry.js';
import { collect, positiveInt, nonNegativeInt, windowLength, maxEmptyWindowsOption } from './common.js';
import { toJson } from '../util/json.js';
import { addHyperParameterOptions, modelOption, modelOptionsFrom, type ModelFlags } from './model-options.js';

const minStepsText = () =>
  Object.entries(SEQ_MIN_STEPS)
    .map(([m, n]) => `${m} ${n}`)
    .join(', ');

interface Flags extends ModelFlags {
  td?: string[];
  dataset?: string;
  od: string;
  faithful?: boolean;
  window: number;
  maxEmptyWindows: number;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  json?: boolean;
  quiet?: boolean;
  image?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('baseline')
    .description('learn normal behaviour from training recordings and write a baseline directory')
    .option('--td <path>', 'training recording(s): a file (.zip, .sc, .scap, sysdig text) or a directory of them; repeatable', collect)
    .option('--dataset <dir>', 'a LID-DS scenario directory: train on its training/ (instead of --td)')
    .requiredOption('--od <dir>', 'output directory for the baseline (written atomically)')
    .option('--faithful', 'reproduce the reference implementation exactly (noise filter, µs timestamps, positional args)')
    .addOption(new Option('--window <length>', 'window length, e.g. 1s, 500ms').argParser(windowLength).default(1e9, '1s'))
    .addOption(maxEmptyWindowsOption())
    .addOption(modelOption())
    .option('--epochs <n>', `training epochs (default: ${describeDefaults('epochs')}; sequence models more on small data, to make at least ${minStepsText()} gradient steps)`, positiveInt('--epochs'))
    .option('--batch-size <n>', `training batch size (default: ${describeDefaults('batchSize')})`, positiveInt('--batch-size'))
    .option('--seed <n>', 'random seed for reproducible training', nonNegativeInt('--seed'))
    .option('--image <ref>', 'the container image this baseline is for (default: the one the recordings of `chids capture --all-containers` name); `monitor --baselines` picks baselines by it')
    .option('--json', 'print the training summary as JSON on stdout')
    .option('-q, --quiet', 'no progress or warnings on stderr');
  addHyperParameterOptions(cmd)
    .addHelpText(
      'after',
      `
Examples:
  $ chids baseline --td recordings/training --od models/web
  $ chids baseline --td a.zip --td b.zip --od models/web --seed 42 --epochs 60
  $ chids baseline --td train_nginx.txt --od models/ref --faithful
  $ chids baseline --dataset LID-DS-2021/CVE-2017-7529 --od models/cve --seed 1
  $ chids baseline --td recordings/training --od models/lstm --model lstm --seq-len 10
  $ chids baseline --td recordings/training --od models/stide --model stide --ngram 6

Models: chids (default), dense-seq, enhanced, lstm, tcn (autoencoders over anomaly vectors or
sequences of them), stide (syscall n-grams), bosc (bag of system calls).`,
    )
    .action(async (flags: Flags) => {
      const model = modelOptionsFrom(flags, (flags.model ?? DEFAULT_MODEL) as Parameters<typeof modelOptionsFrom>[1], true);
      const { trainingInputs } = await import('../trace/lidds/layout.js');
      const inputs = trainingInputs(flags.td, flags.dataset);
      // Refuse an unusable --od before reading and training, not after.
      const { checkBaselineTarget } = await import('../engine/baseline-dir.js');
      await checkBaselineTarget(flags.od);
      const { runBaseline } = await import('../app/train.js');
      const { Progress } = await import('../report/progress.js');
      const progress = new Progress({ quiet: flags.quiet });
      try {
        const result = await runBaseline({
          inputs,
          outDir: flags.od,
          faithful: Boolean(flags.faithful),
          windowNs: flags.window,
          maxEmptyWindows: flags.maxEmptyWindows,
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          seed: flags.seed ?? null,
          model,
          hooks: progress,
          image: flags.image,
        });
        progress.stop();
        if (flags.json) {
          const { baselineSummary } = await import('../report/json.js');
          const summary = baselineSummary(result);
          process.stdout.write(toJson(summary, 2) + '\n');
        } else {
          const { baselineTable } = await import('../report/tables.js');
          process.stdout.write(baselineTable(result) + '\n');
        }
      } finally {
        progress.stop();
      }
    });
}
