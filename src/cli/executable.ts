/** Process-level wiring of the `chids` executable around a program's run (./main.ts chooses the program). */
import { readFileSync, writeFileSync } from 'node:fs';
import { fsProblem } from '../trace/labels.js';

export function runExecutable(run: (argv: string[]) => Promise<number>): void {
  // A closed pipe (e.g. `chids encode … | head`) is not an error.
  // Any other write error (a full disk, a revoked terminal) ends with one line, not a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    try {
      process.stderr.write(`chids: cannot write to standard output (${fsProblem(err)})\n`);
    } finally {
      process.exit(1);
    }
  });

  // For benchmarks: CHIDS_RUSAGE=FILE writes this process's resource usage there at exit
  // (peak RSS in particular, which a parent process cannot read from Node).
  if (process.env.CHIDS_RUSAGE) {
    const target = process.env.CHIDS_RUSAGE;
    process.on('exit', () => {
      // maxRSS (getrusage) survives exec, so a child of a big bench process reports its parent's
      // size; the kernel's VmHWM is this process's own peak.
      let vmHWMkB: number | undefined;
      try {
        vmHWMkB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) || undefined;
      } catch {
        vmHWMkB = undefined;
      }
      writeFileSync(target, JSON.stringify({ ...process.resourceUsage(), vmHWMkB }) + '\n');
    });
  }

  run(process.argv).then((code) => {
    process.exitCode = code;
    // The command is over: Node exits once nothing is left open. Something still open now (a
    // socket, a timer, a child's pipe) is a defect, but it must not keep a stopped monitor running
    // until its supervisor kills it: after a grace period it is named on stderr and the process
    // exits with the command's code. (Unreferenced: it does not itself keep the process alive.)
    setTimeout(() => {
      const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      process.stderr.write(`chids: the command ended ${EXIT_GRACE_MS / 1000} s ago but left open: ${open.join(', ') || 'nothing known'}; exiting with code ${code}\n`);
      process.exit(code);
    }, EXIT_GRACE_MS).unref();
  });
}

/** How long a finished command may take to let go of what it opened. */
const EXIT_GRACE_MS = 3000;
