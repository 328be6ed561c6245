/**
 * The `chids compare --report FILE` page: the comparison table and two charts, in the style of
 * the HTML report (same stylesheet, same hand-written SVG charts; self-contained, no script):
 * - the ROC over recordings of every detector, with each one's ten θ as dots;
 * - cost: training time against scoring throughput (log axes), one labelled dot per detector.
 */
import type { CompareResult, ModelComparison } from '../app/compare.js';
import { chart, esc, fmtTick, type Marker, type Series } from './charts.js';
import { fmtDetection, fmtFar, fmtMs, fmtTheta } from './format.js';
import { CSS } from './html.js';
import { maxOf, minOf } from '../util/extent.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];
const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);

function rocChart(r: CompareResult): string {
  const series: Series[] = [];
  const markers: Marker[] = [];
  r.models.forEach((m, i) => {
    if (m.error !== null) return;
    const color = PALETTE[i % PALETTE.length];
    series.push({ name: `${m.model} (AUC ${m.auc === null ? 'n/a' : m.auc.toFixed(3)})`, color, width: 2, points: m.roc.map((p) => [p.fpr, p.tpr] as const) });
    m.detection_rate.forEach((dr, k) => {
      const far = m.false_alarm_rate[k];
      if (dr === null || far === null) return;
      markers.push({ x: far, y: dr, color, r: 2.5, title: `${m.model}, θ = ${fmtTheta(r.theta[k])}: FAR ${pct(far)}, DR ${pct(dr)}` });
    });
  });
  return chart({
    id: 'cmp-roc',
    width: 560,
    height: 420,
    title: 'ROC over recordings, per detector',
    description: 'ROC curves over recordings of every compared detector, with the ten θ operating points',
    x: { min: -0.02, max: 1.02, label: 'false-positive rate (normal recordings)', ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    y: { min: -0.02, max: 1.04, label: 'true-positive rate (attacks)', ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    diagonal: true,
    series,
    markers,
    legendExtra: [{ name: 'θ operating points', color: '#444', shape: 'dot' }],
  });
}

function costChart(r: CompareResult): string {
  const pts = r.models.filter((m) => m.error === null && m.training_ms > 0 && m.windows_per_s > 0);
  const xs = pts.map((m) => m.training_ms / 1000);
  const ys = pts.map((m) => m.windows_per_s);
  const lo = (v: number[]) => Math.pow(10, Math.floor(Math.log10(minOf(v)) - 0.2));
  const hi = (v: number[]) => Math.pow(10, Math.ceil(Math.log10(maxOf(v)) + 0.2));
  const markers: Marker[] = pts.map((m) => ({
    x: m.training_ms / 1000,
    y: m.windows_per_s,
    color: PALETTE[r.models.indexOf(m) % PALETTE.length],
    r: 5,
    label: m.model,
    title: `${m.model}: training ${fmtMs(m.training_ms)}, ${Math.round(m.windows_per_s)} windows/s`,
  }));
  return chart({
    id: 'cmp-cost',
    width: 460,
    height: 420,
    title: 'Cost: training time and scoring throughput',
    description: 'training time against windows scored per second, per detector (log scales)',
    x: pts.length ? { min: lo(xs), max: hi(xs), log: true, label: 'training time (s)', format: fmtTick } : { min: 0, max: 1, label: 'training time (s)' },
    y: pts.length ? { min: lo(ys), max: hi(ys), log: true, label: 'windows scored per second (evaluate)', format: fmtTick } : { min: 0, max: 1, label: 'windows/s' },
    markers,
  });
}

function row(m: ModelComparison): string {
  if (m.error !== null) return `<tr><td>${esc(m.model)}</td><td colspan="6">failed: ${esc(m.error)}</td></tr>`;
  const at = (v: number | null, t: number | null) => (v === null ? '—' : `${pct(v)} <span class="sub">θ ${fmtTheta(t!)}</span>`);
  const cells = [
    `<td>${esc(m.model)}</td>`,
    `<td class="n">${at(m.dr_at_far_1, m.theta_at_far_1)}</td>`,
    `<td class="n">${at(m.dr_at_far_5, m.theta_at_far_5)}</td>`,
    `<td class="n">${m.auc === null ? '—' : m.auc.toFixed(3)}</td>`,
    `<td class="n">${m.mean_latency_s === null ? '—' : `${m.mean_latency_s.toFixed(2)} s`}</td>`,
    `<td class="n">${esc(fmtMs(m.training_ms))}</td>`,
    `<td class="n">${Math.round(m.windows_per_s).toLocaleString('en')}</td>`,
  ];
  return `<tr>${cells.join('')}</tr>`;
}

function theta1Row(m: ModelComparison, r: CompareResult): string {
  const a = m.at_theta_1;
  if (m.error !== null || a === null) return `<tr><td>${esc(m.model)}</td><td colspan="6">${m.error === null ? '—' : 'failed (above)'}</td></tr>`;
  const c = r.recordings;
  const cells = [
    `<td>${esc(m.model)}</td>`,
    `<td class="n">${esc(fmtDetection(a.flagged_attack, c.attack))}</td>`,
    `<td class="n">${esc(fmtFar(a.flagged_normal, c.normal))}</td>`,
    `<td class="n">${c.attack === 0 ? 'n/a' : `${a.detected}/${c.attack}`}</td>`,
    `<td class="n">${a.cfa}</td>`,
    `<td class="n">${a.precision === null ? '—' : a.precision.toFixed(3)}</td>`,
    `<td class="n">${a.mean_latency_s === null ? '—' : `${a.mean_latency_s.toFixed(2)} s`}</td>`,
  ];
  return `<tr>${cells.join('')}</tr>`;
}

export function renderComparison(r: CompareResult, opts: { generatedAt?: Date; version?: string } = {}): string {
  const when = (opts.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const c = r.recordings;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chids detector comparison</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>chids detector comparison</h1>
<p class="meta">${esc(r.dataset)}: trained on ${c.training} recordings, evaluated on ${c.normal} normal and ${c.attack} attack recordings; seed ${r.seed}; ${esc(when)}</p>
</header>
<section id="table">
<h2>Detectors side by side</h2>
<div class="scroll"><table class="num">
<thead><tr><th>model</th><th>DR at FAR ≤ 1 %</th><th>DR at FAR ≤ 5 %</th><th>AUC</th><th>mean latency</th><th>training time</th><th>windows/s</th></tr></thead>
<tbody>${r.models.map(row).join('\n')}</tbody>
</table></div>
<p class="note">DR / FAR: share of attack / normal recordings with a window above the model's training bound × θ (the max of its training scores; STIDE, BoSC: a robust bound of them), the best DR over the ten θ within the FAR budget${r.far_resolution === null ? '' : ` (FAR resolution 1/${c.normal}: every rate moves in steps of one normal recording)`}. AUC: over recordings, a recording's score being its highest window score. Latency: exploit start to the end of the first alarming window after it, at the θ of the FAR ≤ 5 % column. Windows/s: <code>evaluate</code> end to end (reading, encoding, scoring).</p>
<h3>At θ 1.0</h3>
<div class="scroll"><table class="num">
<thead><tr><th>model</th><th>DR</th><th>FAR</th><th>LID-DS detected</th><th>CFA</th><th>precision</th><th>mean latency</th></tr></thead>
<tbody>${r.models.map((m) => theta1Row(m, r)).join('\n')}</tbody>
</table></div>
<p class="note">θ 1.0: thresholds from training alone (the monitor's default). DR / FAR: attack / normal recordings with any alarm. LID-DS detected: attack recordings with an alarm after the exploit start; CFA: runs of consecutive false-alarm windows; precision: detected / (detected + CFA); latency: mean, exploit start to the end of the first alarming window after it.</p>
</section>
<section id="charts">
<h2>Charts</h2>
<div class="charts">
<figure class="wide">${rocChart(r)}</figure>
<figure>${costChart(r)}</figure>
</div>
</section>
<footer>Generated by chids${opts.version ? ` ${esc(opts.version)}` : ''} compare on ${esc(when)}.</footer>
</main>
</body>
</html>
`;
}
