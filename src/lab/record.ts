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
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { recordingMeta } from '../trace/lidds/metadata.js';
import { createLabCgroup, DEFAULT_LAB_LIMITS, type LabCgroup } from './cgroup.js';
import { attackNamed, type AttackOutcome } from './attacks.js';
import { writeRecordingZip } from '../trace/lidds/recording-zip.js';
import { rng } from './rng.js';
import { straceArgs } from '../trace/strace/options.js';
import { sleep as delay } from '../util/sleep.js';
import { Sandbox } from './sandbox.js';
import { victimNamed, type Victim, type VictimName } from './victims.js';
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

/** Environment variable: parent directory of the lab's work directories (default /var/tmp). */
export const LAB_TMP_ENV = 'CHIDS_LAB_TMPDIR';
/** Environment variable: keep the work directory (strace output, victim logs) for debugging. */
export const LAB_KEEP_ENV = 'CHIDS_LAB_KEEP';

/**
 * Where work directories go. Not under /tmp: the sandbox mounts its own /tmp, which would
 * hide them from strace.
 */
export function labTmpBase(): string {
  const base = path.resolve(process.env[LAB_TMP_ENV] || '/var/tmp');
  if (base === '/tmp' || base.startsWith('/tmp/')) {
    throw new ChidsError(`${LAB_TMP_ENV}=${base}: must not be under /tmp (the sandbox mounts its own /tmp over it)`);
  }
  return base;
}

const READY_TIMEOUT_MS = 40_000;
/**
 * Seconds the window continues after an attack that outlived the scheduled window: what the
 * victim does right after the attack (a session used, a dumped table rendered) is part of it.
 */
export const ATTACK_TAIL_SECONDS = 2;

/**
 * Did the attack's traffic reach the victim inside the window? On a loaded machine a tool can
 * spend the whole window starting up (sqlmap, hydra), and such a recording holds no attack at
 * all: a detector cannot be blamed for missing it. Call after the victim stopped (its logs are
 * complete), with its `srv` still there.
 */
export function attackEvidence(
  victim: Victim,
  outcome: AttackOutcome | null,
  srv: string,
  exploitStart: number | null,
  endSec: number,
  log: (msg: string) => void,
): { requestsInWindow: number | null; ran: boolean | null } {
  if (outcome === null) return { requestsInWindow: null, ran: null };
  const requestsInWindow = exploitStart === null ? null : (outcome.answered ?? victim.attackerRequests?.(srv, exploitStart, endSec) ?? null);
  const ran = requestsInWindow === null ? outcome.succeeded : requestsInWindow > 0;
  log(`attack requests answered in the window: ${requestsInWindow ?? 'unknown'}${ran ? '' : ' (the attack did not reach the victim)'}`);
  return { requestsInWindow, ran };
}

export async function recordOne(opts: RecordOptions): Promise<RecordResult> {
  const victim = victimNamed(opts.victim);
  const attack = opts.attack === null ? null : attackNamed(opts.attack);
  if (attack && !attack.victims.includes(victim.name)) {
    throw new ChidsError(`attack '${attack.name}' does not apply to victim '${victim.name}' (it targets: ${attack.victims.join(', ')})`);
  }
  const log = opts.log ?? (() => undefined);
  const name = path.basename(opts.outFile, '.zip');
  const warmup = opts.warmupSeconds ?? victim.warmupSeconds;
  const r = rng(opts.seed ^ 0x9e3779b9);
  const base = labTmpBase();
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(path.join(base, 'chids-lab-'));
  const srv = path.join(work, 'srv');
  const attackerDir = path.join(work, 'attacker');
  const traceFile = path.join(work, 'strace.txt');
  let sandbox: Sandbox | null = null;
  let cgroup: LabCgroup | null = null;
  const aborted = () => opts.signal?.aborted === true;
  const checkAbort = () => {
    if (aborted()) throw new ChidsError('lab: interrupted; the sandbox was stopped and nothing was written', 130);
  };
  try {
    mkdirSync(srv);
    mkdirSync(attackerDir);
    victim.stage(srv, opts.seed);
    await opts.onPhase?.('staged');
    checkAbort();

    const made = createLabCgroup(`chids-lab-${process.pid}-${path.basename(work)}`);
    cgroup = made.cgroup;
    if (made.problem) log(`no memory/process limits for the victim: cannot create a cgroup (${made.problem})`);
    sandbox = new Sandbox(
      { srvDir: srv, traceFile, logFile: path.join(work, 'sandbox.log'), entry: '/srv/run.sh', env: { NODE: process.execPath }, cgroupProcs: cgroup?.procs },
      opts.straceVersion,
    );
    await sandbox.start();
    await opts.onPhase?.('started');

    // Normal traffic, which also tells when the victim is ready.
    // The normal users keep going for as long as the window may last (an attack's cap included).
    const longest = opts.seconds + (opts.attackCapSeconds ?? 0) + ATTACK_TAIL_SECONDS;
    const c = victim.client(opts.seed, Date.now() + READY_TIMEOUT_MS + (warmup + longest + 10) * 1000);
    const client = sandbox.spawnInNet(process.execPath, [c.script, ...c.args, '--ready-timeout', String(READY_TIMEOUT_MS)], {
      env: { PATH: '/usr/bin:/bin', HOME: attackerDir },
    });
    let clientErr = '';
    client.stderr?.on('data', (d: Buffer) => {
      if (clientErr.length < 4096) clientErr += d.toString('utf8');
    });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS + 2000);
      const done = (v: boolean) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = () => done(false);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      client.stdout?.on('data', (d: Buffer) => {
        if (d.toString('utf8').includes('READY')) done(true);
      });
      client.once('exit', () => done(false));
    });
    checkAbort();
    if (!ready) {
      const why = clientErr.trim().split('\n').pop() || sandbox.logTail() || 'no answer';
      throw new ChidsError(`lab: the ${victim.name} victim did not become ready within ${READY_TIMEOUT_MS / 1000} s (${why})`);
    }
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
    let outcome: AttackOutcome | null = null;
    let attackRun: Promise<void> | null = null;
    let attackDone = false;
    if (attack) {
      // A seeded time in the first half of the window, leaving the attack time to run.
      const offset = Math.max(1, Math.min(opts.seconds * r.range(0.25, 0.5), opts.seconds - 4));
      await delay(warmupEnd + offset * 1000 - Date.now(), opts.signal);
      checkAbort();
      exploitStart = Date.now() / 1000;
      log(`attack ${attack.name} at +${(exploitStart - warmupEnd / 1000).toFixed(2)} s`);
      await opts.onPhase?.('attack');
      // Without a cap the attack is stopped just before the window's end, as it always was.
      const deadlineMs = opts.attackCapSeconds === undefined ? endMs - 200 : Math.max(endMs - 200, exploitStart * 1000 + opts.attackCapSeconds * 1000);
      attackRun = attack
        .run({ sandbox, dir: attackerDir, deadlineMs, log })
        .then((o) => {
          outcome = o;
        })
        .catch((err: unknown) => {
          outcome = { succeeded: false, detail: `attack failed to run: ${(err as Error).message}`, commands: [] };
        })
        .finally(() => {
          attackDone = true;
        });
    }
    await delay(endMs - Date.now(), opts.signal);
    checkAbort();
    if (attackRun && opts.attackCapSeconds !== undefined && !attackDone) {
      // The attack outlived the scheduled window: the window follows it to its end (its own
      // deadline is the cap), then a short tail.
      log(`attack still running at the window's end; recording until it is over (cap ${opts.attackCapSeconds} s)`);
      await Promise.race([attackRun, delay(exploitStart! * 1000 + opts.attackCapSeconds * 1000 + 1500 - Date.now(), opts.signal)]);
      checkAbort();
      const tailEnd = Date.now() + ATTACK_TAIL_SECONDS * 1000;
      await delay(tailEnd - Date.now(), opts.signal);
      checkAbort();
      endMs = tailEnd;
    }
    if (attackRun) await Promise.race([attackRun, delay(1500)]);
    if (!sandbox.running) throw new ChidsError(`lab: the ${victim.name} victim stopped during the recording (${sandbox.logTail()})`);
    await sandbox.stop();
    await opts.onPhase?.('stopped');
    checkAbort();
    if (attack && outcome === null) outcome = { succeeded: false, detail: 'still running at the end of the recording (stopped)', commands: [] };
    const finalOutcome = outcome as AttackOutcome | null;
    if (finalOutcome) log(`attack outcome: ${finalOutcome.detail}`);
    const { requestsInWindow, ran } = attackEvidence(victim, finalOutcome, srv, exploitStart, endMs / 1000, log);

    const nsOf = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;
    const stats = await writeRecordingZip({
      traceFile,
      outFile: opts.outFile,
      converter: { rootUid: 0, rootProc: 'sh', fromNs: nsOf(warmupEnd), toNs: nsOf(endMs) },
      mtime: new Date(warmupEnd),
      metadata: (st) =>
        recordingMeta({
          containers: [
            { ip: '127.0.0.1', name: `${victim.name}-victim`, role: 'victim' },
            { ip: '127.0.0.1', name: `${victim.name}-client`, role: 'normal' },
            ...(attack ? [{ ip: '127.0.0.1', name: 'attacker', role: 'attacker' }] : []),
          ],
          image: victim.image,
          containerReady,
          warmupEnd: warmupEnd / 1000,
          recordingSeconds: (endMs - warmupEnd) / 1000,
          exploit: attack && exploitStart !== null ? { name: attack.name, at: exploitStart } : null,
          source: 'CONTROL_SCRIPT',
          extra: {
        chids_lab: {
          format: 1,
          victim: victim.name,
          victim_description: victim.description,
          attack: attack ? { name: attack.name, cwe: attack.cwe, title: attack.title, ...finalOutcome, requests_in_window: requestsInWindow, ran } : null,
          seed: opts.seed,
          warmup_seconds: warmup,
          ...(opts.attackCapSeconds !== undefined ? { attack_cap_seconds: opts.attackCapSeconds, scheduled_seconds: opts.seconds } : {}),
          limits: cgroup ? { memory_bytes: DEFAULT_LAB_LIMITS.memoryBytes, pids: DEFAULT_LAB_LIMITS.pids } : null,
          capture: { tool: 'strace', version: opts.straceVersion, args: straceArgs('FILE', opts.straceVersion).join(' ') },
          events: st.events,
          distinct_syscalls: st.syscalls.size,
          converter: { strace_lines: st.lines, skipped: st.skipped, signals: st.signals, clamped: st.clamped, orphan_resumes: st.orphanResumes },
          programs: opts.programs ?? {},
        },
          },
        }),
    });
    if (stats.events === 0) {
      rmSync(opts.outFile, { force: true });
      throw new ChidsError(`lab: strace recorded no events of the ${victim.name} victim in the recording window (${sandbox.logTail()})`);
    }
    return { file: opts.outFile, name, victim: victim.name, attack: attack?.name ?? null, events: stats.events, warmupEnd: warmupEnd / 1000, exploitStart, outcome: finalOutcome, requestsInWindow, attackRan: ran, stats };
  } finally {
    if (sandbox) {
      if (sandbox.running) await sandbox.stop(3000).catch(() => sandbox?.kill());
      sandbox.kill();
    }
    if (cgroup) {
      // The group can only go once the kernel has reaped its last process.
      for (let i = 0; i < 50 && cgroup.dirs.some((d) => existsSync(d)); i++) {
        cgroup.remove();
        if (cgroup.dirs.some((d) => existsSync(d))) await delay(20);
      }
    }
    if (!process.env[LAB_KEEP_ENV]) rmSync(work, { recursive: true, force: true });
    else log(`kept the work directory ${work}`);
  }
}
