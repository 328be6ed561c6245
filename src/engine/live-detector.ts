/**
 * A detector loaded for live scoring: warmed up on synthetic windows, so that the first real
 * window (of each container) is scored as fast as the rest instead of paying the model's
 * first-call costs (kernels compiled, buffers allocated) while events queue up.
 */
import type { Detector } from '../model/detector.js';
import { loadDetector } from '../model/registry.js';

export async function loadLiveDetector(dir: string, expected?: string): Promise<Detector> {
  const scorer = await loadDetector(dir, expected);
  if (scorer.reads === 'vectors') {
    for (let i = 0; i < 32; i++) scorer.scoreWindow({ avs: new Float64Array(3 * scorer.history).fill(i / 64), n: scorer.history, tap: null, window: i });
  }
  return scorer;
}
