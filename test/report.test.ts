/** The HTML report and its SVG charts, without a browser (see report-browser.test.ts for one). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { THETAS } from '../src/engine/verdicts.js';
import { chart, esc, fmtTick, logTicks, niceTicks } from '../src/report/charts.js';
import { runCli } from './helpers/cli.js';
import { parseResults, readResults, renderReport, writeReport, type ReportInput } from '../src/report/html.js';
import { writeFileAtomic } from '../src/util/fs.js';
import { InputError } from '../src/util/errors.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'chids-report-test-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A small evaluation result as `chids evaluate --json` prints it: thresholds 0.02 … 0.2
 * (max training error 0.1), two attack recordings (one timed LID-DS recording with empty
 * windows, one long untimed one) and two normal ones, one of them with a false alarm.
 */
function sampleResults(): ReportInput {
  const thresholds = THETAS.map((t) => 0.1 * t);
  const start = 1631078867380457267n;
  const long = Array.from({ length: 5000 }, (_, i) => (i === 4321 ? 0.9 : 0.01 + (i % 7) * 0.001));
  const recordings = [
    {
      file: 'data/test/normal/<quiet> & calm.zip',
      class: 'normal' as const,
      window_errors: [0.01, 0.012, null, 0.011, 0.02],
    },
    {
      file: 'data/test/normal/busy.zip',
      class: 'normal' as const,
      window_errors: [0.03, 0.15, 0.05, 0.04],
    },
    {
      file: 'data/test/normal_and_attack/aggressive_nightingale_1018.zip',
      class: 'attack' as const,
      window_errors: [0.02, 0.03, null, null, 0.02, 0.12, 0.02, 0.02, 0.02, 0.02, 0.03, 0.5, 0.8, 0.3, 0.02],
      labels: { exploit: true, exploitStartSec: 1631078877.513988, raw: {} },
    },
    {
      file: 'data/test/normal_and_attack/long-untimed.sc',
      class: 'attack' as const,
      window_errors: long,
      labels: null,
    },
  ].map((r) => {
    const scored = (r.window_errors as (number | null)[]).filter((e): e is number => e !== null);
    const max = Math.max(...scored);
    return {
      labels: null,
      ...r,
      events: 1000,
      windows: r.window_errors.length,
      vectors: scored.length,
      max_error: max,
      flagged: thresholds.map((t) => max > t),
      start_ns: start.toString(),
      window_ns: 1_000_000_000,
    };
  });
  const rate = (cls: string) =>
    thresholds.map((t) => {
      const mine = recordings.filter((r) => r.class === cls);
      return mine.filter((r) => r.max_error > t).length / mine.length;
    });
  return {
    theta: [...THETAS],
    thresholds,
    detection_rate: rate('attack'),
    false_alarm_rate: rate('normal'),
    recordings,
    skipped: [{ path: 'data/test/normal/broken.zip', reason: 'data/test/normal/broken.zip: not a valid zip archive', class: 'normal' }],
    faithful: false,
    window_ns: 1e9,
    model: 'chids-autoencoder',
  };
}

const FIXED = { generatedAt: new Date('2026-01-02T03:04:05Z'), version: '0.1.0' };

describe('charts', () => {
  test('niceTicks: round 1-2-2.5-5 steps covering the range', () => {
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 20, 8), [0, 2.5, 5, 7.5, 10, 12.5, 15, 17.5, 20]);
    assert.deepEqual(niceTicks(3, 3), [3]);
    assert.deepEqual(niceTicks(0.013, 0.047, 3), [0.02, 0.04]);
  });

  test('logTicks: 1-2-5 when they fit, powers of ten for long ranges, never fewer than two', () => {
    assert.deepEqual(logTicks(0.015, 0.6, 7), [0.02, 0.05, 0.1, 0.2, 0.5]);
    assert.deepEqual(logTicks(1e-6, 10, 7), [1e-6, 1e-5, 1e-4, 0.001, 0.01, 0.1, 1, 10].filter((_, i) => i % 2 === 0));
    assert.deepEqual(logTicks(0.001, 10, 3), [0.001, 0.1, 10]);
    const short = logTicks(0.21, 0.29, 6);
    assert.ok(short.length >= 2, `${short}`);
    assert.ok(short.every((v) => v >= 0.21 && v <= 0.29), `${short}`);
  });

  test('fmtTick is compact', () => {
    assert.equal(fmtTick(0), '0');
    assert.equal(fmtTick(0.25), '0.25');
    assert.equal(fmtTick(1200), '1200');
    assert.equal(fmtTick(3e-5), '3e-5');
    assert.equal(fmtTick(2.5e6), '2.5e6');
  });

  test('a series breaks at null values; text is escaped; the clip id comes from the chart id', () => {
    const svg = chart({
      id: 'c1',
      width: 300,
      height: 200,
      title: 'a <b> & "c"',
      x: { min: 0, max: 4, label: 'x' },
      y: { min: 0, max: 1, label: 'y' },
      series: [{ name: 's', color: '#123456', points: [[0, 0.1], [1, 0.5], [2, null], [3, 0.2], [4, 0.9]] }],
    });
    const d = [...svg.matchAll(/<path class="series" d="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(d.length, 2, 'two runs');
    assert.match(d[0], /^M[\d.]+ [\d.]+L[\d.]+ [\d.]+$/);
    assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;'));
    assert.ok(svg.includes('id="c1-clip"'));
    assert.ok(!svg.includes('<b>'));
    assert.equal(esc(`<'&">`), '&lt;&#39;&amp;&quot;&gt;');
  });
});

describe('renderReport', () => {
  const r = sampleResults();
  const html = renderReport(r, FIXED);

  test('is one self-contained document: no script, no external resource', () => {
    assert.match(html, /^<!doctype html>/);
    assert.ok(!/<script|<link|<img|<iframe|@import|url\(\s*['"]?https?:/i.test(html), 'nothing to fetch, nothing to run');
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
    assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg'], 'the only URL is the SVG namespace');
    assert.ok(!/\b(src|href)="(?!#)/.test(html), 'every link is an in-page anchor');
  });

  test('has the rate chart, the ROC with its AUC, and one timeline per recording', () => {
    const svgs = html.match(/<svg /g) ?? [];
    assert.equal(svgs.length, 2 + r.recordings.length);
    assert.ok(html.includes('class="rates"'));
    assert.ok(html.includes('class="roc"'));
    // scores: attacks 0.9 (long) and 0.8, normals 0.02 and 0.15 → every attack outscores every normal
    assert.ok(html.includes('ROC over recordings (AUC 1.000)'));
    assert.equal((html.match(/class="timeline"/g) ?? []).length, 4);
    for (let i = 0; i < 4; i++) assert.ok(html.includes(`id="rec-${i}"`) && html.includes(`href="#rec-${i}"`));
  });

  test('the recording table: verdicts and latency at θ = 1 (threshold 0.1)', () => {
    // timed attack: exploit 10.1335 s after window 0 → attack from window 10; alarms at 5 (false,
    // 0.12 > 0.1) and 11 (0.5): latency = 12 − 10.133530733 = 1.866469267 s
    const row = (name: string) => {
      const i = html.indexOf(`>${name}</a>`);
      assert.ok(i > 0, name);
      return html.slice(i, html.indexOf('</tr>', i));
    };
    const timed = row('aggressive_nightingale_1018.zip');
    assert.match(timed, /pill ok">detected</);
    assert.match(timed, /1\.87 s/);
    assert.match(timed, /10\.1 s/);
    assert.match(row('busy.zip'), /pill warn">false alarm</);
    assert.match(row('&lt;quiet&gt; &amp; calm.zip'), /pill quiet">clean</);
    assert.match(row('long-untimed.sc'), /pill ok">detected</);
    // attacks are listed first
    assert.ok(html.indexOf('aggressive_nightingale_1018.zip</a>') < html.indexOf('busy.zip</a>'));
  });

  test('the timeline marks the exploit, the thresholds and both kinds of alarm', () => {
    const i = html.indexOf('id="rec-2"');
    const fig = html.slice(i, html.indexOf('</figure>', i));
    assert.ok(fig.includes('exploit 10.13 s'));
    assert.ok(fig.includes('>θ = 1<') && fig.includes('>θ = 0.2<') && fig.includes('>θ = 2<'));
    assert.ok(fig.includes('#ff7f0e"') && fig.includes('false alarm'), 'a false alarm before the exploit');
    assert.ok(fig.includes('alarm after the exploit'));
    // three runs of the error line: windows 0-1, then 4-14 (2 and 3 are empty)
    assert.equal((fig.match(/<path class="series"/g) ?? []).length, 2);
  });

  test('a long recording is drawn from at most 1200 points, keeping its alarm', () => {
    const i = html.indexOf('id="rec-3"');
    const fig = html.slice(i, html.indexOf('</figure>', i));
    const d = /<path class="series" d="([^"]+)"/.exec(fig)![1];
    const points = d.split(/[ML]/).filter(Boolean).length;
    assert.equal(points, 1000, 'buckets of 5 windows');
    assert.ok(fig.includes('window 4321 (4321 s): error 0.9'));
  });

  test('θ chooses the verdicts and highlights its row', () => {
    const at2 = renderReport(r, { ...FIXED, theta: 2 });
    assert.ok(at2.includes('At θ = 2'));
    assert.match(at2, /<tr class="chosen"><td>2<\/td>/);
    assert.ok(html.includes('<tr class="chosen"><td>1</td>'));
    const busy = at2.slice(at2.indexOf('>busy.zip</a>'));
    assert.match(busy.slice(0, busy.indexOf('</tr>')), /pill quiet">clean</);
  });

  test('lists skipped inputs and says how each figure is defined', () => {
    assert.ok(html.includes('not a valid zip archive'));
    assert.ok(html.includes('id="definitions"'));
    assert.ok(html.includes('CFA (consecutive false alarms)'));
  });

  test('is deterministic', () => {
    assert.equal(renderReport(sampleResults(), FIXED), html);
  });

  test('without normal recordings the ROC says why it is empty', () => {
    const attacksOnly = { ...r, recordings: r.recordings.filter((x) => x.class === 'attack'), false_alarm_rate: r.theta.map(() => null) };
    const h = renderReport(attacksOnly, FIXED);
    assert.ok(h.includes('needs normal and attack recordings'));
    assert.ok(h.includes('n/a'));
  });
});

describe('reading results and writing the report', () => {
  test('parseResults accepts evaluate --json output, and numbers for start_ns', () => {
    const doc = JSON.parse(JSON.stringify(sampleResults()));
    doc.recordings[0].start_ns = 12345;
    const v = parseResults(doc, 'r.json');
    assert.equal(v.recordings[0].start_ns, '12345');
  });

  test('parseResults names the file and the problem', () => {
    const doc = JSON.parse(JSON.stringify(sampleResults()));
    delete doc.recordings[1].window_errors;
    assert.throws(() => parseResults(doc, 'r.json'), (e: Error) => e instanceof InputError && /r\.json: .*recordings\.1\.window_errors/.test(e.message));
    assert.throws(() => parseResults({ ...sampleResults(), thresholds: [1] }, 'r.json'), /10 θ values but 1 thresholds/);
    assert.throws(() => parseResults([], 'r.json'), /not a valid chids evaluation result/);
  });

  test('readResults: missing file and bad JSON are InputErrors', async () => {
    const d = tmp();
    await assert.rejects(readResults(path.join(d, 'nope.json')), /nope\.json: missing \(no such file\)/);
    writeFileSync(path.join(d, 'bad.json'), '{"theta": [');
    await assert.rejects(readResults(path.join(d, 'bad.json')), /bad\.json: not valid JSON/);
  });

  test('writeReport writes atomically (no temporary file left) and replaces an old report', async () => {
    const d = tmp();
    const file = path.join(d, 'out', 'index.html');
    writeFileSync(path.join(d, 'placeholder'), '');
    const written = await writeReport(file, sampleResults(), FIXED);
    assert.equal(written, path.resolve(file));
    await writeFileAtomic(file, 'old');
    await writeReport(file, sampleResults(), FIXED);
    assert.match(readFileSync(file, 'utf8'), /^<!doctype html>/);
    assert.deepEqual(readdirSync(path.join(d, 'out')), ['index.html']);
  });

  test('writeFileAtomic fails with a one-line ChidsError when the directory cannot be made', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'file'), '');
    await assert.rejects(writeFileAtomic(path.join(d, 'file', 'x.html'), 'x'), /cannot write \(E(EXIST|NOTDIR)\)/);
  });

  test('chids report RESULTS.json -o FILE', async () => {
    const d = tmp();
    const results = path.join(d, 'results.json');
    writeFileSync(results, JSON.stringify(sampleResults()));
    const out = path.join(d, 'r', 'index.html');
    const run = async (...args: string[]) => {
      const r = await runCli(args);
      return { status: r.code, stdout: r.stdout, stderr: r.stderr };
    };
    const ok = await run('report', results, '-o', out, '--theta', '0.8', '--title', 'My report');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `report: ${out}\n`);
    const html = readFileSync(out, 'utf8');
    assert.ok(html.includes('<title>My report</title>'));
    assert.ok(html.includes('At θ = 0.8'));
    const bad = await run('report', path.join(d, 'missing.json'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^chids: .*missing\.json: missing \(no such file\)\n$/);
    const badTheta = await run('report', results, '--theta', 'abc');
    assert.notEqual(badTheta.status, 0);
    assert.match(badTheta.stderr, /θ must be a positive number/);
  });
});

// ---------------------------------------------------------------------------------------------
// In a real browser: headless Chromium (Debian package `chromium`; CI installs it in .ci/run)

function findChromium(): string | null {
  const fromEnv = process.env.CHIDS_CHROMIUM;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat('/usr/bin')) {
    for (const name of ['chromium', 'chromium-browser']) {
      const p = path.join(dir, name);
      if (dir && existsSync(p)) return p;
    }
  }
  return null;
}

function runChromium(bin: string, args: string[]): string {
  const profile = tmp();
  const r = spawnSync(
    bin,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 },
  );
  assert.equal(r.error, undefined, `chromium did not run: ${r.error}`);
  assert.equal(r.status, 0, `chromium failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) into RGBA pixels. */
function decodePng(buf: Buffer): { width: number; height: number; rgba: Uint8Array } {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.equal(data[12], 0, 'not interlaced');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels, `colour type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      px[y * stride + x] = (v + pred) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = px[i * channels];
    rgba[i * 4 + 1] = px[i * channels + 1];
    rgba[i * 4 + 2] = px[i * channels + 2];
    rgba[i * 4 + 3] = channels === 4 ? px[i * channels + 3] : 255;
  }
  return { width, height, rgba };
}

/** Measures every SVG after layout and writes the numbers into the page, for --dump-dom to show. */
const PROBE = `<script>
(function () {
  var out = [];
  document.querySelectorAll('svg').forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    var length = 0, series = 0;
    svg.querySelectorAll('path.series').forEach(function (p) { length += p.getTotalLength(); series++; });
    var refs = 0;
    svg.querySelectorAll('path.ref').forEach(function (p) { if (p.getTotalLength() > 0) refs++; });
    out.push({ cls: svg.getAttribute('class'), width: box.width, height: box.height, series: series, length: length,
               refs: refs, circles: svg.querySelectorAll('circle').length });
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`;

describe('in headless Chromium', () => {
  const chromium = findChromium();
  const why = chromium
    ? false
    : '!!! SKIPPED: chromium not found (apt-get install --no-install-recommends chromium, or set CHIDS_CHROMIUM); the report was not checked in a browser !!!';
  if (why) console.warn(why);

  test('the charts lay out with real geometry', { skip: why }, () => {
    const d = tmp();
    const page = path.join(d, 'probe.html');
    writeFileSync(page, renderReport(sampleResults(), FIXED).replace('</body>', `${PROBE}</body>`));
    const dom = runChromium(chromium!, ['--window-size=1200,900', '--dump-dom', `file://${page}`]);
    const m = /<pre id="probe">([^<]*)<\/pre>/.exec(dom);
    assert.ok(m, 'the probe ran');
    const svgs = JSON.parse(m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as {
      cls: string;
      width: number;
      height: number;
      series: number;
      length: number;
      refs: number;
      circles: number;
    }[];
    assert.deepEqual(
      svgs.map((s) => s.cls),
      ['rates', 'roc', 'timeline', 'timeline', 'timeline', 'timeline'],
    );
    for (const s of svgs) {
      assert.ok(s.width > 200 && s.height > 100, `${s.cls} is ${s.width}×${s.height}`);
      assert.ok(s.series >= 1 && s.length > 100, `${s.cls}: ${s.series} series of total length ${s.length}`);
    }
    assert.equal(svgs[0].series, 4, 'detection rate, false-alarm rate, detected after exploit, precision');
    assert.ok(svgs[1].circles >= 1, 'θ points on the ROC');
    assert.ok(svgs[2].refs >= 4, 'the timed attack (listed first): three thresholds and the exploit line');
  });

  test('a screenshot shows the charts (not a blank page)', { skip: why }, () => {
    const d = tmp();
    const page = path.join(d, 'index.html');
    const shot = path.join(d, 'shot.png');
    writeFileSync(page, renderReport(sampleResults(), FIXED));
    runChromium(chromium!, ['--window-size=1200,1600', `--screenshot=${shot}`, `file://${page}`]);
    const { width, height, rgba } = decodePng(readFileSync(shot));
    assert.equal(width, 1200);
    const near = (r: number, g: number, b: number, tol = 40) => {
      let n = 0;
      for (let i = 0; i < width * height; i++) {
        const dr = rgba[i * 4] - r;
        const dg = rgba[i * 4 + 1] - g;
        const db = rgba[i * 4 + 2] - b;
        if (dr * dr + dg * dg + db * db < tol * tol) n++;
      }
      return n;
    };
    const total = width * height;
    const background = near(0xf6, 0xf8, 0xfa, 6) + near(255, 255, 255, 6);
    assert.ok(background < total * 0.97, `${((100 * background) / total).toFixed(1)} % background: the page looks blank`);
    assert.ok(near(0x1f, 0x77, 0xb4) > 300, 'blue series (detection rate, ROC, window errors) drawn');
    assert.ok(near(0xd6, 0x27, 0x28) > 200, 'red series (false-alarm rate, exploit line) drawn');
    assert.ok(near(0x2c, 0xa0, 0x2c) > 50, 'green series (detected after exploit) drawn');
  });
});
