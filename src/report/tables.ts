/** Text tables for the terminal (cli-table3), colour only when stdout is a terminal. */
import Table from 'cli-table3';
import { stdoutColors as pc } from './colors.js';
import type { BaselineResult } from '../app/train.js';
import type { EvaluationResult } from '../app/evaluate.js';
import type { Metrics } from '../engine/metrics.js';
import { fmtDetection, fmtFar, fmtMs, fmtNum, fmtRate, fmtTheta } from './format.js';

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const head = (s: string) => (color ? pc.bold(pc.cyan(s)) : s);
const style = { head: [] as string[], border: color ? ['grey'] : [], compact: true };
// No rule between rows: a summary reads as a list, not a grid.
const chars = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

export function baselineTable(r: BaselineResult): string {
  const t = new Table({ style, chars });
  const mode = r.manifest.encoding.faithful ? 'faithful (reference quirks)' : 'improved (default)';
  t.push(
    { [head('output directory')]: r.outDir },
    { [head('model')]: r.model },
    { [head('encoding')]: `${mode}, ${r.manifest.encoding.window_ns / 1e9} s windows` },
    { [head('training recordings')]: `${r.recordings}${r.skipped.length ? ` (${r.skipped.length} skipped)` : ''}` },
    { [head('windows (non-empty)')]: `${r.windows} (${r.vectors})` },
    { [head('seen syscalls')]: String(r.seenSyscalls) },
    { [head('seen arguments')]: String(r.seenArgs) },
    { [head('max_freq')]: String(r.maxFreq) },
    { [head('training time')]: fmtMs(r.trainingMs) },
    { [head('final loss (val)')]: `${r.finalLoss === null ? 'n/a' : fmtNum(r.finalLoss)} (${r.finalValLoss === null ? 'n/a' : fmtNum(r.finalValLoss)})` },
  );
  const th = new Table({ head: [head('θ'), head('threshold')], style, chars });
  r.thetas.forEach((theta, i) => th.push([fmtTheta(theta), fmtNum(r.thresholds[i])]));
  return `Training summary\n${t.toString()}\n${th.toString()}`;
}

export function evaluationTable(r: EvaluationResult): string {
  const t = new Table({ head: [head('θ'), head('threshold'), head('detection rate'), head('false alarm rate')], style, chars });
  const c = r.counts;
  r.theta.forEach((theta, i) => {
    t.push([
      fmtTheta(theta),
      fmtNum(r.thresholds[i]),
      fmtDetection(c.attack.flagged[i], c.attack.recordings),
      fmtFar(c.normal.flagged[i], c.normal.recordings),
    ]);
  });
  const lines = [
    'Evaluation summary',
    t.toString(),
    `recordings: ${c.attack.recordings} attack, ${c.normal.recordings} normal` +
      (r.skipped.length ? `; ${r.skipped.length} skipped (see warnings)` : '') +
      `; model ${r.model}, ${r.faithful ? 'faithful' : 'improved'} encoding`,
  ];
  if (r.metrics) lines.push('', metricsTable(r.metrics, r.theta));
  return lines.join('\n');
}

/** LID-DS window-level metrics per θ, and the AUC (definitions: src/engine/metrics.ts). */
export function metricsTable(m: Metrics, theta: readonly number[]): string {
  const t = new Table({
    head: [head('θ'), head('detected'), head('FA windows'), head('CFA'), head('precision'), head('F1'), head('mean latency')],
    style,
    chars,
  });
  theta.forEach((th, k) => {
    t.push([
      fmtTheta(th),
      m.attack_recordings ? `${m.detected[k]}/${m.attack_recordings}` : 'n/a',
      String(m.false_alarm_windows[k]),
      String(m.cfa[k]),
      fmtRate(m.precision_cfa[k]),
      fmtRate(m.f1_cfa[k]),
      m.mean_latency_s[k] === null ? 'n/a' : `${fmtNum(m.mean_latency_s[k]!, 3)} s`,
    ]);
  });
  const auc = m.auc === null ? 'n/a (needs normal and attack recordings)' : fmtRate(m.auc);
  return [
    'LID-DS metrics (per window: an attack is detected by an alarm after its exploit start; earlier alarms are false alarms)',
    t.toString(),
    `AUC over recordings (score = highest window error): ${auc}; ${m.timed_attacks} of ${m.attack_recordings} attack recordings have an exploit time`,
  ].join('\n');
}
