/**
 * The `chids` program: its commands and how an error becomes an exit code. Importing this module
 * runs nothing, so tests (and embedders) can build the program and run commands in-process; the
 * executable is ./main.ts. Each subcommand lives in its own module and loads the library lazily,
 * so `chids encode` never pays for TF.js.
 */
import { Command, CommanderError } from 'commander';
import { ChidsError } from '../util/errors.js';
import { chidsVersion } from '../util/package.js';
import { register as registerBaseline } from './baseline.js';
import { register as registerEvaluate } from './evaluate.js';
import { register as registerEncode } from './encode.js';
import { register as registerCompare } from './compare.js';
import { register as registerLab } from './lab.js';
import { register as registerReport } from './report.js';
import { register as registerDemo } from './demo.js';
import { register as registerMonitor } from './monitor.js';
import { register as registerCapture } from './capture.js';
import { register as registerReplicas } from './replicas.js';
import { register as registerFleet } from './fleet.js';


export function buildProgram(): Command {
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
    // main() as CommanderErrors (exit 2) instead of commander calling process.exit(1) itself.
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
  registerBaseline(program);
  registerEvaluate(program);
  registerEncode(program);
  registerCompare(program);
  registerLab(program);
  registerReport(program);
  registerDemo(program);
  registerMonitor(program);
  registerCapture(program);
  registerReplicas(program);
  registerFleet(program);
  return program;
}

/** Runs `argv` (node-style: two leading entries, then the arguments); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
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

