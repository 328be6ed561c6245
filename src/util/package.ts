/** Facts about the installed chids package: its version and where its files are. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory (this file is src/util/package.ts or dist/util/package.js). */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The version in package.json ('0.0.0' when it cannot be read). */
export function chidsVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Where the bundled example dataset lives. */
export function bundledDataset(): string {
  return path.join(packageRoot(), 'data', 'example');
}
