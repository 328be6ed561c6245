/**
 * `chids replicas --dataset DIR`: the replica comparison evaluated over many groups of replica
 * recordings (e.g. made by `chids lab record --replicas N --count K`). A group is a directory
 * that holds two or more recordings directly; the ground truth is each recording's own LID-DS
 * label (`exploit`, `time.exploit[0].absolute`).
 *
 * Each group is compared once; its per-window scores then give the verdicts at every
 * threshold, so the sweep costs nothing more. Per threshold θ, with each replica a sample:
 * - detection rate: attacked replicas with a window scoring above θ that ends after the
 *   exploit's start, over all attacked replicas;
 * - false-alarm rate: replicas without an exploit that have any window above θ, over all such
 *   replicas (the siblings of attacked replicas included: flagging them is a false alarm too);
 *   attack-free groups with any replica flagged are also counted on their own;
 * - latency (LID-DS): from the exploit's start to the end of the first window above θ.
 */
import path from 'node:path';
import { listRecordings } from '../trace/sources/paths.js';
import { openSource } from '../trace/sources/readers.js';
import { ChidsError, InputError } from '../util/errors.js';
import { DEFAULT_SIMILARITY, DEFAULT_THRESHOLD, runReplicas, type ReplicasResult } from './replicas.js';
import type { Similarity } from '../model/replicas/compare.js';

export interface GroupEvaluation {
  dir: string;
  files: string[];
  /** Per replica: its exploit label and start (epoch seconds), from its own metadata. */
  exploit: boolean[];
  exploitStartSec: (number | null)[];
  /** Per replica: the attack's name (LID-DS `exploit_name`), or null. */
  exploitName: (string | null)[];
  /** Per compared window: its start (ns) and each replica's score. */
  windows: { start_ns: string; scores: number[] }[];
  window_ns: number;
}

export interface ThresholdRow {
  threshold: number;
  detected: number;
  attacked: number;
  false_alarms: number;
  normal: number;
  /** Attack-free groups with any replica flagged, of all attack-free groups. */
  groups_false_alarm: number;
  groups_attack_free: number;
  /** Attacked replicas flagged in a window that ended before the exploit started. */
  early_alarms: number;
  dr: number;
  far: number;
  mean_latency_s: number | null;
}

export interface DatasetEvaluation {
  window_ns: number;
  similarity: Similarity;
  groups: GroupEvaluation[];
  skipped: { path: string; reason: string }[];
  rows: ThresholdRow[];
  /** The row at the threshold asked for (or the default). */
  at: ThresholdRow;
}

/** Directories of DIR (itself included) holding two or more recordings directly, sorted. */
export async function findReplicaGroups(root: string, onSkip?: (path: string, reason: string) => void): Promise<{ dir: string; files: string[] }[]> {
  const files = await listRecordings(root);
  if (files.length === 0) throw new InputError(root, 'no recordings (.zip, .sc, .scap, .txt) found in this directory');
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const d = path.dirname(f);
    const list = byDir.get(d);
    if (list) list.push(f);
    else byDir.set(d, [f]);
  }
  const out: { dir: string; files: string[] }[] = [];
  for (const [dir, fs] of [...byDir].sort(([a], [b]) => a.localeCompare(b))) {
    if (fs.length < 2) onSkip?.(dir, 'a single recording is not a replica group');
    else out.push({ dir, files: fs.sort() });
  }
  if (out.length === 0) throw new InputError(root, 'no replica groups: no directory in it holds two or more recordings');
  return out;
}

/** Compares one group and keeps what the sweep needs. */
export async function evaluateGroup(dir: string, files: string[], windowNs: number | undefined, similarity: Similarity, onWarning?: (m: string) => void): Promise<GroupEvaluation> {
  const r: ReplicasResult = await runReplicas({ files, windowNs, similarity, onWarning });
  const exploit: boolean[] = [];
  const exploitStartSec: (number | null)[] = [];
  const exploitName: (string | null)[] = [];
  for (const f of files) {
    const labels = await (await openSource(f)).labels();
    exploit.push(labels?.exploit === true);
    exploitStartSec.push(labels?.exploit === true ? labels.exploitStartSec : null);
    exploitName.push(labels?.exploit === true ? (labels.exploitName ?? null) : null);
  }
  return { dir, files, exploit, exploitStartSec, exploitName, windows: r.windows.map((w) => ({ start_ns: w.start_ns, scores: w.scores })), window_ns: r.window_ns };
}

/** The verdicts of all groups at one threshold. Pure. */
export function rowAt(groups: readonly GroupEvaluation[], threshold: number): ThresholdRow {
  const row: ThresholdRow = {
    threshold,
    detected: 0,
    attacked: 0,
    false_alarms: 0,
    normal: 0,
    groups_false_alarm: 0,
    groups_attack_free: 0,
    early_alarms: 0,
    dr: 0,
    far: 0,
    mean_latency_s: null,
  };
  let latencySum = 0;
  for (const g of groups) {
    const attackFree = !g.exploit.some(Boolean);
    let groupAlarm = false;
    g.files.forEach((_, i) => {
      const alarms = g.windows.filter((w) => w.scores[i] > threshold);
      if (!g.exploit[i]) {
        row.normal++;
        if (alarms.length > 0) {
          row.false_alarms++;
          groupAlarm = true;
        }
        return;
      }
      row.attacked++;
      const startNs = g.exploitStartSec[i] === null ? null : BigInt(Math.round((g.exploitStartSec[i] as number) * 1e6)) * 1000n;
      const endOf = (w: { start_ns: string }) => BigInt(w.start_ns) + BigInt(g.window_ns);
      const hit = alarms.find((w) => startNs === null || endOf(w) > startNs);
      if (alarms.some((w) => startNs !== null && endOf(w) <= startNs)) row.early_alarms++;
      if (hit) {
        row.detected++;
        if (startNs !== null) latencySum += Number(endOf(hit) - startNs) / 1e9;
      }
    });
    if (attackFree) {
      row.groups_attack_free++;
      if (groupAlarm) row.groups_false_alarm++;
    }
  }
  row.dr = row.attacked ? row.detected / row.attacked : 0;
  row.far = row.normal ? row.false_alarms / row.normal : 0;
  row.mean_latency_s = row.detected ? latencySum / row.detected : null;
  return row;
}

/** Thresholds of the sweep: 0.05 … 2.00 by 0.05, plus the one asked for. */
export function sweepThresholds(extra: number): number[] {
  const t = Array.from({ length: 40 }, (_, i) => Math.round((i + 1) * 5) / 100);
  if (!t.includes(extra)) t.push(extra);
  return t.sort((a, b) => a - b);
}

export interface DatasetOptions {
  dir: string;
  windowNs?: number;
  /** Default: `chids replicas`' (DEFAULT_THRESHOLD, DEFAULT_SIMILARITY). */
  threshold?: number;
  similarity?: Similarity;
  onWarning?: (m: string) => void;
  onGroup?: (done: number, total: number, dir: string) => void;
}

/** `chids replicas`: recordings to compare, or `--dataset DIR` to evaluate, not both. */
export function checkReplicasRequest(files: readonly string[], dataset: string | undefined, alignStarts: boolean | undefined): void {
  if (dataset === undefined) return;
  if (files.length > 0) throw new ChidsError('give either recordings or --dataset DIR, not both');
  if (alignStarts) throw new ChidsError('--align-starts does not apply to --dataset (replica groups are recorded over the same span)');
}

export async function evaluateReplicaDataset(options: DatasetOptions): Promise<DatasetEvaluation> {
  const o = { ...options, threshold: options.threshold ?? DEFAULT_THRESHOLD, similarity: options.similarity ?? DEFAULT_SIMILARITY };
  const skipped: { path: string; reason: string }[] = [];
  const found = await findReplicaGroups(o.dir, (p, reason) => skipped.push({ path: p, reason }));
  const groups: GroupEvaluation[] = [];
  for (const [i, g] of found.entries()) {
    groups.push(await evaluateGroup(g.dir, g.files, o.windowNs, o.similarity, o.onWarning));
    o.onGroup?.(i + 1, found.length, g.dir);
  }
  for (const s of skipped) o.onWarning?.(`passed over ${s.path}: ${s.reason}`);
  const rows = sweepThresholds(o.threshold).map((t) => rowAt(groups, t));
  return { window_ns: groups[0].window_ns, similarity: o.similarity, groups, skipped, rows, at: rowAt(groups, o.threshold) };
}
