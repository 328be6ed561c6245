/**
 * Replica recordings (`chids lab record --replicas N`): N copies of one victim side by side,
 * like N containers of one image behind a load balancer, recorded over the same span, only one
 * of them attacked. Their recordings are what `chids replicas` compares (the ReplicaWatcher
 * method): the attacked replica should stand out against its siblings, and in a group without
 * an attack none should.
 *
 *   stage N identical /srv (same seed: same image, same data) → start N sandboxes, each in its
 *   own namespaces under its own strace → one client per replica, all with the same seed (the
 *   same request mix in the same order: replicas of one service under the same load) → wait until
 *   every replica answers → the clients start together and keep to one schedule → warm-up → one common recording window, the attack (if any) hitting
 *   one seeded replica at a seeded time → stop all → N recordings cut to the same window.
 *
 * The group is written into a temporary directory next to its destination and renamed into
 * place once every replica's recording is complete: a reader sees the whole group or nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { sleep as delay } from '../util/sleep.js';
import { attackNamed } from './attacks.js';
import type { LabCgroup } from './cgroup.js';
import { prepareSet, type RecordManyOptions, shownPath } from './dataset.js';
import type { RecordResult } from './record.js';
import { rng } from './rng.js';
import type { Sandbox } from './sandbox.js';
import { attackEvidence, attackOffset, type AttackRun, checkAttackFits, clientReady, labTmpBase, makeWorkDir, removeVictim, startAttack, stopSandbox, victimSandbox, type WorkDir, writeLabRecording } from './steps.js';
import { victimNamed, type VictimName } from './victims.js';

/** Most replicas per group: each is a full victim under strace, on one machine. */
export const MAX_REPLICAS = 8;
const READY_TIMEOUT_MS = 60_000;

export interface ReplicaGroupOptions {
  victim: VictimName;
  attack: string | null;
  replicas: number;
  seconds: number;
  seed: number;
  /** The group's directory (created; replaced if it exists): `…/NAME/NAME-rK.zip`. */
  outDir: string;
  warmupSeconds?: number;
  straceVersion: string | null;
  programs?: Record<string, string>;
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

export interface ReplicaGroupResult {
  dir: string;
  name: string;
  /** Index (0-based) of the attacked replica, or null. */
  attacked: number | null;
  replicas: RecordResult[];
}

interface Replica extends WorkDir {
  sandbox: Sandbox | null;
  cgroup: LabCgroup | null;
  containerReady: number;
}

/** Which replica a group's attack hits and when (fraction of the window), from its seed. Pure. */
export function replicaAttackPlan(seed: number, replicas: number, seconds: number): { replica: number; offsetSeconds: number } {
  const r = rng(seed ^ 0x7e91ca5);
  const replica = r.int(0, replicas - 1);
  const offsetSeconds = attackOffset(r, seconds);
  return { replica, offsetSeconds };
}

export async function recordReplicaGroup(opts: ReplicaGroupOptions): Promise<ReplicaGroupResult> {
  const victim = victimNamed(opts.victim);
  const attack = opts.attack === null ? null : attackNamed(opts.attack);
  if (attack) checkAttackFits(attack, victim);
  if (!Number.isInteger(opts.replicas) || opts.replicas < 2 || opts.replicas > MAX_REPLICAS) {
    throw new ChidsError(`--replicas must be an integer from 2 to ${MAX_REPLICAS}`);
  }
  const log = opts.log ?? (() => undefined);
  const name = path.basename(opts.outDir);
  const parent = path.dirname(opts.outDir);
  const warmup = opts.warmupSeconds ?? victim.warmupSeconds;
  const plan = replicaAttackPlan(opts.seed, opts.replicas, opts.seconds);
  const attacked = attack ? plan.replica : null;
  labTmpBase(); // refuses a base under /tmp before anything is made
  mkdirSync(parent, { recursive: true });
  const reps: Replica[] = [];
  let staging: string | null = null;
  const aborted = () => opts.signal?.aborted === true;
  const checkAbort = () => {
    if (aborted()) throw new ChidsError('lab: interrupted; the sandboxes were stopped and nothing was written', 130);
  };
  try {
    for (let i = 0; i < opts.replicas; i++) {
      const rep: Replica = { ...makeWorkDir(), sandbox: null, cgroup: null, containerReady: 0 };
      reps.push(rep);
      // The same seed for every replica: one image, the same data.
      victim.stage(rep.srv, opts.seed);
    }
    checkAbort();
    for (const [i, rep] of reps.entries()) {
      const made = victimSandbox(rep, opts.straceVersion);
      rep.cgroup = made.cgroup;
      if (made.problem && i === 0) log(`no memory/process limits for the victims: cannot create a cgroup (${made.problem})`);
      rep.sandbox = made.sandbox;
      await rep.sandbox.start();
      checkAbort();
    }

    // One client per replica, all with the group's seed: the same requests in the same order.
    const deadline = Date.now() + READY_TIMEOUT_MS + (warmup + opts.seconds + 10) * 1000;
    const clients: ChildProcess[] = [];
    const ready = await Promise.all(
      reps.map(async (rep, i) => {
        const sb = rep.sandbox as Sandbox;
        const c = victim.client(opts.seed, deadline);
        // --go-on-stdin: the client waits for the common start time, then keeps its requests on
        // a schedule from it (lab/clients/web-client.mjs), so the replicas do not drift apart.
        const client = sb.spawnInNet(process.execPath, [c.script, ...c.args, '--ready-timeout', String(READY_TIMEOUT_MS), '--go-on-stdin'], {
          env: { PATH: '/usr/bin:/bin', HOME: rep.attackerDir },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        client.stdin?.on('error', () => undefined);
        clients.push(client);
        const notReady = await clientReady(client, sb, READY_TIMEOUT_MS, opts.signal);
        rep.containerReady = Date.now() / 1000;
        return notReady === null ? null : `replica ${i + 1}: ${notReady}`;
      }),
    );
    checkAbort();
    const notReady = ready.filter((x) => x !== null);
    if (notReady.length > 0) {
      throw new ChidsError(`lab: the ${victim.name} replicas did not become ready within ${READY_TIMEOUT_MS / 1000} s (${notReady.join('; ')})`);
    }
    // One start for all clients, a moment ahead so that each has read it in time.
    const start = Date.now() + 300;
    for (const c of clients) c.stdin?.end(`${start}\n`);
    log(`${reps.length} replicas ready; warm-up ${warmup} s`);
    await delay(start + warmup * 1000 - Date.now(), opts.signal);
    checkAbort();

    const warmupEnd = Date.now();
    const endMs = warmupEnd + opts.seconds * 1000;
    log(`recording ${opts.seconds} s${attack ? `, attack ${attack.name} on replica ${(attacked as number) + 1}` : ''}`);
    let exploitStart: number | null = null;
    let run: AttackRun | null = null;
    if (attack && attacked !== null) {
      await delay(warmupEnd + plan.offsetSeconds * 1000 - Date.now(), opts.signal);
      checkAbort();
      exploitStart = Date.now() / 1000;
      log(`attack ${attack.name} on replica ${attacked + 1} at +${(exploitStart - warmupEnd / 1000).toFixed(2)} s`);
      const rep = reps[attacked];
      run = startAttack(attack, { sandbox: rep.sandbox as Sandbox, dir: rep.attackerDir, deadlineMs: endMs - 200, log });
    }
    await delay(endMs - Date.now(), opts.signal);
    checkAbort();
    await run?.settle();
    for (const [i, rep] of reps.entries()) {
      if (!rep.sandbox?.running) throw new ChidsError(`lab: replica ${i + 1} of the ${victim.name} victim stopped during the recording (${rep.sandbox?.logTail()})`);
    }
    await Promise.all(reps.map((rep) => (rep.sandbox as Sandbox).stop()));
    checkAbort();
    const outcome = run?.outcome(log) ?? null;
    const evidence = attackEvidence(victim, outcome, attacked === null ? '' : reps[attacked].srv, exploitStart, endMs / 1000, log);

    staging = mkdtempSync(path.join(parent, `.${name}.tmp-`));
    const results: RecordResult[] = [];
    for (const [i, rep] of reps.entries()) {
      const rname = `${name}-r${i + 1}`;
      const isAttacked = i === attacked;
      const stats = await writeLabRecording({
        traceFile: rep.traceFile,
        outFile: path.join(staging, `${rname}.zip`),
        victim,
        attack: isAttacked && attack && outcome ? { attack, outcome, exploitStart, requestsInWindow: evidence.requestsInWindow, ran: evidence.ran } : null,
        suffix: `-${i + 1}`,
        containerReady: rep.containerReady,
        warmupEnd,
        endMs,
        recordingSeconds: opts.seconds,
        warmupSeconds: warmup,
        seed: opts.seed,
        cgroup: rep.cgroup,
        straceVersion: opts.straceVersion,
        programs: opts.programs,
        replica: { group: name, index: i + 1, of: reps.length, attacked: attacked === null ? null : attacked + 1 },
      });
      if (stats.events === 0) {
        throw new ChidsError(`lab: strace recorded no events of replica ${i + 1} of the ${victim.name} victim in the recording window (${rep.sandbox?.logTail()})`);
      }
      results.push({
        file: path.join(opts.outDir, `${rname}.zip`),
        name: rname,
        victim: victim.name,
        attack: isAttacked && attack ? attack.name : null,
        events: stats.events,
        warmupEnd: warmupEnd / 1000,
        exploitStart: isAttacked ? exploitStart : null,
        outcome: isAttacked ? outcome : null,
        requestsInWindow: isAttacked ? evidence.requestsInWindow : null,
        attackRan: isAttacked ? evidence.ran : null,
        stats,
      });
    }
    // The whole group appears at once (the same command run again replaces it).
    rmSync(opts.outDir, { recursive: true, force: true });
    renameSync(staging, opts.outDir);
    staging = null;
    return { dir: opts.outDir, name, attacked, replicas: results };
  } finally {
    if (staging) rmSync(staging, { recursive: true, force: true });
    for (const rep of reps) await stopSandbox(rep.sandbox);
    for (const rep of reps) await removeVictim(rep.cgroup, rep.work, log);
  }
}

export interface RecordReplicaSetsOptions extends RecordManyOptions {
  replicas: number;
}

/**
 * `--count` groups of `--replicas` replicas each, planned like single recordings (names,
 * attacks, `--split` layout): each planned recording becomes a group directory.
 */
export async function recordReplicaSets(o: RecordReplicaSetsOptions): Promise<ReplicaGroupResult[]> {
  const { plan, log, straceVersion, programs: progs } = prepareSet(o, () => {
    if (!Number.isInteger(o.replicas) || o.replicas < 2 || o.replicas > MAX_REPLICAS) {
      throw new ChidsError(`--replicas must be an integer from 2 to ${MAX_REPLICAS}`);
    }
  });
  const out: ReplicaGroupResult[] = [];
  for (const [i, p] of plan.entries()) {
    const dir = path.join(p.split ? path.join(o.outDir, ...p.split.split('/')) : o.outDir, p.name);
    const shown = shownPath(dir);
    log(`[${i + 1}/${plan.length}] ${shown}/: ${o.replicas} × ${o.victim}, ${p.attack ?? 'normal'}, ${o.seconds} s, seed ${p.seed}`);
    const res = await recordReplicaGroup({
      victim: o.victim,
      attack: p.attack,
      replicas: o.replicas,
      seconds: o.seconds,
      seed: p.seed,
      outDir: dir,
      warmupSeconds: o.warmupSeconds,
      straceVersion,
      programs: progs,
      signal: o.signal,
      log: (m) => log(`  ${m}`),
    });
    log(`  wrote ${shown}/: ${res.replicas.map((r) => r.events.toLocaleString('en-US')).join(' / ')} events${res.attacked !== null ? `, replica ${res.attacked + 1} attacked` : ''}`);
    out.push(res);
  }
  return out;
}
