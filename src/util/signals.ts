/**
 * How a long-running command stops on SIGINT/SIGTERM: the first signal asks it to finish cleanly
 * (flush, complete the recording, stop the sandbox), a second one exits at once with 130.
 * Returns the function that removes the handlers.
 */
export function onStopSignals(onFirst: (sig: NodeJS.Signals) => void, onSecond?: (sig: NodeJS.Signals) => void): () => void {
  let received = 0;
  const handler = (sig: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      onSecond?.(sig);
      process.exit(130);
    }
    onFirst(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
