/**
 * The end of a novelty detector's fit (STIDE, BoSC): the threshold calibrated on the training
 * windows' held-out scores (each window scored against the model without its own fold), and the
 * fit's result. Neither detector is neural: no loss, no epochs.
 */
import type { Detector, FitResult } from '../detector.js';
import { foldMaxima, maxOf, noveltyCalibration, thresholdsFrom, type NoveltyCalibration } from '../thresholds.js';

export function noveltyFitResult(
  trainScores: Float64Array,
  windowFold: ArrayLike<number>,
  make: (calibration: NoveltyCalibration) => Detector,
  o: { examples: number; seed: number; t0: number },
): FitResult {
  const calibration = noveltyCalibration(foldMaxima(trainScores, windowFold));
  const detector = make(calibration);
  return {
    detector,
    trainScores,
    maxScore: maxOf(trainScores),
    thresholds: thresholdsFrom(calibration.value),
    examples: o.examples,
    finalLoss: null,
    finalValLoss: null,
    epochs: 0,
    seed: o.seed,
    ms: performance.now() - o.t0,
  };
}
