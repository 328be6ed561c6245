/** The text summary of `chids replicas`: one block per replica, the items that made it differ. */
import { stdoutColors as pc } from './colors.js';
import type { ReplicasResult } from '../app/replicas.js';

/** Items shown per aspect in the text summary (the JSON has up to 20). */
const SHOWN = 5;

export function replicasSummary(r: ReplicasResult): string {
  const lines: string[] = [];
  const flagged = r.replicas.filter((x) => x.flagged).length;
  lines.push(
    `${r.replicas.length} replicas, ${r.windows_compared} windows of ${r.window_ns / 1e9}s compared` +
      (r.windows_outside_span > 0 ? ` (${r.windows_outside_span} outside the common span skipped)` : '') +
      `, threshold ${r.threshold}: ${flagged === 0 ? 'none flagged' : `${flagged} flagged`}`,
  );
  r.replicas.forEach((x, i) => {
    const head = x.flagged ? pc.red('FLAGGED') : pc.green('ok');
    const when = x.first_alarm_ns === null ? '' : `, first alarm at ${formatNs(x.first_alarm_ns, r.align_starts)} (${x.alarm_windows} alarm window${x.alarm_windows === 1 ? '' : 's'})`;
    lines.push(`replica ${i + 1} ${x.file}: ${head}, max score ${x.max_score.toFixed(3)}${when}`);
    if (!x.flagged) return;
    for (const a of x.aspects) {
      const items = a.only_here.slice(0, SHOWN).join(', ');
      const more = a.only_here_total > SHOWN ? ` (+${a.only_here_total - Math.min(SHOWN, a.only_here.length)} more)` : '';
      lines.push(`  ${a.aspect.padEnd(19)} ${a.max_dissimilarity.toFixed(2)}${items ? `  only here: ${items}${more}` : ''}`);
    }
  });
  return lines.join('\n');
}

/** Absolute epoch ns as UTC time; seconds since the start when the starts were aligned or the clock is not epoch time. */
function formatNs(ns: string, aligned: boolean): string {
  const v = BigInt(ns);
  if (!aligned && v > 946_684_800_000_000_000n) return new Date(Number(v / 1_000_000n)).toISOString();
  return `+${(Number(v) / 1e9).toFixed(1)}s`;
}
