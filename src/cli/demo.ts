import type { Command } from 'commander';
import { nonNegativeInt, positiveInt, thetaValue } from './common.js';
import { modelOption } from './model-options.js';

interface Flags {
  dataset?: string;
  out: string;
  seed: number;
  model: string;
  epochs?: number;
  theta: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('train on a LID-DS dataset, evaluate on its test splits, print the metrics and write an HTML report')
    .option('--dataset <dir>', 'LID-DS scenario directory (training/, test/normal/, test/normal_and_attack/); default: the bundled data/example')
    .option('--out <dir>', 'output directory: baseline/, results.json and index.html', 'report')
    .option('--seed <n>', 'random seed for training', nonNegativeInt('--seed'), 1)
    .addOption(modelOption())
    .option('--epochs <n>', 'training epochs of the autoencoders (default: the model\'s, chids 120)', positiveInt('--epochs'))
    .option('--theta <x>', 'θ for the verdicts in the report', thetaValue, 1.0)
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ chids demo                                  # the bundled example dataset → report/index.html
  $ chids demo --model chids --seed 2           # the same with the reference CHIDS autoencoder
  $ chids demo --dataset ~/LID-DS-2021/CVE-2017-7529 --out runs/cve-2017-7529`,
    )
    .action(async (flags: Flags) => {
      const { runDemo } = await import('../app/demo.js');
      const { Progress } = await import('../report/progress.js');
      const { evaluationTable } = await import('../report/tables.js');
      const { fmtMs } = await import('../report/format.js');
      const { writeReport } = await import('../report/html.js');
      const progress = new Progress({ quiet: flags.quiet });
      try {
        const r = await runDemo({
          dataset: flags.dataset,
          outDir: flags.out,
          seed: flags.seed,
          model: flags.model as import('../model/detector.js').ModelName,
          epochs: flags.epochs,
          theta: flags.theta,
          hooks: progress,
          writeReport,
          onStage: flags.quiet ? undefined : (msg) => process.stderr.write(`chids demo: ${msg}\n`),
        });
        progress.stop();
        process.stdout.write(
          `${evaluationTable(r.evaluation)}\n\n` +
            `model: ${r.baseline.model}${r.baseline.model === 'calibrated' ? ' (the default: AV features calibrated leaving one training recording out; --model chids for the reference autoencoder)' : ''}\n` +
            `trained on ${r.baseline.recordings} recordings (${r.baseline.vectors} windows) in ${fmtMs(r.baseline.trainingMs)}; whole run ${fmtMs(r.ms)}\n` +
            `baseline: ${r.baselineDir}\nresults:  ${r.resultsPath}\nreport:   ${r.reportPath}\n`,
        );
      } finally {
        progress.stop();
      }
    });
}
