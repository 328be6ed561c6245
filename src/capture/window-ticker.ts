/**
 * Closes windows on a live source's clock. A window ends when an event past it arrives, but a
 * quiet container sends none: so every `everyMs` the consumer is told the time, the source's
 * clock minus `graceMs` (late events get that long to arrive). Not while events are still
 * queued: their arrival closes the windows, in order. A replay (clock 'events') needs no
 * ticker: its events are its clock.
 */
import type { LiveSource } from './source.js';

/**
 * Stops the ticker once `signal` says the run is stopping. The source still delivers its last
 * events (bpftrace prints what its buffers hold as it exits, a second or more after the stop),
 * and they belong to the windows still open: closed on the clock meanwhile, they were counted as
 * late (every late event of the node-wide test's monitor, 42 in one run, came then). The last
 * windows close when the stream ends.
 */
export function stopTickerOnStop(signal: AbortSignal, stop: () => void): void {
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
}

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
