/**
 * Which eBPF mode a monitor runs in, and the aggregate mode's wiring.
 *
 * `aggregate`: the kernel counts, per container and window, what the anomaly vector needs
 * (src/capture/ebpf-aggregate.ts) and we read it once per window; the vector comes from
 * src/encode/aggregate.ts. It serves detectors that read only anomaly vectors (`reads:
 * 'vectors'`: chids, the sequence autoencoders, a default-detector model without its n-gram
 * feature) in improved mode. `events`: one line per syscall, parsed and encoded here: what
 * detectors that read the syscalls themselves (the default's n-grams, STIDE, BoSC), faithful mode
 * and a --replicas companion need. `auto` (the default) picks aggregate whenever
 * it can serve the detector.
 */
import type { ContainerInfo } from '../capture/containers.js';
import type { LiveSource, SourceSpec } from '../capture/source.js';
import { AggregateEncoder } from '../encode/aggregate.js';
import type { EncodedWindow } from '../encode/anomaly.js';
import type { Vocabulary } from '../encode/vocabulary.js';
import type { Detector } from '../model/detector.js';
import { ChidsError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export type EbpfMode = 'auto' | 'aggregate' | 'events';
export const EBPF_MODES: readonly EbpfMode[] = ['auto', 'aggregate', 'events'];

/** The mode a run uses (throws when the one asked for cannot serve the detector). */
export function resolveEbpfMode(asked: EbpfMode | undefined, scorer: Pick<Detector, 'reads' | 'kind'>, faithful: boolean, eventsFor?: string): 'aggregate' | 'events' {
  const mode = asked ?? 'auto';
  if (mode === 'events') return 'events';
  const why =
    scorer.reads !== 'vectors'
      ? `the ${scorer.kind} detector reads the syscalls themselves`
      : faithful
        ? 'faithful mode reads arguments by their position in each event line'
        : (eventsFor ?? null);
  if (why === null) return 'aggregate';
  if (mode === 'aggregate') throw new ChidsError(`--ebpf-mode aggregate: ${why}; use --ebpf-mode events`);
  return 'events';
}

export interface AggregateWiring {
  mode: EbpfMode | undefined;
  source: Omit<SourceSpec, 'log'>;
  scorer: Pick<Detector, 'reads' | 'kind'>;
  vocab: Vocabulary;
  faithful: boolean;
  windowNs: number;
  graceMs?: number;
  monitor: { pushWindow(container: ContainerInfo, w: EncodedWindow): void };
  log: Logger;
  /** Something else in this run reads the events (why, for the message): events mode. */
  eventsFor?: string;
}

/** The aggregate eBPF source feeding the monitor, or null when this run uses another source or mode. */
export async function openAggregateSource(o: AggregateWiring): Promise<LiveSource | null> {
  if (o.source.kind !== 'ebpf') {
    if (o.mode === 'aggregate') throw new ChidsError('--ebpf-mode aggregate needs --source ebpf');
    return null;
  }
  const mode = resolveEbpfMode(o.mode, o.scorer, o.faithful, o.eventsFor);
  o.log.info('ebpf mode', { mode, asked: o.mode ?? 'auto', detector: o.scorer.kind, reads: o.scorer.reads });
  if (mode !== 'aggregate') return null;
  const { AggregateEbpfSource } = await import('../capture/ebpf-aggregate.js');
  const encoder = new AggregateEncoder(o.vocab);
  return new AggregateEbpfSource(
    { ...o.source, log: o.log },
    {
      windowNs: o.windowNs,
      graceMs: o.graceMs,
      onWindow: (w) => {
        const v = encoder.encode(w.aggregate);
        o.monitor.pushWindow(w.container, { index: w.index, startNs: w.startNs, events: w.aggregate.events, av: v.av, unseenSyscalls: v.unseenSyscalls, unseenArgs: v.unseenArgs });
      },
    },
  );
}
