/**
 * The `chids` executable for `chids encode` (./main.ts loads it when that is the command): a
 * program holding only that command, with the encoder imported up front. Bundled on its own
 * (scripts/bundle.mjs), it is one file plus the parts that stay lazy (zod, for a manifest).
 * `chids encode …` behaves as in the whole program: same command definition, same base.
 */
import { runExecutable } from './executable.js';
import { baseProgram, runProgram } from './program-base.js';
import { register } from './encode.js';
import { encodeAction } from './encode-action.js';

runExecutable((argv) => {
  const program = baseProgram();
  register(program, encodeAction);
  return runProgram(program, argv);
});
