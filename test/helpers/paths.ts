/** Where the shared conformance data lives (beside the repository), and a loud skip when it is absent. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.CHIDS_SHARED ?? path.resolve(repoRoot, '..', 'shared');
export const goldenDir = path.join(sharedDir, 'golden');
export const goldenInputs = path.join(goldenDir, 'inputs');
export const lidRecording = path.join(sharedDir, 'data', 'lid-ds-2021', 'aggressive_nightingale_1018.zip');

/**
 * Node's arguments to start the `chids` executable. `npm test` bundles it once (scripts/test.mjs,
 * the same esbuild bundle as `npm run build`) and names it in CHIDS_TEST_CLI: a child process
 * then starts in ~0.3 s of CPU instead of ~1.2 s through tsx, and the suite starts over a hundred.
 * A test file run alone, or a run with preloads that trace the source modules, goes through tsx.
 */
export function cliNodeArgs(preload: string[] = []): string[] {
  const bundled = process.env.CHIDS_TEST_CLI;
  if (bundled && preload.length === 0) return [bundled];
  return ['--import', 'tsx', ...preload.flatMap((p) => ['--import', p]), path.join(repoRoot, 'src', 'cli', 'main.ts')];
}

/** Returns a skip reason (and warns loudly) when a shared file is missing. */
export function missing(file: string): string | false {
  if (existsSync(file)) return false;
  const msg = `!!! SKIPPED: ${file} is not present; conformance data from ../shared is required for this test !!!`;
  console.warn(msg);
  return msg;
}
