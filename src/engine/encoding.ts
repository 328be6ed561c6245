/**
 * Which encoding a run uses: what the user asked for, else what the baseline was built with,
 * else the defaults (improved mode, 1 s windows). Vectors are comparable only when they are
 * encoded as the baseline's were, so every command that reads a baseline warns alike when they
 * differ.
 */
import type { Manifest } from './manifest.js';

export interface EncodingSettings {
  faithful: boolean;
  windowNs: number;
}

export function resolveEncoding(
  manifest: Manifest | null,
  requested: { faithful?: boolean; windowNs?: number },
  onWarning?: (message: string) => void,
): EncodingSettings {
  const faithful = requested.faithful ?? manifest?.encoding.faithful ?? false;
  const windowNs = requested.windowNs ?? manifest?.encoding.window_ns ?? 1e9;
  if (manifest) {
    if (manifest.encoding.faithful !== faithful) {
      onWarning?.(
        `the baseline was built in ${manifest.encoding.faithful ? 'faithful' : 'improved'} mode but this run encodes in ${faithful ? 'faithful' : 'improved'} mode: vectors will not be comparable`,
      );
    }
    if (manifest.encoding.window_ns !== windowNs) {
      onWarning?.(`the baseline used ${manifest.encoding.window_ns} ns windows but this run uses ${windowNs} ns`);
    }
  }
  return { faithful, windowNs };
}
