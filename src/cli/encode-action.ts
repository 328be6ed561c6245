/** What `chids encode` does once its arguments are parsed (./encode.ts defines the command). */
import { encodeFiles } from '../app/encode.js';
import { Progress } from '../report/progress.js';
import { windowLines } from '../report/json.js';
import { artifactPaths, type ArtifactFlags } from './common.js';

export interface EncodeFlags extends ArtifactFlags {
  faithful?: boolean;
  window?: number;
  maxEmptyWindows: number;
  quiet?: boolean;
}

export async function encodeAction(files: string[], flags: EncodeFlags): Promise<void> {
  const line = windowLines();
  const progress = new Progress({ quiet: flags.quiet });
  const out: string[] = [];
  let pending = 0;
  const flush = () => {
    if (out.length) {
      process.stdout.write(out.join(''));
      out.length = 0;
      pending = 0;
    }
  };
  try {
    await encodeFiles(
      {
        files,
        artifacts: artifactPaths(flags, false),
        faithful: flags.faithful ? true : undefined,
        windowNs: flags.window,
        maxEmptyWindows: flags.maxEmptyWindows,
        hooks: progress,
      },
      (w) => {
        out.push(line(w));
        if (++pending >= 512) flush();
      },
    );
    flush();
  } finally {
    flush();
    progress.stop();
  }
}
