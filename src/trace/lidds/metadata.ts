/**
 * The `.json` beside a LID-DS 2021 recording: the fields LID-DS tools and chids read (exploit
 * flag, image, the times of container start, warm-up end and each exploit), plus whatever block
 * of its own the writer adds. Both writers of recordings (the attack lab and `chids capture`)
 * build it here, so their files agree.
 */

export interface RecordingMeta {
  container: { name: string; role: string; [k: string]: unknown }[];
  exploit: boolean;
  exploit_name?: string;
  image: string;
  recording_time: number;
  time: {
    container_ready: { absolute: number; relative: number; source: string };
    exploit: { absolute: number; name: string; relative: number; source: string }[];
    warmup_end: { absolute: number; relative: number; source: string };
  };
  [k: string]: unknown;
}

export interface MetaInput {
  containers: RecordingMeta['container'];
  image: string;
  /** Epoch seconds. `warmupEnd` is the start of the recorded span; LID-DS times are relative to it. */
  containerReady: number;
  warmupEnd: number;
  recordingSeconds: number;
  /** The attack and its start (epoch seconds), or null for a normal recording. */
  exploit: { name: string; at: number } | null;
  /** Who set the times (LID-DS: `CONTROL_SCRIPT`). */
  source: string;
  /** The writer's own fields (e.g. `chids_lab`, `chids`). */
  extra?: Record<string, unknown>;
}

export function recordingMeta(m: MetaInput): RecordingMeta {
  const rel = (t: number) => Math.round((t - m.warmupEnd) * 1e6) / 1e6;
  return {
    container: m.containers,
    exploit: m.exploit !== null,
    exploit_name: m.exploit ? m.exploit.name : 'none',
    image: m.image,
    recording_time: m.recordingSeconds,
    time: {
      container_ready: { absolute: m.containerReady, relative: rel(m.containerReady), source: m.source },
      exploit: m.exploit === null ? [] : [{ absolute: m.exploit.at, name: m.exploit.name, relative: rel(m.exploit.at), source: m.source }],
      warmup_end: { absolute: m.warmupEnd, relative: 0, source: m.source },
    },
    ...m.extra,
  };
}
