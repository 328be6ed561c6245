import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../src/util/rng.js';

test("the lab scripts' generator (lab/common/rng.mjs) draws the numbers of src/util/rng.ts", async () => {
  // @ts-expect-error: a plain-JS module of the lab, without types
  const lab = (await import('../lab/common/rng.mjs')) as { rng(seed: number): { next(): number } };
  for (const seed of [0, 1, 42, 0x9e3779b9, 2 ** 32 - 1]) {
    const a = mulberry32(seed);
    const b = lab.rng(seed);
    for (let i = 0; i < 1000; i++) assert.equal(b.next(), a(), `seed ${seed}, draw ${i}`);
  }
});
