import type { Command } from 'commander';
import type { Jobs } from '../app/jobs.js';
import { nonNegativeInt, positiveInt, windowLength, maxEmptyWindowsOption, jobsOption } from './common.js';
import { toJson } from '../util/json.js';
import { addHyperParameterOptions, hyperParameters, type ModelFlags } from './model-options.js';

interface Flags extends Omit<ModelFlags, 'model'> {
  dataset: string;
  models: string;
  epochs?: number;
  seed?: number;
  out?: string;
  report?: string;
  faithful?: boolean;
  window?: number;
  maxEmptyWindows: number;
  jobs: Jobs;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('compare')
    .description('train and evaluate several detectors on the same LID-DS split; print one table')
    .requiredOption('--dataset <dir>', 'a LID-DS scenario directory (training/, test/normal/, test/normal_and_attack/)')
    .option('--models <list>', 'comma-separated: calibrated, chids, dense-seq, enhanced, lstm, tcn, stide, bosc', 'calibrated,chids,dense-seq,enhanced,lstm,tcn,stide,bosc')
    .option('--epochs <n>', "epochs for every neural model (default: each model's own)", positiveInt('--epochs'))
    .option('--seed <n>', 'one seed for every model (default: random, reported)', nonNegativeInt('--seed'))
    .option('--out <dir>', 'keep each baseline in DIR/<model> (default: temporary, removed)')
    .option('--report <file>', 'also write an HTML page with the table, the ROC curves and the cost chart')
    .option('--faithful', 'encode like the reference implementation')
    .option('--window <length>', 'window length, e.g. 1s', windowLength)
    .addOption(maxEmptyWindowsOption())
    .addOption(jobsOption())
    .option('--json', 'print one JSON object on stdout instead of the table')
    .option('-q, --quiet', 'no progress or warnings on stderr');
  addHyperParameterOptions(cmd)
    .addHelpText(
      'after',
      `
Hyper-parameter flags apply to the models that take them.

Examples:
  $ chids compare --dataset data/example
  $ chids compare --dataset data/example --models chids,lstm,stide --seed 1 --epochs 20
  $ chids compare --dataset LID-DS-2021/CVE-2017-7529 --models chids,stide,bosc --json > cmp.json
  $ chids compare --dataset data/example --report report/compare.html`,
    )
    .action(async (flags: Flags) => {
      const { parseModelList } = await import('../model/registry.js');
      const models = parseModelList(flags.models);
      const hyper = hyperParameters(flags);
      const { runCompare } = await import('../app/compare.js');
      const { Progress } = await import('../report/progress.js');
      const progress = new Progress({ quiet: flags.quiet });
      try {
        const result = await runCompare({
          dataset: flags.dataset,
          models,
          seed: flags.seed ?? null,
          epochs: flags.epochs,
          hyper,
          faithful: Boolean(flags.faithful),
          windowNs: flags.window,
          maxEmptyWindows: flags.maxEmptyWindows,
          jobs: flags.jobs,
          outDir: flags.out ?? null,
          hooks: {
            ...progress,
            onModelStart: (m: string, i: number, n: number) => {
              // On stderr even with --json (stdout stays one JSON object): a comparison takes minutes.
              if (!flags.quiet) process.stderr.write(`[${i + 1}/${n}] ${m}\n`);
            },
          },
        });
        progress.stop();
        if (flags.report) {
          const { renderComparison } = await import('../report/compare-html.js');
          const { writeFileAtomic } = await import('../util/fs.js');
          const { chidsVersion } = await import('../util/package.js');
          await writeFileAtomic(flags.report, renderComparison(result, { version: chidsVersion() }));
          if (!flags.quiet) process.stderr.write(`report: ${flags.report}\n`);
        }
        if (flags.json) {
          process.stdout.write(toJson(result, 2) + '\n');
        } else {
          const { compareTable } = await import('../report/compare-table.js');
          process.stdout.write(compareTable(result) + '\n');
        }
      } finally {
        progress.stop();
      }
    });
}
