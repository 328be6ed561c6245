/**
 * Live sources behind one interface: strace (ptrace), eBPF
 * (bpftrace) and stdin (a recording or `sysdig` piped in). Each one turns what it reads into
 * text lines of a trace format the parser knows (LID-DS 2021 for strace and eBPF; LID-DS or
 * sysdig text for stdin), attributed to a container, and hands them to a {@link SourceSink}
 * in batches of complete lines. Nothing after the source knows where the events came from.
 *
 *     source ──batches──► BoundedQueue ──► consumer (monitor: parser → encoder → model → alerts;
 *                                                    capture: LID-DS recording)
 */
import type { TraceFormat } from '../trace/parse.js';
import type { ContainerInfo } from './containers.js';
import type { Logger } from '../util/log.js';

export type SourceKind = 'strace' | 'ebpf' | 'stdin';

/** Where time comes from for closing windows. */
export type SourceClock =
  /** Wall clock: live sources; a quiet second still closes. */
  | 'wall'
  /** The events' own timestamps only: a replay read as fast as it can be. */
  | 'events'
  /** A replay paced to its timestamps (`--realtime`): the trace time that has elapsed. */
  | 'paced';

export interface SourceSink {
  /**
   * Complete lines of one container, in the source's format. Returns false when the batch was
   * dropped (the queue is full).
   */
  data(container: ContainerInfo, data: Buffer, lines: number): boolean;
  /** For a source that must not drop (a replay): resolves when there is room for more. */
  whenSpace(): Promise<void>;
  /** Events the capture tool reports it lost (e.g. bpftrace's "Lost N events"). */
  lost(events: number, reason: string): void;
  /** The capture process died and was started again. */
  restarted(reason: string): void;
  /** The source is attached and producing (strace started, bpftrace probes attached). */
  ready(info: Record<string, unknown>): void;
}

export interface LiveSource {
  readonly kind: SourceKind;
  /** Format of the lines delivered; for stdin without --format, known after the first chunk. */
  readonly format: TraceFormat | null;
  readonly clock: SourceClock;
  /**
   * Current time in the events' time base (epoch seconds for the live sources), or null when
   * windows follow the events only (a fast replay) or before the first event of a paced one.
   */
  now(): { sec: number; nsec: number } | null;
  /**
   * Runs until the source ends (end of input, the traced command or process exited) or
   * `signal` aborts. Throws a ChidsError when the source cannot work at all (missing binary,
   * no permission, eBPF unavailable).
   */
  run(sink: SourceSink, signal: AbortSignal): Promise<SourceEnd>;
  /** Resolves once the runtime identities (names, images) of the containers seen are known, where the source has them. */
  settle?(): Promise<void>;
}

export interface SourceEnd {
  reason: 'eof' | 'exited' | 'stopped';
  detail?: string;
}

export interface SourceSpec {
  kind: SourceKind;
  /** strace / ebpf: processes to trace (their containers). */
  pids?: number[];
  /** ebpf: every container of the node (by cgroup / pid namespace), discovered as they start. */
  allContainers?: boolean;
  /** ebpf --all-containers: the host's own processes too. */
  includeHost?: boolean;
  /** strace: a command to run and trace (`sh -c CMD`). */
  cmd?: string;
  /** stdin: the text format (sniffed when absent). */
  format?: TraceFormat;
  /** stdin: pace the replay to its timestamps. */
  realtime?: boolean;
  /** stdin: read this stream instead of process.stdin (library use, tests). */
  input?: NodeJS.ReadableStream;
  /** stdin: the replayed container's name and image (`--baselines` picks its baseline by the image). */
  stdinIdentity?: { name: string | null; image: string };
  /** Restart the capture process when it dies (default true). */
  restart?: boolean;
  /** Upper bound on consecutive restarts before giving up (default 10). */
  maxRestarts?: number;
  /**
   * strace: when a traced container's processes end, end the source (once every target has
   * ended) instead of waiting for the container to come back and re-attaching.
   */
  exitWithTarget?: boolean;
  log: Logger;
}

/** Wall-clock epoch time as seconds + nanoseconds. */
export function wallNow(): { sec: number; nsec: number } {
  const ms = Date.now();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1e6 };
}

/**
 * Splits a stream of bytes into complete lines (the last partial line is kept for the next
 * chunk), bounded: a line longer than `maxLine` is dropped whole and counted. Each chunk is
 * searched once and a partial line is kept as pieces joined when its newline comes, so the work
 * is linear in the input however long the lines and however small the chunks.
 */
export class LineSplitter {
  private parts: string[] = [];
  private partsLen = 0;
  /** Inside an overlong line: everything up to the next newline is skipped. */
  private dropping = false;
  overlong = 0;

  constructor(private readonly maxLine = 1 << 20) {}

  /** Calls `line` for every complete line in `chunk`. */
  push(chunk: Buffer | string, line: (text: string) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let start = 0;
    const first = text.indexOf('\n');
    if (first < 0) {
      this.keep(text);
      return;
    }
    if (this.dropping) this.dropping = false;
    else if (this.partsLen > 0) {
      this.parts.push(text.slice(0, first));
      line(this.parts.join(''));
      this.parts = [];
      this.partsLen = 0;
    } else line(text.slice(0, first));
    start = first + 1;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      line(text.slice(start, nl));
      start = nl + 1;
    }
    if (start < text.length) this.keep(text.slice(start));
  }

  private keep(piece: string): void {
    if (this.dropping) return;
    this.parts.push(piece);
    this.partsLen += piece.length;
    if (this.partsLen > this.maxLine) {
      this.overlong++;
      this.parts = [];
      this.partsLen = 0;
      this.dropping = true;
    }
  }

  /** The last line, if the stream ended without a newline. */
  end(line: (text: string) => void): void {
    if (this.partsLen > 0) line(this.parts.join(''));
    this.parts = [];
    this.partsLen = 0;
    this.dropping = false;
  }
}

/**
 * Groups converted lines by container within one input chunk and hands each group to the
 * sink as a single batch (one Buffer per container per chunk).
 */
export class BatchBuilder {
  private groups = new Map<ContainerInfo, string[]>();

  add(container: ContainerInfo, line: string): void {
    let g = this.groups.get(container);
    if (!g) this.groups.set(container, (g = []));
    g.push(line);
  }

  flush(sink: SourceSink): void {
    if (this.groups.size === 0) return;
    for (const [c, lines] of this.groups) sink.data(c, Buffer.from(lines.join('\n') + '\n', 'utf8'), lines.length);
    this.groups = new Map();
  }
}
