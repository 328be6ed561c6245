/** The `--json` documents of the commands whose result object is not already one. */
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
