/**
 * `npm run bench:detect`: the detection benchmark on lab recordings, larger than data/example.
 *
 *     sudo npm run bench:detect -- [--cache DIR] [--victims web,redis] [--seconds N] [--attack-cap N] [--seed 2026]
 *         [--training 20] [--validation 3] [--test-normal 50] [--attacks N]
 *         [--models a,b,…] [--model-seed 1] [--epochs N] [--record-only | --compare-only]
 *     npm run bench:detect -- --dataset DIR [--dataset DIR2 …]   # compare only, on existing LID-DS scenarios
 *
 * 1. Records, with the attack lab (root), one LID-DS scenario per victim into the cache
 *    (default $CHIDS_BENCH_CACHE, else ~/.cache/chids/bench-detect; never inside the
 *    repository): training/, validation/, test/normal/ (50: the FAR resolution is then
 *    1/50 = 2 %, so FAR ≤ 2 % allows one false alarm) and test/normal_and_attack/ (≥ 20, the
 *    victim's attacks in turn), web 20 s and redis 10 s each unless --seconds says otherwise.
 *    An attack still running at the window's end (a tool that has not reached its goal yet)
 *    may run on up to --attack-cap seconds from its start (web 120, redis 0 = stopped at the
 *    window's end); the recording follows it to its end, plus 2 s.
 *    An attack recording whose attack traffic never reached the victim is recorded once more.
 *    A manifest (settings + plan) sits next to the
 *    recordings; a rerun records only the recordings whose zip is missing (the lab writes
 *    each zip atomically, so an interrupted run resumes where it stopped).
 * 2. Runs `chids compare --json` (the CLI itself, in a child process) on each victim with
 *    every detector of the model registry, and prints one markdown table per victim, with
 *    DR at FAR 0 and at FAR ≤ 2 % derived from compare's per-θ rates. The tables and the raw
 *    JSON are written to DIR/results/.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { strFromU8, unzipSync } from 'fflate';
import { fileURLToPath } from 'node:url';
import { ChidsError } from '../src/util/errors.js';
import { writeFileAtomic } from '../src/util/fs.js';
import { onStopSignals } from '../src/util/signals.js';
import { benchPlan, defaultAttackCount, manifestMismatch, type BenchCounts, type BenchManifest, type RecordingSettings } from './detect-plan.js';
import { benchTable, type CompareJson } from './detect-table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

class BenchError extends Error {}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

function int(name: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new BenchError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return Number(v);
}

function defaultCache(): string {
  return process.env.CHIDS_BENCH_CACHE || path.join(os.homedir(), '.cache', 'chids', 'bench-detect');
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

/**
 * Recording length per victim when --seconds is not given. The web attacks start real tools
 * (sqlmap, hydra: Python and C programs that probe before they attack) at 25-50 % of the
 * window; on a loaded 2-core machine sqlmap sent its first probe up to 4 s after it started,
 * and 10-s recordings left it 1 to 3 probes. 20 s leaves every web attack 10 s or more. The
 * Redis attack is one redis-cli pipe, done in well under a second.
 */
const DEFAULT_SECONDS: Record<string, number> = { web: 20, redis: 10 };
function defaultSeconds(victim: string): number {
  return DEFAULT_SECONDS[victim] ?? 10;
}

/**
 * How long an attack may run past the scheduled window, per victim, when --attack-cap is not
 * given. 20-s web recordings on a loaded machine stopped every sqlmap before it found the
 * injection and every hydra before it found the password (45 to 65 requests for a password
 * 56th in its list): such recordings hold the attempt, not the attack. The window now follows
 * the tool until it is done, up to the cap. Measured under load 20-30: sqlmap found the
 * injection and dumped the table after 39 requests in 22-40 s, but once had only 29 requests
 * answered in 60 s; hydra needed 120-125 requests and 35-61 s. The Redis attack is over in
 * well under a second.
 */
const DEFAULT_ATTACK_CAP: Record<string, number | null> = { web: 120, redis: null };
function defaultAttackCap(victim: string): number | null {
  return DEFAULT_ATTACK_CAP[victim] ?? null;
}

interface VictimPlan {
  victim: string;
  dir: string;
  manifest: BenchManifest;
  missing: BenchManifest['plan'];
}

async function planVictim(cache: string, s: RecordingSettings, counts: Omit<BenchCounts, 'attack'> & { attack: number | null }): Promise<VictimPlan> {
  const { attacksFor, victimNamed } = await import('../src/lab/index.js');
  const victim = victimNamed(s.victim);
  const attacks = attacksFor(victim.name).map((a) => a.name);
  const full: BenchCounts = { ...counts, attack: counts.attack ?? defaultAttackCount(attacks.length) };
  const dir = path.join(cache, victim.name);
  const mfile = path.join(dir, 'manifest.json');
  if (existsSync(mfile)) {
    let old: unknown;
    try {
      old = JSON.parse(readFileSync(mfile, 'utf8'));
    } catch (e) {
      throw new BenchError(`${mfile}: not valid JSON (${(e as Error).message}); remove it or choose another --cache`);
    }
    const why = manifestMismatch(old, s);
    if (why) throw new BenchError(`${mfile}: the cached ${victim.name} dataset does not fit this run: ${why}; use another --cache, or remove ${dir} to record it anew`);
  }
  const plan = benchPlan(s, attacks, full);
  const manifest: BenchManifest = { kind: 'chids-bench-detect', version: 1, ...s, attacks, counts: full, plan };
  const missing = plan.filter((p) => !existsSync(path.join(dir, ...(p.split ?? '').split('/'), `${p.name}.zip`)));
  return { victim: victim.name, dir, manifest, missing };
}

async function recordVictim(vp: VictimPlan, signal: AbortSignal): Promise<void> {
  const { recordOne } = await import('../src/lab/record.js');
  const { preflight } = await import('../src/lab/dataset.js');
  const { programVersions, versionOf } = await import('../src/lab/programs.js');
  const { victimNamed, attackNamed } = await import('../src/lab/index.js');
  const { manifest: m, dir } = vp;
  const total = m.plan.length;
  // Root and every program of the victim and its attacks, checked before anything is written.
  if (vp.missing.length) preflight(m.victim as Parameters<typeof preflight>[0], vp.missing.map((p) => p.attack));
  mkdirSync(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
  if (vp.missing.length === 0) {
    log(`${vp.victim}: all ${total} recordings cached in ${dir}`);
    return;
  }
  log(`${vp.victim}: ${total - vp.missing.length}/${total} recordings cached, recording ${vp.missing.length} (${m.seconds} s each) into ${dir}`);
  const victim = victimNamed(m.victim);
  const straceVersion = versionOf('strace', ['-V'], /version\s+(\S+)/);
  const progs = programVersions(['node', 'strace', ...victim.programs, ...new Set(m.attacks.flatMap((a) => attackNamed(a).programs))]);
  const t0 = Date.now();
  let done = 0;
  for (const p of vp.missing) {
    const sub = path.join(dir, ...(p.split ?? '').split('/'));
    mkdirSync(sub, { recursive: true });
    const file = path.join(sub, `${p.name}.zip`);
    const index = m.plan.indexOf(p) + 1;
    const eta = done > 0 ? `, ~${fmtDuration((((Date.now() - t0) / 1000) * (vp.missing.length - done)) / done)} left` : '';
    log(`[${vp.victim} ${index}/${total}] ${p.split}/${p.name}.zip: ${p.attack ?? 'normal'}, seed ${p.seed}${eta}`);
    // One retry: on a loaded machine a victim occasionally misses its readiness deadline.
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await recordOne({
          victim: m.victim as Parameters<typeof recordOne>[0]['victim'],
          attack: p.attack,
          seconds: m.seconds,
          seed: p.seed,
          outFile: file,
          warmupSeconds: m.warmupSeconds ?? undefined,
          attackCapSeconds: m.attackCapSeconds ?? undefined,
          straceVersion,
          programs: progs,
          signal,
        });
        const at = res.exploitStart !== null ? `, exploit at +${(res.exploitStart - res.warmupEnd).toFixed(2)} s${res.outcome ? ` (${res.outcome.detail}; ${res.requestsInWindow ?? '?'} attack requests answered)` : ''}` : '';
        log(`  ${res.events.toLocaleString('en-US')} events${at}`);
        // An attack whose traffic never reached the victim in the window (its tool still
        // starting when the window closed) is no attack recording: record it once more; if it
        // fails again it stays, and the table counts it as not having run.
        if (res.attackRan === false && attempt < 2) {
          log('  the attack did not reach the victim within the recording; recording it again');
          continue;
        }
        break;
      } catch (e) {
        if (signal.aborted || attempt >= 2) throw e;
        log(`  failed (${(e as Error).message}); retrying once`);
      }
    }
    done++;
  }
  log(`${vp.victim}: recorded ${done} in ${fmtDuration((Date.now() - t0) / 1000)}`);
}

/**
 * Per attack: how many of its recordings reached the attack's goal (the lab stores the outcome
 * in NAME.json). An attack that ran out of time is still in the recording (its traffic and
 * whatever it triggered), but the table should say how many got through.
 */
function attackOutcomes(dir: string): Map<string, { recorded: number; succeeded: number; ran: number; unknown: number }> {
  const out = new Map<string, { recorded: number; succeeded: number; ran: number; unknown: number }>();
  const sub = path.join(dir, 'test', 'normal_and_attack');
  if (!existsSync(sub)) return out;
  for (const f of readdirSync(sub).filter((n) => n.endsWith('.zip')).sort()) {
    const entries = unzipSync(readFileSync(path.join(sub, f)), { filter: (e) => e.name.endsWith('.json') });
    const json = Object.values(entries)[0];
    if (!json) continue;
    const a = (JSON.parse(strFromU8(json)) as { chids_lab?: { attack?: { name?: string; succeeded?: boolean; ran?: boolean | null } | null } }).chids_lab?.attack;
    if (!a?.name) continue;
    const o = out.get(a.name) ?? { recorded: 0, succeeded: 0, ran: 0, unknown: 0 };
    o.recorded++;
    if (a.succeeded) o.succeeded++;
    // Recordings made before the lab counted the attack's requests say nothing about it.
    if (a.ran === true) o.ran++;
    else if (a.ran === undefined || a.ran === null) o.unknown++;
    out.set(a.name, o);
  }
  return out;
}

/** `chids compare --json` in a child process: exactly the CLI's code path. Progress goes to our stderr. */
function runCompareCli(dataset: string, models: string[], seed: number, epochs: number | undefined, signal: AbortSignal): Promise<CompareJson> {
  const argv = ['--import', 'tsx', path.join(root, 'src', 'cli', 'main.ts'), 'compare', '--dataset', dataset, '--models', models.join(','), '--seed', String(seed), '--json'];
  if (epochs !== undefined) argv.push('--epochs', String(epochs));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], signal });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new BenchError(`chids compare --dataset ${dataset} exited with ${code}`));
      try {
        resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as CompareJson);
      } catch (e) {
        reject(new BenchError(`chids compare --dataset ${dataset}: output is not JSON (${(e as Error).message})`));
      }
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cache: { type: 'string' },
      victims: { type: 'string', default: 'web,redis' },
      seconds: { type: 'string' },
      'attack-cap': { type: 'string' },
      seed: { type: 'string' },
      warmup: { type: 'string' },
      training: { type: 'string' },
      validation: { type: 'string' },
      'test-normal': { type: 'string' },
      attacks: { type: 'string' },
      models: { type: 'string' },
      'model-seed': { type: 'string' },
      epochs: { type: 'string' },
      'record-only': { type: 'boolean', default: false },
      'compare-only': { type: 'boolean', default: false },
      dataset: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*\n?/, '').replace(/^ \* ?/gm, '') + '\n');
    return;
  }
  const cache = path.resolve(values.cache ?? defaultCache());
  const rel = path.relative(root, cache);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) throw new BenchError(`--cache ${cache} is inside the repository; the recordings must stay out of git (default: ~/.cache/chids/bench-detect)`);
  const seconds = values.seconds === undefined ? null : int('seconds', values.seconds, 10, 5);
  const seed = int('seed', values.seed, 2026);
  const warmup = values.warmup === undefined ? null : int('warmup', values.warmup, 0);
  // 0 = no extension (the attack is stopped at the window's end).
  const attackCap = values['attack-cap'] === undefined ? undefined : int('attack-cap', values['attack-cap'], 0);
  const capFor = (v: string): number | null => (attackCap === undefined ? defaultAttackCap(v) : attackCap === 0 ? null : attackCap);
  const counts = {
    training: int('training', values.training, 20, 1),
    validation: int('validation', values.validation, 3),
    testNormal: int('test-normal', values['test-normal'], 50, 1),
    attack: values.attacks === undefined ? null : int('attacks', values.attacks, 0, 1),
  };
  const { MODEL_NAMES, isModelName } = await import('../src/model/registry.js');
  const models = values.models ? values.models.split(',').map((s) => s.trim()).filter(Boolean) : [...MODEL_NAMES];
  const bad = models.filter((m) => !isModelName(m));
  if (bad.length) throw new BenchError(`unknown model ${bad.join(', ')} in --models (choose from: ${MODEL_NAMES.join(', ')})`);
  const modelSeed = int('model-seed', values['model-seed'], 1);
  const epochs = values.epochs === undefined ? undefined : int('epochs', values.epochs, 0, 1);
  const victims = values.victims.split(',').map((s) => s.trim()).filter(Boolean);

  const ac = new AbortController();
  onStopSignals((sig) => {
    log(`bench:detect: ${sig}: stopping (recordings written so far stay in the cache; rerun to resume)…`);
    ac.abort();
  });

  const plans: VictimPlan[] = [];
  const datasets = values.dataset ?? [];
  if (datasets.length === 0) for (const v of victims) plans.push(await planVictim(cache, { victim: v, seed, seconds: seconds ?? defaultSeconds(v), warmupSeconds: warmup, attackCapSeconds: capFor(v) }, counts));
  if (datasets.length > 0) {
    for (const d of datasets) if (!existsSync(d)) throw new BenchError(`--dataset ${d}: no such directory`);
  } else if (!values['compare-only']) {
    // Every victim's needs are checked before the first recording, not after the first victim's half hour.
    const { preflight } = await import('../src/lab/dataset.js');
    for (const vp of plans) if (vp.missing.length) preflight(vp.victim as Parameters<typeof preflight>[0], vp.missing.map((p) => p.attack));
    for (const vp of plans) await recordVictim(vp, ac.signal);
  } else {
    for (const vp of plans) {
      if (vp.missing.length) throw new BenchError(`--compare-only: ${vp.dir} lacks ${vp.missing.length} of its ${vp.manifest.plan.length} recordings (run without --compare-only, as root, to record them)`);
    }
  }
  if (values['record-only']) return;

  const resultsDir = path.join(cache, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const machine = machineLine();
  const sections: string[] = [];
  const json: Record<string, unknown> = { date: new Date().toISOString(), machine, models, model_seed: modelSeed, epochs: epochs ?? null, victims: {} };
  const targets: { name: string; dir: string; about: string; settings: unknown }[] = datasets.length
    ? datasets.map((d) => ({ name: path.basename(path.resolve(d)), dir: path.resolve(d), about: '', settings: null }))
    : plans.map((vp) => ({
        name: vp.victim,
        dir: vp.dir,
        about: ` (${vp.manifest.attacks.join(', ')}), ${vp.manifest.seconds} s each${vp.manifest.attackCapSeconds ? ` (an attack still running then: until it is over, at most ${vp.manifest.attackCapSeconds} s from its start, + 2 s)` : ''}`,
        settings: { seed: vp.manifest.seed, seconds: vp.manifest.seconds, attack_cap_seconds: vp.manifest.attackCapSeconds ?? null, counts: vp.manifest.counts, attacks: vp.manifest.attacks },
      }));
  for (const vp of targets) {
    log(`${vp.name}: chids compare --dataset ${vp.dir} --models ${models.join(',')} --seed ${modelSeed} --json`);
    const t0 = Date.now();
    const cmp = await runCompareCli(vp.dir, models, modelSeed, epochs, ac.signal);
    log(`${vp.name}: compared ${models.length} detectors in ${fmtDuration((Date.now() - t0) / 1000)}`);
    await writeFileAtomic(path.join(resultsDir, `compare-${vp.name}.json`), JSON.stringify(cmp, null, 2) + '\n');
    const t = benchTable(cmp);
    const outcomes = attackOutcomes(vp.dir);
    (json.victims as Record<string, unknown>)[vp.name] = { dataset: vp.dir, settings: vp.settings, recordings: cmp.recordings, attack_outcomes: Object.fromEntries(outcomes), rows: t.rows };
    const c = cmp.recordings;
    const known = [...outcomes].filter(([, o]) => o.unknown < o.recorded);
    const ran = known.length ? ` Attacks whose traffic reached the victim within the recording: ${known.map(([a, o]) => `${a} ${o.ran}/${o.recorded - o.unknown}`).join(', ')}.` : '';
    const reached = outcomes.size ? `${ran} Attacks that reached their goal within the recording: ${[...outcomes].map(([a, o]) => `${a} ${o.succeeded}/${o.recorded}`).join(', ')}.` : '';
    sections.push(
      `### ${vp.name}\n\n${c.training} training, ${c.normal} normal test and ${c.attack} attack recordings${vp.about}; FAR resolution 1/${c.normal}.${reached}\n\n${t.markdown}`,
    );
  }
  const md = `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}; model seed ${modelSeed}${epochs ? `, ${epochs} epochs` : ''}.\n\n${sections.join('\n\n')}\n`;
  await writeFileAtomic(path.join(resultsDir, 'bench-detect.md'), md);
  await writeFileAtomic(path.join(resultsDir, 'bench-detect.json'), JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(md);
  log(`wrote ${path.join(resultsDir, 'bench-detect.md')} and bench-detect.json`);
}

function machineLine(): string {
  const cpus = os.cpus();
  return `${os.availableParallelism()} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node.js ${process.version}`;
}

main().catch((e: unknown) => {
  // Our errors and the lab's (ChidsError: not root, a missing package, …) are one-line
  // messages for the user; anything else is a bug and keeps its stack.
  if (e instanceof BenchError || e instanceof ChidsError) {
    log(`bench:detect: ${e.message}`);
    process.exit(e instanceof ChidsError ? e.exitCode : 1);
  }
  if (e instanceof Error && String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')) {
    log(`bench:detect: ${e.message} (--help lists the options)`);
    process.exit(2);
  }
  if (e instanceof Error && e.name === 'AbortError') {
    log('bench:detect: interrupted');
    process.exit(130);
  }
  console.error(e);
  process.exit(1);
});
