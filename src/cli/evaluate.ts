import type { Command } from 'commander';
import type { Jobs } from '../app/jobs.js';
import { artifactPaths, collect, windowLength, maxEmptyWindowsOption, jobsOption, type ArtifactFlags } from './common.js';
import { toJson } from '../util/json.js';

interface Flags extends ArtifactFlags {
  ns?: string[];
  ms?: string[];
  dataset?: string;
  faithful?: boolean;
  window?: number;
  maxEmptyWindows: number;
  jobs: Jobs;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('score normal and attack recordings; print detection and false-alarm rates per θ')
    .option('--od <dir>', 'baseline directory written by `chids baseline`')
    .option('--ss <file>', 'seen syscalls file (instead of --od)')
    .option('--sa <file>', 'seen arguments file (instead of --od)')
    .option('--fm <file>', 'max_freq file (instead of --od)')
    .option('--tm <dir>', 'model directory or its model.json (instead of --od)')
    .option('--tl <file>', 'threshold list file (instead of --od)')
    .option('--ns <path>', 'normal recording(s): file or directory; repeatable', collect)
    .option('--ms <path>', 'attack ("malicious") recording(s): file or directory; repeatable', collect)
    .option('--dataset <dir>', 'a LID-DS scenario directory: evaluate on its test/normal/ and test/normal_and_attack/ (instead of --ns/--ms)')
    .option('--faithful', "encode like the reference (default: the baseline's mode)")
    .option('--window <length>', "window length (default: the baseline's)", windowLength)
    .addOption(maxEmptyWindowsOption())
    .addOption(jobsOption())
    .option('--json', 'print one JSON object on stdout instead of the table')
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ chids evaluate --od models/web --ns recordings/test/normal --ms recordings/test/normal_and_attack
  $ chids evaluate --od models/web --ns normal/ --ms attack/ --json > results.json
  $ chids evaluate --od models/web --ns normal/ --ms attack/ --jobs 1   # no worker threads
  $ chids evaluate --od models/cve --dataset LID-DS-2021/CVE-2017-7529 --json > results.json
  $ chids evaluate --ss m/seen_syscalls.json --sa m/seen_args.json --fm m/max_freq.json \\
                   --tm m/model --tl m/thresh_list.json --ns normal/ --ms attack/`,
    )
    .action(async (flags: Flags) => {
      const { testInputs } = await import('../trace/lidds/layout.js');
      const inputs = testInputs(flags.ns, flags.ms, flags.dataset);
      const { runEvaluate } = await import('../app/evaluate.js');
      const { Progress } = await import('../report/progress.js');
      const progress = new Progress({ quiet: flags.quiet });
      try {
        const result = await runEvaluate({
          normal: inputs.normal,
          attack: inputs.attack,
          artifacts: artifactPaths(flags, true),
          faithful: flags.faithful ? true : undefined,
          windowNs: flags.window,
          maxEmptyWindows: flags.maxEmptyWindows,
          jobs: flags.jobs,
          hooks: progress,
        });
        progress.stop();
        if (flags.json) {
          process.stdout.write(toJson(result) + '\n');
        } else {
          const { evaluationTable } = await import('../report/tables.js');
          process.stdout.write(evaluationTable(result) + '\n');
        }
      } finally {
        progress.stop();
      }
    });
}
