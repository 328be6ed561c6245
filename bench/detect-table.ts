/**
 * The bench:detect table of one victim, from `chids compare --json` (pure).
 *
 * compare reports DR at FAR ≤ 1 % and ≤ 5 %; the benchmark asks for FAR 0 and FAR ≤ 2 %, so
 * both are taken here from compare's per-θ rates with compare's own rule (`bestAtFar`: the
 * best DR among the θ whose per-recording FAR is within the limit, ties to the larger θ).
 * LID-DS precision (detected / (detected + CFA)) and latency are read at the θ of the
 * FAR ≤ 2 % column from compare's per-θ LID-DS metrics.
 */
import { bestAtFar, type CompareResult, type ModelComparison } from '../src/app/compare.js';

export type CompareJson = Pick<CompareResult, 'recordings' | 'models' | 'theta' | 'seed' | 'dataset'>;

export interface BenchRow {
  model: string;
  error: string | null;
  /** DR at FAR 0: rate, θ, detected attack recordings. */
  dr_far0: number | null;
  theta_far0: number | null;
  detected_far0: number | null;
  dr_far2: number | null;
  theta_far2: number | null;
  detected_far2: number | null;
  /** False-alarm normal recordings at theta_far2. */
  false_alarms_far2: number | null;
  auc: number | null;
  /** LID-DS, at theta_far2. */
  precision_far2: number | null;
  lidds_detected_far2: number | null;
  cfa_far2: number | null;
  latency_s_far2: number | null;
  training_ms: number;
  windows_per_s: number;
}

const count = (rate: number | null, n: number) => (rate === null ? null : Math.round(rate * n));

export function benchRow(m: ModelComparison, rec: CompareJson['recordings'], theta: readonly number[]): BenchRow {
  const at0 = bestAtFar(m.detection_rate, m.false_alarm_rate, 0);
  const at2 = bestAtFar(m.detection_rate, m.false_alarm_rate, 0.02);
  const k = at2.index;
  const lid = m.lidds ?? null;
  return {
    model: m.model,
    error: m.error,
    dr_far0: at0.rate,
    theta_far0: at0.index === null ? null : theta[at0.index],
    detected_far0: count(at0.rate, rec.attack),
    dr_far2: at2.rate,
    theta_far2: k === null ? null : theta[k],
    detected_far2: count(at2.rate, rec.attack),
    false_alarms_far2: k === null ? null : count(m.false_alarm_rate[k], rec.normal),
    auc: m.auc,
    precision_far2: k === null || !lid ? null : lid.precision_cfa[k],
    lidds_detected_far2: k === null || !lid ? null : lid.detected[k],
    cfa_far2: k === null || !lid ? null : lid.cfa[k],
    latency_s_far2: k === null || !lid ? null : lid.mean_latency_s[k],
    training_ms: m.training_ms,
    windows_per_s: m.windows_per_s,
  };
}

const fmtTheta = (t: number | null) => (t === null ? '' : ` (θ ${Number(t.toFixed(2))})`);
const dr = (rate: number | null, n: number | null, of: number, theta: number | null) => (rate === null ? '—' : `${rate.toFixed(2)} = ${n}/${of}${fmtTheta(theta)}`);

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function benchTable(c: CompareJson): { rows: BenchRow[]; markdown: string } {
  const rec = c.recordings;
  const rows = c.models.map((m) => benchRow(m, rec, c.theta));
  const head = ['detector', 'DR @ FAR 0', `DR @ FAR ≤ 2 % (false alarms /${rec.normal})`, 'AUC', 'LID-DS precision (detected, CFA)', 'latency', 'training', 'windows/s'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    if (r.error !== null) {
      lines.push(`| ${r.model} | failed: ${r.error.replace(/\|/g, '\\|')} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const fa = r.false_alarms_far2 === null ? '' : `, ${r.false_alarms_far2}/${rec.normal}`;
    lines.push(
      `| ${[
        r.model,
        dr(r.dr_far0, r.detected_far0, rec.attack, r.theta_far0),
        r.dr_far2 === null ? '—' : `${dr(r.dr_far2, r.detected_far2, rec.attack, r.theta_far2)}${fa}`,
        r.auc === null ? '—' : r.auc.toFixed(3),
        r.precision_far2 === null ? '—' : `${r.precision_far2.toFixed(2)} (${r.lidds_detected_far2}, ${r.cfa_far2})`,
        r.latency_s_far2 === null ? '—' : `${r.latency_s_far2.toFixed(2)} s`,
        duration(r.training_ms),
        r.windows_per_s >= 1e4 ? `${(r.windows_per_s / 1e3).toFixed(1)} k` : r.windows_per_s.toFixed(0),
      ].join(' | ')} |`,
    );
  }
  return { rows, markdown: lines.join('\n') };
}
