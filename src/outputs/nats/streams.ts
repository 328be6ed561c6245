/**
 * The streams chids creates on first use, if they are not there yet (an operator who created or
 * tuned them keeps their settings: chids never overwrites an existing stream's config).
 *
 * - CHIDS_WINDOWS, subjects `chids.windows.>`: every scored window of every agent. File storage,
 *   limits retention (old messages go first), bounded by age and by bytes.
 * - CHIDS_ALERTS, subjects `chids.alerts.>`: the Falco-shaped alerts, kept longer.
 * - Both: replicas = the cluster size (at most 5, JetStream's limit) when the server is part of
 *   one, and a duplicate window inside which a `Nats-Msg-Id` seen before is not stored again.
 */
import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { ALERTS_PREFIX, ALERTS_STREAM, WINDOWS_PREFIX, WINDOWS_STREAM } from './subjects.js';

export interface StreamLimits {
  maxAgeMs: number;
  maxBytes: number;
}

export interface StreamSettings {
  windows: StreamLimits;
  alerts: StreamLimits;
  /** How long a message id is remembered for de-duplication. */
  duplicateWindowMs: number;
  /** Replicas; default: the cluster size seen from the connection (1 for a single server). */
  replicas?: number;
}

const DAY = 24 * 3600 * 1000;
export const DEFAULT_STREAMS: StreamSettings = {
  windows: { maxAgeMs: 1 * DAY, maxBytes: 4 * 1024 ** 3 },
  alerts: { maxAgeMs: 30 * DAY, maxBytes: 1024 ** 3 },
  // Long enough for any retry of a publish whose ack was lost; a spool replayed after a longer
  // outage only holds messages that were never stored.
  duplicateWindowMs: 10 * 60 * 1000,
};

/** Servers in the cluster the connection sees (the gossiped client URLs), 1 for a lone server. */
export function clusterSize(nc: NatsConnection): number {
  const info = nc.info;
  if (!info?.cluster) return 1;
  return Math.max(1, info.connect_urls?.length ?? 1);
}

export function streamConfigs(s: StreamSettings, replicas: number): (Partial<StreamConfig> & { name: string })[] {
  const base = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    duplicate_window: nanos(s.duplicateWindowMs),
  };
  return [
    { ...base, name: WINDOWS_STREAM, subjects: [`${WINDOWS_PREFIX}.>`], max_age: nanos(s.windows.maxAgeMs), max_bytes: s.windows.maxBytes, description: 'chids: every scored window of every agent' },
    { ...base, name: ALERTS_STREAM, subjects: [`${ALERTS_PREFIX}.>`], max_age: nanos(s.alerts.maxAgeMs), max_bytes: s.alerts.maxBytes, description: 'chids: Falco-shaped alerts of the fleet' },
  ];
}

function notFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 404 || /not found/i.test(err.message));
}

/** Creates the streams that are missing; returns the replicas of each (existing or created). */
export async function ensureStreams(nc: NatsConnection, jsm: JetStreamManager, s: StreamSettings = DEFAULT_STREAMS): Promise<Record<string, number>> {
  const replicas = Math.min(5, s.replicas ?? clusterSize(nc));
  const out: Record<string, number> = {};
  for (const cfg of streamConfigs(s, replicas)) {
    const name = cfg.name;
    try {
      const info = await jsm.streams.info(name);
      out[name] = info.config.num_replicas;
      continue;
    } catch (err) {
      if (!notFound(err)) throw err;
    }
    try {
      out[name] = (await jsm.streams.add(cfg)).config.num_replicas;
    } catch (err) {
      // Another agent created it at the same moment: fine, it is there now.
      const info = await jsm.streams.info(name).catch(() => null);
      if (info === null) throw err;
      out[name] = info.config.num_replicas;
    }
  }
  return out;
}
