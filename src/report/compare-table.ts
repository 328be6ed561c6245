/** The `chids compare` table (cli-table3), one row per model. */
import Table from 'cli-table3';
import { stdoutColors as pc } from './colors.js';
import type { CompareResult } from '../app/compare.js';
import { fmtDetection, fmtFar, fmtMs, fmtPct, fmtTheta } from './format.js';

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const head = (s: string) => (color ? pc.bold(pc.cyan(s)) : s);

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);
const at = (v: number | null, theta: number | null) => (v === null ? '—' : `${pct(v)} (θ ${fmtTheta(theta!)})`);

function rate(v: number | null): string {
  if (v === null) return '—';
  if (v >= 1e5) return `${(v / 1e3).toFixed(0)} k`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return v.toFixed(0);
}

export function compareTable(r: CompareResult): string {
  const t = new Table({
    head: ['model', 'DR @ FAR ≤ 1 %', 'DR @ FAR ≤ 5 %', 'AUC', 'latency', 'training', 'windows/s'].map(head),
    style: { head: [], border: color ? ['grey'] : [], compact: true },
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  for (const m of r.models) {
    if (m.error !== null) {
      t.push([m.model, { colSpan: 6, content: `failed: ${m.error}` }]);
      continue;
    }
    t.push([
      m.model,
      at(m.dr_at_far_1, m.theta_at_far_1),
      at(m.dr_at_far_5, m.theta_at_far_5),
      m.auc === null ? '—' : m.auc.toFixed(3),
      m.mean_latency_s === null ? '—' : `${m.mean_latency_s.toFixed(2)} s`,
      fmtMs(m.training_ms),
      rate(m.windows_per_s),
    ]);
  }
  const c = r.recordings;
  return [
    `Comparison on ${r.dataset}`,
    t.toString(),
    `trained on ${c.training} recordings, evaluated on ${c.normal} normal and ${c.attack} attack recordings; seed ${r.seed}` +
      (r.far_resolution === null ? '' : `; FAR resolution 1/${c.normal} (a FAR budget below ${fmtPct(r.far_resolution)} means no false alarm)`),
    'DR/FAR per recording (any window above the training bound × θ); AUC over recordings (score = highest window score);',
    'latency: exploit start → end of the first alarming window, at the θ of the FAR ≤ 5 % column; windows/s: evaluate end to end.',
    '',
    `At θ 1.0 (thresholds from training alone, the monitor's default)`,
    theta1Table(r),
    'DR / FAR: attack / normal recordings with any alarm. LID-DS: detected = attack recordings with an alarm after the exploit',
    'start; CFA = runs of consecutive false-alarm windows; precision = detected / (detected + CFA); latency = mean, exploit start →',
    'end of the first alarming window after it.',
  ].join('\n');
}

function theta1Table(r: CompareResult): string {
  const t = new Table({
    head: ['model', 'DR', 'FAR', 'LID-DS detected', 'CFA', 'precision', 'mean latency'].map(head),
    style: { head: [], border: color ? ['grey'] : [], compact: true },
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  const c = r.recordings;
  for (const m of r.models) {
    const a = m.at_theta_1;
    if (m.error !== null || a === null) {
      t.push([m.model, { colSpan: 6, content: m.error === null ? '—' : 'failed (above)' }]);
      continue;
    }
    t.push([
      m.model,
      fmtDetection(a.flagged_attack, c.attack),
      fmtFar(a.flagged_normal, c.normal),
      c.attack === 0 ? 'n/a' : `${a.detected}/${c.attack}`,
      String(a.cfa),
      a.precision === null ? '—' : a.precision.toFixed(3),
      a.mean_latency_s === null ? '—' : `${a.mean_latency_s.toFixed(2)} s`,
    ]);
  }
  return t.toString();
}
