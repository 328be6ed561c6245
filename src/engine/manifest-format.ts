/**
 * The baseline manifest's format name and versions: apart from the zod schema (manifest.ts) so
 * that recognising a baseline does not load zod (~100 modules, a third of the start-up of
 * `chids encode`); the schema is imported when a manifest is validated.
 */
export const MANIFEST_FORMAT = 'chids-baseline';
/**
 * 2: adds `calibration` (the LORO fold plan and, when the detector used them, the calibration
 * summary). Version 1 baselines (no calibration) are still read: nothing else changed.
 */
export const MANIFEST_VERSION = 2;
export const READABLE_MANIFEST_VERSIONS: readonly number[] = [1, 2];
