/**
 * The baseline manifest and the threshold list, as zod schemas. Kept apart from
 * artifacts.ts and loaded on demand: zod takes ~45 ms to load, which `chids encode` with
 * explicit vocabulary files should not pay.
 */
import { z } from 'zod';

import { MANIFEST_FORMAT } from './manifest-format.js';
export { MANIFEST_FORMAT, MANIFEST_VERSION } from './manifest-format.js';

const InputRecord = z.object({
  path: z.string(),
  sha256: z.string(),
  events: z.number().int().nonnegative(),
  windows: z.number().int().nonnegative(),
});

export const ManifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    version: z.number().int(),
    created: z.string(),
    chids_version: z.string(),
    model: z.object({ type: z.string() }).passthrough(),
    encoding: z.object({
      faithful: z.boolean(),
      window_ns: z.number().int().positive(),
      beta_fold_increase: z.number(),
      path_length: z.number().int(),
      arg_syscalls: z.array(z.string()),
    }),
    counts: z.object({
      recordings: z.number().int().nonnegative(),
      skipped: z.number().int().nonnegative(),
      windows: z.number().int().nonnegative(),
      vectors: z.number().int().nonnegative(),
      seen_syscalls: z.number().int().nonnegative(),
      seen_args: z.number().int().nonnegative(),
      max_freq: z.number().int().positive(),
    }),
    training: z
      .object({
        ms: z.number().nonnegative(),
        final_loss: z.number().nullable(),
        final_val_loss: z.number().nullable(),
        epochs: z.number().int().nonnegative(),
      })
      .passthrough(),
    thetas: z.array(z.number()).length(10),
    inputs: z.array(InputRecord),
  })
  .passthrough();

export type Manifest = z.infer<typeof ManifestSchema>;

export const Thresholds = z.array(z.number().nonnegative().finite()).length(10);

