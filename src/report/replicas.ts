/** The text summary of `chids replicas`: one block per replica, the items that made it differ. */
import { stdoutColors as pc } from './colors.js';
import Table from 'cli-table3';
import type { DatasetEvaluation } from '../app/replicas-dataset.js';
import type { ReplicasResult } from '../app/replicas.js';

/** Items shown per aspect in the text summary (the JSON has up to 20). */
const SHOWN = 5;

export function replicasSummary(r: ReplicasResult): string {
  const lines: string[] = [];
  const flagged = r.replicas.filter((x) => x.flagged).length;
  lines.push(
    `${r.replicas.length} replicas, ${r.windows_compared} windows of ${r.window_ns / 1e9}s compared` +
      (r.windows_outside_span > 0 ? ` (${r.windows_outside_span} outside the common span skipped)` : '') +
      `, ${r.similarity} similarity, threshold ${r.threshold}: ${flagged === 0 ? 'none flagged' : `${flagged} flagged`}`,
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
      // `counted`: what it did more often than its siblings (count here vs the sibling's, scaled to this replica's volume).
      const often = (a.more_here ?? []).slice(0, SHOWN).map((m) => `${m.item} ×${m.count} (sibling ~${m.expected})`);
      if (often.length > 0) lines.push(`  ${''.padEnd(19)}      more often here: ${often.join(', ')}`);
      // `programs`: the program most of whose own items were new (when the replica's share alone was small).
      if (a.by_program) lines.push(`  ${''.padEnd(19)}      by program: ${a.by_program.program}, ${a.by_program.unexplained} of its ${a.by_program.items} new`);
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

/** The text report of `chids replicas --dataset`: counts, then DR and FAR per threshold (every 0.1 and the chosen one). */
export function replicaDatasetSummary(e: DatasetEvaluation): string {
  const a = e.at;
  const groupsAttacked = e.groups.filter((g) => g.exploit.some(Boolean)).length;
  const lines = [
    `${e.groups.length} replica groups (${groupsAttacked} with an attacked replica, ${e.groups.length - groupsAttacked} attack-free), ${e.window_ns / 1e9}s windows, ${e.similarity} similarity`,
    `at threshold ${a.threshold}: detection ${a.detected}/${a.attacked} = ${pct(a.dr)}, false alarms ${a.false_alarms}/${a.normal} normal replicas = ${pct(a.far)}` +
      ` (attack-free groups with an alarm: ${a.groups_false_alarm}/${a.groups_attack_free})` +
      (a.mean_latency_s === null ? '' : `, mean latency ${a.mean_latency_s.toFixed(1)} s`),
    '',
  ];
  const t = new Table({ head: ['threshold', 'DR', 'FAR', 'groups w/ FA', 'latency'], style: { head: [], border: [], compact: true } });
  for (const r of e.rows) {
    if (Math.abs(r.threshold * 10 - Math.round(r.threshold * 10)) > 1e-9 && r.threshold !== a.threshold) continue;
    t.push([
      `${r.threshold === a.threshold ? '* ' : ''}${r.threshold.toFixed(2)}`,
      `${r.detected}/${r.attacked} ${pct(r.dr)}`,
      `${r.false_alarms}/${r.normal} ${pct(r.far)}`,
      `${r.groups_false_alarm}/${r.groups_attack_free}`,
      r.mean_latency_s === null ? '-' : `${r.mean_latency_s.toFixed(1)} s`,
    ]);
  }
  lines.push(t.toString());
  return lines.join('\n');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}
