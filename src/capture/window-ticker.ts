/**
 * Closes windows on a live source's clock. A window ends when an event past it arrives, but a
 * quiet container sends none: so every `everyMs` the consumer is told the time, the source's
 * clock minus `graceMs` (late events get that long to arrive). Not while events are still
 * queued: their arrival closes the windows, in order. A replay (clock 'events') needs no
 * ticker: its events are its clock.
 */
import type { LiveSource } from './source.js';

/** Starts the ticker (nothing for an events clock); returns the function that stops it. */
export function startWindowTicker(
  source: Pick<LiveSource, 'clock' | 'now'>,
  queue: { readonly length: number },
  graceMs: number,
  everyMs: number,
  tick: (sec: number, nsec: number) => void,
): () => void {
  if (source.clock === 'events') return () => undefined;
  const timer = setInterval(() => {
    if (queue.length > 0) return;
    const now = source.now();
    if (now === null) return;
    // Seconds and nanoseconds apart (a Number cannot hold epoch ns exactly): borrow whole seconds.
    let ns = now.nsec - graceMs * 1e6;
    let sec = now.sec;
    while (ns < 0) {
      ns += 1e9;
      sec--;
    }
    tick(sec, ns);
  }, everyMs);
  return () => clearInterval(timer);
}
