/**
 * Source → parser → encoder, for one trace: the glue every command uses. It reads the trace
 * once, as a stream, and reports the windows as they close.
 */
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { InputError } from '../util/errors.js';
import { NameTable } from '../trace/names.js';
import { TraceParser, type ParseStats, type TraceFormat } from '../trace/parse.js';
import type { SyscallEvent } from '../trace/event.js';
import { TrainingCollector, WindowEncoder, type EncodedWindow, type ItemSegments } from './anomaly.js';
import type { Vocabulary } from './vocabulary.js';

// node:crypto costs ~6 ms to load, and only training hashes its inputs: `encode` never does.
const createHash = (algorithm: string) => (createRequire(import.meta.url)('node:crypto') as typeof Crypto).createHash(algorithm);

/** What the pipeline needs of a source (src/trace/sources/readers.ts provides it). */
export interface ChunkSource {
  readonly path: string;
  readonly hint: 'sysdig' | 'lidds' | 'unknown';
  readonly textBytes: number | null;
  /** With `reuse`, a chunk may be overwritten once the next one is asked for (see sources.ts). */
  chunks(opts?: { reuse?: boolean }): AsyncIterable<Buffer>;
}

export interface ReadOptions {
  faithful: boolean;
  windowNs: number;
  /** Work budget: empty windows a trace may open between its events (default DEFAULT_MAX_EMPTY_WINDOWS). */
  maxEmptyWindows?: number;
  /** Called with the bytes read so far (for progress bars). */
  onBytes?: (bytes: number) => void;
  /** Called for recoverable problems (malformed lines skipped, late events). */
  onWarning?: (message: string) => void;
  /** Compute the SHA-256 of the trace text (for the baseline manifest). */
  hash?: boolean;
  /**
   * Also hand every event placed in a window to this tap (for detectors that read the syscall
   * stream itself, e.g. STIDE and BoSC). Without it the hot loop is unchanged.
   */
  tap?: EventTap;
}

/**
 * Sees each event that lands in a window, with that window's index (0-based, counting empty
 * windows too). The windows a tap sees are exactly the trace's non-empty windows, in order.
 * The event is the reader's flyweight: copy what you keep.
 */
export interface EventTap {
  event(ev: SyscallEvent, window: number): void;
}

/** `push`, plus the tap for every event the clock placed (dropped events place nowhere). */
function tapped(push: (ev: SyscallEvent) => void, clock: { dropped: number; current: number }, tap: EventTap | undefined): (ev: SyscallEvent) => void {
  if (tap === undefined) return push;
  return (ev) => {
    const dropped = clock.dropped;
    push(ev);
    if (clock.dropped === dropped) tap.event(ev, clock.current);
  };
}

export interface TraceSummary extends ParseStats {
  file: string;
  format: TraceFormat;
  windows: number;
  /** Events in no window (no timestamp, or before the first event). */
  dropped: number;
  /** Events counted in a later window than their time (improved mode, unsorted input). */
  late: number;
  /** Start of the first window as decimal ns (epoch for LID-DS, since midnight for sysdig text). */
  startNs: string | null;
  /** SHA-256 of the trace text (for .zip: of the .sc inside; for .scap: of sysdig's text), when asked for. */
  sha256?: string;
}

/** Bytes of a trace's head that sniffFormat looks at. */
const SNIFF_BYTES = 8192;

/**
 * Guesses the text format from the first line that looks like an event of either format in
 * the first 8 KiB (a line of anything else, such as a warning printed before the events, is
 * passed over); null when no line does.
 */
export function sniffFormat(chunk: Buffer): TraceFormat | null {
  const text = chunk.subarray(0, Math.min(chunk.length, SNIFF_BYTES)).toString('latin1');
  for (const line of text.split('\n')) {
    const tok = line.trim().split(/\s+/);
    if (tok.length === 0 || tok[0] === '') continue;
    if (/^\d{15,}$/.test(tok[0])) return 'lidds';
    if (tok.length > 1 && /^\d{1,2}:\d\d:\d\d(\.\d+)?$/.test(tok[1])) return 'sysdig';
  }
  return null;
}

/** Reads a trace's events in order (format sniffed when the source does not say), for consumers other than the encoder. */
export async function readEvents(
  src: ChunkSource,
  names: NameTable,
  opts: ReadOptions,
  onEvent: (ev: SyscallEvent) => void,
): Promise<{ stats: ParseStats; format: TraceFormat; sha256?: string }> {
  const hash = opts.hash ? createHash('sha256') : null;
  let parser: TraceParser | null = null;
  let format: TraceFormat | null = src.hint === 'unknown' ? null : src.hint;
  let bytes = 0;
  // Until the format is known, chunks are held back (a pipe may deliver the first line in
  // pieces): up to SNIFF_BYTES, then a trace no line of which is recognised is refused.
  const head: Buffer[] = [];
  // The parser copies the one partial line it carries over and the sniffer copies what it
  // holds back, so nothing here outlives its chunk: the source may reuse its buffers.
  for await (const chunk of src.chunks({ reuse: true })) {
    if (chunk.length === 0) continue;
    hash?.update(chunk);
    bytes += chunk.length;
    if (parser === null) {
      if (format === null) {
        head.push(Buffer.from(chunk)); // a copy: the source may reuse its buffer
        format = sniffFormat(head.length === 1 ? head[0] : Buffer.concat(head));
        if (format === null) {
          if (bytes < SNIFF_BYTES) continue;
          throw unrecognised(src.path);
        }
      } else {
        head.push(chunk);
      }
      parser = new TraceParser({ file: src.path, format, faithful: opts.faithful, names, onEvent });
      for (const c of head) parser.push(c);
      head.length = 0;
    } else {
      parser.push(chunk);
    }
    opts.onBytes?.(bytes);
  }
  if (parser === null && bytes > 0 && src.hint === 'unknown') throw unrecognised(src.path);
  if (parser === null || format === null) {
    // The reference: CorruptedFile for a 0-byte file, NoSyscallsFound for a scap with no events.
    throw new InputError(src.path, bytes === 0 && src.hint !== 'sysdig' ? 'empty file (0 bytes)' : 'no syscall events in the trace');
  }
  parser.end();
  const stats = parser.stats;
  if (stats.events === 0) {
    const why = stats.malformed > 0 ? ` (${stats.malformed} malformed lines, the first at line ${stats.firstMalformedLine})` : '';
    throw new InputError(src.path, `no syscall events in the trace${why}`);
  }
  if (stats.malformed > 0) {
    opts.onWarning?.(
      `${src.path}: skipped ${stats.malformed} malformed line${stats.malformed === 1 ? '' : 's'} (the first at line ${stats.firstMalformedLine})`,
    );
  }
  return { stats, format, sha256: hash?.digest('hex') };
}

function unrecognised(file: string): InputError {
  return new InputError(file, 'unrecognised trace format (expected sysdig -r text or a LID-DS .sc recording)');
}

/** Encodes one trace against a training vocabulary; windows are reported in order as they close. */
export async function encodeTrace(
  src: ChunkSource,
  vocab: Vocabulary,
  opts: ReadOptions & {
    details?: boolean;
    /** The vocabulary for window `next` onwards, asked after each window closes (calibration's time blocks). */
    vocabAt?: (next: number) => Vocabulary;
  },
  onWindow: (w: EncodedWindow) => void,
  names: NameTable = new NameTable(),
): Promise<TraceSummary> {
  let windows = 0;
  const vocabAt = opts.vocabAt;
  const encoder: WindowEncoder = new WindowEncoder(
    vocabAt ? vocabAt(0) : vocab,
    names,
    { file: src.path, faithful: opts.faithful, windowNs: opts.windowNs, maxEmptyWindows: opts.maxEmptyWindows, details: opts.details },
    (w) => {
      windows++;
      onWindow(w);
      if (vocabAt) encoder.setVocabulary(vocabAt(w.index + 1));
    },
  );
  const { stats, format, sha256 } = await readEvents(src, names, opts, tapped((ev) => encoder.push(ev), encoder.clock, opts.tap));
  encoder.finish();
  const clock = encoder.clock;
  if (clock.late > 0) opts.onWarning?.(`${src.path}: ${clock.late} events were out of time order and counted in a later window`);
  if (clock.jumps > 0) opts.onWarning?.(`${src.path}: skipped ${clock.jumps} events more than a day after the previous ones (corrupt timestamps?)`);
  const startNs = clock.current >= 0 ? clock.startNs(0).toString() : null;
  return { ...stats, file: src.path, format, windows, dropped: clock.dropped, late: clock.late, startNs, sha256 };
}

/** What one training trace contributes: its vocabulary and its windows' event counts. */
export interface TraceVocabulary {
  counts: number[];
  seenSyscalls: Set<string>;
  seenArgs: Set<string>;
  /** Where in the trace each syscall and argument occurs (for time-block calibration folds). */
  segments: ItemSegments;
  summary: TraceSummary;
}

/**
 * Reads one training trace. Each trace gets its own collector so that a trace that fails half
 * way leaves nothing behind in the training vocabulary.
 */
export async function collectTrace(src: ChunkSource, opts: ReadOptions, names: NameTable = new NameTable()): Promise<TraceVocabulary> {
  const collector = new TrainingCollector(names, opts.faithful);
  const t = collector.beginTrace(src.path, opts.windowNs, opts.maxEmptyWindows);
  const { stats, format, sha256 } = await readEvents(src, names, opts, tapped(t.push, t.clock, opts.tap));
  const counts = t.finish();
  return {
    counts,
    seenSyscalls: collector.seenSyscalls,
    seenArgs: collector.seenArgs,
    segments: collector.segments(),
    summary: { ...stats, file: src.path, format, windows: counts.length, dropped: t.clock.dropped, late: t.clock.late, startNs: t.clock.current >= 0 ? t.clock.startNs(0).toString() : null, sha256 },
  };
}
