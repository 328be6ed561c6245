/**
 * What the live wiring (runMonitor) uses of a monitor, shared by the single-baseline
 * {@link Monitor} and the per-image router of `--baselines`, kept apart so neither imports the other.
 */
import type { ContainerInfo } from '../capture/containers.js';
import type { TraceFormat } from '../trace/parse.js';

export interface MonitorStats {
  events: number;
  windows: number;
  scored: number;
  alerts: number;
  falseAlarms: number;
  alertsAfterExploit: number;
  firstAlertAfterExploitNs: bigint | null;
  dropped: { queue_full: number; source_lost: number; malformed: number; no_timestamp: number; too_many_containers: number; time_jump: number };
  /** Events older than their window, counted in the current one (as `encode` warns about). */
  late: number;
  restarts: number;
}

export type IdentityLabels = Record<'container' | 'name' | 'image' | 'image_repository' | 'image_tag' | 'pod' | 'namespace', string>;

export interface MonitorLike {
  /** Counters the wiring adds to (queue drops, source losses, restarts). */
  readonly stats: MonitorStats;
  readonly threshold: number;
  readonly containers: number;
  feed(container: ContainerInfo, data: Buffer, format: TraceFormat): void;
  tick(sec: number, nsec: number): void;
  finish(): void;
  newestEvent(): { sec: number; nsec: number } | null;
  /** Time of the newest event of one container, or null (the metrics' processing delay). */
  lastEventOf(container: ContainerInfo): { sec: number; nsec: number } | null;
  evictIdle(idleMs: number): void;
  containerStats(): { id: string; key: string; events: number; windows: number; scored: number; alerts: number }[];
  scoringLatency(): { n: number; p50: number; p99: number; max: number };
  identities(): IdentityLabels[];
}
