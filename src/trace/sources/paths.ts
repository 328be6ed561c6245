/**
 * Which files of a directory are recordings (no file is opened here; plan.ts lists the inputs of a
 * command with it, readers.ts opens each).
 *
 * - a file is taken as it is, whatever its extension (openSource decides what it is);
 * - '-' is stdin, at most once;
 * - a directory expands, recursively, to the recordings in it: every `*.zip`, `*.sc`, `*.scap`
 *   and `*.txt`, sorted by path in plain code-unit order (independent of the locale and of the
 *   order the file system lists entries). Everything else is passed over and reported through
 *   `onSkip`: LID-DS side files (.json/.pcap/.res), other extensions, hidden files and
 *   directories (`.git`), special files, and symbolic links to directories (not followed, so a
 *   link cannot make a cycle or list a recording twice; links to files are followed).
 *
 * The order of the given paths is kept. A path that does not exist, or a directory without a
 * recording, is an InputError.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../util/errors.js';
import { fsProblem } from '../labels.js';


/** Extensions that name a recording (what a directory expands to). */
export const RECORDING_EXTENSIONS = ['.zip', '.sc', '.scap', '.txt'] as const;

/** LID-DS side files that are never traces, with what they are (for helpful messages). */
export const SIDECAR_EXTENSIONS: Readonly<Record<string, string>> = {
  '.json': 'labels (.json)',
  '.pcap': 'network capture (.pcap)',
  '.res': 'resource-usage log (.res)',
};

/** Why a file found in a directory is not read, or null when it is a recording. */
export function notRecordingReason(file: string): string | null {
  const ext = path.extname(file).toLowerCase();
  if ((RECORDING_EXTENSIONS as readonly string[]).includes(ext)) return null;
  const side = SIDECAR_EXTENSIONS[ext];
  if (side) return `LID-DS ${side}, not a trace`;
  return `not a recording (${ext || 'no extension'}; expected .zip, .sc, .scap or .txt)`;
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The recording files under `dir`, sorted by path. */
export async function listRecordings(dir: string, onSkip?: (path: string, reason: string) => void): Promise<string[]> {
  const found: string[] = [];
  const skipped: [string, string][] = [];

  const walk = async (d: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      throw new InputError(d, `cannot list directory: ${fsProblem(err)}`);
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = await stat(p);
          if (st.isDirectory()) {
            skipped.push([p, 'symbolic link to a directory (not followed)']);
            continue;
          }
          isDir = false;
          isFile = st.isFile();
        } catch {
          skipped.push([p, 'broken symbolic link']);
          continue;
        }
      }
      if (e.name.startsWith('.')) {
        skipped.push([p, isDir ? 'hidden directory' : 'hidden file']);
      } else if (isDir) {
        await walk(p);
      } else if (!isFile) {
        skipped.push([p, 'not a regular file']);
      } else {
        const reason = notRecordingReason(e.name);
        if (reason === null) found.push(p);
        else skipped.push([p, reason]);
      }
    }
  };

  await walk(dir);
  found.sort(byCodeUnits);
  if (onSkip) {
    skipped.sort((a, b) => byCodeUnits(a[0], b[0]));
    for (const [p, why] of skipped) onSkip(p, why);
  }
  return found;
}
