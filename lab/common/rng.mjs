// Seeded pseudo-random numbers (mulberry32) for the lab's clients and attackers: the same seed
// gives the same sequence of choices (timing still depends on the machine). The generator is
// src/util/rng.ts's, written again here because these scripts run under plain node inside the
// victim's sandbox, from a checkout that may be unbuilt (no dist/ to import); test/rng.test.ts
// holds the two to the same numbers.
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const api = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    /** Exponentially distributed delay with the given mean. */
    exp: (mean) => -Math.log(1 - next()) * mean,
    /** Picks a key of `weights` ({name: weight}) with probability proportional to its weight. */
    weighted: (weights) => {
      const entries = Object.entries(weights);
      const total = entries.reduce((s, [, w]) => s + w, 0);
      let r = next() * total;
      for (const [k, w] of entries) {
        r -= w;
        if (r < 0) return k;
      }
      return entries[entries.length - 1][0];
    },
  };
  return api;
}

/** Parses `--key value` pairs into an object of strings. */
export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) out[a.slice(2)] = 'true';
      else {
        out[a.slice(2)] = v;
        i++;
      }
    }
  }
  return out;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
