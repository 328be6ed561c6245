/**
 * User-facing errors. Anything thrown as a ChidsError is printed by the CLI as one line
 * (`chids: <message>`) with a non-zero exit and no stack trace; anything else is a bug and
 * keeps its stack.
 *
 * Messages name the file (when there is one) and the problem, e.g.
 * `trace.sc: line 12: truncated event (3 fields, need at least 7)`.
 */
export class ChidsError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'ChidsError';
    this.exitCode = exitCode;
  }
}

/** A problem with one input file: the file is named in the message. */
export class InputError extends ChidsError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'InputError';
    this.file = file;
  }
}

/** Turns any thrown value into a one-line message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
