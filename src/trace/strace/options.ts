/**
 * The strace command line chids uses wherever it captures with ptrace (the lab's sandbox and the
 * live strace source), so that lab recordings and live captures see the same events.
 */

/** strace options: ns timestamps where strace has them (≥ 6.0), µs otherwise. */
export function straceArgs(traceFile: string, version: string | null): string[] {
  const major = version ? Number(/^(\d+)/.exec(version)?.[1] ?? 0) : 0;
  const time = major >= 6 ? ['--absolute-timestamps=format:unix,precision:ns', '--syscall-times=ns'] : ['-ttt', '-T'];
  // -I2: strace must act on SIGTERM (detach, flush, exit). With -o and a command it blocks fatal
  // signals by default (-I3), and with -I1 it installs no handler, which the init of a pid
  // namespace needs to receive a signal at all.
  return ['-f', '-I2', ...time, '-s', '256', '-yy', '-o', traceFile];
}
