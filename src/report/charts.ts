/**
 * Hand-written SVG line charts for the HTML report: linear or log axes with nice ticks, line
 * series with gaps, markers, reference lines, shaded spans and a legend. Output is a static
 * `<svg>` string with every style inline (attributes, no CSS, no script), so it renders the
 * same in any browser, offline, and inside or outside the report.
 *
 * Why not a charting library: the report needs three chart shapes; a dozen functions draw them
 * deterministically with no dependency, while Vega + Vega-Lite would add ~30 packages to every
 * `npm ci` (the demo's quick start) for the same picture.
 */

export interface Axis {
  min: number;
  max: number;
  log?: boolean;
  label: string;
  /** Tick formatter; default {@link fmtTick}. */
  format?: (v: number) => string;
  /** Explicit tick values (within [min, max]). */
  ticks?: readonly number[];
}

export interface Series {
  name: string;
  color: string;
  /** Points in data units; a null y (or a non-finite one) breaks the line. */
  points: readonly (readonly [number, number | null])[];
  dash?: string;
  width?: number;
  /** Marker radius at every point (0 or absent: none). */
  marker?: number;
  /** Fill between the line and the x axis, with this opacity. */
  fillOpacity?: number;
  /** Omit from the legend. */
  hideInLegend?: boolean;
}

export interface RefLine {
  value: number;
  color: string;
  label?: string;
  /** Where the label sits along the line: at its start (left / top) or end (right); default end. */
  labelAt?: 'start' | 'end';
  dash?: string;
  width?: number;
}

export interface Marker {
  x: number;
  y: number;
  color: string;
  r?: number;
  /** Tooltip text. */
  title?: string;
  /** Text drawn next to the marker. */
  label?: string;
}

export interface Span {
  from: number;
  to: number;
  color: string;
  opacity?: number;
}

export interface LegendItem {
  name: string;
  color: string;
  dash?: string;
  shape?: 'line' | 'dot';
}

export interface ChartSpec {
  /** Unique within the page (the clip path's id derives from it). */
  id?: string;
  width: number;
  height: number;
  title?: string;
  /** Accessible description (aria-label); default: the title. */
  description?: string;
  x: Axis;
  y: Axis;
  series?: readonly Series[];
  hlines?: readonly RefLine[];
  vlines?: readonly RefLine[];
  markers?: readonly Marker[];
  xSpans?: readonly Span[];
  /** Extra legend entries (e.g. for reference lines or markers). */
  legendExtra?: readonly LegendItem[];
  /** A dashed y = x line (ROC chance diagonal). */
  diagonal?: boolean;
  /** A `class` attribute for the `<svg>`. */
  className?: string;
}

const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\"";
const AXIS = '#555';
const GRID = '#e6e6e6';
const TEXT = '#222';

/** XML/HTML text escaping (also safe inside double-quoted attributes). */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Coordinates with one decimal: small files, sub-pixel precision. */
const n1 = (v: number): string => {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
};

/** Compact tick label: 0.25, 1200, 3e-5, 2.5e+6. */
export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(4)));
  return v
    .toExponential(2)
    .replace(/\.?0+e/, 'e')
    .replace('e+', 'e');
}

/** About `count` round tick values covering [min, max] (1-2-5 steps). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  for (let i = first; i * step <= max + step * 1e-9; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/**
 * Ticks for a log axis: the densest of 1-2-5, 1-3 or 1 (× powers of ten) that fits in
 * `maxTicks`; thinned powers of ten for a long range; 1…9 or linear ticks for a very short one.
 */
export function logTicks(min: number, max: number, maxTicks = 7): number[] {
  if (!(min > 0) || !(max > 0)) return [];
  if (max < min) [min, max] = [max, min];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const within = (v: number) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
  const gen = (mantissas: number[]) => {
    const out: number[] = [];
    for (let e = lo; e <= hi; e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (within(v)) out.push(v);
      }
    }
    return out;
  };
  for (const m of [[1, 2, 5], [1, 3], [1]]) {
    const t = gen(m);
    if (t.length >= 2 && t.length <= maxTicks) return t;
  }
  const powers = gen([1]);
  if (powers.length > maxTicks) {
    const every = Math.ceil(powers.length / maxTicks);
    return powers.filter((_, i) => i % every === 0);
  }
  const fine = gen([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  if (fine.length >= 2 && fine.length <= maxTicks) return fine;
  return niceTicks(min, max, Math.max(2, maxTicks - 2)).filter((v) => v > 0);
}

interface Scale {
  (v: number): number;
}

function scale(axis: Axis, from: number, to: number): Scale {
  if (axis.log) {
    const a = Math.log10(axis.min);
    const b = Math.log10(axis.max);
    const span = b - a || 1;
    return (v) => from + ((Math.log10(Math.max(v, axis.min * 1e-3)) - a) / span) * (to - from);
  }
  const span = axis.max - axis.min || 1;
  return (v) => from + ((v - axis.min) / span) * (to - from);
}

interface Run {
  d: string;
  firstX: number;
  lastX: number;
}

/** The `d` of each unbroken run of a series (null or non-finite y breaks the line). */
function seriesRuns(s: Series, sx: Scale, sy: Scale): Run[] {
  const runs: Run[] = [];
  let cur: string[] = [];
  let firstX = 0;
  let lastX = 0;
  const flush = () => {
    if (cur.length > 0) runs.push({ d: cur.join(''), firstX, lastX });
    cur = [];
  };
  for (const [x, y] of s.points) {
    if (y === null || !Number.isFinite(y) || !Number.isFinite(x)) {
      flush();
      continue;
    }
    const px = sx(x);
    const py = sy(y);
    if (cur.length === 0) {
      firstX = px;
      cur.push(`M${n1(px)} ${n1(py)}`);
    } else {
      cur.push(`L${n1(px)} ${n1(py)}`);
    }
    lastX = px;
  }
  flush();
  return runs;
}

/** Renders a chart as a standalone `<svg>` element string. */
export function chart(spec: ChartSpec): string {
  const { width: W, height: H } = spec;
  const legendItems: LegendItem[] = [
    ...(spec.series ?? []).filter((s) => !s.hideInLegend).map((s) => ({ name: s.name, color: s.color, dash: s.dash })),
    ...(spec.legendExtra ?? []),
  ];
  const m = { right: 18, bottom: 44, left: 62 };
  const x0 = m.left;
  const x1 = W - m.right;
  const legendTop = (spec.title ? 26 : 10) + 8;
  const legend = layoutLegend(legendItems, x0, x1, legendTop);
  const top = legendTop + (legend.rows > 0 ? legend.rows * 18 : 0) + 4;
  const y0 = H - m.bottom;
  const y1 = legend.rows > 0 ? top : legendTop;
  const sx = scale(spec.x, x0, x1);
  const sy = scale(spec.y, y0, y1);
  const clip = `${spec.id ?? `chart${++chartCount}`}-clip`;
  const fx = spec.x.format ?? fmtTick;
  const fy = spec.y.format ?? fmtTick;
  const xt = spec.x.ticks ?? (spec.x.log ? logTicks(spec.x.min, spec.x.max, Math.max(2, Math.floor((x1 - x0) / 60))) : niceTicks(spec.x.min, spec.x.max, Math.max(2, Math.round((x1 - x0) / 90))));
  const yt = spec.y.ticks ?? (spec.y.log ? logTicks(spec.y.min, spec.y.max, Math.max(2, Math.floor((y0 - y1) / 24))) : niceTicks(spec.y.min, spec.y.max, Math.max(2, Math.round((y0 - y1) / 45))));
  const o: string[] = [];
  const desc = spec.description ?? spec.title ?? 'chart';
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(desc)}"${spec.className ? ` class="${esc(spec.className)}"` : ''} ${FONT} font-size="12">`,
  );
  o.push(`<title>${esc(desc)}</title>`);
  o.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  o.push(`<defs><clipPath id="${clip}"><rect x="${n1(x0)}" y="${n1(y1)}" width="${n1(x1 - x0)}" height="${n1(y0 - y1)}"/></clipPath></defs>`);
  if (spec.title) o.push(`<text x="${n1(x0)}" y="17" font-size="14" font-weight="600" fill="${TEXT}">${esc(spec.title)}</text>`);

  // Shaded spans, grid, axes.
  for (const s of spec.xSpans ?? []) {
    const a = Math.max(x0, Math.min(x1, sx(s.from)));
    const b = Math.max(x0, Math.min(x1, sx(s.to)));
    if (b > a) o.push(`<rect x="${n1(a)}" y="${n1(y1)}" width="${n1(b - a)}" height="${n1(y0 - y1)}" fill="${s.color}" fill-opacity="${s.opacity ?? 0.12}"/>`);
  }
  const g: string[] = [];
  for (const t of xt) g.push(`M${n1(sx(t))} ${n1(y1)}V${n1(y0)}`);
  for (const t of yt) g.push(`M${n1(x0)} ${n1(sy(t))}H${n1(x1)}`);
  if (g.length) o.push(`<path d="${g.join('')}" stroke="${GRID}" stroke-width="1" fill="none"/>`);
  o.push(`<path d="M${n1(x0)} ${n1(y1)}V${n1(y0)}H${n1(x1)}" stroke="${AXIS}" stroke-width="1" fill="none"/>`);
  for (const t of xt) {
    o.push(`<text x="${n1(sx(t))}" y="${n1(y0 + 16)}" text-anchor="middle" fill="${TEXT}">${esc(fx(t))}</text>`);
  }
  for (const t of yt) {
    o.push(`<text x="${n1(x0 - 6)}" y="${n1(sy(t) + 4)}" text-anchor="end" fill="${TEXT}">${esc(fy(t))}</text>`);
  }
  o.push(`<text x="${n1((x0 + x1) / 2)}" y="${n1(H - 8)}" text-anchor="middle" fill="${TEXT}">${esc(spec.x.label)}</text>`);
  o.push(
    `<text transform="translate(14 ${n1((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle" fill="${TEXT}">${esc(spec.y.label)}</text>`,
  );

  // Data, clipped to the plot area.
  o.push(`<g clip-path="url(#${clip})">`);
  if (spec.diagonal) {
    o.push(`<path d="M${n1(sx(spec.x.min))} ${n1(sy(spec.y.min))}L${n1(sx(spec.x.max))} ${n1(sy(spec.y.max))}" stroke="#999" stroke-dasharray="4 4" fill="none"/>`);
  }
  for (const s of spec.series ?? []) {
    const runs = seriesRuns(s, sx, sy);
    if (s.fillOpacity) {
      for (const r of runs) {
        o.push(`<path d="${r.d}L${n1(r.lastX)} ${n1(y0)}L${n1(r.firstX)} ${n1(y0)}Z" fill="${s.color}" fill-opacity="${s.fillOpacity}" stroke="none"/>`);
      }
    }
    for (const { d } of runs) {
      o.push(
        `<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round" stroke-linecap="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${esc(s.name)}</title></path>`,
      );
    }
    if (s.marker) {
      const dots: string[] = [];
      for (const [x, y] of s.points) {
        if (y === null || !Number.isFinite(y)) continue;
        dots.push(`<circle cx="${n1(sx(x))}" cy="${n1(sy(y))}" r="${s.marker}"><title>${esc(`${s.name}: ${fx(x)} → ${fy(y)}`)}</title></circle>`);
      }
      o.push(`<g fill="${s.color}">${dots.join('')}</g>`);
    }
  }
  for (const h of spec.hlines ?? []) {
    const y = sy(h.value);
    o.push(
      `<path class="ref" d="M${n1(x0)} ${n1(y)}H${n1(x1)}" stroke="${h.color}" stroke-width="${h.width ?? 1.5}"${h.dash ? ` stroke-dasharray="${h.dash}"` : ''} fill="none"><title>${esc(h.label ?? fy(h.value))}</title></path>`,
    );
    if (h.label) {
      const start = h.labelAt === 'start';
      o.push(
        `<text x="${n1(start ? x0 + 4 : x1 - 4)}" y="${n1(y - 4)}" text-anchor="${start ? 'start' : 'end'}" font-size="11" fill="${h.color}">${esc(h.label)}</text>`,
      );
    }
  }
  for (const v of spec.vlines ?? []) {
    const x = sx(v.value);
    o.push(
      `<path class="ref" d="M${n1(x)} ${n1(y1)}V${n1(y0)}" stroke="${v.color}" stroke-width="${v.width ?? 2}"${v.dash ? ` stroke-dasharray="${v.dash}"` : ''} fill="none"><title>${esc(v.label ?? fx(v.value))}</title></path>`,
    );
    if (v.label) {
      const right = x < (x0 + x1) / 2;
      o.push(`<text x="${n1(x + (right ? 4 : -4))}" y="${n1(y1 + 12)}" text-anchor="${right ? 'start' : 'end'}" font-size="11" font-weight="600" fill="${v.color}">${esc(v.label)}</text>`);
    }
  }
  for (const mk of spec.markers ?? []) {
    const cx = sx(mk.x);
    const cy = sy(mk.y);
    o.push(
      `<circle cx="${n1(cx)}" cy="${n1(cy)}" r="${mk.r ?? 3.5}" fill="${mk.color}" stroke="#fff" stroke-width="1">${mk.title ? `<title>${esc(mk.title)}</title>` : ''}</circle>`,
    );
    if (mk.label) o.push(`<text x="${n1(cx + 6)}" y="${n1(cy + 12)}" font-size="11" fill="${mk.color}">${esc(mk.label)}</text>`);
  }
  o.push('</g>');

  // Legend, under the title (wrapping onto more rows when needed).
  for (const it of legend.placed) {
    if (it.shape === 'dot') {
      o.push(`<circle cx="${n1(it.x + 9)}" cy="${n1(it.y)}" r="4" fill="${it.color}"/>`);
    } else {
      o.push(`<path d="M${n1(it.x)} ${n1(it.y)}h18" stroke="${it.color}" stroke-width="2.5"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''} fill="none"/>`);
    }
    o.push(`<text x="${n1(it.x + 23)}" y="${n1(it.y + 4)}" fill="${TEXT}">${esc(it.name)}</text>`);
  }
  o.push('</svg>');
  return o.join('');
}

let chartCount = 0;

function layoutLegend(items: LegendItem[], x0: number, x1: number, top: number): { rows: number; placed: (LegendItem & { x: number; y: number })[] } {
  const placed: (LegendItem & { x: number; y: number })[] = [];
  let row = 0;
  let x = x0;
  for (const it of items) {
    const w = 23 + textWidth(it.name, 12) + 16;
    if (x > x0 && x + w - 16 > x1) {
      row++;
      x = x0;
    }
    placed.push({ ...it, x, y: top + row * 18 });
    x += w;
  }
  return { rows: items.length ? row + 1 : 0, placed };
}

/** Rough text width (average glyph ~0.56 em) for laying out the legend without a canvas. */
export function textWidth(s: string, fontSize: number): number {
  let w = 0;
  for (const ch of s) w += /[ilj.,:;'|!()[\]]/.test(ch) ? 0.3 : /[mwMW]/.test(ch) ? 0.85 : /[A-Z0-9θ]/.test(ch) ? 0.65 : 0.55;
  return w * fontSize;
}
