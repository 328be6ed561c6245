/**
 * What training saw: the syscall names, the processed arguments and the busiest window.
 * Everything the encoder needs to turn a window into an anomaly vector.
 */
export interface Vocabulary {
  readonly seenSyscalls: ReadonlySet<string>;
  readonly seenArgs: ReadonlySet<string>;
  /** Largest number of events in any training window. */
  readonly maxFreq: number;
  /**
   * False for a baseline trained before execve's command shape was an argument (improved mode):
   * its seenArgs hold no command, so against it every spawned command would be unseen; the
   * encoder then reads execve by its filename only, as that baseline did. Absent: true.
   */
  readonly execCommands?: boolean;
  /**
   * The command shape version its seenArgs hold (COMMAND_SHAPE in src/trace/command.ts): a
   * baseline trained with an older one keeps being read with it, or every command it saw would
   * be unseen. Absent: the current one.
   */
  readonly commandShape?: number;
  /**
   * False for a baseline trained before the numbers in `/proc` paths were read as a class
   * (`/proc/<n>/stat`, improved mode): its seenArgs hold the pids of its own run; against it they
   * are read as they were. Absent: true.
   */
  readonly procNumbers?: boolean;
}

export function makeVocabulary(seenSyscalls: Iterable<string>, seenArgs: Iterable<string>, maxFreq: number): Vocabulary {
  if (!Number.isInteger(maxFreq) || maxFreq < 1) throw new Error(`max_freq must be a positive integer, got ${maxFreq}`);
  return { seenSyscalls: new Set(seenSyscalls), seenArgs: new Set(seenArgs), maxFreq };
}
