import type { Command } from 'commander';
import { thetaValue } from './common.js';

interface Flags {
  output: string;
  theta: number;
  title?: string;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report (charts, verdicts, latency) from `chids evaluate --json` output')
    .argument('<results.json>', 'the JSON printed by `chids evaluate --json`')
    .option('-o, --output <file>', 'the HTML file to write (atomically)', 'report/index.html')
    .option('--theta <x>', 'θ for the verdicts, summary and highlighted threshold (nearest of the ten)', thetaValue, 1.0)
    .option('--title <text>', 'report title')
    .addHelpText(
      'after',
      `
Examples:
  $ chids evaluate --od models/web --dataset LID-DS-2021/CVE-2017-7529 --json > results.json
  $ chids report results.json -o report/index.html --theta 0.8`,
    )
    .action(async (file: string, flags: Flags) => {
      const { readResults, writeReport } = await import('../report/html.js');
      const { chidsVersion } = await import('../util/package.js');
      const results = await readResults(file);
      const out = await writeReport(flags.output, results, { theta: flags.theta, title: flags.title, source: file, version: chidsVersion() });
      process.stdout.write(`report: ${out}\n`);
    });
}
