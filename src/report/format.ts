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

/** A share as a percentage: 0 and 100 exactly, else one decimal ("33.3 %"). */
export function fmtPct(v: number): string {
  if (v === 0) return '0 %';
  if (v === 1) return '100 %';
  return `${(v * 100).toFixed(1)} %`;
}

/** A detection rate with its counts: "85.7 % (6/7)"; n/a without attack recordings. */
export function fmtDetection(detected: number, attacks: number): string {
  return attacks === 0 ? 'n/a (no attack recordings)' : `${fmtPct(detected / attacks)} (${detected}/${attacks})`;
}

/**
 * A false-alarm rate with its counts and its resolution, "0 % (0/6, resolution 1/6)": with n
 * normal recordings the rate moves in steps of 1/n, so "0 %" only says the true rate is
 * probably below about 1/n, and a FAR budget below 1/n can only be met by no false alarm.
 */
export function fmtFar(flagged: number, normal: number): string {
  return normal === 0 ? 'n/a (no normal recordings)' : `${fmtPct(flagged / normal)} (${flagged}/${normal}, resolution 1/${normal})`;
}
