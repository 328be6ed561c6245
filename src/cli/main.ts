#!/usr/bin/env node
/**
 * The `chids` executable. `chids encode` is meant to start about as fast as Node itself (within
 * 1.5× of `node -e 0`, `npm run bench`), so it runs a program holding only that command
 * (./main-encode.ts) instead of defining all of them and loading the modules they share; every
 * other command runs the whole program (./main-all.ts). Both sit on ./program-base.ts.
 */
if (process.argv[2] === 'encode') await import('./main-encode.js');
else await import('./main-all.js');
