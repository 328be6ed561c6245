/**
 * The HTML report: one self-contained file (inline CSS and inline SVG, no script, no network)
 * made from an evaluation result (`chids evaluate --json`, or the demo's run):
 *
 * - summary figures at a chosen θ (default 1.0), AUC;
 * - detection and false-alarm rates against θ, and the ROC curve over recordings;
 * - a table per θ (reference rates and the LID-DS metrics);
 * - a table of recordings with their verdict and detection latency at the chosen θ;
 * - for each recording, its window errors over time with the thresholds (min θ, chosen θ,
 *   max θ) and the exploit start marked.
 *
 * Metrics are recomputed from the windows (src/engine/metrics.ts), so a results file from any
 * chids version that has window errors makes the same report.
 */
import path from 'node:path';
import { z } from 'zod';
import { computeMetrics, thetaIndex, verdictAt, type Metrics, type RecordingMetrics, type Verdict } from '../engine/metrics.js';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { readJsonFile, validate } from '../util/json.js';
import { chart, esc, fmtTick, type Marker, type RefLine, type Series } from './charts.js';
import { fmtDetection, fmtFar, fmtNum, fmtRate, fmtTheta } from './format.js';
import { maxOf, minOf } from '../util/extent.js';

// ---------------------------------------------------------------------------------------------
// Input: what the report reads from an evaluation result

const Labels = z
  .looseObject({
    exploit: z.boolean().optional(),
    exploitStartSec: z.number().nullable().optional(),
    exploitName: z.string().optional(),
  })
  .nullable()
  .optional();

const Recording = z.looseObject({
  file: z.string(),
  class: z.enum(['normal', 'attack']),
  events: z.number().optional(),
  windows: z.number().int().nonnegative().optional(),
  max_error: z.number(),
  start_ns: z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v) => (typeof v === 'number' ? BigInt(v).toString() : v)),
  window_ns: z.number().int().positive(),
  window_errors: z.array(z.number().nullable()),
  labels: Labels,
});

const Rate = z.array(z.number().nullable());

export const ResultsSchema = z.looseObject({
  theta: z.array(z.number()).min(1),
  thresholds: z.array(z.number()).min(1),
  detection_rate: Rate,
  false_alarm_rate: Rate,
  recordings: z.array(Recording),
  skipped: z.array(z.looseObject({ path: z.string(), reason: z.string(), class: z.string().optional() })).optional(),
  faithful: z.boolean().optional(),
  window_ns: z.number().optional(),
  model: z.string().optional(),
});

/** What the report needs of a recording (RecordingResult, or its JSON read back). */
export interface ReportRecording {
  file: string;
  class: 'normal' | 'attack';
  max_error: number;
  start_ns: string;
  window_ns: number;
  window_errors: readonly (number | null)[];
  labels?: { exploitStartSec?: number | null } | null;
}

/** What the report needs of an evaluation (EvaluationResult, or its JSON read back). */
export interface ReportInput {
  theta: readonly number[];
  thresholds: readonly number[];
  detection_rate: readonly (number | null)[];
  false_alarm_rate: readonly (number | null)[];
  recordings: readonly ReportRecording[];
  skipped?: readonly { path: string; reason: string; class?: string }[];
  faithful?: boolean;
  window_ns?: number;
  model?: string;
}

/** Checks an evaluation result (parsed JSON) and returns it typed; InputError naming `file` otherwise. */
export function parseResults(doc: unknown, file: string): ReportInput {
  const v: ReportInput = validate(file, ResultsSchema, doc, 'chids evaluation result', ' (make one with `chids evaluate --json > results.json`)');
  if (v.thresholds.length !== v.theta.length) throw new InputError(file, `${v.theta.length} θ values but ${v.thresholds.length} thresholds`);
  return v;
}

export async function readResults(file: string): Promise<ReportInput> {
  return parseResults(await readJsonFile(file), file);
}

// ---------------------------------------------------------------------------------------------
// Output


export interface ReportOptions {
  /** θ for the verdicts, the summary and the highlighted threshold; the nearest θ is used. Default 1.0. */
  theta?: number;
  /** Shown in the header; default: now. */
  generatedAt?: Date;
  title?: string;
  /** What was evaluated (dataset directory, results file), shown in the header. */
  source?: string;
  /** chids version, shown in the footer. */
  version?: string;
  /** At most this many per-recording timelines (attacks first); default 400. */
  maxTimelines?: number;
}

/** Renders the report and writes it atomically; returns the absolute path written. */
export async function writeReport(file: string, results: ReportInput, opts: ReportOptions = {}): Promise<string> {
  const html = renderReport(results, opts);
  await writeFileAtomic(file, html);
  return path.resolve(file);
}

// ---------------------------------------------------------------------------------------------
// Rendering

const C = {
  blue: '#1f77b4',
  red: '#d62728',
  green: '#2ca02c',
  purple: '#9467bd',
  orange: '#ff7f0e',
  grey: '#7f7f7f',
  dark: '#8b1a1a',
};

const VERDICT_CLASS: Record<Verdict, string> = {
  detected: 'ok',
  missed: 'bad',
  'false alarm': 'warn',
  clean: 'quiet',
};

const fmtSec = (s: number | null): string => (s === null ? '–' : `${fmtNum(s, 3)} s`);
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(v === 1 || v === 0 ? 0 : 1)} %`);
const baseName = (f: string): string => f.split(/[\\/]/).pop() || f;

/** The metrics of a results file, recomputed from its windows. */
export function reportMetrics(r: ReportInput): Metrics {
  return computeMetrics({
    theta: r.theta,
    thresholds: r.thresholds,
    recordings: r.recordings.map((x) => ({ ...x, labels: x.labels ? { exploitStartSec: x.labels.exploitStartSec ?? null } : null })),
  });
}

export function renderReport(r: ReportInput, opts: ReportOptions = {}): string {
  const metrics = reportMetrics(r);
  const k = thetaIndex(r.theta, opts.theta ?? 1.0);
  const thetaLabel = fmtTheta(r.theta[k]);
  const title = opts.title ?? 'chids detection report';
  const when = (opts.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const order = recordingOrder(r.recordings);

  const parts: string[] = [];
  parts.push(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chids${opts.version ? ` ${esc(opts.version)}` : ''}">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${esc(title)}</h1>
<p class="meta">${headerMeta(r, metrics, opts, when)}</p>
</header>`);
  parts.push(summarySection(r, metrics, k, thetaLabel));
  parts.push(`<section id="charts">
<h2>Detection against θ</h2>
<p class="note">Threshold = θ × the highest reconstruction error seen in training. A recording is <em>flagged</em> when any of its windows is above it (the reference's detection and false-alarm rates); LID-DS counts an attack as <em>detected</em> only by an alarm after its exploit starts.</p>
<div class="charts">
<figure class="wide">${rateChart(r, metrics, k)}</figure>
<figure>${rocChart(r, metrics, k)}</figure>
</div>
</section>`);
  parts.push(thetaTable(r, metrics, k));
  parts.push(recordingTable(r, metrics, k, thetaLabel, order));
  parts.push(timelines(r, metrics, k, order, opts.maxTimelines ?? 400));
  if (r.skipped?.length) {
    parts.push(`<section id="skipped"><h2>Skipped inputs</h2><ul>${r.skipped
      .map((s) => `<li><code>${esc(s.path)}</code>${s.class ? ` (${esc(s.class)})` : ''}: ${esc(s.reason)}</li>`)
      .join('')}</ul></section>`);
  }
  parts.push(DEFINITIONS);
  parts.push(`<footer>Generated by chids${opts.version ? ` ${esc(opts.version)}` : ''} on ${esc(when)}. CHIDS method: El Khairi et al., “Contextualizing System Calls in Containers for Anomaly-Based Intrusion Detection”, ACM CCSW 2022.</footer>
</main>
</body>
</html>
`);
  return parts.join('\n');
}

/** Attack recordings first (in evaluation order), then normal ones. */
function recordingOrder(recs: readonly ReportRecording[]): number[] {
  const idx = recs.map((_, i) => i);
  return [...idx.filter((i) => recs[i].class === 'attack'), ...idx.filter((i) => recs[i].class === 'normal')];
}

function headerMeta(r: ReportInput, m: Metrics, opts: ReportOptions, when: string): string {
  const bits = [
    `${m.attack_recordings} attack and ${m.normal_recordings} normal recordings`,
    r.model ? `model ${esc(r.model)}` : null,
    r.faithful === undefined ? null : r.faithful ? 'faithful encoding' : 'improved encoding',
    r.window_ns ? `${fmtNum(r.window_ns / 1e9)} s windows` : null,
    opts.source ? `data: <code>${esc(opts.source)}</code>` : null,
    `generated ${esc(when)}`,
  ];
  return bits.filter(Boolean).join(' · ');
}

/** "k/n" of a rate over n recordings (the rate is k/n exactly). */
function countOf(rate: number | null | undefined, n: number): string {
  return rate == null || n === 0 ? 'n/a' : `${Math.round(rate * n)}/${n}`;
}

function summarySection(r: ReportInput, m: Metrics, k: number, thetaLabel: string): string {
  const card = (label: string, value: string, hint: string) =>
    `<div class="card"><div class="value">${value}</div><div class="label">${label}</div><div class="hint">${hint}</div></div>`;
  const det = m.attack_recordings ? `${m.detected[k]}/${m.attack_recordings}` : 'n/a';
  return `<section id="summary">
<h2>At θ = ${thetaLabel} <span class="sub">(threshold ${esc(fmtNum(r.thresholds[k]))})</span></h2>
<div class="cards">
${card('AUC', m.auc === null ? 'n/a' : m.auc.toFixed(3), 'recordings ranked by their highest window error')}
${card('detection rate', pct(r.detection_rate[k] ?? null), `${countOf(r.detection_rate[k], m.attack_recordings)} attack recordings flagged`)}
${card('false-alarm rate', pct(r.false_alarm_rate[k] ?? null), `${countOf(r.false_alarm_rate[k], m.normal_recordings)} normal recordings flagged; resolution ${m.normal_recordings ? `1/${m.normal_recordings}` : 'n/a'}`)}
${card('detected after exploit', det, 'alarm at or after the exploit start')}
${card('precision (CFA)', fmtRate(m.precision_cfa[k]), `F1 ${fmtRate(m.f1_cfa[k])}`)}
${card('consecutive false alarms', String(m.cfa[k]), `${m.false_alarm_windows[k]} false-alarm windows`)}
${card('mean latency', fmtSec(m.mean_latency_s[k]), 'exploit start → alarm')}
</div>
</section>`;
}

function rateChart(r: ReportInput, m: Metrics, k: number): string {
  const pts = (ys: readonly (number | null)[]) => r.theta.map((t, i) => [t, ys[i] ?? null] as const);
  const series: Series[] = [
    { name: 'detection rate', color: C.blue, points: pts(r.detection_rate), marker: 3.5 },
    { name: 'false-alarm rate', color: C.red, points: pts(r.false_alarm_rate), marker: 3.5 },
    { name: 'detected after exploit', color: C.green, points: pts(m.recall), dash: '7 4', marker: 2.5 },
    { name: 'precision (CFA)', color: C.purple, points: pts(m.precision_cfa), dash: '2 3', marker: 2.5 },
  ];
  const lo = minOf(r.theta);
  const hi = maxOf(r.theta);
  const pad = (hi - lo) * 0.04 || 0.1;
  return chart({
    id: 'rates',
    width: 600,
    height: 360,
    title: 'Rates against θ',
    description: 'detection rate, false-alarm rate, LID-DS detection and precision against θ',
    className: 'rates',
    x: { min: lo - pad, max: hi + pad, label: 'θ (threshold = θ × max training error)', ticks: r.theta.length <= 12 ? r.theta : undefined, format: fmtTheta },
    y: { min: -0.02, max: 1.04, label: 'rate', ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    series,
    vlines: [{ value: r.theta[k], color: '#444', dash: '3 3', width: 1 }],
    legendExtra: [{ name: `θ = ${fmtTheta(r.theta[k])} (the report's θ)`, color: '#444', dash: '3 3' }],
  });
}

function rocChart(r: ReportInput, m: Metrics, k: number): string {
  const roc = m.roc;
  const base = {
    id: 'roc',
    width: 420,
    height: 360,
    className: 'roc',
    x: { min: -0.02, max: 1.02, label: 'false-positive rate (normal recordings)', ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    y: { min: -0.02, max: 1.04, label: 'true-positive rate (attacks)', ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
  };
  if (roc.auc === null) {
    return chart({
      ...base,
      title: 'ROC over recordings',
      description: 'ROC curve: not available, it needs both normal and attack recordings',
      markers: [{ x: 0.5, y: 0.5, color: '#999', r: 0, label: 'needs normal and attack recordings' }],
    });
  }
  const markers: Marker[] = [];
  r.theta.forEach((t, i) => {
    const x = r.false_alarm_rate[i];
    const y = r.detection_rate[i];
    if (x === null || y === null || x === undefined || y === undefined) return;
    markers.push({
      x,
      y,
      color: i === k ? C.red : '#444',
      r: i === k ? 5 : 3,
      title: `θ = ${fmtTheta(t)}: false-alarm rate ${fmtRate(x)}, detection rate ${fmtRate(y)}`,
      label: i === k ? `θ = ${fmtTheta(t)}` : undefined,
    });
  });
  return chart({
    ...base,
    title: `ROC over recordings (AUC ${roc.auc.toFixed(3)})`,
    description: `ROC curve over recordings, AUC ${roc.auc.toFixed(3)}`,
    diagonal: true,
    series: [{ name: `ROC, ${roc.positives} attack / ${roc.negatives} normal`, color: C.blue, width: 2.5, fillOpacity: 0.1, points: roc.points.map((p) => [p.fpr, p.tpr] as const) }],
    legendExtra: [{ name: 'θ values', color: '#444', shape: 'dot' }],
    markers,
  });
}

function thetaTable(r: ReportInput, m: Metrics, k: number): string {
  const rows = r.theta.map((t, i) => {
    const cells = [
      fmtTheta(t),
      esc(fmtNum(r.thresholds[i])),
      esc(r.detection_rate[i] == null ? 'n/a' : fmtDetection(Math.round(r.detection_rate[i]! * m.attack_recordings), m.attack_recordings)),
      esc(r.false_alarm_rate[i] == null ? 'n/a' : fmtFar(Math.round(r.false_alarm_rate[i]! * m.normal_recordings), m.normal_recordings)),
      m.attack_recordings ? `${m.detected[i]}/${m.attack_recordings}` : 'n/a',
      String(m.false_alarm_windows[i]),
      String(m.cfa[i]),
      fmtRate(m.precision_cfa[i]),
      fmtRate(m.f1_cfa[i]),
      fmtSec(m.mean_latency_s[i]),
    ];
    return `<tr${i === k ? ' class="chosen"' : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<section id="per-theta">
<h2>Per θ</h2>
<div class="scroll"><table class="num">
<thead><tr><th>θ</th><th>threshold</th><th>detection rate</th><th>false-alarm rate</th><th>detected after exploit</th><th>false-alarm windows</th><th>CFA</th><th>precision (CFA)</th><th>F1 (CFA)</th><th>mean latency</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>
</section>`;
}

function recordingTable(r: ReportInput, m: Metrics, k: number, thetaLabel: string, order: number[]): string {
  const rows = order.map((i) => {
    const rec = r.recordings[i];
    const rm = m.recordings[i];
    const v = verdictAt(rm, k);
    const flagged = rec.max_error > r.thresholds[k];
    return `<tr>
<td class="file"><a href="#rec-${i}" title="${esc(rec.file)}">${esc(baseName(rec.file))}</a></td>
<td>${rec.class}</td>
<td class="n">${rec.window_errors.length}</td>
<td class="n">${esc(fmtNum(rm.score, 4))}</td>
<td class="n">${rm.exploit_offset_s === null ? '–' : esc(fmtSec(rm.exploit_offset_s))}</td>
<td>${flagged ? 'yes' : 'no'}</td>
<td><span class="pill ${VERDICT_CLASS[v]}">${v}</span></td>
<td class="n">${esc(fmtSec(rm.latency_s[k]))}</td>
<td class="n">${rm.false_alarms[k]}</td>
<td class="n">${rm.cfa[k]}</td>
</tr>`;
  });
  return `<section id="recordings">
<h2>Recordings at θ = ${thetaLabel}</h2>
<div class="scroll"><table>
<thead><tr><th>recording</th><th>class</th><th>windows</th><th>score (max error)</th><th>exploit at</th><th>flagged</th><th>verdict</th><th>latency</th><th>false-alarm windows</th><th>CFA</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>
</section>`;
}

/** Max per bucket when a recording has more windows than a chart can show (alarms survive). */
function bucketed(errors: readonly (number | null)[], maxPoints: number): { at: number; value: number | null; from: number }[] {
  const n = errors.length;
  const size = Math.max(1, Math.ceil(n / maxPoints));
  const out: { at: number; value: number | null; from: number }[] = [];
  for (let b = 0; b < n; b += size) {
    let best: number | null = null;
    let from = b;
    for (let i = b; i < Math.min(n, b + size); i++) {
      const e = errors[i];
      if (e !== null && (best === null || e > best)) {
        best = e;
        from = i;
      }
    }
    out.push({ at: (b + Math.min(n, b + size)) / 2, value: best, from });
  }
  return out;
}

function timelines(r: ReportInput, m: Metrics, k: number, order: number[], max: number): string {
  const shown = order.slice(0, max);
  const figs = shown.map((i) => timeline(r, m.recordings[i], r.recordings[i], i, k));
  const more = order.length > shown.length ? `<p class="note">${order.length - shown.length} more recordings are not drawn (the table lists them all).</p>` : '';
  return `<section id="timelines">
<h2>Window errors over time</h2>
<p class="note">One point per window (its reconstruction error, log scale); gaps are empty windows. Lines: the thresholds at the smallest θ, at θ = ${fmtTheta(r.theta[k])}, and at the largest θ. Alarms at θ = ${fmtTheta(r.theta[k])} are marked: <span class="dot" style="background:${C.orange}"></span> false alarm, <span class="dot" style="background:${C.red}"></span> alarm after the exploit start.</p>
${figs.join('\n')}
${more}
</section>`;
}

function timeline(r: ReportInput, rm: RecordingMetrics, rec: ReportRecording, i: number, k: number): string {
  const W = rec.window_ns / 1e9;
  const n = rec.window_errors.length;
  const thr = r.thresholds;
  const kMin = thr.indexOf(minOf(thr));
  const kMax = thr.indexOf(maxOf(thr));
  const shownThr = [thr[kMin], thr[k], thr[kMax]].filter((t) => t > 0);
  const positives = rec.window_errors.filter((e): e is number => e !== null && e > 0);
  const all = [...positives, ...shownThr];
  let lo = all.length ? minOf(all) / 1.8 : 1e-3;
  let hi = all.length ? maxOf(all) * 1.8 : 1;
  if (!(hi > lo)) {
    lo = lo / 10 || 1e-3;
    hi = hi * 10 || 1;
  }
  const duration = Math.max(n * W, W);
  const attackFrom = rm.first_attack_window ?? Infinity;
  const points = bucketed(rec.window_errors, 1200);
  const series: Series[] = [
    {
      name: 'window error',
      color: C.blue,
      width: 1.5,
      marker: points.length <= 240 ? 2 : 0,
      points: points.map((p) => [p.at * W, p.value === null ? null : Math.max(p.value, lo)] as const),
    },
  ];
  const markers: Marker[] = [];
  for (const p of points) {
    if (p.value === null || !(p.value > thr[k])) continue;
    const after = p.from >= attackFrom;
    markers.push({
      x: p.at * W,
      y: p.value,
      color: after ? C.red : C.orange,
      r: 3.5,
      title: `window ${p.from} (${fmtNum(p.from * W, 4)} s): error ${fmtTick(p.value)} > ${fmtTick(thr[k])} — ${after ? 'alarm after the exploit' : 'false alarm'}`,
    });
  }
  const exploit = rm.exploit_offset_s;
  const v = verdictAt(rm, k);
  const svg = chart({
    id: `rec-${i}-chart`,
    width: 900,
    height: 240,
    className: 'timeline',
    description: `window errors of ${baseName(rec.file)} over time`,
    x: { min: 0, max: duration, label: 'seconds since the first event' },
    y: { min: lo, max: hi, log: true, label: 'reconstruction error' },
    series,
    legendExtra: [
      { name: `threshold at θ = ${fmtTheta(r.theta[k])}`, color: C.dark },
      { name: `θ = ${fmtTheta(r.theta[kMin])} and ${fmtTheta(r.theta[kMax])}`, color: C.grey, dash: '6 4' },
      { name: 'false alarm', color: C.orange, shape: 'dot' },
      { name: 'alarm after the exploit', color: C.red, shape: 'dot' },
      ...(exploit !== null ? [{ name: 'exploit start', color: C.red }] : []),
    ],
    hlines: ([
      { value: thr[kMax], color: C.grey, dash: '6 4', width: 1.2, label: `θ = ${fmtTheta(r.theta[kMax])}`, labelAt: 'start' },
      { value: thr[k], color: C.dark, width: 1.5, label: `θ = ${fmtTheta(r.theta[k])}` },
      { value: thr[kMin], color: C.grey, dash: '6 4', width: 1.2, label: `θ = ${fmtTheta(r.theta[kMin])}`, labelAt: 'start' },
    ] satisfies RefLine[]).filter((h) => h.value > 0),
    vlines: exploit !== null && exploit >= 0 && exploit <= duration ? [{ value: exploit, color: C.red, label: `exploit ${fmtNum(exploit, 4)} s` }] : [],
    xSpans: exploit !== null ? [{ from: Math.max(0, exploit), to: duration, color: C.red, opacity: 0.07 }] : [],
    markers,
  });
  const latency = rm.latency_s[k];
  return `<figure class="rec" id="rec-${i}">
<figcaption><strong title="${esc(rec.file)}">${esc(baseName(rec.file))}</strong> <span class="cls">${rec.class}</span> <span class="pill ${VERDICT_CLASS[v]}">${v}</span>${latency !== null ? ` <span class="sub">latency ${esc(fmtSec(latency))}</span>` : ''}${rm.false_alarms[k] ? ` <span class="sub">${rm.false_alarms[k]} false-alarm window${rm.false_alarms[k] === 1 ? '' : 's'}</span>` : ''}</figcaption>
${svg}
</figure>`;
}

const DEFINITIONS = `<section id="definitions">
<h2>How to read this</h2>
<dl>
<dt>Window error and threshold</dt><dd>Each window (1 s by default) of a recording becomes an anomaly vector; its score is the autoencoder's reconstruction error. The threshold at θ is θ × the highest error seen in training. A window <em>alarms</em> when its error is strictly above the threshold; empty windows are not scored.</dd>
<dt>Detection rate, false-alarm rate</dt><dd>The reference's recording-level rates: the share of attack (normal) recordings with at least one alarming window.</dd>
<dt>Before and after the exploit</dt><dd>Window <i>i</i> covers [start + <i>i</i>·W, start + (<i>i</i>+1)·W). It counts as after the exploit when it ends after the exploit start (LID-DS <code>time.exploit[0].absolute</code>), so the window that contains the exploit start counts as after. An attack recording without an exploit time counts every window as after.</dd>
<dt>False alarm</dt><dd>An alarming window of a normal recording, or of an attack recording before its exploit.</dd>
<dt>Detected after exploit (LID-DS detection rate)</dt><dd>An attack recording with an alarming window after its exploit start.</dd>
<dt>Latency</dt><dd>From the exploit start to the end of the first alarming window after it: the earliest moment a per-window detector could raise the alarm.</dd>
<dt>CFA (consecutive false alarms)</dt><dd>As in LID-DS, a run of consecutive false-alarm windows counts once. A run ends at a window that does not alarm, at the exploit start, or at the end of the recording; empty windows do not break it.</dd>
<dt>Precision and F1 (CFA)</dt><dd>Precision = detected attacks / (detected attacks + CFA); recall = detected attacks / attack recordings; F1 = 2·P·R / (P + R).</dd>
<dt>ROC and AUC</dt><dd>Over recordings: a recording's score is its highest window error, positive = attack recording. AUC is the area under the ROC (trapezoids), the probability that an attack recording outscores a normal one, ties counting ½. The dots on the curve are the ten θ values.</dd>
</dl>
</section>`;

/** The report's stylesheet (also used by the `chids compare --report` page). */
export const CSS = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d9dee4;--bg:#f6f8fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1080px;margin:0 auto;padding:24px 20px 40px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px}
.sub{color:var(--muted);font-weight:normal;font-size:13px}
.meta,.note{color:var(--muted)}
.note{font-size:13px;max-width:900px}
code{font-size:12px;background:#eef1f4;padding:1px 4px;border-radius:3px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .value{font-size:22px;font-weight:650}
.card .label{font-weight:600}
.card .hint{color:var(--muted);font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:14px}
.charts figure{flex:1 1 380px;display:flex;justify-content:center}
.charts figure.wide{flex:1.4 1 460px}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px;overflow:hidden}
figure svg{display:block;max-width:100%;height:auto}
figure.rec{margin:0 0 12px}
figcaption{padding:2px 6px 6px;font-size:13px}
figcaption .cls{color:var(--muted);margin-left:6px}
div.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:#eef1f4;font-weight:600;white-space:normal;vertical-align:bottom}
td.n,table.num td{text-align:right;font-variant-numeric:tabular-nums}
table.num td:first-child{text-align:left}
tr.chosen td{background:#fff4d6;font-weight:600}
td.file{max-width:340px;overflow:hidden;text-overflow:ellipsis}
a{color:#0b62c4;text-decoration:none}
a:hover{text-decoration:underline}
.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid transparent}
.pill.ok{background:#e3f4e4;color:#17652a;border-color:#b7dfbb}
.pill.bad{background:#fde4e4;color:#a11919;border-color:#f3b9b9}
.pill.warn{background:#fff0dc;color:#9a5200;border-color:#f5cf98}
.pill.quiet{background:#eef1f4;color:#4a525c;border-color:#d9dee4}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;vertical-align:middle}
dl{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 16px;margin:0}
dt{font-weight:600;margin-top:8px}
dd{margin:2px 0 0 0;color:#333}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media print{body{background:#fff}figure,table,.card{break-inside:avoid}}
`.trim();
