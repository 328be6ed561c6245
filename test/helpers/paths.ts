/** Where the shared conformance data lives (beside the repository), and a loud skip when it is absent. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.CHIDS_SHARED ?? path.resolve(repoRoot, '..', 'shared');
export const goldenDir = path.join(sharedDir, 'golden');
export const goldenInputs = path.join(goldenDir, 'inputs');
export const lidRecording = path.join(sharedDir, 'data', 'lid-ds-2021', 'aggressive_nightingale_1018.zip');

/** Returns a skip reason (and warns loudly) when a shared file is missing. */
export function missing(file: string): string | false {
  if (existsSync(file)) return false;
  const msg = `!!! SKIPPED: ${file} is not present; conformance data from ../shared is required for this test !!!`;
  console.warn(msg);
  return msg;
}
