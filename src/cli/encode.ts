import type { Command } from 'commander';
import { windowLength, maxEmptyWindowsOption } from './common.js';
import type { EncodeFlags } from './encode-action.js';

/**
 * Defines `chids encode`; `action` (./encode-action.ts) runs it. The whole program loads that
 * module when the command runs; the program holding only this command (./main-encode.ts)
 * imports it up front, since it always runs it.
 */
export function register(program: Command, action: (files: string[], flags: EncodeFlags) => Promise<void>): void {
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
    .action(action);
}
