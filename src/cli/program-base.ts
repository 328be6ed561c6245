/**
 * The `chids` program without its commands (name, version, the one-line usage errors) and how a
 * run's outcome becomes an exit code. Shared by the whole program (./program.ts) and the one that
 * holds only `encode` (./main-encode.ts), so both behave alike; importing it runs nothing.
 */
import { Command, CommanderError } from 'commander';
import { ChidsError } from '../util/errors.js';
import { chidsVersion } from '../util/package.js';

export function baseProgram(): Command {
  const program = new Command();
  program
    .name('chids')
    .description('Anomaly-based intrusion detection for containers from their system calls (CHIDS, CCSW 2022).')
    .version(chidsVersion(), '-V, --version')
    // Usage errors are one line, like every other error: `chids: unknown option '--x' (…)`.
    // commander's suggestion ("Did you mean --json?") comes on a line of its own; join it.
    .configureOutput({
      outputError: (str, write) => write(`chids: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (run with --help for usage)\n`),
    })
    // Before the subcommands are registered, so they inherit it: their usage errors then reach
    // runProgram() as CommanderErrors (exit 2) instead of commander calling process.exit(1) itself.
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ chids baseline --td recordings/training --od models/web
  $ chids evaluate --od models/web --ns recordings/test/normal --ms recordings/test/normal_and_attack
  $ chids encode --od models/web trace.sc
  $ chids replicas web-1.zip web-2.zip web-3.zip

Inputs: LID-DS 2021 recordings (.zip or .sc), sysdig captures (.scap, read with the Debian
package 'sysdig'), sysdig text (sysdig -r output), or directories of them.`,
    );
  return program;
}

/** Runs `argv` (node-style: two leading entries, then the arguments) on `program`; resolves to the exit code. */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the message (or the help / version).
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    if (err instanceof ChidsError) {
      process.stderr.write(`chids: ${err.message.split('\n')[0]}\n`);
      return err.exitCode;
    }
    process.stderr.write(`chids: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}
