/**
 * When a container's events came from processes that entered it from outside (`podman exec`,
 * `nsenter`): the time span of the latest such batches, so that an alert can say whether its
 * window holds any (`proc.is_exec`). Batches are complete LID-DS lines, timestamp first.
 */
export class EnteredSpan {
  /** Epoch ns of the first and last entered event of the current span (0: none yet). */
  private from = 0n;
  private to = 0n;

  /** A batch of entered events. */
  mark(data: Buffer): void {
    const first = leadingNs(data, 0);
    let end = data.length;
    while (end > 0 && data[end - 1] === 10) end--;
    const last = leadingNs(data, data.lastIndexOf(10, end - 1) + 1);
    if (first === null || last === null) return;
    // A new span when the last one ended long before (a minute): the alert asks about its own window only.
    if (this.to === 0n || first - this.to > 60_000_000_000n) this.from = first;
    if (last > this.to) this.to = last;
  }

  /** Does the window [startNs, startNs + windowNs) hold entered events? */
  overlaps(startNs: bigint, windowNs: number): boolean {
    return this.to !== 0n && this.to >= startNs && this.from < startNs + BigInt(windowNs);
  }
}

function leadingNs(b: Buffer, at: number): bigint | null {
  let end = at;
  while (end < b.length && end - at < 24 && b[end] >= 48 && b[end] <= 57) end++;
  return end - at >= 10 ? BigInt(b.toString('latin1', at, end)) : null;
}
