/**
 * How many recordings `evaluate` (and `compare`) score at once on worker threads.
 */
import { availableParallelism } from 'node:os';
import { openSource } from '../trace/sources/readers.js';

export type Jobs = number | 'auto';

/**
 * Where worker threads start to pay (`npm run bench`'s evaluate pairs, 2 cores, load average
 * about 2, 2026-12-02): each worker loads the code and the detector (~0.5 s of CPU) before it
 * scores, so on the bundled example's 13 recordings `--jobs 2` took 1.2× the wall time of
 * `--jobs 1`, on 8 recordings of 250 k events (~220 MB of text) 0.94×, on 32 of them 0.81×.
 */
export const AUTO_JOBS_MIN_MIB = 256;

/** The worker count for `jobs` over these recordings (1: this thread). */
export async function jobsFor(jobs: Jobs | undefined, recordings: readonly { path: string }[]): Promise<number> {
  // Standard input can be read only by this thread.
  if (recordings.some((r) => r.path === '-')) return 1;
  if (jobs !== 'auto') return Math.min(jobs ?? 1, recordings.length);
  const cores = availableParallelism();
  if (cores < 2 || recordings.length < 2) return 1;
  let bytes = 0;
  for (const r of recordings) {
    const size = (await openSource(r.path).catch(() => null))?.textBytes ?? null;
    // Unknown (a .scap, read through sysdig: the slow case) or unreadable (the run will say so).
    if (size === null) return Math.min(cores, recordings.length);
    bytes += size;
    if (bytes >= AUTO_JOBS_MIN_MIB * 1024 * 1024) return Math.min(cores, recordings.length);
  }
  return 1;
}
