/**
 * The CHIDS autoencoder (chids.ts) behind the common Detector interface: it scores each
 * window's anomaly vector on its own, so a recording's scores are its AVs' reconstruction
 * errors. Faithful (the reference): trainChids on all training AVs in recording order (the last
 * 20 % of them are Keras' validation split). Improved (`loroScaled`): the same on the LORO
 * calibration vectors, each feature divided by its largest calibration value, because on the raw
 * training AVs (usi = uai = 0, fi small) the network converges to a near-constant output and
 * misses attacks that only change volume (measured: 3/7 → 7/7 on data/example, seeds 1–3).
 */
import { CHIDS_DEFAULTS, CHIDS_KIND, ChidsScorer, loadChids, scaleAVs, trainChids, type ChidsTrainOptions } from './chids.js';
import { scoreLastVector, type ClosedWindow, concatAVs, type Detector, type DetectorTrainer, type FitResult, type RecordingInput, type TrainHooks, type TrainingRecording } from '../detector.js';

/** Smallest input scale of a feature (as the calibrated detector's reference floor). */
const SCALE_FLOOR = 1e-6;

export interface ChidsModelOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** REG_RATE: the L1 activity rate of the first layer (default 0.01). */
  regRate?: number;
  validationSplit?: number;
  seed?: number;
  /**
   * Improved mode: train on the LORO calibration vectors (each training recording encoded
   * against the other recordings' vocabulary), each feature divided by its largest calibration
   * value; thresholds from the errors on those vectors. Off (the reference) in --faithful.
   */
  loroScaled?: boolean;
}

/** The manifest's record of the CHIDS autoencoder (the reference's configuration). */
export function chidsSettings(o: Required<Omit<ChidsModelOptions, 'seed' | 'loroScaled'>>, loroScaled = false): Record<string, unknown> {
  return {
    input: loroScaled ? 'loro-calibration-scaled' : 'training',
    encoding_dim: 2,
    bottleneck: 1,
    reg_rate: o.regRate,
    activation: 'sigmoid',
    optimizer: 'adam',
    learning_rate: o.learningRate,
    loss: 'mse',
    epochs: o.epochs,
    batch_size: o.batchSize,
    validation_split: o.validationSplit,
  };
}

export class ChidsDetector implements Detector {
  readonly name = 'chids' as const;
  readonly kind = CHIDS_KIND;
  readonly reads = 'vectors' as const;
  readonly history = 1;

  constructor(
    readonly scorer: ChidsScorer,
    readonly settings: Readonly<Record<string, unknown>>,
  ) {}

  scoreRecording(rec: RecordingInput): Float64Array {
    return this.scorer.scoreAVs(rec.avs.subarray(0, rec.n * 3), rec.n);
  }

  scoreWindow(w: ClosedWindow): number | null {
    return scoreLastVector(this, w);
  }

  save(dir: string): Promise<void> {
    return this.scorer.save(dir);
  }

  dispose(): void {
    this.scorer.dispose();
  }
}

export class ChidsTrainer implements DetectorTrainer {
  readonly name = 'chids' as const;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly epochs: number;
  private readonly o: Required<Omit<ChidsModelOptions, 'seed' | 'loroScaled'>>;
  readonly usesCalibration: boolean;

  constructor(private readonly opts: ChidsModelOptions = {}) {
    this.o = {
      epochs: opts.epochs ?? CHIDS_DEFAULTS.epochs,
      batchSize: opts.batchSize ?? CHIDS_DEFAULTS.batchSize,
      learningRate: opts.learningRate ?? CHIDS_DEFAULTS.learningRate,
      regRate: opts.regRate ?? CHIDS_DEFAULTS.activityL1,
      validationSplit: opts.validationSplit ?? CHIDS_DEFAULTS.validationSplit,
    };
    this.epochs = this.o.epochs;
    this.usesCalibration = opts.loroScaled ?? false;
    this.settings = chidsSettings(this.o, this.usesCalibration);
  }

  async fit(recordings: readonly TrainingRecording[], hooks: TrainHooks = {}): Promise<FitResult> {
    let { avs, n } = concatAVs(recordings);
    let scale: [number, number, number] | null = null;
    if (this.usesCalibration) {
      // A caller that computed no calibration vectors (a library user) trains on the training ones, scaled.
      const cal = concatAVs(recordings.map((r) => ({ avs: r.calibration ?? r.avs, n: r.n })));
      scale = [0, 1, 2].map((j) => {
        let m = 0;
        for (let i = 0; i < cal.n; i++) if (cal.avs[3 * i + j] > m) m = cal.avs[3 * i + j];
        // A feature normal calibration never shows (usually usi): any value of it is far out of range.
        return Math.max(m, SCALE_FLOOR);
      }) as [number, number, number];
      avs = scaleAVs(cal.avs, scale);
      n = cal.n;
    }
    hooks.onTrainStart?.(n, this.o.epochs);
    const trainOpts: ChidsTrainOptions = {
      epochs: this.o.epochs,
      batchSize: this.o.batchSize,
      learningRate: this.o.learningRate,
      activityL1: this.o.regRate,
      validationSplit: this.o.validationSplit,
      seed: this.opts.seed,
      signal: hooks.signal,
      onEpoch: hooks.onEpoch ? (e, loss, val) => hooks.onEpoch!(e, this.o.epochs, loss, val) : undefined,
    };
    const r = await trainChids(avs, n, trainOpts);
    r.scorer.inputScale = scale;
    return {
      detector: new ChidsDetector(r.scorer, this.settings),
      trainScores: r.trainErrors,
      maxScore: r.maxError,
      thresholds: r.thresholds,
      examples: n,
      finalLoss: r.finalLoss,
      finalValLoss: r.finalValLoss,
      epochs: r.epochs,
      seed: r.seed,
      ms: r.ms,
    };
  }
}

export async function loadChidsDetector(dir: string): Promise<ChidsDetector> {
  const scorer = await loadChids(dir);
  return new ChidsDetector(scorer, { reg_rate: scorer.activityL1, ...(scorer.inputScale ? { input_scale: scorer.inputScale } : {}) });
}
