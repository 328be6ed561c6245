/**
 * `chids lab record` as one call: what its flags leave open (a seed from the clock, the attack
 * by `--split`), SIGINT/SIGTERM stopping the sandboxes cleanly, and single recordings or replica
 * groups by `--replicas`. Returns the files written, in order.
 */
import { ChidsError } from '../util/errors.js';
import { onStopSignals } from '../util/signals.js';
import { recordMany, type RecordManyOptions } from './dataset.js';
import { recordReplicaSets } from './replicas.js';
import type { VictimName } from './victims.js';

export interface LabRecordRequest {
  victim: string;
  /** An attack name, 'all' or 'none' (default: 'all' with `split`, else 'none'). */
  attack?: string;
  seconds: number;
  count: number;
  /** Default: from the clock (logged, so that the plan can be repeated). */
  seed?: number;
  outDir: string;
  split: boolean;
  warmupSeconds?: number;
  /** `--attack-cap`: single recordings only (replicas share one window). */
  attackCapSeconds?: number;
  /** Record groups of this many replicas instead of single recordings. */
  replicas?: number;
  log: (msg: string) => void;
}

export async function recordLab(o: LabRecordRequest): Promise<string[]> {
  const seed = o.seed ?? Date.now() % 1_000_000;
  const ac = new AbortController();
  const removeSignalHandlers = onStopSignals((sig) => {
    o.log(`chids: ${sig}: stopping the sandbox…`);
    ac.abort();
  });
  const plan: RecordManyOptions = {
    victim: o.victim as VictimName,
    attack: o.attack ?? (o.split ? 'all' : 'none'),
    count: o.count,
    seed,
    split: o.split,
    seconds: o.seconds,
    outDir: o.outDir,
    warmupSeconds: o.warmupSeconds,
    attackCapSeconds: o.attackCapSeconds,
    signal: ac.signal,
    log: o.log,
    note: o.seed === undefined ? `seed ${seed} (from the clock; --seed ${seed} repeats this plan)` : undefined,
  };
  try {
    if (o.replicas !== undefined) {
      if (o.attackCapSeconds !== undefined) throw new ChidsError('--attack-cap is not supported with --replicas (the replicas share one window)', 2);
      return (await recordReplicaSets({ ...plan, replicas: o.replicas })).flatMap((g) => g.replicas.map((r) => r.file));
    }
    return (await recordMany(plan)).map((r) => r.file);
  } finally {
    removeSignalHandlers();
  }
}
