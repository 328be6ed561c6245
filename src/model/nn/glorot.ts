/**
 * Keras' `glorot_uniform` kernels exactly as TF.js draws them for a given seed, without TF.js.
 *
 * TF.js `glorotUniform({ seed })` fills a `[fanIn, fanOut]` kernel row-major with
 * `−limit + 2·limit·u`, `limit = √(3 / max(1, (fanIn + fanOut)/2))`, where `u` comes from the
 * "Alea" generator (J. Baagøe's, as in the `seedrandom` package) seeded with the seed's decimal
 * string; each value, computed in double, is stored as float32. The CHIDS net is trained and
 * scored without TF.js (dense-net.ts) yet must start from the same weights as a TF.js model of
 * the same seed, so baselines stay reproducible across both paths (a test compares them bit for bit).
 */

/** Alea's string hash: folds the characters into a 32-bit state, returns a fraction in [0, 1). */
function makeMash(): (data: string) => number {
  let n = 0xefc8249d;
  return (data) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
}

/** Alea: uniform doubles in [0, 1) from a string seed (three fractional lags and a carry). */
export function alea(seed: string): () => number {
  const mash = makeMash();
  let s0 = mash(' ');
  let s1 = mash(' ');
  let s2 = mash(' ');
  let c = 1;
  s0 -= mash(seed);
  if (s0 < 0) s0 += 1;
  s1 -= mash(seed);
  if (s1 < 0) s1 += 1;
  s2 -= mash(seed);
  if (s2 < 0) s2 += 1;
  return () => {
    const t = 2091639 * s0 + c * 2.3283064365386963e-10;
    s0 = s1;
    s1 = s2;
    c = t | 0;
    s2 = t - c;
    return s2;
  };
}

/** A `[fanIn, fanOut]` Glorot-uniform kernel (row-major), as TF.js draws it for `seed`. */
export function glorotUniform(fanIn: number, fanOut: number, seed: number): Float32Array {
  const limit = Math.sqrt(3 * (1 / Math.max(1, (fanIn + fanOut) / 2)));
  const u = alea(seed.toString());
  const out = new Float32Array(fanIn * fanOut);
  const range = limit - -limit;
  for (let i = 0; i < out.length; i++) out[i] = -limit + range * u();
  return out;
}
