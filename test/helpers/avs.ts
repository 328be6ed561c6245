import { mulberry32 } from '../../src/util/rng.js';

/** n anomaly vectors shaped like real ones (fi small, usi/uai mostly 0, a few large), reproducible. */
export function syntheticAVs(n: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  const avs = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    avs[i * 3] = rng() * 0.3;
    avs[i * 3 + 1] = rng() < 0.1 ? rng() * 3 : 0;
    avs[i * 3 + 2] = rng() < 0.05 ? rng() * 8 : 0;
  }
  return avs;
}
