/** Time conversions shared by the offline metrics and the live monitor, so both label alike. */

/**
 * Epoch seconds (a float, as in LID-DS `.json`) to integer ns, from the number's shortest
 * decimal form: 1631078877.513988 → 1631078877513988000n exactly, not the binary float's
 * 1631078877513987827n.
 */
export function secondsToNs(sec: number): bigint {
  if (!Number.isFinite(sec)) throw new RangeError(`not a finite time: ${sec}`);
  const s = String(sec);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return BigInt(Math.round(sec * 1e9)); // exponent form: tiny or huge values
  const frac = (m[3] ?? '').padEnd(9, '0');
  let ns = BigInt(m[2]) * 1_000_000_000n + BigInt(frac.slice(0, 9));
  if (frac.length > 9 && frac.charCodeAt(9) >= 53 /* '5' */) ns += 1n;
  return m[1] === '-' ? -ns : ns;
}

/**
 * Epoch ns written out in digits (a LID-DS timestamp) to seconds: the whole seconds and the
 * nanoseconds apart, as a Number holds the ns value itself only approximately.
 */
export function nsDigitsToSec(digits: string): number {
  return Number(digits.slice(0, -9)) + Number(digits.slice(-9)) / 1e9;
}

/**
 * A time held as whole seconds and nanoseconds apart (epoch ns do not fit a Number exactly) is
 * strictly before another.
 */
export function earlier(aSec: number, aNsec: number, bSec: number, bNsec: number): boolean {
  return aSec < bSec || (aSec === bSec && aNsec < bNsec);
}

/** How many ns time a is after time b, both held as whole seconds and nanoseconds apart (negative: before). */
export function nsAfter(aSec: number, aNsec: number, bSec: number, bNsec: number): number {
  return (aSec - bSec) * 1e9 + (aNsec - bNsec);
}
