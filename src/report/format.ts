/** Small formatting helpers shared by the tables. */
export function fmtRate(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '.0');
}

export function fmtNum(v: number, digits = 6): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e6) return Number(v.toPrecision(digits)).toString();
  return v.toExponential(digits - 1);
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtTheta(t: number): string {
  return Number(t.toFixed(10)).toString();
}
