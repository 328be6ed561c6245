/**
 * What `chids monitor`'s flags mean together, beyond parsing each one: the webhook's headers
 * (with the credential from the environment), the flags that need another, where the baseline
 * comes from (`--od`/files, `--baselines`, or the fleet's registry for `--image`), and the exit
 * status of a run whose alerts did not all reach the webhook.
 */
import { type ArtifactFlags, type ArtifactPaths, artifactPaths } from '../engine/baseline-dir.js';
import type { BaselineEntry } from './fleet-baselines.js';
import { WEBHOOK_AUTH_ENV } from '../outputs/alerts.js';
import { ChidsError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { LearnOptions } from './learn.js';
import type { MonitorSummary } from './monitor.js';

/**
 * The webhook's request headers: each `--webhook-header 'Name: value'` (already checked for its
 * form), and `Authorization` from CHIDS_WEBHOOK_AUTH. Headers without a webhook are refused.
 */
export function webhookHeaders(entries: readonly string[] | undefined, webhook: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of entries ?? []) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const auth = process.env[WEBHOOK_AUTH_ENV];
  if (auth) headers.Authorization = auth;
  if (Object.keys(headers).length > 0 && !webhook) throw new ChidsError(`--webhook-header and ${WEBHOOK_AUTH_ENV} need --webhook URL`);
  return headers;
}

/** Flags that only mean something with another. */
export function checkMonitorFlags(f: { nats?: string; node?: string; spool?: string; containerName?: string; source: string }): void {
  for (const [flag, v] of [['--node', f.node], ['--spool', f.spool]] as const) if (v !== undefined && !f.nats) throw new ChidsError(`${flag} needs --nats URL`);
  if (f.containerName !== undefined && f.source !== 'stdin') throw new ChidsError('--container-name names a stdin replay; live containers are named by their ids');
}

export interface MonitorBaselineFlags extends ArtifactFlags {
  baselines?: string;
  /** `--learn`: ns of recording per image. */
  learn?: number;
  nats?: string;
  image?: string;
}

export interface MonitorBaseline {
  artifacts: ArtifactPaths;
  learn: LearnOptions | undefined;
  /** The baseline came from the fleet's registry (the monitor follows newer versions of it). */
  fetched: { paths: ArtifactPaths; entry: BaselineEntry } | null;
}

/** Where the baseline comes from: `--baselines DIR`, `--od`/the files, or the fleet's registry entry of `--image`. */
export async function monitorBaseline(f: MonitorBaselineFlags, log: Logger): Promise<MonitorBaseline> {
  const fromFleet = f.nats !== undefined && !f.baselines && !f.od && !f.ss && !f.tm;
  if (fromFleet && !f.image) throw new ChidsError('--nats without --od fetches the baseline of --image REF from the fleet: give --image (or --od DIR)');
  // No local baseline: the fleet's registry has the image's.
  const fetched = fromFleet ? await (await import('./fleet-baselines.js')).fetchBaseline({ url: f.nats!, image: f.image!, log }) : null;
  // --baselines replaces --od: asking for --od first refused every --baselines run.
  const artifacts = f.baselines ? noArtifacts(f) : (fetched?.paths ?? artifactPaths(f, true));
  return { artifacts, learn: learnOptions(f), fetched };
}

/** `--learn` trains baselines into `--baselines`: meaningless without it. */
function learnOptions(f: MonitorBaselineFlags): LearnOptions | undefined {
  if (f.learn === undefined) return undefined;
  if (!f.baselines) throw new ChidsError('--learn needs --baselines DIR (where the learned baselines are saved)');
  return { durationNs: f.learn };
}

/** `--baselines` replaces the single baseline: refuse both. */
function noArtifacts(f: ArtifactFlags): ArtifactPaths {
  const given = (['od', 'ss', 'sa', 'fm', 'tm', 'tl'] as const).filter((k) => f[k]);
  if (given.length > 0) throw new ChidsError(`--baselines cannot be combined with ${given.map((k) => '--' + k).join(', ')}`);
  return { dir: null, seenSyscalls: '', seenArgs: '', maxFreq: '', thresholds: null, model: null };
}

/** A run whose alerts did not all reach the webhook ends with exit status 4, saying how many and why. */
export function checkDelivered(summary: Pick<MonitorSummary, 'alerts' | 'alerts_lost'>): void {
  const l = summary.alerts_lost;
  const lost = l.queue_full + l.failed + l.at_exit;
  if (lost > 0) {
    throw new ChidsError(
      `${lost} of ${summary.alerts} alerts were not delivered to the webhook (${l.queue_full} queue full, ${l.failed} failed, ${l.at_exit} still queued after --drain-timeout)`,
      4,
    );
  }
}
