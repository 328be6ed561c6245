/**
 * `--source stdin`: a recording (`cat x.sc | chids monitor …`) or a live `sysdig` piped in,
 * as LID-DS lines or sysdig text (`--format`, else sniffed from the first lines).
 *
 * By default it is read as fast as the consumer takes it, windows following the events' own
 * timestamps (nothing is dropped: the reader waits for room in the queue). With `--realtime`
 * the lines are released at the pace of their timestamps, and a quiet stretch of the trace
 * closes its windows on time as a live source would.
 *
 * The text formats carry no container ids, so a replay is one container, `stdin`.
 */
import { performance } from 'node:perf_hooks';
import { sniffFormat } from '../encode/pipeline.js';
import type { TraceFormat } from '../trace/parse.js';
import { ChidsError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import { STDIN_CONTAINER, type ContainerInfo } from './containers.js';
import { splitImage } from './runtime/types.js';
import { nsAfter } from '../util/time.js';
import { LineSplitter, type LiveSource, type SourceEnd, type SourceSink, type SourceSpec } from './source.js';

export class StdinSource implements LiveSource {
  readonly kind = 'stdin' as const;
  readonly clock: 'events' | 'paced';
  format: TraceFormat | null;
  private readonly realtime: boolean;
  // pacing anchor: trace time t0 (sec, nsec) at performance.now() = wall0
  private t0sec = 0;
  private t0nsec = 0;
  private wall0 = -1;
  private readonly input: NodeJS.ReadableStream & { isTTY?: boolean; destroy?: () => void };
  private readonly container: ContainerInfo;

  constructor(
    spec: SourceSpec,
    input?: NodeJS.ReadableStream & { isTTY?: boolean; destroy?: () => void },
  ) {
    this.input = input ?? process.stdin;
    this.format = spec.format ?? null;
    this.realtime = spec.realtime ?? false;
    this.clock = this.realtime ? 'paced' : 'events';
    const id = spec.stdinIdentity;
    this.container = id
      ? Object.freeze({ ...STDIN_CONTAINER, identity: { state: 'resolved' as const, name: id.name, image: id.image, ...splitImage(id.image), imageId: null, podName: null, podNamespace: null, runtime: null } })
      : STDIN_CONTAINER;
  }

  now(): { sec: number; nsec: number } | null {
    if (!this.realtime || this.wall0 < 0) return null;
    const elapsedNs = Math.round((performance.now() - this.wall0) * 1e6);
    const total = this.t0nsec + elapsedNs;
    return { sec: this.t0sec + Math.floor(total / 1e9), nsec: total % 1e9 };
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<SourceEnd> {
    const input = this.input;
    if (input.isTTY) throw new ChidsError('--source stdin: stdin is a terminal; pipe a recording in (cat NAME.sc | chids monitor …) or use --source strace/ebpf');
    const onAbort = () => input.destroy?.();
    signal.addEventListener('abort', onAbort, { once: true });
    let announced = false;
    const splitter = new LineSplitter();
    try {
      for await (const c of input as AsyncIterable<Buffer | string>) {
        if (signal.aborted) break;
        const chunk = typeof c === 'string' ? Buffer.from(c) : c;
        if (chunk.length === 0) continue;
        if (this.format === null) {
          this.format = sniffFormat(chunk);
          if (this.format === null) {
            throw new ChidsError('--source stdin: unrecognised trace format (expected LID-DS .sc lines or sysdig -r text); give --format lidds|sysdig');
          }
        }
        if (!announced) {
          announced = true;
          sink.ready({ source: 'stdin', format: this.format, realtime: this.realtime });
        }
        if (!this.realtime) {
          sink.data(this.container, chunk, 0);
          await sink.whenSpace();
          continue;
        }
        await this.paced(chunk, splitter, sink, signal);
      }
      if (this.realtime) {
        const rest: string[] = [];
        splitter.end((l) => rest.push(l));
        if (rest.length > 0) sink.data(this.container, Buffer.from(rest.join('\n') + '\n'), rest.length);
      }
    } catch (err) {
      if (signal.aborted) return { reason: 'stopped' };
      if (err instanceof ChidsError) throw err;
      throw new ChidsError(`--source stdin: read error: ${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    return signal.aborted ? { reason: 'stopped' } : { reason: 'eof' };
  }

  /** Releases the chunk's lines at the pace of their timestamps. */
  private async paced(chunk: Buffer, splitter: LineSplitter, sink: SourceSink, signal: AbortSignal): Promise<void> {
    let lines: string[] = [];
    const due: { line: string; at: number }[] = [];
    splitter.push(chunk, (l) => {
      const t = lineTime(l, this.format!);
      if (t !== null && this.wall0 < 0) {
        this.t0sec = t.sec;
        this.t0nsec = t.nsec;
        this.wall0 = performance.now();
      }
      const at = t === null || this.wall0 < 0 ? -1 : this.wall0 + nsAfter(t.sec, t.nsec, this.t0sec, this.t0nsec) / 1e6;
      due.push({ line: l, at });
    });
    for (const d of due) {
      const wait = d.at - performance.now();
      if (wait > 2) {
        if (lines.length > 0) {
          sink.data(this.container, Buffer.from(lines.join('\n') + '\n'), lines.length);
          lines = [];
        }
        await sleep(wait, signal);
        if (signal.aborted) return;
      }
      lines.push(d.line);
    }
    if (lines.length > 0) sink.data(this.container, Buffer.from(lines.join('\n') + '\n'), lines.length);
    await sink.whenSpace();
  }
}

/** The timestamp of a trace line (LID-DS: epoch ns in token 0; sysdig: time of day in token 1), or null. */
export function lineTime(line: string, format: TraceFormat): { sec: number; nsec: number } | null {
  const s = line.trimStart();
  if (format === 'lidds') {
    const m = /^(\d{10,})\s/.exec(s);
    if (!m) return null;
    const ns = m[1];
    return { sec: Number(ns.slice(0, -9)), nsec: Number(ns.slice(-9)) };
  }
  const m = /^\S+\s+(\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s/.exec(s);
  if (!m) return null;
  return { sec: Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]), nsec: m[4] ? Number((m[4] + '00000000').slice(0, 9)) : 0 };
}
