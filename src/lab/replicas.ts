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
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { recordingMeta } from '../trace/lidds/metadata.js';
import { writeRecordingZip } from '../trace/lidds/recording-zip.js';
import { straceArgs } from '../trace/strace/options.js';
import { ChidsError } from '../util/errors.js';
import { sleep as delay } from '../util/sleep.js';
import { attackNamed, type AttackOutcome } from './attacks.js';
import { createLabCgroup, DEFAULT_LAB_LIMITS, type LabCgroup } from './cgroup.js';
import { planRecordings, preflight, type RecordManyOptions } from './dataset.js';
import { programVersions, versionOf } from './programs.js';
import { LAB_KEEP_ENV, attackEvidence, labTmpBase, type RecordResult } from './record.js';
import { rng } from './rng.js';
import { Sandbox } from './sandbox.js';
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

interface Replica {
  work: string;
  srv: string;
  traceFile: string;
  attackerDir: string;
  sandbox: Sandbox | null;
  cgroup: LabCgroup | null;
  containerReady: number;
}

/** Which replica a group's attack hits and when (fraction of the window), from its seed. Pure. */
export function replicaAttackPlan(seed: number, replicas: number, seconds: number): { replica: number; offsetSeconds: number } {
  const r = rng(seed ^ 0x7e91ca5);
  const replica = r.int(0, replicas - 1);
  const offsetSeconds = Math.max(1, Math.min(seconds * r.range(0.25, 0.5), seconds - 4));
  return { replica, offsetSeconds };
}

export async function recordReplicaGroup(opts: ReplicaGroupOptions): Promise<ReplicaGroupResult> {
  const victim = victimNamed(opts.victim);
  const attack = opts.attack === null ? null : attackNamed(opts.attack);
  if (attack && !attack.victims.includes(victim.name)) {
    throw new ChidsError(`attack '${attack.name}' does not apply to victim '${victim.name}' (it targets: ${attack.victims.join(', ')})`);
  }
  if (!Number.isInteger(opts.replicas) || opts.replicas < 2 || opts.replicas > MAX_REPLICAS) {
    throw new ChidsError(`--replicas must be an integer from 2 to ${MAX_REPLICAS}`);
  }
  const log = opts.log ?? (() => undefined);
  const name = path.basename(opts.outDir);
  const parent = path.dirname(opts.outDir);
  const warmup = opts.warmupSeconds ?? victim.warmupSeconds;
  const plan = replicaAttackPlan(opts.seed, opts.replicas, opts.seconds);
  const attacked = attack ? plan.replica : null;
  const base = labTmpBase();
  mkdirSync(base, { recursive: true });
  mkdirSync(parent, { recursive: true });
  const reps: Replica[] = [];
  let staging: string | null = null;
  const aborted = () => opts.signal?.aborted === true;
  const checkAbort = () => {
    if (aborted()) throw new ChidsError('lab: interrupted; the sandboxes were stopped and nothing was written', 130);
  };
  try {
    for (let i = 0; i < opts.replicas; i++) {
      const work = mkdtempSync(path.join(base, 'chids-lab-'));
      const rep: Replica = {
        work,
        srv: path.join(work, 'srv'),
        traceFile: path.join(work, 'strace.txt'),
        attackerDir: path.join(work, 'attacker'),
        sandbox: null,
        cgroup: null,
        containerReady: 0,
      };
      reps.push(rep);
      mkdirSync(rep.srv);
      mkdirSync(rep.attackerDir);
      // The same seed for every replica: one image, the same data.
      victim.stage(rep.srv, opts.seed);
    }
    checkAbort();
    for (const [i, rep] of reps.entries()) {
      const made = createLabCgroup(`chids-lab-${process.pid}-${path.basename(rep.work)}`);
      rep.cgroup = made.cgroup;
      if (made.problem && i === 0) log(`no memory/process limits for the victims: cannot create a cgroup (${made.problem})`);
      rep.sandbox = new Sandbox(
        {
          srvDir: rep.srv,
          traceFile: rep.traceFile,
          logFile: path.join(rep.work, 'sandbox.log'),
          entry: '/srv/run.sh',
          env: { NODE: process.execPath },
          cgroupProcs: rep.cgroup?.procs,
        },
        opts.straceVersion,
      );
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
        let clientErr = '';
        client.stderr?.on('data', (d: Buffer) => {
          if (clientErr.length < 4096) clientErr += d.toString('utf8');
        });
        const ok = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => done(false), READY_TIMEOUT_MS + 2000);
          const onAbort = () => done(false);
          function done(v: boolean) {
            clearTimeout(timer);
            opts.signal?.removeEventListener('abort', onAbort);
            resolve(v);
          }
          opts.signal?.addEventListener('abort', onAbort, { once: true });
          client.stdout?.on('data', (d: Buffer) => {
            if (d.toString('utf8').includes('READY')) done(true);
          });
          client.once('exit', () => done(false));
        });
        rep.containerReady = Date.now() / 1000;
        return ok ? null : `replica ${i + 1}: ${clientErr.trim().split('\n').pop() || sb.logTail() || 'no answer'}`;
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
    let outcome: AttackOutcome | null = null;
    let attackRun: Promise<void> | null = null;
    if (attack && attacked !== null) {
      await delay(warmupEnd + plan.offsetSeconds * 1000 - Date.now(), opts.signal);
      checkAbort();
      exploitStart = Date.now() / 1000;
      log(`attack ${attack.name} on replica ${attacked + 1} at +${(exploitStart - warmupEnd / 1000).toFixed(2)} s`);
      const rep = reps[attacked];
      attackRun = attack
        .run({ sandbox: rep.sandbox as Sandbox, dir: rep.attackerDir, deadlineMs: endMs - 200, log })
        .then((o) => {
          outcome = o;
        })
        .catch((err: unknown) => {
          outcome = { succeeded: false, detail: `attack failed to run: ${(err as Error).message}`, commands: [] };
        });
    }
    await delay(endMs - Date.now(), opts.signal);
    checkAbort();
    if (attackRun) await Promise.race([attackRun, delay(1500)]);
    for (const [i, rep] of reps.entries()) {
      if (!rep.sandbox?.running) throw new ChidsError(`lab: replica ${i + 1} of the ${victim.name} victim stopped during the recording (${rep.sandbox?.logTail()})`);
    }
    await Promise.all(reps.map((rep) => (rep.sandbox as Sandbox).stop()));
    checkAbort();
    if (attack && outcome === null) outcome = { succeeded: false, detail: 'still running at the end of the recording (stopped)', commands: [] };
    const finalOutcome = outcome as AttackOutcome | null;
    if (finalOutcome) log(`attack outcome: ${finalOutcome.detail}`);
    const evidence = attackEvidence(victim, finalOutcome, attacked === null ? '' : reps[attacked].srv, exploitStart, endMs / 1000, log);

    staging = mkdtempSync(path.join(parent, `.${name}.tmp-`));
    const nsOf = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;
    const results: RecordResult[] = [];
    for (const [i, rep] of reps.entries()) {
      const rname = `${name}-r${i + 1}`;
      const isAttacked = i === attacked;
      const tmpFile = path.join(staging, `${rname}.zip`);
      const stats = await writeRecordingZip({
        traceFile: rep.traceFile,
        outFile: tmpFile,
        converter: { rootUid: 0, rootProc: 'sh', fromNs: nsOf(warmupEnd), toNs: nsOf(endMs) },
        mtime: new Date(warmupEnd),
        metadata: (st) =>
          recordingMeta({
            containers: [
              { ip: '127.0.0.1', name: `${victim.name}-victim-${i + 1}`, role: 'victim' },
              { ip: '127.0.0.1', name: `${victim.name}-client-${i + 1}`, role: 'normal' },
              ...(isAttacked ? [{ ip: '127.0.0.1', name: 'attacker', role: 'attacker' }] : []),
            ],
            image: victim.image,
            containerReady: rep.containerReady,
            warmupEnd: warmupEnd / 1000,
            recordingSeconds: opts.seconds,
            exploit: isAttacked && attack && exploitStart !== null ? { name: attack.name, at: exploitStart } : null,
            source: 'CONTROL_SCRIPT',
            extra: {
              chids_lab: {
                format: 1,
                victim: victim.name,
                victim_description: victim.description,
                attack: isAttacked && attack ? { name: attack.name, cwe: attack.cwe, title: attack.title, ...finalOutcome, requests_in_window: evidence.requestsInWindow, ran: evidence.ran } : null,
                replica: { group: name, index: i + 1, of: reps.length, attacked: attacked === null ? null : attacked + 1 },
                seed: opts.seed,
                warmup_seconds: warmup,
                limits: rep.cgroup ? { memory_bytes: DEFAULT_LAB_LIMITS.memoryBytes, pids: DEFAULT_LAB_LIMITS.pids } : null,
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
        outcome: isAttacked ? finalOutcome : null,
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
    for (const rep of reps) {
      const sb = rep.sandbox;
      if (sb) {
        if (sb.running) await sb.stop(3000).catch(() => sb.kill());
        sb.kill();
      }
    }
    for (const rep of reps) {
      const cg = rep.cgroup;
      if (cg) {
        // The group can only go once the kernel has reaped its last process.
        for (let i = 0; i < 50 && cg.dirs.some((d) => existsSync(d)); i++) {
          cg.remove();
          if (cg.dirs.some((d) => existsSync(d))) await delay(20);
        }
      }
      if (!process.env[LAB_KEEP_ENV]) rmSync(rep.work, { recursive: true, force: true });
      else log(`kept the work directory ${rep.work}`);
    }
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
  if (!Number.isFinite(o.seconds) || o.seconds < 5) throw new ChidsError('--seconds must be at least 5');
  if (!Number.isInteger(o.replicas) || o.replicas < 2 || o.replicas > MAX_REPLICAS) {
    throw new ChidsError(`--replicas must be an integer from 2 to ${MAX_REPLICAS}`);
  }
  const plan = planRecordings(o);
  preflight(o.victim, plan.map((p) => p.attack));
  const log = o.log ?? (() => undefined);
  if (o.note) log(o.note);
  const straceVersion = versionOf('strace', ['-V'], /version\s+(\S+)/);
  const victim = victimNamed(o.victim);
  const progs = programVersions(['node', 'strace', ...victim.programs, ...new Set(plan.flatMap((p) => (p.attack ? attackNamed(p.attack).programs : [])))]);
  const out: ReplicaGroupResult[] = [];
  for (const [i, p] of plan.entries()) {
    const dir = path.join(p.split ? path.join(o.outDir, ...p.split.split('/')) : o.outDir, p.name);
    const rel = path.relative(process.cwd(), dir);
    const shown = rel && !rel.startsWith('..') ? rel : dir;
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
