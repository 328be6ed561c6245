import { Option, type Command } from 'commander';
import { collect, positiveInt, nonNegativeInt, windowLength } from './common.js';
import { toJson } from '../util/json.js';
import { addHyperParameterOptions, modelOption, modelOptionsFrom, type ModelFlags } from './model-options.js';

interface Flags extends ModelFlags {
  td?: string[];
  dataset?: string;
  od: string;
  faithful?: boolean;
  window: number;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  json?: boolean;
  quiet?: boolean;
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
    .addOption(modelOption())
    .option('--epochs <n>', 'training epochs (default: chids 120; sequence models: dense-seq and enhanced 20, lstm 10, tcn 40, or more to make at least 300 gradient steps (tcn 1000))', positiveInt('--epochs'))
    .option('--batch-size <n>', 'training batch size (default: chids 50, sequence models 64)', positiveInt('--batch-size'))
    .option('--seed <n>', 'random seed for reproducible training', nonNegativeInt('--seed'))
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
      const { ChidsError } = await import('../util/errors.js');
      if (flags.dataset && flags.td?.length) throw new ChidsError('give the training data with either --td or --dataset, not both');
      if (!flags.dataset && !flags.td?.length) throw new ChidsError('give the training recordings with --td PATH (or a LID-DS scenario with --dataset DIR)');
      const model = modelOptionsFrom(flags, (flags.model ?? 'chids') as Parameters<typeof modelOptionsFrom>[1], true);
      if (flags.dataset) {
        const { datasetLayout } = await import('../trace/lidds/layout.js');
        flags.td = [datasetLayout(flags.dataset, ['training']).training];
      }
      // Refuse an unusable --od before reading and training, not after.
      const { checkBaselineTarget } = await import('../engine/baseline-dir.js');
      await checkBaselineTarget(flags.od);
      const { runBaseline } = await import('../app/train.js');
      const { Progress } = await import('../report/progress.js');
      const progress = new Progress({ quiet: flags.quiet });
      try {
        const result = await runBaseline({
          inputs: flags.td ?? [],
          outDir: flags.od,
          faithful: Boolean(flags.faithful),
          windowNs: flags.window,
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          seed: flags.seed ?? null,
          model,
          hooks: progress,
        });
        progress.stop();
        if (flags.json) {
          // snake_case, like evaluate --json and the manifest.
          const r = result;
          const summary = {
            out_dir: r.outDir,
            recordings: r.recordings,
            skipped: r.skipped,
            windows: r.windows,
            vectors: r.vectors,
            seen_syscalls: r.seenSyscalls,
            seen_args: r.seenArgs,
            max_freq: r.maxFreq,
            theta: r.thetas,
            thresholds: r.thresholds,
            training_ms: r.trainingMs,
            final_loss: r.finalLoss,
            final_val_loss: r.finalValLoss,
            encoding: r.manifest.encoding,
            model: r.manifest.model,
          };
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
