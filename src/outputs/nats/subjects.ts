/**
 * Names on the broker: the two streams, their subjects, the baseline bucket, the consumers, and
 * the deterministic message ids that make a retried publish a no-op.
 *
 * Subjects carry the node and the container as tokens: `chids.windows.<node>.<container>` and
 * `chids.alerts.<node>.<container>`, so a consumer can filter one node (`chids.windows.web-3.>`)
 * or one container everywhere (`chids.windows.*.nginx-1`), and a cluster can place subject
 * partitions on different streams later without renaming anything.
 */

export const WINDOWS_STREAM = 'CHIDS_WINDOWS';
export const ALERTS_STREAM = 'CHIDS_ALERTS';
export const WINDOWS_PREFIX = 'chids.windows';
export const ALERTS_PREFIX = 'chids.alerts';
/** Object store bucket of baselines, one object per image. */
export const BASELINES_BUCKET = 'chids-baselines';
/** Durable pull consumers of `chids fleet` (every instance binds the same ones and they share the work). */
export const WINDOWS_CONSUMER = 'chids-fleet-windows';
export const ALERTS_CONSUMER = 'chids-fleet-alerts';

/**
 * A name as one subject token: NATS subjects split on '.', and '*', '>' and whitespace are
 * special; those (and anything outside a conservative set) become '_'. Never empty.
 */
export function subjectToken(name: string): string {
  const t = name.replace(/[^A-Za-z0-9_\-:@]/g, '_');
  return t === '' ? '_' : t;
}

export function windowSubject(node: string, container: string): string {
  return `${WINDOWS_PREFIX}.${subjectToken(node)}.${subjectToken(container)}`;
}

export function alertSubject(node: string, container: string): string {
  return `${ALERTS_PREFIX}.${subjectToken(node)}.${subjectToken(container)}`;
}

/**
 * A window's message id: node, container and window start. The same window published twice (a
 * retry after a lost ack, a spool replayed after a crash) has the same id, and JetStream keeps
 * only the first within the stream's duplicate window.
 */
export function windowMsgId(node: string, container: string, startNs: bigint | string): string {
  return `w:${subjectToken(node)}:${subjectToken(container)}:${startNs}`;
}

/** An alert's message id: its rule too, since one window may raise a detector alert and a replica alert. */
export function alertMsgId(rule: string, node: string, container: string, startNs: bigint | string): string {
  return `a:${rule.replace(/\s+/g, '_')}:${subjectToken(node)}:${subjectToken(container)}:${startNs}`;
}
