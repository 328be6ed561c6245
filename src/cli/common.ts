/** Shared CLI plumbing: option parsers, artifact flags, JSON output. No detection logic here. */
import { InvalidArgumentError } from 'commander';
import { modelHome, pathsInDir, type ArtifactPaths } from '../engine/baseline-dir.js';
import { parseWindowLength } from '../encode/windows.js';
import { ChidsError } from '../util/errors.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(value);
  };
}

export function nonNegativeInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(value);
  };
}

export function windowLength(value: string): number {
  try {
    return parseWindowLength(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export interface ArtifactFlags {
  od?: string;
  ss?: string;
  sa?: string;
  fm?: string;
  tm?: string;
  tl?: string;
}

/** `--od DIR`, or the reference's individual files `--ss --sa --fm [--tm --tl]`. */
export function artifactPaths(flags: ArtifactFlags, needModel: boolean): ArtifactPaths {
  const individual: (keyof ArtifactFlags)[] = needModel ? ['ss', 'sa', 'fm', 'tm', 'tl'] : ['ss', 'sa', 'fm'];
  if (flags.od) {
    const extra = (['ss', 'sa', 'fm', 'tm', 'tl'] as const).filter((k) => flags[k]);
    if (extra.length) throw new ChidsError(`--od cannot be combined with ${extra.map((k) => '--' + k).join(', ')}`);
    return pathsInDir(flags.od);
  }
  const missing = individual.filter((k) => !flags[k]);
  if (missing.length === individual.length) {
    throw new ChidsError(`give the baseline directory with --od DIR (or its files with ${individual.map((k) => '--' + k).join(' ')})`);
  }
  if (missing.length) throw new ChidsError(`missing ${missing.map((k) => '--' + k).join(', ')} (or use --od DIR)`);
  const model = flags.tm ? modelHome(flags.tm) : null;
  return { dir: null, seenSyscalls: flags.ss!, seenArgs: flags.sa!, maxFreq: flags.fm!, thresholds: flags.tl ?? null, model };
}

/** JSON with bigint support (window starts are exact ns). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `__BIGINT__${v}` : v), indent).replace(/"__BIGINT__(-?\d+)"/g, '$1');
}
