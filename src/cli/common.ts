/** Shared CLI plumbing: option parsers, artifact flags, JSON output. No detection logic here. */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_MAX_EMPTY_WINDOWS, parseWindowLength } from '../encode/windows.js';
import { AUTO_JOBS_MIN_MIB, type Jobs } from '../app/jobs.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * One parser for every numeric flag: `integer` flags take digits only, others any finite decimal
 * (`1e-3` too, for learning rates); `min` is the smallest value allowed, `above` an exclusive
 * lower bound. The message names the flag and what it must be.
 */
function numberFlag(name: string, what: string, integer: boolean, ok: (v: number) => boolean) {
  return (value: string): number => {
    const v = Number(value);
    const wellFormed = integer ? /^\d+$/.test(value) : value.trim() !== '' && Number.isFinite(v);
    if (!wellFormed || !ok(v)) throw new InvalidArgumentError(`${name} must be ${what}`);
    return v;
  };
}

export const positiveInt = (name: string) => numberFlag(name, 'a positive integer', true, (v) => v >= 1);
export const nonNegativeInt = (name: string) => numberFlag(name, 'a non-negative integer', true, () => true);
export const positiveNumber = (name: string) => numberFlag(name, 'a positive number', false, (v) => v > 0);
export const nonNegativeNumber = (name: string) => numberFlag(name, 'a non-negative number', false, (v) => v >= 0);
export const secondsValue = (name: string) => numberFlag(name, 'a number of seconds', false, (v) => v >= 0);
export const thetaValue = numberFlag('θ', 'a positive number, e.g. 1.0', false, (v) => v > 0);

export function windowLength(value: string): number {
  try {
    return parseWindowLength(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function pidList(value: string, previous: string[] = []): string[] {
  for (const p of value.split(',')) {
    if (!/^\d+$/.test(p.trim()) || Number(p) < 1) throw new InvalidArgumentError(`--pid must be a process id (got '${p}')`);
  }
  return [...previous, ...value.split(',').map((p) => p.trim())];
}

/** Options shared by `monitor` and `capture` (source selection and logging). */
export function sourceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--source <kind>', 'where events come from').choices(['strace', 'ebpf', 'stdin']).default('stdin'))
    .option('--pid <pid>', 'strace/ebpf: a process of the container to watch (repeatable, or comma-separated)', pidList)
    .option('--all-containers', 'ebpf: every container on the node, discovered as they start (named by podman)')
    .option('--include-host', 'ebpf --all-containers: the host\'s own processes too')
    .option('--cmd <command>', 'strace: run this shell command and trace it (and its children)')
    .addOption(new Option('--format <format>', 'stdin: trace format (default: sniffed)').choices(['lidds', 'sysdig']))
    .option('--no-restart', 'do not restart strace/bpftrace when it dies')
    .option('--exit-with-target', 'strace: end (exit 0, after scoring the last windows) once the traced processes end, instead of waiting for their container to restart and re-attaching')
    .addOption(new Option('--log-level <level>', 'structured log level on stderr').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('-q, --quiet', 'log warnings and errors only');
}

/** `--max-empty-windows N`: the work budget of every command that reads traces. */
export function maxEmptyWindowsOption(): Option {
  return new Option('--max-empty-windows <n>', 'refuse a trace whose time gaps would open more empty windows than this (a corrupt timestamp or a tiny --window)')
    .argParser(nonNegativeInt('--max-empty-windows'))
    .default(DEFAULT_MAX_EMPTY_WINDOWS, String(DEFAULT_MAX_EMPTY_WINDOWS));
}

/** `--jobs N`: recordings scored at once on worker threads (`evaluate`, `compare`); 1 = in this thread. */
export function jobsOption(): Option {
  const cores = availableParallelism();
  const count = numberFlag('--jobs', 'a positive integer or auto', true, (v) => v >= 1);
  return new Option('--jobs <n|auto>', 'recordings scored at once, on worker threads (1: no threads; same output either way)')
    .argParser((v: string): Jobs => (v === 'auto' ? 'auto' : count(v)))
    .default('auto' as Jobs, `auto: the available cores (${cores}) for ${AUTO_JOBS_MIN_MIB} MiB of trace text or more, else 1`);
}

export { artifactPaths, type ArtifactFlags } from '../engine/baseline-dir.js';
