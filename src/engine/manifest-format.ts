/**
 * The baseline manifest's format name and version: apart from the zod schema
 * (manifest-schema.ts) so that recognising a baseline does not load zod (~100 modules, a third
 * of the start-up of `chids encode`); the schema is imported when a manifest is validated.
 */
export const MANIFEST_FORMAT = 'chids-baseline';
export const MANIFEST_VERSION = 1;
