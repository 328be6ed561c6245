/**
 * The recording plan of `npm run bench:detect` and its cache manifest (pure; no lab, no root).
 *
 * The lab's own `--split` gives the test split only ≈ 30 % of the normal recordings, so ≥ 40
 * normal-test recordings would cost ~180 recordings per victim; the benchmark sets the count
 * of each split itself instead. Each split draws its names and seeds from its own stream, so
 * raising one count adds recordings and keeps every one already made (the cache stays valid).
 */
import { recordingNames, type PlannedRecording, type Split } from '../src/lab/dataset.js';

export const SPLITS: readonly Split[] = ['training', 'validation', 'test/normal', 'test/normal_and_attack'];

export interface BenchCounts {
  training: number;
  validation: number;
  testNormal: number;
  /** Attack recordings; the victim's attacks take turns, so every attack appears when ≥ their number. */
  attack: number;
}

/** What a cached dataset was recorded with; a cache made with other settings is not reused. */
export interface RecordingSettings {
  victim: string;
  seed: number;
  seconds: number;
  /** null = the victim's default warm-up. */
  warmupSeconds: number | null;
  /**
   * How long an attack may run past the scheduled window (from its start; the window follows it
   * to its end, then a 2-s tail). null = stopped at the window's end (manifests written before
   * this setting, which lack it, were recorded so).
   */
  attackCapSeconds: number | null;
}

export interface BenchManifest extends RecordingSettings {
  kind: 'chids-bench-detect';
  version: 1;
  attacks: string[];
  counts: BenchCounts;
  plan: PlannedRecording[];
}

/** The default attack count: at least `min`, rounded up to a multiple of the number of attacks (equal turns). */
export function defaultAttackCount(nAttacks: number, min = 20): number {
  if (nAttacks < 1) return 0;
  return Math.ceil(min / nAttacks) * nAttacks;
}

export function countOf(c: BenchCounts, split: Split): number {
  return split === 'training' ? c.training : split === 'validation' ? c.validation : split === 'test/normal' ? c.testNormal : c.attack;
}

/** Which recording goes where, with which attack and seed. Pure and prefix-stable per split. */
export function benchPlan(s: RecordingSettings, attacks: readonly string[], counts: BenchCounts): PlannedRecording[] {
  if (counts.attack > 0 && attacks.length === 0) throw new Error(`victim '${s.victim}' has no attacks`);
  const victimSalt = [...s.victim].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0, 7);
  const plan: PlannedRecording[] = [];
  const seen = new Set<string>();
  SPLITS.forEach((split, k) => {
    const n = countOf(counts, split);
    if (n === 0) return;
    const stream = (Math.imul(s.seed >>> 0, 8) + k + victimSalt) >>> 0;
    const names = recordingNames(stream, n);
    if (names.length < n) throw new Error(`could not draw ${n} distinct names for ${split}`);
    names.forEach((name, i) => {
      // Two streams drawing the same name is possible in principle (≈ 1 in 10^7 per pair);
      // a suffix keeps the file names distinct without changing any other recording.
      let unique = name;
      for (let j = 2; seen.has(unique); j++) unique = `${name}_${j}`;
      seen.add(unique);
      plan.push({
        name: unique,
        split,
        attack: split === 'test/normal_and_attack' ? attacks[i % attacks.length] : null,
        seed: (Math.imul(stream, 100_003) + i) >>> 0,
      });
    });
  });
  return plan;
}

/** Why a cached dataset's manifest does not fit these settings, or null when it does. */
export function manifestMismatch(m: unknown, s: RecordingSettings): string | null {
  if (typeof m !== 'object' || m === null || (m as { kind?: unknown }).kind !== 'chids-bench-detect') return 'it is not a bench:detect manifest';
  const o = m as Partial<BenchManifest>;
  if (o.version !== 1) return `manifest version ${String(o.version)} (expected 1)`;
  for (const k of ['victim', 'seed', 'seconds', 'warmupSeconds', 'attackCapSeconds'] as const) {
    if ((o[k] ?? null) !== s[k]) return `it was recorded with ${k} ${JSON.stringify(o[k] ?? null)}, this run asks for ${JSON.stringify(s[k])}`;
  }
  return null;
}
