/**
 * The baseline manifest and the threshold list, as zod schemas. Kept apart from
 * artifacts.ts and loaded on demand: zod takes ~45 ms to load, which `chids encode` with
 * explicit vocabulary files should not pay.
 */
import { z } from 'zod';

import { MANIFEST_FORMAT } from './manifest-format.js';
export { MANIFEST_FORMAT, MANIFEST_VERSION, READABLE_MANIFEST_VERSIONS } from './manifest-format.js';

const InputRecord = z.object({
  path: z.string(),
  sha256: z.string(),
  events: z.number().int().nonnegative(),
  windows: z.number().int().nonnegative(),
});

const FoldPlanSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none'), k: z.literal(0), reason: z.string() }),
  z.object({ kind: z.literal('recordings'), k: z.number().int().positive(), fold_of_recording: z.array(z.number().int().nonnegative()) }),
  z.object({ kind: z.literal('time-blocks'), k: z.number().int().positive(), block_starts: z.array(z.number().int().nonnegative()), windows: z.number().int().positive() }),
]);

const CalibrationRecord = z.object({
  folds: FoldPlanSchema,
  /** Did the detector train on calibration vectors? (Only then were they computed.) */
  used: z.boolean(),
  /** Recordings read a second time for calibration. */
  reread: z.array(z.object({ path: z.string(), unseen_syscalls: z.number().int().nonnegative(), unseen_args: z.number().int().nonnegative() })),
  summary: z
    .object({
      windows: z.number().int().nonnegative(),
      windows_with_unseen: z.number().int().nonnegative(),
      max_fi: z.number().nonnegative(),
      max_usi: z.number().nonnegative(),
      max_uai: z.number().nonnegative(),
      max_unseen: z.number().nonnegative(),
    })
    .nullable(),
});

export const ManifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    version: z.number().int(),
    created: z.string(),
    chids_version: z.string(),
    /** The container image the baseline is for (`monitor --baselines` picks it per container); absent before. */
    image: z.string().nullable().optional(),
    model: z.object({ type: z.string() }).passthrough(),
    encoding: z.object({
      faithful: z.boolean(),
      window_ns: z.number().int().positive(),
      beta_fold_increase: z.number(),
      path_length: z.number().int(),
      arg_syscalls: z.array(z.string()),
      /** Improved mode: execve exits give `<exe> <command shape>` as their argument. Absent in baselines made before (read without it). */
      exec_commands: z.boolean().optional(),
      /** Improved mode: the command shape version (src/trace/command.ts). Absent with exec_commands: version 1. */
      command_shape: z.number().int().positive().optional(),
      /** Improved mode: the numbers in `/proc` paths are the class `<n>` (src/encode/args.ts). Absent in baselines made before (read with their numbers). */
      proc_numbers: z.boolean().optional(),
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
    /** Absent in version 1. */
    calibration: CalibrationRecord.optional(),
    inputs: z.array(InputRecord),
  })
  .passthrough();

export type Manifest = z.infer<typeof ManifestSchema>;

export const Thresholds = z.array(z.number().nonnegative().finite()).length(10);

