import { type Command, Option } from 'commander';
import { toJson } from '../util/json.js';
import { nonNegativeNumber, windowLength } from './common.js';

interface Flags {
  window?: number;
  threshold?: number;
  similarity?: 'counted' | 'covered' | 'mean' | 'nearest' | 'programs';
  alignStarts?: boolean;
  dataset?: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('replicas')
    .description('compare recordings of replicas of one service window by window, no training; flag the replica that behaves unlike its siblings')
    .argument('[recordings...]', 'two or more recordings (.zip, .sc, .scap, sysdig text) of replicas over the same span, or directories of them')
    .option('--window <length>', 'window length, aligned on absolute time across replicas; only whole windows are compared (default 10s)', windowLength)
    .option('--threshold <x>', 'a replica is flagged when its score exceeds this (default 0.15; scores range 0..√10)', nonNegativeNumber('--threshold'))
    .addOption(
      new Option(
        '--similarity <how>',
        "a replica's similarity to its siblings per aspect: counted, with the share of each program's own syscalls, categories and directories its nearest sibling did not show (programs, the default); covered, plus items done significantly more often than its nearest sibling, scaled by volume (counted); the share of its items its nearest sibling showed within a window (covered); Jaccard with the nearest sibling; or the mean Jaccard over all (ReplicaWatcher's)",
      ).choices([
        'programs',
        'counted',
        'covered',
        'nearest',
        'mean',
      ]),
    )
    .option('--align-starts', "count each recording's time from its own first event (recordings not made at the same time)")
    .option('--dataset <dir>', 'evaluate over groups of replica recordings (each directory holding 2+ recordings is a group; labels from their LID-DS metadata): DR and FAR per threshold')
    .option('--json', 'print one JSON object on stdout instead of the summary')
    .option('-q, --quiet', 'no warnings on stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ chids replicas web-1.zip web-2.zip web-3.zip
  $ chids replicas replicas/ --window 5s --threshold 1 --json > replicas.json
  $ chids replicas --dataset data/replicas          # groups made by 'chids lab record --replicas 3 --count N'`,
    )
    .action(async (files: string[], flags: Flags) => {
      const onWarning = flags.quiet ? undefined : (m: string) => process.stderr.write(`warning: ${m}\n`);
      const { checkReplicasRequest, evaluateReplicaDataset } = await import('../app/replicas-dataset.js');
      checkReplicasRequest(files, flags.dataset, flags.alignStarts);
      if (flags.dataset !== undefined) {
        const ev = await evaluateReplicaDataset({
          dir: flags.dataset,
          windowNs: flags.window,
          threshold: flags.threshold,
          similarity: flags.similarity,
          onWarning,
          onGroup: flags.quiet ? undefined : (i, n, d) => process.stderr.write(`[${i}/${n}] ${d}\n`),
        });
        if (flags.json) {
          process.stdout.write(toJson(ev, 2) + '\n');
          return;
        }
        const { replicaDatasetSummary } = await import('../report/replicas.js');
        process.stdout.write(replicaDatasetSummary(ev) + '\n');
        return;
      }
      const { runReplicas } = await import('../app/replicas.js');
      const result = await runReplicas({
        files,
        windowNs: flags.window,
        threshold: flags.threshold,
        similarity: flags.similarity,
        alignStarts: Boolean(flags.alignStarts),
        onWarning,
      });
      if (flags.json) {
        process.stdout.write(toJson(result, 2) + '\n');
        return;
      }
      const { replicasSummary } = await import('../report/replicas.js');
      process.stdout.write(replicasSummary(result) + '\n');
    });
}
