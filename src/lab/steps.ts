/**
 * The steps a lab recording is made of, shared by a single recording (record.ts) and a group of
 * replicas (replicas.ts): a work directory, the victim's sandbox in its cgroup, a client that
 * says when the victim is ready, the attack run against the window's end, the LID-DS recording
 * cut to the window with its lab metadata, and the clean-up every path out goes through.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { recordingMeta } from '../trace/lidds/metadata.js';
import { writeRecordingZip } from '../trace/lidds/recording-zip.js';
import { straceArgs } from '../trace/strace/options.js';
import type { StraceConverterStats } from '../trace/strace/to-lidds.js';
import { ChidsError } from '../util/errors.js';
import { sleep as delay } from '../util/sleep.js';
import type { Attack, AttackOutcome } from './attacks.js';
import { createLabCgroup, DEFAULT_LAB_LIMITS, type LabCgroup } from './cgroup.js';
import type { Rng } from './rng.js';
import { Sandbox } from './sandbox.js';
import type { Victim } from './victims.js';

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

/** Refuses an attack that does not target the victim. */
export function checkAttackFits(attack: Pick<Attack, 'name' | 'victims'>, victim: Pick<Victim, 'name'>): void {
  if (!attack.victims.includes(victim.name)) {
    throw new ChidsError(`attack '${attack.name}' does not apply to victim '${victim.name}' (it targets: ${attack.victims.join(', ')})`);
  }
}

/** When in the window the attack starts (seconds after the warm-up): a seeded time in its first half, leaving the attack time to run. */
export function attackOffset(r: Rng, seconds: number): number {
  return Math.max(1, Math.min(seconds * r.range(0.25, 0.5), seconds - 4));
}

/** One victim's work directory: its /srv, the attacker's directory, strace's output. */
export interface WorkDir {
  work: string;
  srv: string;
  attackerDir: string;
  traceFile: string;
}

/** A fresh work directory under the lab's base (not /tmp: the sandbox mounts its own). */
export function makeWorkDir(): WorkDir {
  const base = labTmpBase();
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(path.join(base, 'chids-lab-'));
  const w = { work, srv: path.join(work, 'srv'), attackerDir: path.join(work, 'attacker'), traceFile: path.join(work, 'strace.txt') };
  mkdirSync(w.srv);
  mkdirSync(w.attackerDir);
  return w;
}

/**
 * The victim's sandbox (not started yet: the caller holds it before starting, so that its
 * clean-up covers a failed start), in a cgroup of its own when one can be made (`problem` says
 * why not).
 */
export function victimSandbox(w: WorkDir, straceVersion: string | null): { sandbox: Sandbox; cgroup: LabCgroup | null; problem: string | null } {
  const made = createLabCgroup(`chids-lab-${process.pid}-${path.basename(w.work)}`);
  const sandbox = new Sandbox(
    {
      srvDir: w.srv,
      traceFile: w.traceFile,
      logFile: path.join(w.work, 'sandbox.log'),
      entry: '/srv/run.sh',
      env: { NODE: process.execPath },
      cgroupProcs: made.cgroup?.procs,
    },
    straceVersion,
  );
  return { sandbox, cgroup: made.cgroup, problem: made.problem ?? null };
}

/**
 * Waits until the victim's client says READY (the victim answers): null then, else why not (the
 * client's last error line, the sandbox's log, or 'no answer'), after `timeoutMs`, when the
 * client exits or on `signal`.
 */
export async function clientReady(client: ChildProcess, sandbox: Sandbox, timeoutMs: number, signal?: AbortSignal): Promise<string | null> {
  let clientErr = '';
  client.stderr?.on('data', (d: Buffer) => {
    if (clientErr.length < 4096) clientErr += d.toString('utf8');
  });
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => done(false), timeoutMs + 2000);
    const onAbort = () => done(false);
    function done(v: boolean) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    client.stdout?.on('data', (d: Buffer) => {
      if (d.toString('utf8').includes('READY')) done(true);
    });
    client.once('exit', () => done(false));
  });
  return ok ? null : clientErr.trim().split('\n').pop() || sandbox.logTail() || 'no answer';
}

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

/** An attack running in the background until the window's end. */
export interface AttackRun {
  /** Settles when the attack is over (its outcome known). */
  readonly finished: Promise<void>;
  done(): boolean;
  /** The window is over: gives the attack a moment more to report. */
  settle(): Promise<void>;
  /** Its outcome once the victim stopped (an attack still running counts as stopped), logged. */
  outcome(log: (msg: string) => void): AttackOutcome;
}

export function startAttack(attack: Attack, ctx: Parameters<Attack['run']>[0]): AttackRun {
  let outcome: AttackOutcome | null = null;
  let done = false;
  const run = attack
    .run(ctx)
    .then((o) => {
      outcome = o;
    })
    .catch((err: unknown) => {
      outcome = { succeeded: false, detail: `attack failed to run: ${(err as Error).message}`, commands: [] };
    })
    .finally(() => {
      done = true;
    });
  return {
    finished: run,
    done: () => done,
    settle: async () => {
      await Promise.race([run, delay(1500)]);
    },
    outcome: (log) => {
      const o: AttackOutcome = outcome ?? { succeeded: false, detail: 'still running at the end of the recording (stopped)', commands: [] };
      log(`attack outcome: ${o.detail}`);
      return o;
    },
  };
}

export interface LabRecordingOptions {
  traceFile: string;
  outFile: string;
  victim: Victim;
  /** The attack, when this recording holds it. */
  attack: { attack: Attack; outcome: AttackOutcome; exploitStart: number | null; requestsInWindow: number | null; ran: boolean | null } | null;
  /** The container names' suffix (replicas: `-K`). */
  suffix: string;
  containerReady: number;
  /** The recording window, epoch ms. */
  warmupEnd: number;
  endMs: number;
  /** LID-DS `recording_time`. */
  recordingSeconds: number;
  warmupSeconds: number;
  /** `--attack-cap`: the cap and the window first scheduled. */
  cap?: { attack_cap_seconds: number; scheduled_seconds: number };
  seed: number;
  cgroup: LabCgroup | null;
  straceVersion: string | null;
  programs?: Record<string, string>;
  /** A replica's place in its group. */
  replica?: { group: string; index: number; of: number; attacked: number | null };
}

/** strace's output, cut to the recording window, as a LID-DS recording with the lab's metadata. */
export function writeLabRecording(o: LabRecordingOptions): Promise<StraceConverterStats> {
  const nsOf = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;
  const a = o.attack;
  return writeRecordingZip({
    traceFile: o.traceFile,
    outFile: o.outFile,
    converter: { rootUid: 0, rootProc: 'sh', fromNs: nsOf(o.warmupEnd), toNs: nsOf(o.endMs) },
    mtime: new Date(o.warmupEnd),
    metadata: (st) =>
      recordingMeta({
        containers: [
          { ip: '127.0.0.1', name: `${o.victim.name}-victim${o.suffix}`, role: 'victim' },
          { ip: '127.0.0.1', name: `${o.victim.name}-client${o.suffix}`, role: 'normal' },
          ...(a ? [{ ip: '127.0.0.1', name: 'attacker', role: 'attacker' }] : []),
        ],
        image: o.victim.image,
        containerReady: o.containerReady,
        warmupEnd: o.warmupEnd / 1000,
        recordingSeconds: o.recordingSeconds,
        exploit: a && a.exploitStart !== null ? { name: a.attack.name, at: a.exploitStart } : null,
        source: 'CONTROL_SCRIPT',
        extra: {
          chids_lab: {
            format: 1,
            victim: o.victim.name,
            victim_description: o.victim.description,
            attack: a ? { name: a.attack.name, cwe: a.attack.cwe, title: a.attack.title, ...a.outcome, requests_in_window: a.requestsInWindow, ran: a.ran } : null,
            ...(o.replica ? { replica: o.replica } : {}),
            seed: o.seed,
            warmup_seconds: o.warmupSeconds,
            ...(o.cap ?? {}),
            limits: o.cgroup ? { memory_bytes: DEFAULT_LAB_LIMITS.memoryBytes, pids: DEFAULT_LAB_LIMITS.pids } : null,
            capture: { tool: 'strace', version: o.straceVersion, args: straceArgs('FILE', o.straceVersion).join(' ') },
            events: st.events,
            distinct_syscalls: st.syscalls.size,
            converter: { strace_lines: st.lines, skipped: st.skipped, signals: st.signals, clamped: st.clamped, orphan_resumes: st.orphanResumes, held_children: st.heldChildren, guessed_parents: st.guessedParents },
            programs: o.programs ?? {},
          },
        },
      }),
  });
}

/** Stops a sandbox whatever state it is in (the clean-up of every path out). */
export async function stopSandbox(sandbox: Sandbox | null): Promise<void> {
  if (!sandbox) return;
  if (sandbox.running) await sandbox.stop(3000).catch(() => sandbox.kill());
  sandbox.kill();
}

/** Removes the victim's cgroup and its work directory (kept with CHIDS_LAB_KEEP). */
export async function removeVictim(cgroup: LabCgroup | null, work: string, log: (msg: string) => void): Promise<void> {
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
