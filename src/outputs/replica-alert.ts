/**
 * The `Replica deviation` alert: a container that behaves unlike the other replicas of its
 * image in one window (src/engine/replica-watch.ts), in the same Falco shape as the trained
 * detector's alerts, with `chids.method` saying which method raised it.
 */
import os from 'node:os';
import type { ReplicaDeviation } from '../engine/replica-watch.js';
import { type FalcoAlert, isoNs } from './alerts.js';

export const REPLICA_ALERT_RULE = 'Replica deviation';
const HOST = os.hostname();

export function buildReplicaAlert(d: ReplicaDeviation): FalcoAlert {
  const endNs = d.startNs + BigInt(d.windowNs);
  const time = isoNs(endNs);
  const top = d.aspects
    .slice(0, 3)
    .map(
      (a) =>
        `${a.aspect} ${a.dissimilarity.toFixed(2)}${a.only_here.length ? ` (only here: ${a.only_here.slice(0, 3).join(', ')}${a.only_here_total > 3 ? `, … ${a.only_here_total - 3} more` : ''})` : ''}` +
        (a.more_here?.length ? ` (more often here: ${a.more_here.slice(0, 3).map((m) => `${m.item} ×${m.count} vs ~${m.expected}`).join(', ')})` : '') +
        (a.by_program ? ` (by ${a.by_program.program}: ${a.by_program.unexplained} of its ${a.by_program.items} new)` : ''),
    )
    .join('; ');
  const output =
    `${time.slice(11, 29)}: Warning replica deviation in container ${d.member.id} (group ${d.group}, ` +
    `${d.siblings.length + 1} replicas, window ${d.windowIndex}, ${d.events} events): score ${d.score.toFixed(4)} > threshold ${d.threshold}; ${top || 'differs from its siblings'}`;
  return {
    time,
    rule: REPLICA_ALERT_RULE,
    priority: 'Warning',
    output,
    source: 'syscall',
    tags: ['chids', 'replicas', 'container'],
    hostname: HOST,
    output_fields: {
      'container.id': d.member.id,
      'container.key': d.member.key,
      'evt.time': endNs,
      'chids.method': 'replicas',
      'chids.replica.group': d.group,
      'chids.replica.siblings': d.siblings.map((s) => s.id),
      'chids.window.index': d.windowIndex,
      'chids.window.start': isoNs(d.startNs),
      'chids.window.end': time,
      'chids.window.events': d.events,
      'chids.score': d.score,
      'chids.threshold': d.threshold,
      'chids.similarity': d.similarity,
      'chids.aspects': d.aspects,
    },
  };
}
