/**
 * The `chids` program: every command on ./program-base.ts (which also turns errors into exit
 * codes). Importing this module
 * runs nothing, so tests (and embedders) can build the program and run commands in-process; the
 * executable is ./main.ts. Each subcommand lives in its own module and loads the library lazily,
 * so `chids encode` never pays for TF.js.
 */
import type { Command } from 'commander';
import { baseProgram, runProgram } from './program-base.js';
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
  const program = baseProgram();
  registerBaseline(program);
  registerEvaluate(program);
  registerEncode(program, async (files, flags) => (await import('./encode-action.js')).encodeAction(files, flags));
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
export function run(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}
