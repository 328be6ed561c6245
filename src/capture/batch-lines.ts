/**
 * What the consumers of a live source's batches (complete text lines of one container) read off
 * a batch without parsing it: how many lines it holds, and the timestamps leading its first and
 * last lines (a recording's time span). No regex and no parsing: these run on every batch.
 */

/** Lines in a batch (its newlines). */
export function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

const isBlank = (c: number) => c === 32 || (c >= 9 && c <= 13);

/**
 * The timestamp (epoch ns, as its digits) that leads the line starting at `at`: at least 10
 * digits after optional blanks, followed by a blank; null when the line does not start so.
 * Looks at the line's first 64 bytes only.
 */
export function leadingTs(b: Buffer, at = 0): string | null {
  const stop = Math.min(b.length, at + 64);
  let i = at;
  while (i < stop && isBlank(b[i])) i++;
  const start = i;
  while (i < stop && b[i] >= 48 && b[i] <= 57) i++;
  if (i - start < 10 || i >= stop || !isBlank(b[i])) return null;
  return b.toString('latin1', start, i);
}

/** The timestamp leading the batch's last line (trailing newlines passed over), or null. */
export function lastLeadingTs(b: Buffer): string | null {
  let end = b.length;
  while (end > 0 && b[end - 1] === 10) end--;
  return leadingTs(b, b.lastIndexOf(10, end - 1) + 1);
}
