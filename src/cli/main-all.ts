/** The `chids` executable with every command (./main.ts loads it for all but `encode`). */
import { runExecutable } from './executable.js';
import { run } from './program.js';

runExecutable(run);
