/**
 * What training saw: the syscall names, the processed arguments and the busiest window.
 * Everything the encoder needs to turn a window into an anomaly vector.
 */
export interface Vocabulary {
  readonly seenSyscalls: ReadonlySet<string>;
  readonly seenArgs: ReadonlySet<string>;
  /** Largest number of events in any training window. */
  readonly maxFreq: number;
}

export function makeVocabulary(seenSyscalls: Iterable<string>, seenArgs: Iterable<string>, maxFreq: number): Vocabulary {
  if (!Number.isInteger(maxFreq) || maxFreq < 1) throw new Error(`max_freq must be a positive integer, got ${maxFreq}`);
  return { seenSyscalls: new Set(seenSyscalls), seenArgs: new Set(seenArgs), maxFreq };
}
