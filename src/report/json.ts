/** The `--json` documents of the commands whose result object is not already one. */
import type { WindowLine } from '../app/encode.js';
import type { BaselineResult } from '../app/train.js';

/** `chids baseline --json`: snake_case, like `evaluate --json` and the manifest. */
export function baselineSummary(r: BaselineResult) {
  return {
    out_dir: r.outDir,
    recordings: r.recordings,
    skipped: r.skipped,
    windows: r.windows,
    vectors: r.vectors,
    seen_syscalls: r.seenSyscalls,
    seen_args: r.seenArgs,
    max_freq: r.maxFreq,
    theta: r.thetas,
    thresholds: r.thresholds,
    training_ms: r.trainingMs,
    final_loss: r.finalLoss,
    final_val_loss: r.finalValLoss,
    encoding: r.manifest.encoding,
    model: r.manifest.model,
  };
}

/**
 * `chids encode`'s JSON line per window: field for field what `toJson(w)` prints, built by hand
 * because it runs once per window (empty ones included) and the generic bigint-aware path is slow.
 */
export function windowLines(): (w: WindowLine) => string {
  let lastFile = '';
  let fileJson = '""';
  return (w) => {
    if (w.file !== lastFile) {
      lastFile = w.file;
      fileJson = JSON.stringify(w.file);
    }
    return `{"file":${fileJson},"window":${w.window},"start_ns":${w.start_ns},"events":${w.events},"av":${w.av.length === 0 ? '[]' : JSON.stringify(w.av)}}\n`;
  };
}
