/**
 * What a stopping run is waiting for. Once asked to stop, a long-running command goes through
 * phases (the source's processes end, the queue drains, alerts are delivered, outputs close); if
 * stopping takes long, an operator (or a failed test) should read which phase holds it rather than
 * guess. From the stop request on, the current phase is logged every `everyMs` until the run ends.
 */
import type { Logger } from '../util/log.js';

export interface StopProgress {
  /** The run has entered this phase of its stop (logged only if stopping is slow). */
  phase(name: string): void;
  /** The run is over: nothing more is logged. */
  done(): void;
}

export function stopProgress(stopping: AbortSignal, log: Logger, everyMs = 10_000): StopProgress {
  let current = 'source';
  let since = 0;
  let timer: NodeJS.Timeout | null = null;
  // Called at most once, and never after done() (which removes it from the signal).
  const start = () => {
    since = Date.now();
    // Unreferenced: a report must never be what keeps the process alive.
    timer = setInterval(() => {
      log.warn('still stopping', { phase: current, stopping_for_s: Math.round((Date.now() - since) / 1000) });
    }, everyMs).unref();
  };
  if (stopping.aborted) start();
  else stopping.addEventListener('abort', start, { once: true });
  return {
    phase: (name) => {
      current = name;
    },
    done: () => {
      stopping.removeEventListener('abort', start);
      if (timer) clearInterval(timer);
    },
  };
}
