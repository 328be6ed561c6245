/**
 * One lab recording, start to finish:
 *
 *   stage /srv → start the victim under strace in its namespaces → start the normal clients →
 *   wait until the victim answers ("container ready") → warm-up → recording window of
 *   `seconds` (LID-DS: `warmup_end` is its start), with the attack launched at a seeded random
 *   time inside it → stop everything → convert strace's output (only the recording window)
 *   into NAME.zip with NAME.sc and NAME.json.
 *
 * Every path out (success, error, abort by SIGINT/SIGTERM) stops the sandbox and removes the
 * work directory; the output appears only when it is complete (temp file + rename).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { attackNamed, type AttackOutcome } from './attacks.js';
import type { LabCgroup } from './cgroup.js';
import { rng } from './rng.js';
import { sleep as delay } from '../util/sleep.js';
import type { Sandbox } from './sandbox.js';
import { attackEvidence, attackOffset, type AttackRun, checkAttackFits, clientReady, makeWorkDir, removeVictim, startAttack, stopSandbox, victimSandbox, writeLabRecording } from './steps.js';
import { victimNamed, type VictimName } from './victims.js';
import type { StraceConverterStats } from '../trace/strace/to-lidds.js';

export interface RecordOptions {
  victim: VictimName;
  /** Attack name, or null for a normal recording. */
  attack: string | null;
  /** Length of the recording window (after the warm-up), seconds. */
  seconds: number;
  seed: number;
  /** Destination `…/NAME.zip` (its directory must exist). */
  outFile: string;
  /** Warm-up seconds (default: the victim's). */
  warmupSeconds?: number;
  /**
   * Longest time the attack may run, from its start, before it is stopped (default: until the
   * window's scheduled end). When the attack is still running at the window's end, the window
   * lasts until the attack is over (goal reached, tool done) or this cap, plus
   * ATTACK_TAIL_SECONDS of what follows; a recording is never shorter than `seconds`.
   */
  attackCapSeconds?: number;
  /** strace's version (`strace -V`), to pick its timestamp options. */
  straceVersion: string | null;
  /** Versions of the programs used, stored in the JSON. */
  programs?: Record<string, string>;
  signal?: AbortSignal;
  log?: (msg: string) => void;
  /** For tests: called at each phase; a throw aborts the recording like any error. */
  onPhase?: (phase: 'staged' | 'started' | 'ready' | 'recording' | 'attack' | 'stopped') => void | Promise<void>;
}

export interface RecordResult {
  file: string;
  name: string;
  victim: VictimName;
  attack: string | null;
  events: number;
  /** Epoch seconds. */
  warmupEnd: number;
  exploitStart: number | null;
  outcome: AttackOutcome | null;
  /** Attack requests the victim answered inside the window (null: no attack, or not countable). */
  requestsInWindow: number | null;
  /** The attack reached the victim inside the window (null without an attack). */
  attackRan: boolean | null;
  stats: StraceConverterStats;
}

export { LAB_KEEP_ENV, LAB_TMP_ENV, attackEvidence, labTmpBase } from './steps.js';

const READY_TIMEOUT_MS = 40_000;
/**
 * Seconds the window continues after an attack that outlived the scheduled window: what the
 * victim does right after the attack (a session used, a dumped table rendered) is part of it.
 */
export const ATTACK_TAIL_SECONDS = 2;

export async function recordOne(opts: RecordOptions): Promise<RecordResult> {
  const victim = victimNamed(opts.victim);
  const attack = opts.attack === null ? null : attackNamed(opts.attack);
  if (attack) checkAttackFits(attack, victim);
  const log = opts.log ?? (() => undefined);
  const name = path.basename(opts.outFile, '.zip');
  const warmup = opts.warmupSeconds ?? victim.warmupSeconds;
  const r = rng(opts.seed ^ 0x9e3779b9);
  const w = makeWorkDir();
  let sandbox: Sandbox | null = null;
  let cgroup: LabCgroup | null = null;
  const aborted = () => opts.signal?.aborted === true;
  const checkAbort = () => {
    if (aborted()) throw new ChidsError('lab: interrupted; the sandbox was stopped and nothing was written', 130);
  };
  try {
    victim.stage(w.srv, opts.seed);
    await opts.onPhase?.('staged');
    checkAbort();

    const made = victimSandbox(w, opts.straceVersion);
    cgroup = made.cgroup;
    if (made.problem) log(`no memory/process limits for the victim: cannot create a cgroup (${made.problem})`);
    sandbox = made.sandbox;
    await sandbox.start();
    await opts.onPhase?.('started');

    // Normal traffic, which also tells when the victim is ready.
    // The normal users keep going for as long as the window may last (an attack's cap included).
    const longest = opts.seconds + (opts.attackCapSeconds ?? 0) + ATTACK_TAIL_SECONDS;
    const c = victim.client(opts.seed, Date.now() + READY_TIMEOUT_MS + (warmup + longest + 10) * 1000);
    const client = sandbox.spawnInNet(process.execPath, [c.script, ...c.args, '--ready-timeout', String(READY_TIMEOUT_MS)], {
      env: { PATH: '/usr/bin:/bin', HOME: w.attackerDir },
    });
    const notReady = await clientReady(client, sandbox, READY_TIMEOUT_MS, opts.signal);
    checkAbort();
    if (notReady !== null) throw new ChidsError(`lab: the ${victim.name} victim did not become ready within ${READY_TIMEOUT_MS / 1000} s (${notReady})`);
    const containerReady = Date.now() / 1000;
    log(`victim ready; warm-up ${warmup} s`);
    await opts.onPhase?.('ready');
    await delay(warmup * 1000, opts.signal);
    checkAbort();

    const warmupEnd = Date.now();
    let endMs = warmupEnd + opts.seconds * 1000;
    log(`recording ${opts.seconds} s${attack ? `, attack ${attack.name}` : ''}`);
    await opts.onPhase?.('recording');
    let exploitStart: number | null = null;
    let run: AttackRun | null = null;
    if (attack) {
      await delay(warmupEnd + attackOffset(r, opts.seconds) * 1000 - Date.now(), opts.signal);
      checkAbort();
      exploitStart = Date.now() / 1000;
      log(`attack ${attack.name} at +${(exploitStart - warmupEnd / 1000).toFixed(2)} s`);
      await opts.onPhase?.('attack');
      // Without a cap the attack is stopped just before the window's end, as it always was.
      const deadlineMs = opts.attackCapSeconds === undefined ? endMs - 200 : Math.max(endMs - 200, exploitStart * 1000 + opts.attackCapSeconds * 1000);
      run = startAttack(attack, { sandbox, dir: w.attackerDir, deadlineMs, log });
    }
    await delay(endMs - Date.now(), opts.signal);
    checkAbort();
    if (run && opts.attackCapSeconds !== undefined && !run.done()) {
      // The attack outlived the scheduled window: the window follows it to its end (its own
      // deadline is the cap), then a short tail.
      log(`attack still running at the window's end; recording until it is over (cap ${opts.attackCapSeconds} s)`);
      await Promise.race([run.finished, delay(exploitStart! * 1000 + opts.attackCapSeconds * 1000 + 1500 - Date.now(), opts.signal)]);
      checkAbort();
      const tailEnd = Date.now() + ATTACK_TAIL_SECONDS * 1000;
      await delay(tailEnd - Date.now(), opts.signal);
      checkAbort();
      endMs = tailEnd;
    }
    await run?.settle();
    if (!sandbox.running) throw new ChidsError(`lab: the ${victim.name} victim stopped during the recording (${sandbox.logTail()})`);
    await sandbox.stop();
    await opts.onPhase?.('stopped');
    checkAbort();
    const outcome = run?.outcome(log) ?? null;
    const { requestsInWindow, ran } = attackEvidence(victim, outcome, w.srv, exploitStart, endMs / 1000, log);

    const stats = await writeLabRecording({
      traceFile: w.traceFile,
      outFile: opts.outFile,
      victim,
      attack: attack && outcome ? { attack, outcome, exploitStart, requestsInWindow, ran } : null,
      suffix: '',
      containerReady,
      warmupEnd,
      endMs,
      recordingSeconds: (endMs - warmupEnd) / 1000,
      warmupSeconds: warmup,
      cap: opts.attackCapSeconds !== undefined ? { attack_cap_seconds: opts.attackCapSeconds, scheduled_seconds: opts.seconds } : undefined,
      seed: opts.seed,
      cgroup,
      straceVersion: opts.straceVersion,
      programs: opts.programs,
    });
    if (stats.events === 0) {
      rmSync(opts.outFile, { force: true });
      throw new ChidsError(`lab: strace recorded no events of the ${victim.name} victim in the recording window (${sandbox.logTail()})`);
    }
    return { file: opts.outFile, name, victim: victim.name, attack: attack?.name ?? null, events: stats.events, warmupEnd: warmupEnd / 1000, exploitStart, outcome, requestsInWindow, attackRan: ran, stats };
  } finally {
    await stopSandbox(sandbox);
    await removeVictim(cgroup, w.work, log);
  }
}
