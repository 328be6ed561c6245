/**
 * The default detector: the CHIDS anomaly vector, each feature calibrated on normal data, plus
 * the novelty of the window's syscall sequences.
 *
 * A window is read as three features:
 *   - fi, its volume (events relative to the busiest training window),
 *   - unseen = usi + uai, how much of its graph is syscalls or arguments never seen in training,
 *   - novel, the share of its (per-thread) syscall 6-grams never seen in training (STIDE's score).
 * Each feature has a reference taken from normal data the model did not see: for fi and
 * unseen, the largest value over the calibration vectors, i.e. the training windows encoded
 * against the vocabulary of the OTHER training recordings (leave-one-recording-out,
 * src/encode/calibration.ts; the training vectors themselves would give unseen = 0 for every
 * window, since the vocabulary is built from them); for novel, the same leave-one-out idea on
 * n-grams (each training window against the n-grams of the other recordings, STIDE's training
 * scores), bounded as below.
 *
 *     score = max(fi / ref_fi, unseen / ref_unseen, novel / ref_novel)
 *
 * so θ 1.0 alarms on a window more extreme, in some feature, than normal data the model did not
 * see. The feature that gives the max is the explanation of the window's score.
 *
 * Why the n-grams: the AV keeps how many events and which names and paths, not in which order.
 * An attack that runs the victim's own code along another path (a Redis SAVE into another
 * directory, a login handler hammered with wrong passwords, an error path) touches no new
 * syscall and no new file, and changes the volume by less than normal bursts do; its call
 * sequences are new. Conversely, a known code path reading an unseen file (/etc/shadow
 * instead of a page) is new to the AV and not to the n-grams. Each catches what the other
 * cannot; the max keeps both and their explanations.
 *
 * Why ref_novel is not simply the largest leave-one-out score: novel is continuous and noisy,
 * and the largest of N normal values is exceeded by a fresh normal one with probability
 * 1 / (N + 1) per value: with one bound per training recording (20), about one normal test
 * recording in 20 would alarm at θ 1.0 with nothing wrong. ref_novel is Tukey's far-out fence
 * Q3 + 3·IQR of the highest leave-one-out score of each fold (those above 0: the same
 * statistic as STIDE's threshold, thresholds.ts), which extrapolates past the sample's
 * maximum, and never below that maximum (so no calibration window scores above 1). unseen keeps
 * its maximum (the same fence over its per-recording maxima was measured and never rose above it).
 *
 * ref_fi is the largest calibration fi unless `baseline --fi-risk p` asks for a bound above it.
 * Why one may want one: a fresh normal window exceeds the largest of N training windows with
 * probability 1 / (N + 1), so a monitor that watches for hours raises volume alarms at a steady
 * rate with nothing wrong (seen live: normal windows at 1.01–1.05× the maximum). Volume is
 * judged per window, so the bound comes from the windows' upper tail: peaks over threshold with
 * exponential excesses (a generalized Pareto tail of shape 0). Over the k = max(5, ⌈N/10⌉)
 * largest calibration fi values, u is the next one down and b the mean excess over u (the
 * scale's maximum-likelihood estimate); a fresh window then exceeds u + x with probability
 * ≈ (k / N)·exp(−x / b), and ref_fi is the level exceeded once in 1 / p windows,
 * u + b·ln(k / (N·p)), never below the maximum. Why not Tukey's fence over windows: the
 * quartiles of window volume are set by idle and partial windows (a server's quiet seconds), so
 * Q3 + 3·IQR says little about how far the busy end reaches; the excesses of the top tenth do.
 * The exponential tail is the conservative choice for volume, a sum over many requests (for
 * bell-shaped volumes and p = 10⁻⁴ the bound lands near μ + 4.6σ, where the far-out fence
 * would); fitting the tail's shape from a few dozen values would be noise. With fewer than
 * FI_TAIL_MIN_WINDOWS calibration windows there is no tail to fit and ref_fi stays the maximum.
 * Why it is not the default: the attacks that show as volume only exceed the busiest normal
 * window by little (sqli and redis-config-write on data/example by 1.37 and 1.11×, sqli on the
 * web benchmark by 1.07 and 1.18×), while the busy end of a server's volume is wide (on the web
 * benchmark its top tenth spans half the maximum to the maximum), so at p = 10⁻⁴ the bound
 * lands at 1.3 to 1.6 times the maximum and those attacks go below θ 1.0; and no normal test
 * window (1,590 on data/example and both benchmark victims) went above the maximum. It is for watching for long, where a steady rate of false volume alarms costs
 * more than missing an attack that shows as a little more volume only.
 *
 * When no calibration window has any unseen activity (ref_unseen would be 0), the reference is a
 * floor of 1e-6, below any positive unseen value (each of usi, uai, when not 0, is at least
 * 1 / (nodes − 1), and a window has at most seen-syscalls + 2 nodes), so that any unseen syscall
 * or argument alarms at every θ (score ≥ 1e6 / (nodes − 1)). The same floor applies to novel.
 *
 * The commands feature (calibrated.json version 4, the default in improved mode;
 * `--no-split-commands` pools): unseen command shapes (execve exits'
 * `<exe> <shape>`) are a feature of their own, commands, and unseen keeps the other unseen
 * syscalls and arguments; the encoder measures each in its own view of the window's graph, the
 * other kind taken as seen (EncodedWindow.split), and each gets the largest calibration value as
 * reference. Why: a service's command shapes vary with its users (a per-user upload path in a
 * spawned sha256sum), files far less; pooled, the commands' normal variety sets the reference
 * for both, and an unseen path (Redis writing into /root/.ssh) no longer crosses it. It became
 * the default with command shape version 2 (a single argv value is its class): measured, with it
 * data/example keeps 7/7 at 0/6 false alarms (3/6 with version 1 shapes), web reaches 23/24 at
 * 0/50 (θ 1.4), redis 20/20 at 0/50 either way.
 *
 * Models saved before the n-gram feature (calibrated.json version 1) load and score with the
 * two AV features only; models saved before the fi bound (versions 1 and 2) keep the maximum as
 * ref_fi. Version 3 records how the bound came out (`fi_bound`).
 *
 * The reference autoencoder (chids) learns from the same AVs but, with a 1-unit sigmoid
 * bottleneck and an L1 activity penalty, its reconstruction is close to constant; this
 * detector keeps the AV and drops the network. Free of TF.js.
 */
import { z } from 'zod';
import { ChidsError } from '../util/errors.js';
import type { NameTable } from '../trace/names.js';
import type { ClosedWindow, Detector, DetectorTrainer, FitResult, RecordingInput, TrainHooks, TrainingRecording, WindowExplanation } from './detector.js';
import { readJsonModel, saveJsonModels } from './classic/json-io.js';
import { calibrationSettings, foldMaxima, maxOf, noveltyCalibration, thresholdsFrom, type NoveltyCalibration } from './thresholds.js';
import { STIDE_DEFAULTS, STIDE_FILE, StideTrainer, loadStide, type StideDetector, type StideTap, type StideTrainingTap } from './classic/stide.js';
import { blockFold } from './classic/syscall-stream.js';

export const CALIBRATED_KIND = 'calibrated-av';
export const CALIBRATED_FILE = 'calibrated.json';
export const CALIBRATED_FORMAT = 'chids-calibrated';
/** Smallest reference of a feature (see the module comment). */
export const REFERENCE_FLOOR = 1e-6;

/** The calibrated features, in the order ties are broken. */
export const CALIBRATED_FEATURES = ['fi', 'unseen', 'commands', 'novel'] as const;
export type CalibratedFeature = (typeof CALIBRATED_FEATURES)[number];

export interface CalibratedReferences {
  /** Bound of fi over the calibration windows (floored): their largest fi, or the tail bound above it (FiBound). */
  fi: number;
  /**
   * Largest usi + uai over the calibration windows (floored); with `commands`, that of the
   * paths view (the graph with unseen command shapes taken as seen).
   */
  unseen: number;
  /** Largest uai of unseen command shapes over the calibration windows (floored); absent before calibrated.json version 4. */
  commands?: number;
  /** Bound of the leave-one-out n-gram novelty (floored); absent in models saved before it. */
  novel?: number;
}

/** Fewest calibration windows the fi tail is fitted on; with fewer, ref_fi is their maximum. */
export const FI_TAIL_MIN_WINDOWS = 20;
const FI_RULE = 'max(largest fi, u + b·ln(k / (N·risk))): exponential tail over the k = max(5, ⌈N/10⌉) largest of N calibration windows, u the next largest, b their mean excess over u';

/** How ref_fi came out of the calibration windows' fi (saved in calibrated.json version 3). */
export interface FiBound {
  rule: string;
  /** Calibration windows (N). */
  windows: number;
  /** Largest fi over them. */
  maximum: number;
  /** Windows in the fitted tail (k; 0 when there were too few windows to fit one). */
  tail: number;
  /** u: the (k + 1)-th largest fi. */
  threshold: number;
  /** b: mean excess of the k largest over u. */
  scale: number;
  /** Probability per window that a normal one exceeds ref_fi, under the fitted tail (`--fi-risk`). */
  risk: number;
  /** ref_fi = max(maximum, threshold + scale·ln(tail / (windows·risk))), floored. */
  value: number;
}

/** ref_fi at per-window risk `risk` (0 < risk < 1) from the fi of `n` calibration AVs (`n × 3`): see the module comment. */
export function fiBound(avs: ArrayLike<number>, n: number, risk: number): FiBound {
  if (!(risk > 0 && risk < 1)) throw new ChidsError(`the fi risk must be above 0 and below 1 (got ${risk})`);
  const fi = new Float64Array(n);
  for (let i = 0; i < n; i++) fi[i] = avs[3 * i];
  fi.sort();
  const maximum = n > 0 ? fi[n - 1] : 0;
  const base = { rule: FI_RULE, windows: n, maximum, risk };
  if (n < FI_TAIL_MIN_WINDOWS) return { ...base, tail: 0, threshold: maximum, scale: 0, value: Math.max(maximum, REFERENCE_FLOOR) };
  const k = Math.max(5, Math.ceil(n / 10));
  const threshold = fi[n - 1 - k];
  let excess = 0;
  for (let i = n - k; i < n; i++) excess += fi[i] - threshold;
  const scale = excess / k;
  const value = Math.max(maximum, threshold + scale * Math.log(k / (n * risk)), REFERENCE_FLOOR);
  return { ...base, tail: k, threshold, scale, value };
}

/** The AV features of one AV (row i of `avs`). */
function features(avs: ArrayLike<number>, i: number): [number, number] {
  return [avs[3 * i], avs[3 * i + 1] + avs[3 * i + 2]];
}


function checkFinite(avs: ArrayLike<number>, n: number): void {
  for (let i = 0; i < 3 * n; i++) {
    const v = avs[i];
    if (!Number.isFinite(v)) throw new ChidsError(`anomaly vector ${Math.floor(i / 3)} has a non-finite value (${v})`);
  }
}

function checkRef(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new ChidsError(`calibrated detector: the ${name} reference must be positive and finite (got ${v})`);
}

export class CalibratedDetector implements Detector<StideTap> {
  readonly name = 'calibrated' as const;
  readonly kind = CALIBRATED_KIND;
  /** With the n-gram feature it reads the syscalls (through STIDE's tap) as well as the AVs. */
  readonly reads: 'vectors' | 'syscalls';
  /** A window's score depends on its own AV (and its own n-grams) only. */
  readonly history = 1;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly newTap?: (names: NameTable) => StideTap;

  constructor(
    readonly refs: CalibratedReferences,
    /** The n-gram model of the novel feature (null: the two AV features only). */
    readonly ngrams: StideDetector | null = null,
    /** How ref_novel came out of the leave-one-out scores (a freshly trained detector). */
    novelty?: NoveltyCalibration,
    /** How ref_fi came out of the calibration windows (absent: ref_fi is their maximum, models before version 3). */
    readonly fiRule: FiBound | null = null,
  ) {
    checkRef('fi', refs.fi);
    if (fiRule !== null && fiRule.value !== refs.fi) throw new ChidsError(`calibrated detector: the fi bound (${fiRule.value}) is not the fi reference (${refs.fi})`);
    checkRef('unseen', refs.unseen);
    if (refs.commands !== undefined) checkRef('commands', refs.commands);
    if ((refs.novel === undefined) !== (ngrams === null)) throw new ChidsError('calibrated detector: the novel reference and the n-gram model go together');
    if (refs.novel !== undefined) checkRef('novel', refs.novel);
    this.reads = ngrams ? 'syscalls' : 'vectors';
    if (ngrams) this.newTap = (names) => ngrams.newTap(names);
    this.settings = {
      features: CALIBRATED_FEATURES.filter((f) => (f !== 'novel' || ngrams) && (f !== 'commands' || refs.commands !== undefined)),
      reference_fi: refs.fi,
      ...(fiRule ? { fi_reference_rule: fiRule } : {}),
      reference_unseen: refs.unseen,
      ...(refs.commands !== undefined ? { reference_commands: refs.commands } : {}),
      ...(ngrams ? { reference_novel: refs.novel, ngram: ngrams.ngram, thread_aware: ngrams.threadAware, distinct_ngrams: ngrams.grams.size } : {}),
      ...(novelty ? { novel_reference_rule: { ...calibrationSettings(novelty), rule: NOVEL_RULE, fence: fence(novelty), value: refs.novel } } : {}),
      reference_floor: REFERENCE_FLOOR,
    };
  }

  /**
   * Score of one window: the largest of its features' ratios to their references. `split` is
   * the encoder's [paths, commands] of the window (used by models with the commands feature).
   */
  score(fi: number, usi: number, uai: number, novel = 0, split?: ArrayLike<number>): number {
    const s = Math.max(fi / this.refs.fi, this.unseenRatios(usi + uai, split, 0));
    return this.refs.novel === undefined ? s : Math.max(s, novel / this.refs.novel);
  }

  /** Scratch of {@link unseenParts} (windows are scored one at a time). */
  private readonly parts = { unseen: 0, refUnseen: 1, commands: 0, refCommands: Infinity };

  /**
   * Unseen (paths) and commands of window i, each with the reference it is read against. A
   * model before version 4 reads usi + uai against ref_unseen, as it did (commands 0). Without
   * the encoder's split (a caller that does not keep it), usi + uai is read against the larger
   * of the two references: an unseen path then alarms a little later than it should, and an
   * unseen command no sooner than under one pooled reference. Returns the reused scratch.
   */
  private unseenParts(unseen: number, split: ArrayLike<number> | undefined, i: number): CalibratedDetector['parts'] {
    const p = this.parts;
    const rc = this.refs.commands;
    p.unseen = unseen;
    p.refUnseen = this.refs.unseen;
    p.commands = 0;
    p.refCommands = rc ?? Infinity;
    if (rc !== undefined && split === undefined) p.refUnseen = Math.max(this.refs.unseen, rc);
    else if (rc !== undefined && split !== undefined) {
      p.unseen = split[2 * i];
      p.commands = split[2 * i + 1];
    }
    return p;
  }

  /** The larger of unseen's and commands' ratios of window i. */
  private unseenRatios(unseen: number, split: ArrayLike<number> | undefined, i: number): number {
    const p = this.unseenParts(unseen, split, i);
    return Math.max(p.unseen / p.refUnseen, p.commands / p.refCommands);
  }

  scoreRecording(rec: RecordingInput<StideTap>): Float64Array {
    checkFinite(rec.avs, rec.n);
    const novel = this.ngrams ? this.ngrams.scoreRecording(rec) : null;
    const out = new Float64Array(rec.n);
    for (let i = 0; i < rec.n; i++) {
      const [fi, unseen] = features(rec.avs, i);
      let s = Math.max(fi / this.refs.fi, this.unseenRatios(unseen, rec.split, i));
      if (novel !== null) s = Math.max(s, novel[i] / this.refs.novel!);
      out[i] = s;
    }
    return out;
  }

  scoreWindow(w: ClosedWindow<StideTap>): number | null {
    // The n-gram tap is asked first: it must close its window whether or not the AV scores.
    const novel = this.ngrams ? this.ngrams.scoreWindow(w) : null;
    if (w.n === 0) return null;
    const last = w.avs.subarray(3 * (w.n - 1), 3 * w.n);
    checkFinite(last, 1);
    return this.score(last[0], last[1], last[2], novel ?? 0, w.split);
  }

  /**
   * Which feature gave `score` (this window's score) for the AV `av`: an AV feature when its
   * ratio is the score, otherwise the n-grams, whose ratio the score then is.
   */
  explain(av: ArrayLike<number>, score?: number, split?: ArrayLike<number>): WindowExplanation {
    const fi = av[0];
    const rFi = fi / this.refs.fi;
    const { unseen, refUnseen, commands, refCommands } = this.unseenParts(av[1] + av[2], split, 0);
    const rUnseen = unseen / refUnseen;
    const rCommands = commands / refCommands;
    const best = Math.max(rFi, rUnseen, rCommands);
    if (this.refs.novel !== undefined && score !== undefined && score > best) {
      return { feature: 'novel', value: score * this.refs.novel, reference: this.refs.novel, ratio: score };
    }
    if (rCommands > rFi && rCommands > rUnseen) return { feature: 'commands', value: commands, reference: refCommands, ratio: rCommands };
    if (rUnseen > rFi) return { feature: 'unseen', value: unseen, reference: refUnseen, ratio: rUnseen };
    // The training maximum goes with a bound above it, so the alert can say both.
    const r = this.fiRule;
    return r && r.value > r.maximum ? { feature: 'fi', value: fi, reference: this.refs.fi, ratio: rFi, maximum: r.maximum } : { feature: 'fi', value: fi, reference: this.refs.fi, ratio: rFi };
  }

  async save(dir: string): Promise<void> {
    const doc: CalibratedFileDoc = {
      format: CALIBRATED_FORMAT,
      version: this.refs.commands !== undefined ? 4 : this.fiRule ? 3 : this.ngrams ? 2 : 1,
      kind: CALIBRATED_KIND,
      references: {
        fi: this.refs.fi,
        unseen: this.refs.unseen,
        ...(this.refs.commands !== undefined ? { commands: this.refs.commands } : {}),
        ...(this.refs.novel !== undefined ? { novel: this.refs.novel } : {}),
      },
      ...(this.fiRule ? { fi_bound: this.fiRule } : {}),
    };
    await saveJsonModels(dir, this.ngrams ? { [CALIBRATED_FILE]: doc, [STIDE_FILE]: this.ngrams.modelDoc() } : { [CALIBRATED_FILE]: doc });
  }

  dispose(): void {}
}

const positive = z.number().positive().finite();
const nonNegative = z.number().nonnegative().finite();
const FiBoundDoc = z.object({
  rule: z.string(),
  windows: z.number().int().nonnegative(),
  maximum: nonNegative,
  tail: z.number().int().nonnegative(),
  threshold: nonNegative,
  scale: nonNegative,
  risk: positive,
  value: positive,
});
const CalibratedFile = z
  .object({
    format: z.literal(CALIBRATED_FORMAT),
    // 1: fi and unseen; 2: + novel (the n-grams); 3: ref_fi is a tail bound (fi_bound), novel as the model has it;
    // 4: unseen split into unseen (paths) and commands (references.commands), novel and fi_bound as the model has them.
    version: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
    kind: z.literal(CALIBRATED_KIND),
    references: z.object({ fi: positive, unseen: positive, commands: positive.optional(), novel: positive.optional() }),
    fi_bound: FiBoundDoc.optional(),
  })
  .passthrough()
  .refine((d) => d.version >= 3 || (d.version === 2) === (d.references.novel !== undefined), { message: 'version 2 has references.novel (the n-gram feature), version 1 has not' })
  .refine((d) => d.version === 4 || (d.version === 3) === (d.fi_bound !== undefined), { message: 'version 3 has fi_bound (how ref_fi was set), versions 1 and 2 have not' })
  .refine((d) => (d.version === 4) === (d.references.commands !== undefined), { message: 'version 4 has references.commands (unseen command shapes), versions 1 to 3 have not' })
  .refine((d) => d.fi_bound === undefined || d.fi_bound.value === d.references.fi, { message: 'fi_bound.value must be references.fi' });
type CalibratedFileDoc = z.infer<typeof CalibratedFile>;

export async function loadCalibrated(dir: string): Promise<CalibratedDetector> {
  const doc = await readJsonModel(dir, CALIBRATED_FILE, CalibratedFile, 'calibrated model');
  const ngrams = doc.references.novel !== undefined ? await loadStide(dir) : null;
  return new CalibratedDetector(doc.references, ngrams, undefined, doc.fi_bound ?? null);
}

/**
 * References of the AV features from calibration vectors (`n × 3`): each feature's max, floored
 * (ref_fi without --fi-risk; with it, fiBound replaces the fi maximum).
 */
export function referencesFrom(avs: ArrayLike<number>, n: number, split?: ArrayLike<number>): CalibratedReferences {
  let fi = 0;
  let unseen = 0;
  let commands = 0;
  for (let i = 0; i < n; i++) {
    const [f, u] = features(avs, i);
    if (f > fi) fi = f;
    const p = split === undefined ? u : split[2 * i];
    if (p > unseen) unseen = p;
    if (split !== undefined && split[2 * i + 1] > commands) commands = split[2 * i + 1];
  }
  const refs: CalibratedReferences = { fi: Math.max(fi, REFERENCE_FLOOR), unseen: Math.max(unseen, REFERENCE_FLOOR) };
  if (split !== undefined) refs.commands = Math.max(commands, REFERENCE_FLOOR);
  return refs;
}

const NOVEL_RULE = 'max(largest leave-one-out score, Q3 + 3·IQR of the highest leave-one-out score of each fold, those above 0)';

/** Tukey's far-out fence of the fold maxima (0 when no fold has novelty). */
function fence(c: NoveltyCalibration): number {
  return c.positive === 0 ? 0 : c.q3 + 3 * (c.q3 - c.q1);
}

/** ref_novel from the leave-one-out n-gram scores and their folds (see the module comment). */
export function novelReference(scores: ArrayLike<number>, fold: ArrayLike<number>): { value: number; calibration: NoveltyCalibration } {
  const calibration = noveltyCalibration(foldMaxima(scores, fold));
  const max = Math.max(0, maxOf(scores));
  return { value: Math.max(max, fence(calibration), REFERENCE_FLOOR), calibration };
}

export class CalibratedTrainer implements DetectorTrainer<StideTrainingTap> {
  readonly name = 'calibrated' as const;
  readonly settings: Readonly<Record<string, unknown>> = {
    features: [...CALIBRATED_FEATURES],
    ngram: STIDE_DEFAULTS.ngram,
    thread_aware: STIDE_DEFAULTS.threadAware,
    reference_floor: REFERENCE_FLOOR,
  };
  readonly epochs = 0;
  readonly usesCalibration = true;
  private readonly stide: StideTrainer;

  /**
   * `ngrams: false` fits the two AV features only (the detector before the n-gram feature);
   * `fiRisk` > 0 bounds fi above its maximum at that per-window risk (0 or absent: the maximum);
   * `commands: true` (the registry's default; `--no-split-commands` gives false) makes unseen
   * command shapes a feature of their own (calibrated.json version 4) when the calibration
   * vectors come with the encoder's split (improved mode); otherwise they stay pooled with the
   * other unseen arguments.
   */
  constructor(
    private readonly seed?: number,
    private readonly opts: { ngrams?: boolean; fiRisk?: number; commands?: boolean } = {},
  ) {
    const risk = opts.fiRisk ?? 0;
    if (!(risk >= 0 && risk < 1)) throw new ChidsError(`--fi-risk must be at least 0 and below 1 (got ${risk})`);
    this.stide = new StideTrainer({ seed: seed ?? 0 });
    if (opts.ngrams === false) this.settings = { features: ['fi', 'unseen'], reference_floor: REFERENCE_FLOOR };
    if (risk > 0) this.settings = { ...this.settings, fi_risk: risk };
  }

  /** ref_fi and how it was set: the calibration maximum, or with --fi-risk the tail bound. */
  private fiReference(cal: Float64Array, n: number, refs: CalibratedReferences): { refs: CalibratedReferences; rule: FiBound | null } {
    const risk = this.opts.fiRisk ?? 0;
    if (risk === 0) return { refs, rule: null };
    const rule = fiBound(cal, n, risk);
    return { refs: { ...refs, fi: rule.value }, rule };
  }

  get trainingTap(): ((names: NameTable) => StideTrainingTap) | undefined {
    return this.opts.ngrams === false ? undefined : (names) => this.stide.trainingTap(names);
  }

  async fit(recordings: readonly TrainingRecording<StideTrainingTap>[], hooks: TrainHooks = {}): Promise<FitResult> {
    const t0 = performance.now();
    let n = 0;
    for (const r of recordings) n += r.n;
    hooks.onTrainStart?.(n, 0);
    const cal = new Float64Array(n * 3);
    // The split of unseen activity into paths and commands, when every recording has it (improved
    // mode) and the trainer was not asked for the pooled feature (`commands: false`).
    const split = this.opts.commands === true && recordings.every((r) => r.calibrationSplit !== undefined) ? new Float64Array(n * 2) : undefined;
    let o = 0;
    for (const r of recordings) {
      const c = r.calibration;
      if (c === undefined) throw new ChidsError(`${r.file}: no calibration vectors (the calibrated detector needs them)`);
      if (c.length !== r.n * 3) throw new ChidsError(`${r.file}: ${c.length / 3} calibration vectors for ${r.n} windows`);
      checkFinite(c, r.n);
      if (split !== undefined) {
        const cs = r.calibrationSplit!;
        if (cs.length !== r.n * 2) throw new ChidsError(`${r.file}: ${cs.length / 2} calibration splits for ${r.n} windows`);
        for (let i = 0; i < cs.length; i++) if (!Number.isFinite(cs[i])) throw new ChidsError(`${r.file}: calibration split ${Math.floor(i / 2)} has a non-finite value (${cs[i]})`);
        split.set(cs, (o / 3) * 2);
      }
      cal.set(c, o);
      o += c.length;
    }
    // The n-grams and their leave-one-out scores (STIDE's training scores: each window against
    // the n-grams of the other recordings, or of the other time blocks of a single recording).
    // A training set too short for a single n-gram (a few calls per thread) keeps the AV features.
    const taps = recordings.map((r) => r.tap);
    for (const t of taps) t?.finish();
    if (this.opts.ngrams === false || !taps.some((t) => t !== null && t.ids.length > 0)) {
      if (this.opts.ngrams !== false && taps.some((t) => t === null)) throw new Error('calibrated: every training recording needs its training tap');
      const f = this.fiReference(cal, n, referencesFrom(cal, n, split));
      return this.result(new CalibratedDetector(f.refs, null, undefined, f.rule), cal, split, null, n, t0);
    }
    const st = await this.stide.fit(recordings);
    const fold = new Int32Array(n);
    o = 0;
    recordings.forEach((r, k) => {
      for (let w = 0; w < r.n; w++, o++) fold[o] = recordings.length >= 2 ? k : blockFold(w, r.n);
    });
    const novel = novelReference(st.trainScores, fold);
    const f = this.fiReference(cal, n, { ...referencesFrom(cal, n, split), novel: novel.value });
    return this.result(new CalibratedDetector(f.refs, st.detector as StideDetector, novel.calibration, f.rule), cal, split, st.trainScores, n, t0);
  }

  /** Training scores: the calibration vectors (and leave-one-out n-gram scores), scored. */
  private result(detector: CalibratedDetector, cal: Float64Array, split: Float64Array | undefined, novel: Float64Array | null, n: number, t0: number): FitResult {
    const trainScores = new Float64Array(n);
    for (let i = 0; i < n; i++) trainScores[i] = detector.score(cal[3 * i], cal[3 * i + 1], cal[3 * i + 2], novel ? novel[i] : 0, split?.subarray(2 * i, 2 * i + 2));
    const maxScore = maxOf(trainScores);
    return {
      detector,
      trainScores,
      maxScore,
      // θ × 1: the references make 1 the bound of normal data in every feature.
      thresholds: thresholdsFrom(1),
      examples: n,
      finalLoss: null,
      finalValLoss: null,
      epochs: 0,
      seed: this.seed ?? 0,
      ms: performance.now() - t0,
    };
  }
}
