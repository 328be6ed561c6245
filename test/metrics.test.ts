/**
 * LID-DS metrics against hand-computed cases. Every expected number below was worked out on
 * paper from the window errors shown; the comments carry the working.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  aucMannWhitney,
  computeMetrics,
  f1,
  firstAttackWindow,
  recordingMetrics,
  rocCurve,
  thetaIndex,
  verdictAt,
  windowOutcome,
  type MetricsRecording,
} from '../src/engine/metrics.js';
import { secondsToNs } from '../src/util/time.js';
import { THETAS } from '../src/engine/verdicts.js';

const S = 1_000_000_000n; // one second in ns

function rec(
  file: string,
  cls: 'normal' | 'attack',
  startSec: number,
  errors: (number | null)[],
  exploitStartSec: number | null = null,
): MetricsRecording {
  const scored = errors.filter((e): e is number => e !== null);
  return {
    file,
    class: cls,
    start_ns: (BigInt(startSec) * S).toString(),
    window_ns: 1e9,
    window_errors: errors,
    max_error: scored.length ? Math.max(...scored) : 0,
    labels: exploitStartSec === null && cls === 'normal' ? null : { exploitStartSec },
  };
}

const close = (a: number | null, b: number, msg?: string) => {
  assert.notEqual(a, null, msg);
  assert.ok(Math.abs((a as number) - b) < 1e-9, `${msg ?? ''} ${a} ≉ ${b}`);
};

describe('time', () => {
  test('secondsToNs takes the decimal the JSON wrote, not the binary float', () => {
    assert.equal(secondsToNs(1631078877.513988), 1631078877513988000n);
    assert.equal(secondsToNs(1003.5), 1003500000000n);
    assert.equal(secondsToNs(0), 0n);
    assert.equal(secondsToNs(-1.25), -1250000000n);
    assert.equal(secondsToNs(1e-10), 0n);
    assert.equal(secondsToNs(1.0000000005), 1000000001n); // 10th decimal rounds
    assert.throws(() => secondsToNs(NaN), RangeError);
  });

  test('firstAttackWindow: the first window that ends after the exploit', () => {
    const start = 100n * S;
    assert.equal(firstAttackWindow(start, 1e9, start + 3n * S + S / 2n), 3); // inside window 3 (straddles)
    assert.equal(firstAttackWindow(start, 1e9, start + 2n * S), 2); // on a boundary: window 1 ends at E → before
    assert.equal(firstAttackWindow(start, 1e9, start + 2n * S - 1n), 1);
    assert.equal(firstAttackWindow(start, 1e9, start), 0);
    assert.equal(firstAttackWindow(start, 1e9, start - 5n * S), 0); // exploit before the recording
    assert.equal(firstAttackWindow(start, 500_000_000, start + 1250n * 1_000_000n), 2); // 0.5 s windows
  });

  test('the real LID-DS recording: exploit 10.13 s after the first event → window 10', () => {
    // aggressive_nightingale_1018: first event 1631078867380457267, exploit 1631078877.513988
    const start = 1631078867380457267n;
    const e = secondsToNs(1631078877.513988);
    assert.equal(e - start, 10133530733n);
    assert.equal(firstAttackWindow(start, 1e9, e), 10);
  });
});

describe('windowOutcome', () => {
  test('strictly above the threshold alarms; equal does not', () => {
    const o = windowOutcome([0.5, 0.3, 0.2], 0.3, Infinity);
    assert.deepEqual(o, { alarms: 1, falseAlarms: 1, cfa: 1, firstDetection: null });
  });

  test('CFA: runs of consecutive false alarms count once; empty windows neither alarm nor break a run', () => {
    //            0    1    2     3    4    5    6
    const errs = [0.9, 0.9, null, 0.9, 0.1, 0.9, 0.9];
    // runs: {0,1,3} (the null at 2 is skipped) and {5,6} (ends with the recording)
    assert.deepEqual(windowOutcome(errs, 0.5, Infinity), { alarms: 5, falseAlarms: 5, cfa: 2, firstDetection: null });
  });

  test('the exploit closes a run; the first alarm at or after it is the detection', () => {
    //            0    1    2  | 3    4
    const errs = [0.1, 0.9, 0.9, 0.9, 0.1];
    assert.deepEqual(windowOutcome(errs, 0.5, 3), { alarms: 3, falseAlarms: 2, cfa: 1, firstDetection: 3 });
    // a false alarm again after a quiet window before the exploit is a second run
    assert.deepEqual(windowOutcome([0.9, 0.1, 0.9, 0.1], 0.5, 3), { alarms: 2, falseAlarms: 2, cfa: 2, firstDetection: null });
  });

  test('an attack recording without an exploit time: every window is an attack window', () => {
    const r = recordingMetrics(rec('x', 'attack', 10, [0.9, 0.1, 0.9]), [0.5]);
    assert.deepEqual(r.false_alarms, [0]);
    assert.deepEqual(r.detected, [true]);
    assert.deepEqual(r.first_detection_window, [0]);
    assert.deepEqual(r.latency_s, [null]); // no exploit time, no latency
    assert.equal(r.exploit_start_ns, null);
    assert.equal(r.first_attack_window, 0);
  });

  test('a normal recording ignores any exploit time in its labels', () => {
    const r = recordingMetrics({ ...rec('n', 'normal', 10, [0.9, 0.1]), labels: { exploitStartSec: 11 } }, [0.5]);
    assert.deepEqual(r.false_alarms, [1]);
    assert.deepEqual(r.detected, [null]);
    assert.equal(r.exploit_start_ns, null);
    assert.equal(r.normal_windows, 2);
  });
});

describe('computeMetrics: a hand-computed evaluation', () => {
  // Three thresholds; windows of 1 s.
  //
  // A1 attack, start 1000 s, exploit 1003.5 s → window 3 ([1003,1004)) straddles → attack from 3.
  //    errors  0:0.5  1:null  2:0.4 | 3:0.2  4:0.7  5:0.9
  //    θ0=0.30: false alarms 0,2 (one run across the empty window) → FA 2, CFA 1; detection at 4,
  //             latency = end of window 4 (1005) − 1003.5 = 1.5 s
  //    θ1=0.45: false alarm 0 → FA 1, CFA 1; detection at 4, latency 1.5
  //    θ2=0.80: no false alarm; detection at 5, latency 2.5
  // A2 attack, start 2000 s, exploit 2001.25 s → attack from window 1.
  //    errors  0:0.35 | 1:0.6  2:0.1
  //    θ0: FA 1, CFA 1; detection at 1 (straddling), latency 2002 − 2001.25 = 0.75
  //    θ1: detection at 1, latency 0.75;  θ2: missed
  // N1 normal: 0.4 0.6 0.1 0.35 0.2
  //    θ0: false alarms 0,1,3 → FA 3, CFA 2 ({0,1},{3});  θ1: FA 1 (window 1), CFA 1;  θ2: none
  // N2 normal: 0.1 null 0.2 → nothing
  const input = {
    theta: [0.6, 0.9, 1.6],
    thresholds: [0.3, 0.45, 0.8],
    recordings: [
      rec('A1.zip', 'attack', 1000, [0.5, null, 0.4, 0.2, 0.7, 0.9], 1003.5),
      rec('A2.zip', 'attack', 2000, [0.35, 0.6, 0.1], 2001.25),
      rec('N1.zip', 'normal', 3000, [0.4, 0.6, 0.1, 0.35, 0.2]),
      rec('N2.zip', 'normal', 4000, [0.1, null, 0.2]),
    ],
  };
  const m = computeMetrics(input);

  test('per recording', () => {
    const [a1, a2, n1, n2] = m.recordings;
    assert.equal(a1.first_attack_window, 3);
    assert.equal(a1.exploit_start_ns, '1003500000000');
    assert.equal(a1.exploit_offset_s, 3.5);
    assert.equal(a1.normal_windows, 2);
    assert.deepEqual(a1.alarms, [4, 3, 1]);
    assert.deepEqual(a1.false_alarms, [2, 1, 0]);
    assert.deepEqual(a1.cfa, [1, 1, 0]);
    assert.deepEqual(a1.detected, [true, true, true]);
    assert.deepEqual(a1.first_detection_window, [4, 4, 5]);
    assert.deepEqual(a1.latency_s, [1.5, 1.5, 2.5]);

    assert.equal(a2.first_attack_window, 1);
    assert.equal(a2.exploit_offset_s, 1.25);
    assert.deepEqual(a2.false_alarms, [1, 0, 0]);
    assert.deepEqual(a2.cfa, [1, 0, 0]);
    assert.deepEqual(a2.detected, [true, true, false]);
    assert.deepEqual(a2.latency_s, [0.75, 0.75, null]);

    assert.equal(n1.first_attack_window, null);
    assert.deepEqual(n1.false_alarms, [3, 1, 0]);
    assert.deepEqual(n1.cfa, [2, 1, 0]);
    assert.deepEqual(n1.detected, [null, null, null]);
    assert.deepEqual(n2.false_alarms, [0, 0, 0]);
    assert.equal(n2.normal_windows, 2);

    assert.deepEqual(
      m.recordings.map((r) => [verdictAt(r, 0), verdictAt(r, 2)]),
      [
        ['detected', 'detected'],
        ['detected', 'missed'],
        ['false alarm', 'clean'],
        ['clean', 'clean'],
      ],
    );
  });

  test('per θ', () => {
    assert.equal(m.attack_recordings, 2);
    assert.equal(m.normal_recordings, 2);
    assert.equal(m.timed_attacks, 2);
    assert.equal(m.normal_windows, 10); // 2 + 1 + 5 + 2
    assert.deepEqual(m.detected, [2, 2, 1]);
    assert.deepEqual(m.recall, [1, 1, 0.5]);
    assert.deepEqual(m.false_alarm_windows, [6, 2, 0]);
    assert.deepEqual(m.window_false_alarm_rate, [0.6, 0.2, 0]);
    assert.deepEqual(m.cfa_attack, [2, 1, 0]);
    assert.deepEqual(m.cfa_normal, [2, 1, 0]);
    assert.deepEqual(m.cfa, [4, 2, 0]);
    // precision = detected / (detected + CFA): 2/6, 2/4, 1/1
    close(m.precision_cfa[0], 1 / 3);
    close(m.precision_cfa[1], 0.5);
    close(m.precision_cfa[2], 1);
    // F1 = 2PR/(P+R): (2·⅓·1)/(4/3) = ½; (2·½·1)/1.5 = ⅔; (2·1·½)/1.5 = ⅔
    close(m.f1_cfa[0], 0.5);
    close(m.f1_cfa[1], 2 / 3);
    close(m.f1_cfa[2], 2 / 3);
    // mean latency over detected: (1.5 + 0.75)/2, same, 2.5
    assert.deepEqual(m.mean_latency_s, [1.125, 1.125, 2.5]);
  });

  test('ROC and AUC over recordings (scores A1 0.9, A2 0.6, N1 0.6, N2 0.2: one tie)', () => {
    // pairs: A1>N1, A1>N2, A2=N1 (½), A2>N2 → 3.5 / 4
    assert.equal(m.auc, 0.875);
    assert.deepEqual(m.roc.points, [
      { fpr: 0, tpr: 0, min_score: null },
      { fpr: 0, tpr: 0.5, min_score: 0.9 },
      { fpr: 0.5, tpr: 1, min_score: 0.6 }, // the tie: one diagonal step
      { fpr: 1, tpr: 1, min_score: 0.2 },
    ]);
    assert.equal(m.roc.positives, 2);
    assert.equal(m.roc.negatives, 2);
  });
});

describe('edge cases', () => {
  test('no attacks: recall, precision, F1 and AUC are undefined (null), not 0', () => {
    const m = computeMetrics({ theta: [1], thresholds: [0.5], recordings: [rec('n', 'normal', 1, [0.9, 0.1])] });
    assert.deepEqual(m.recall, [null]);
    assert.deepEqual(m.precision_cfa, [0]); // 0 detected / (0 + 1 CFA)
    assert.deepEqual(m.f1_cfa, [null]);
    assert.equal(m.auc, null);
    assert.deepEqual(m.roc.points, []);
    assert.deepEqual(m.mean_latency_s, [null]);
  });

  test('nothing alarms: precision has no denominator', () => {
    const m = computeMetrics({
      theta: [1],
      thresholds: [5],
      recordings: [rec('a', 'attack', 1, [0.9], 1), rec('n', 'normal', 1, [0.1])],
    });
    assert.deepEqual(m.detected, [0]);
    assert.deepEqual(m.recall, [0]);
    assert.deepEqual(m.precision_cfa, [null]);
    assert.deepEqual(m.f1_cfa, [null]);
    assert.equal(m.auc, 1);
  });

  test('f1', () => {
    assert.equal(f1(0, 0), 0);
    assert.equal(f1(null, 1), null);
    assert.equal(f1(1, 1), 1);
  });

  test('ten θ: arrays of ten, and thetaIndex finds 1.0 among the float64 θ', () => {
    const thresholds = THETAS.map((t) => t * 0.5);
    const m = computeMetrics({ theta: THETAS, thresholds, recordings: [rec('a', 'attack', 1, [0.3, 0.6], 2)] });
    for (const k of ['detected', 'recall', 'false_alarm_windows', 'cfa', 'precision_cfa', 'f1_cfa', 'mean_latency_s'] as const) {
      assert.equal(m[k].length, 10, k);
    }
    assert.equal(thetaIndex(THETAS, 1.0), 4);
    assert.equal(thetaIndex(THETAS, 0.6), 2);
    assert.equal(thetaIndex(THETAS, 99), 9);
  });

  test('ROC with all scores tied is the diagonal, AUC ½', () => {
    const r = rocCurve([
      { score: 1, positive: true },
      { score: 1, positive: false },
      { score: 1, positive: false },
    ]);
    assert.equal(r.auc, 0.5);
    assert.deepEqual(r.points.map((p) => [p.fpr, p.tpr]), [
      [0, 0],
      [1, 1],
    ]);
  });

  test('property: the trapezoid AUC equals the Mann–Whitney statistic (ties ½)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 }),
        (pos, neg) => {
          const r = rocCurve([...pos.map((score) => ({ score, positive: true })), ...neg.map((score) => ({ score, positive: false }))]);
          const mw = aucMannWhitney(pos, neg)!;
          assert.ok(Math.abs(r.auc! - mw) < 1e-12, `${r.auc} vs ${mw}`);
          const last = r.points[r.points.length - 1];
          assert.deepEqual([last.fpr, last.tpr], [1, 1]);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('rejects malformed input', () => {
    assert.throws(() => recordingMetrics({ ...rec('x', 'normal', 1, [0.1]), start_ns: '1.5' }, [1]), RangeError);
    assert.throws(() => recordingMetrics({ ...rec('x', 'normal', 1, [0.1]), window_ns: 0 }, [1]), RangeError);
  });
});
