/**
 * `npm run bench:replicas`: the replica comparison (`chids replicas`, no training) on groups of
 * three web replicas recorded by the attack lab, one replica attacked per attack group.
 *
 *     sudo npm run bench:replicas -- [--cache DIR] [--set web-45s] [--normal 8] [--attack 12]
 *         [--seconds 45] [--normal-seed 500] [--attack-seed 600] [--similarities counted,programs,covered,…]
 *         [--record-only | --evaluate-only]
 *
 * 1. Records what is missing into the cache (default $CHIDS_BENCH_CACHE/replicas, else
 *    ~/.cache/chids/bench-replicas; never inside the repository): SET/normal/ (attack-free
 *    groups) and SET/attack/ (the web victim's attacks in turn), each group
 *    `chids lab record --replicas 3 --seconds S --warmup 3` would make. A group is written whole
 *    or not at all, so a rerun records only the missing ones. The first set (`--set web
 *    --seconds 22 --normal 10 --attack 18 --normal-seed 400 --attack-seed 300`) was too short:
 *    a 22 s recording holds one whole 10 s window, and sqlmap had not reached the victim in it.
 * 2. Scores every group once per similarity (counted, programs, covered, nearest, mean) with 10 s windows, and picks the
 *    threshold by a rule that sees attack-free groups only: the first half of the attack-free
 *    groups calibrates (θ = the highest score any of their replicas reached, rounded up to the
 *    next 0.05, so none of them would alarm); the other half and every attack group are the
 *    test. Prints DR (attacked replicas detected after the exploit started) and FAR (replicas
 *    without an exploit flagged, siblings of attacked ones included) with counts, at that θ and
 *    at the default threshold, per attack too; writes the table and the JSON to CACHE/web/results/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateGroup, type GroupEvaluation, rowAt, type ThresholdRow } from '../src/app/replicas-dataset.js';
import { DEFAULT_THRESHOLD, DEFAULT_WINDOW_NS } from '../src/app/replicas.js';
import { SIMILARITIES, type Similarity } from '../src/model/replicas/compare.js';

const { values: a } = parseArgs({
  options: {
    cache: { type: 'string' },
    normal: { type: 'string', default: '8' },
    attack: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '45' },
    set: { type: 'string' },
    'normal-seed': { type: 'string', default: '500' },
    'attack-seed': { type: 'string', default: '600' },
    similarities: { type: 'string', default: 'counted,programs,covered,nearest,mean' },
    'record-only': { type: 'boolean', default: false },
    'evaluate-only': { type: 'boolean', default: false },
  },
});
const cache = a.cache ?? (process.env.CHIDS_BENCH_CACHE ? path.join(process.env.CHIDS_BENCH_CACHE, 'replicas') : path.join(os.homedir(), '.cache', 'chids', 'bench-replicas'));
// One directory per set of groups (the first, 22 s, seeds 400/300, is `web`).
const dir = path.join(cache, a.set ?? 'web-45s');
const seconds = Number(a.seconds);
const counts = { normal: Number(a.normal), attack: Number(a.attack) };
const SEEDS = { normal: Number(a['normal-seed']), attack: Number(a['attack-seed']) };
const log = (m: string) => process.stderr.write(`${m}\n`);

async function plan(kind: 'normal' | 'attack') {
  const { planRecordings } = await import('../src/lab/dataset.js');
  return planRecordings({ victim: 'web', attack: kind === 'normal' ? 'none' : 'all', count: counts[kind], seed: SEEDS[kind], split: false }).map((p) => ({
    ...p,
    dir: path.join(dir, kind, p.name),
  }));
}

async function record(): Promise<void> {
  const { recordReplicaGroup } = await import('../src/lab/replicas.js');
  const { preflight } = await import('../src/lab/dataset.js');
  const { versionOf } = await import('../src/lab/programs.js');
  const all = [...(await plan('normal')), ...(await plan('attack'))];
  const missing = all.filter((p) => !existsSync(p.dir));
  if (missing.length === 0) return;
  preflight('web', missing.map((p) => p.attack));
  const straceVersion = versionOf('strace', ['-V'], /version\s+(\S+)/);
  for (const [i, p] of missing.entries()) {
    log(`[${i + 1}/${missing.length}] ${p.dir}: ${p.attack ?? 'normal'}`);
    await recordReplicaGroup({ victim: 'web', attack: p.attack, replicas: 3, seconds, seed: p.seed, outDir: p.dir, warmupSeconds: 3, straceVersion, log: (m) => log(`  ${m}`) });
  }
}

interface Result {
  similarity: Similarity;
  calibration_groups: string[];
  threshold: number;
  at_threshold: ThresholdRow;
  at_default: ThresholdRow;
  per_attack: Record<string, { threshold: ThresholdRow; default: ThresholdRow }>;
  calibration_max_score: number;
}

function maxScore(groups: readonly GroupEvaluation[]): number {
  let m = 0;
  for (const g of groups) for (const w of g.windows) for (const s of w.scores) m = Math.max(m, s);
  return m;
}

async function evaluate(): Promise<void> {
  const normal = await plan('normal');
  const attack = await plan('attack');
  const missing = [...normal, ...attack].filter((p) => !existsSync(p.dir));
  if (missing.length > 0) throw new Error(`${missing.length} groups are not recorded yet (first: ${missing[0].dir}); run without --evaluate-only, as root`);
  const results: Result[] = [];
  const lines: string[] = [];
  const similarities = (a.similarities as string).split(',').map((x) => x.trim());
  for (const x of similarities) if (!(SIMILARITIES as readonly string[]).includes(x)) throw new Error(`--similarities: unknown similarity '${x}' (${SIMILARITIES.join(', ')})`);
  for (const similarity of similarities as Similarity[]) {
    const score = async (ps: { dir: string }[]) => {
      const out: GroupEvaluation[] = [];
      for (const p of ps) {
        const { readdirSync } = await import('node:fs');
        const files = readdirSync(p.dir).filter((f) => f.endsWith('.zip')).sort().map((f) => path.join(p.dir, f));
        out.push(await evaluateGroup(p.dir, files, DEFAULT_WINDOW_NS, similarity));
      }
      return out;
    };
    const n = await score(normal);
    const at = await score(attack);
    const half = Math.ceil(n.length / 2);
    const calib = n.slice(0, half);
    const test = [...n.slice(half), ...at];
    const calMax = maxScore(calib);
    const threshold = Math.ceil((calMax + 1e-9) * 20) / 20;
    const perAttack: Result['per_attack'] = {};
    for (const name of [...new Set(at.flatMap((g) => g.exploitName.filter((x): x is string => x !== null)))].sort()) {
      const gs = at.filter((g) => g.exploitName.includes(name));
      perAttack[name] = { threshold: rowAt(gs, threshold), default: rowAt(gs, DEFAULT_THRESHOLD) };
    }
    const r: Result = {
      similarity,
      calibration_groups: calib.map((g) => path.basename(g.dir)),
      calibration_max_score: calMax,
      threshold,
      at_threshold: rowAt(test, threshold),
      at_default: rowAt(test, DEFAULT_THRESHOLD),
      per_attack: perAttack,
    };
    results.push(r);
    const fmt = (x: ThresholdRow) =>
      `${x.detected}/${x.attacked} (${(x.dr * 100).toFixed(1)} %) | ${x.false_alarms}/${x.normal} (${(x.far * 100).toFixed(1)} %) | ${x.mean_latency_s === null ? '-' : `${x.mean_latency_s.toFixed(1)} s`}`;
    lines.push(
      `### ${similarity} similarity: θ = ${threshold} (highest score in ${calib.length} calibration attack-free groups: ${calMax.toFixed(3)})`,
      '',
      '| set | θ | DR | FAR (normal replicas) | mean latency |',
      '|---|---|---|---|---|',
      `| all test groups (${test.length - at.length} attack-free, ${at.length} attack) | ${threshold} | ${fmt(r.at_threshold)} |`,
      `| all test groups | ${DEFAULT_THRESHOLD} (default) | ${fmt(r.at_default)} |`,
      ...Object.entries(perAttack).map(([k, v]) => `| ${k} | ${threshold} | ${fmt(v.threshold)} |`),
      '',
    );
  }
  const text = [`Replica benchmark, web victim, 3 replicas per group, ${seconds} s recordings, 10 s windows (${cache})`, '', ...lines].join('\n');
  process.stdout.write(text + '\n');
  const out = path.join(dir, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'replicas.md'), text + '\n');
  writeFileSync(path.join(out, 'replicas.json'), JSON.stringify(results, null, 2) + '\n');
}

try {
  if (!a['evaluate-only']) await record();
  if (!a['record-only']) await evaluate();
} catch (e) {
  process.stderr.write(`bench:replicas: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
