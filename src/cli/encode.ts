import type { Command } from 'commander';
import { artifactPaths, windowLength, maxEmptyWindowsOption, type ArtifactFlags } from './common.js';

interface Flags extends ArtifactFlags {
  faithful?: boolean;
  window?: number;
  maxEmptyWindows: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('encode')
    .description('print the anomaly vector of every window of the given traces, one JSON line each (no model needed)')
    .argument('<file...>', 'traces: .zip, .sc, .scap, sysdig text, a directory, or - for stdin')
    .option('--od <dir>', 'baseline directory written by `chids baseline`')
    .option('--ss <file>', 'seen syscalls file (instead of --od)')
    .option('--sa <file>', 'seen arguments file (instead of --od)')
    .option('--fm <file>', 'max_freq file (instead of --od)')
    .option('--faithful', "encode like the reference (default: the baseline's mode)")
    .option('--window <length>', "window length (default: the baseline's)", windowLength)
    .addOption(maxEmptyWindowsOption())
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .addHelpText(
      'after',
      `
Output: one line per window, in order, empty windows included:
  {"file":"x.sc","window":0,"start_ns":1631078867380457267,"events":1830,"av":[0.0731,0,0]}
  "av" is [] for an empty window.

Examples:
  $ chids encode --od models/web recordings/test/normal/*.zip
  $ chids encode --od models/ref --faithful test_attack.txt | jq -c .av`,
    )
    .action(async (files: string[], flags: Flags) => {
      const { encodeFiles } = await import('../app/encode.js');
      const { Progress } = await import('../report/progress.js');
      const { windowLines } = await import('../report/json.js');
      const line = windowLines();
      const progress = new Progress({ quiet: flags.quiet });
      const out: string[] = [];
      let pending = 0;
      const flush = () => {
        if (out.length) {
          process.stdout.write(out.join(''));
          out.length = 0;
          pending = 0;
        }
      };
      try {
        await encodeFiles(
          {
            files,
            artifacts: artifactPaths(flags, false),
            faithful: flags.faithful ? true : undefined,
            windowNs: flags.window,
            maxEmptyWindows: flags.maxEmptyWindows,
            hooks: progress,
          },
          (w) => {
            out.push(line(w));
            if (++pending >= 512) flush();
          },
        );
        flush();
      } finally {
        flush();
        progress.stop();
      }
    });
}
