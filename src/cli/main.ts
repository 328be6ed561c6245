#!/usr/bin/env node
/** The `chids` executable: process-level wiring around the program in ./program.ts. */
import { writeFileSync } from 'node:fs';
import { run } from './program.js';

// A closed pipe (e.g. `chids encode … | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// For benchmarks: CHIDS_RUSAGE=FILE writes this process's resource usage there at exit
// (peak RSS in particular, which a parent process cannot read from Node).
if (process.env.CHIDS_RUSAGE) {
  const target = process.env.CHIDS_RUSAGE;
  process.on('exit', () => {
    writeFileSync(target, JSON.stringify(process.resourceUsage()) + '\n');
  });
}

run(process.argv).then((code) => {
  process.exitCode = code;
});
