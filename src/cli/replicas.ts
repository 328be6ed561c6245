import type { Command } from 'commander';
import { toJson } from '../util/json.js';
import { nonNegativeNumber, windowLength } from './common.js';

interface Flags {
  window?: number;
  threshold?: number;
  alignStarts?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('replicas')
    .description('compare recordings of replicas of one service window by window, no training; flag the replica that behaves unlike its siblings')
    .argument('<recordings...>', 'two or more recordings (.zip, .sc, .scap, sysdig text) of replicas over the same span, or directories of them')
    .option('--window <length>', 'window length, aligned on absolute time across replicas (default 10s)', windowLength)
    .option('--threshold <x>', 'a replica is flagged when its score exceeds this (default 0.8; scores range 0..√10)', nonNegativeNumber('--threshold'))
    .option('--align-starts', "count each recording's time from its own first event (recordings not made at the same time)")
    .option('--json', 'print one JSON object on stdout instead of the summary')
    .option('-q, --quiet', 'no warnings on stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ chids replicas web-1.zip web-2.zip web-3.zip
  $ chids replicas replicas/ --window 5s --threshold 1 --json > replicas.json`,
    )
    .action(async (files: string[], flags: Flags) => {
      const { runReplicas } = await import('../app/replicas.js');
      const result = await runReplicas({
        files,
        windowNs: flags.window,
        threshold: flags.threshold,
        alignStarts: Boolean(flags.alignStarts),
        onWarning: flags.quiet ? undefined : (m) => process.stderr.write(`warning: ${m}\n`),
      });
      if (flags.json) {
        process.stdout.write(toJson(result, 2) + '\n');
        return;
      }
      const { replicasSummary } = await import('../report/replicas.js');
      process.stdout.write(replicasSummary(result) + '\n');
    });
}
