/**
 * Planning a set of recordings (`chids lab record --count N [--split]`) and recording them.
 *
 * With `--split`, N recordings are laid out like a LID-DS scenario:
 *
 *   training/                 normal only   ≈ 55 % of the normal recordings
 *   validation/               normal only   ≈ 15 %
 *   test/normal/              normal only   ≈ 30 %
 *   test/normal_and_attack/   one attack each, ≈ N/4 (at least 1) when attacks are asked for
 *
 * Names are LID-DS style (`adjective_scientist_NNNN`), drawn from the seed, so the same
 * command gives the same names (and overwrites the same files).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { attackNamed, attacksFor } from './attacks.js';
import { programVersions, requirePrograms, requireRoot, versionOf } from './programs.js';
import { recordOne, type RecordResult } from './record.js';
import { rng } from './rng.js';
import { checkAttackFits } from './steps.js';
import { victimNamed, type VictimName } from './victims.js';

export type Split = 'training' | 'validation' | 'test/normal' | 'test/normal_and_attack';

export interface PlannedRecording {
  name: string;
  /** Subdirectory (with --split), or null. */
  split: Split | null;
  attack: string | null;
  seed: number;
}

export interface PlanOptions {
  victim: VictimName;
  /** An attack name, 'all' (each of the victim's attacks in turn) or 'none'. */
  attack: string;
  count: number;
  seed: number;
  split: boolean;
}

const ADJECTIVES = [
  'admiring', 'adoring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming', 'clever',
  'cool', 'compassionate', 'competent', 'confident', 'crazy', 'dazzling', 'determined', 'distracted', 'dreamy', 'eager', 'ecstatic',
  'elastic', 'elated', 'elegant', 'eloquent', 'epic', 'fervent', 'festive', 'focused', 'friendly', 'frosty', 'gallant', 'gifted',
  'goofy', 'gracious', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'infallible', 'inspiring', 'jolly', 'jovial', 'keen',
  'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty',
  'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical',
  'relaxed', 'reverent', 'romantic', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'stupefied', 'suspicious', 'sweet',
  'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly', 'wonderful', 'xenodochial',
  'youthful', 'zealous', 'zen',
];
const NAMES = [
  'agnesi', 'albattani', 'allen', 'archimedes', 'ardinghelli', 'babbage', 'bardeen', 'bartik', 'bassi', 'bell', 'benz', 'bhabha',
  'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brattain', 'brown', 'carson', 'chandrasekhar', 'clarke', 'colden',
  'cori', 'cray', 'curie', 'darwin', 'davinci', 'dijkstra', 'driscoll', 'easley', 'einstein', 'elion', 'engelbart', 'euclid',
  'euler', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gates', 'goldberg', 'goldstine', 'golick', 'goodall', 'hamilton',
  'hawking', 'heisenberg', 'hermann', 'hodgkin', 'hoover', 'hopper', 'hugle', 'hypatia', 'jackson', 'jang', 'jennings', 'jepsen',
  'johnson', 'joliot', 'jones', 'kalam', 'kare', 'keller', 'kepler', 'khorana', 'kilby', 'kirch', 'knuth', 'lalande', 'lamarr',
  'lamport', 'leakey', 'leavitt', 'lewin', 'liskov', 'lovelace', 'lumiere', 'mahavira', 'mayer', 'mccarthy', 'mcclintock',
  'mclean', 'meitner', 'mendel', 'mestorf', 'mirzakhani', 'montalcini', 'moore', 'morse', 'napier', 'nash', 'neumann', 'newton',
  'nightingale', 'nobel', 'noether', 'northcutt', 'noyce', 'panini', 'pare', 'pasteur', 'payne', 'perlman', 'pike', 'poincare',
  'poitras', 'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'roentgen', 'rosalind', 'saha', 'sammet', 'shannon', 'shaw',
  'shirley', 'shockley', 'sinoussi', 'snyder', 'spence', 'stallman', 'stonebraker', 'swanson', 'swartz', 'swirles', 'tesla',
  'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'volhard', 'wescoff', 'wiles', 'williams', 'wilson', 'wing',
  'wozniak', 'wright', 'yalow', 'yonath',
];

/** LID-DS-style recording names, distinct within one plan. */
export function recordingNames(seed: number, n: number): string[] {
  const r = rng(seed ^ 0x51a7e);
  const out = new Set<string>();
  for (let i = 0; out.size < n && i < n * 100; i++) out.add(`${r.pick(ADJECTIVES)}_${r.pick(NAMES)}_${r.int(1000, 9999)}`);
  return [...out];
}

/** Which recording gets which split, attack and seed. Pure. */
export function planRecordings(o: PlanOptions): PlannedRecording[] {
  if (!Number.isInteger(o.count) || o.count < 1) throw new ChidsError('--count must be a positive integer');
  const victim = victimNamed(o.victim);
  let attacks: string[];
  if (o.attack === 'none') attacks = [];
  else if (o.attack === 'all') attacks = attacksFor(victim.name).map((a) => a.name);
  else {
    const a = attackNamed(o.attack);
    checkAttackFits(a, victim);
    attacks = [a.name];
  }
  const names = recordingNames(o.seed, o.count);
  const seedOf = (i: number) => (o.seed * 1000 + i) >>> 0;
  if (!o.split) {
    return names.map((name, i) => ({ name, split: null, attack: attacks.length ? attacks[i % attacks.length] : null, seed: seedOf(i) }));
  }
  const nAttack = attacks.length === 0 ? 0 : Math.max(1, Math.round(o.count / 4));
  const nNormal = o.count - nAttack;
  const nVal = Math.max(1, Math.round(nNormal * 0.15));
  const nTestNormal = Math.max(1, Math.round(nNormal * 0.3));
  const nTrain = nNormal - nVal - nTestNormal;
  if (nTrain < 1) {
    throw new ChidsError(`--count ${o.count} is too small for --split: need at least ${attacks.length ? 4 : 3} recordings (training, validation, test/normal${attacks.length ? ', test/normal_and_attack' : ''})`);
  }
  const splits: Split[] = [
    ...Array<Split>(nTrain).fill('training'),
    ...Array<Split>(nVal).fill('validation'),
    ...Array<Split>(nTestNormal).fill('test/normal'),
    ...Array<Split>(nAttack).fill('test/normal_and_attack'),
  ];
  let k = 0;
  return names.map((name, i) => {
    const split = splits[i];
    const attack = split === 'test/normal_and_attack' ? attacks[k++ % attacks.length] : null;
    return { name, split, attack, seed: seedOf(i) };
  });
}

export interface RecordManyOptions extends PlanOptions {
  seconds: number;
  outDir: string;
  warmupSeconds?: number;
  /** See RecordOptions.attackCapSeconds. */
  attackCapSeconds?: number;
  signal?: AbortSignal;
  /** Progress lines (stderr in the CLI). */
  log?: (msg: string) => void;
  onPhase?: Parameters<typeof recordOne>[0]['onPhase'];
  /** Logged once the plan is checked (the CLI says where a clock-made seed came from). */
  note?: string;
}

/** Checks everything a plan needs before the first recording starts. */
export function preflight(victim: VictimName, attacks: (string | null)[]): void {
  requireRoot();
  const v = victimNamed(victim);
  requirePrograms(['strace', 'unshare', 'nsenter', 'setpriv', 'ip'], 'chids lab record');
  requirePrograms(v.programs, `the ${v.name} victim`);
  for (const a of new Set(attacks)) {
    if (a === null) continue;
    const at = attackNamed(a);
    requirePrograms(at.programs, `the ${at.name} attack`);
  }
}

/** What a planned set needs before its first recording: the checked plan, strace's version and the programs' versions (stored in every recording). `check` runs after the common checks, before planning. */
export function prepareSet(o: RecordManyOptions, check?: () => void): { plan: PlannedRecording[]; log: (msg: string) => void; straceVersion: string | null; programs: Record<string, string> } {
  if (!Number.isFinite(o.seconds) || o.seconds < 5) throw new ChidsError('--seconds must be at least 5');
  check?.();
  const plan = planRecordings(o);
  preflight(o.victim, plan.map((p) => p.attack));
  const log = o.log ?? (() => undefined);
  if (o.note) log(o.note);
  const straceVersion = versionOf('strace', ['-V'], /version\s+(\S+)/);
  const victim = victimNamed(o.victim);
  const programs = programVersions(['node', 'strace', ...victim.programs, ...new Set(plan.flatMap((p) => (p.attack ? attackNamed(p.attack).programs : [])))]);
  return { plan, log, straceVersion, programs };
}

/** A path as progress lines show it: relative to the working directory when inside it. */
export function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

export async function recordMany(o: RecordManyOptions): Promise<RecordResult[]> {
  const { plan, log, straceVersion, programs: progs } = prepareSet(o);
  const results: RecordResult[] = [];
  for (const [i, p] of plan.entries()) {
    const dir = p.split ? path.join(o.outDir, ...p.split.split('/')) : o.outDir;
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${p.name}.zip`);
    const shown = shownPath(file);
    log(`[${i + 1}/${plan.length}] ${shown}: ${o.victim}, ${p.attack ?? 'normal'}, ${o.seconds} s, seed ${p.seed}`);
    const res = await recordOne({
      victim: o.victim,
      attack: p.attack,
      seconds: o.seconds,
      seed: p.seed,
      outFile: file,
      warmupSeconds: o.warmupSeconds,
      attackCapSeconds: o.attackCapSeconds,
      straceVersion,
      programs: progs,
      signal: o.signal,
      log: (m) => log(`  ${m}`),
      onPhase: o.onPhase,
    });
    log(`  wrote ${shown}: ${res.events.toLocaleString('en-US')} events${res.exploitStart !== null ? `, exploit at +${(res.exploitStart - res.warmupEnd).toFixed(2)} s` : ''}`);
    results.push(res);
  }
  return results;
}
