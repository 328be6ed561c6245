/**
 * Closes windows on a live source's clock. A window ends when an event past it arrives, but a
 * quiet container sends none: so every `everyMs` the consumer is told the time, the source's
 * clock minus `graceMs` (late events get that long to arrive). Not while events are still
 * queued: their arrival closes the windows, in order. A replay (clock 'events') needs no
 * ticker: its events are its clock.
 */
import type { LiveSource } from './source.js';

/**
 * Starts the ticker (nothing for an events clock); returns the function that stops it. It stops
 * by itself once `stopping` aborts: the source still delivers its last events (bpftrace prints
 * what its buffers hold as it exits, a second or more after the stop), and they belong to the
 * windows still open; closed on the clock meanwhile, they were counted as late (every late event
 * of the node-wide test's monitor, 42 in one run, came then). The last windows close when the
 * stream ends.
 */
export function startWindowTicker(
  source: Pick<LiveSource, 'clock' | 'now'>,
  queue: { readonly length: number },
  graceMs: number,
  everyMs: number,
  tick: (sec: number, nsec: number) => void,
  stopping?: AbortSignal,
): () => void {
  if (source.clock === 'events' || stopping?.aborted) return () => undefined;
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
  const stop = () => {
    clearInterval(timer);
    stopping?.removeEventListener('abort', stop);
  };
  stopping?.addEventListener('abort', stop, { once: true });
  return stop;
}
