/**
 * Byte sources of the trace readers: an input path becomes a stream of the trace's raw text
 * bytes plus a little metadata. Parsing the text into events is the parser's job
 * (src/trace/parse.ts, driven by src/encode/pipeline.ts); nothing here looks inside a line.
 *
 * | input             | kind  | hint    | bytes come from                                      |
 * |-------------------|-------|---------|------------------------------------------------------|
 * | `NAME.zip`        | zip   | lidds   | the `NAME.sc` entry, inflated on the fly (zlib)      |
 * | `NAME.sc`         | sc    | lidds   | the file                                             |
 * | `NAME.scap`       | scap  | sysdig  | the stdout of `sysdig -r NAME.scap` (TZ=UTC)         |
 * | `-`               | stdin | unknown | process.stdin                                        |
 * | anything else     | text  | unknown | the file (the caller sniffs the format)              |
 *
 * Every source streams in constant memory (chunks of about {@link CHUNK_BYTES}), can be
 * read more than once (each `chunks()` call starts over, except stdin), and cleans up when the
 * consumer stops early (`break` out of `for await`): the file or zip is closed and sysdig is
 * killed and reaped before the loop exits. Every failure is an {@link InputError} naming the
 * file: one line, no stack trace.
 *
 * Failures that are only discovered mid-stream (a zip entry that does not inflate, a CRC
 * mismatch, sysdig exiting non-zero on a truncated capture) are thrown by the iterator after
 * the chunks read so far have been yielded; a consumer must treat an exception from
 * `chunks()` as fatal for the whole trace, never as "end of data".
 */
import type * as ChildProcesses from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Stats } from 'node:fs';
import { fstatSync, read as fsRead } from 'node:fs';
import { open as fsOpen, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type * as Zlib from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import type * as Yauzl from 'yauzl';
import { createRequire } from 'node:module';
import { ChidsError, InputError } from '../../util/errors.js';
import { SIDECAR_EXTENSIONS } from './paths.js';
import { MAX_LABELS_BYTES, fsProblem, oneLine, parseLabels, readLabelsFile, type RecordingLabels } from '../labels.js';

// node:child_process (sysdig) and node:zlib (zips) are loaded by the readers that use them: a
// plain trace never needs them, and loading them costs ~5 and ~2.5 ms of every start.
const builtin = createRequire(import.meta.url);
let zlibModule: typeof Zlib | null = null;
const zlib = () => (zlibModule ??= builtin('node:zlib') as typeof Zlib);

export type { RecordingLabels } from '../labels.js';
export { RECORDING_EXTENSIONS } from './paths.js';

export type SourceKind = 'scap' | 'zip' | 'sc' | 'text' | 'stdin';

export interface TraceSource {
  /** As given by the user (or '-' for stdin). */
  readonly path: string;
  /** Recording name: the basename without its extension, e.g. 'aggressive_nightingale_1018'; 'stdin' for '-'. */
  readonly name: string;
  readonly kind: SourceKind;
  /** Format hint from the extension: .scap → sysdig (sysdig -r text), .zip/.sc → lidds, else unknown (caller sniffs). */
  readonly hint: 'sysdig' | 'lidds' | 'unknown';
  /** Size in bytes of the text that chunks() will yield, when known (file size, zip entry uncompressedSize); null for scap/stdin. */
  readonly textBytes: number | null;
  /**
   * The trace's raw text bytes, in order, in chunks of ~1 MiB. Streams in constant memory.
   * Throws InputError on I/O problems (missing, unreadable, corrupt zip, sysdig
   * missing/failing). Leaving the loop early closes the file / zip and kills sysdig.
   *
   * Chunk lifetime: by default each Buffer is the consumer's to keep. With `{ reuse: true }` a
   * chunk is valid only until the consumer asks for the next one (the source may then refill
   * its memory): the consumer copies whatever it keeps longer. The encoder reads this way, so a
   * file is read through two reused buffers instead of allocating one per chunk.
   */
  chunks(opts?: ChunkOptions): AsyncIterable<Buffer>;
  /** LID-DS labels from NAME.json (inside the zip, or the sibling NAME.json next to a .sc), or null when there are none. */
  labels(): Promise<RecordingLabels | null>;
}

export interface ChunkOptions {
  /** The consumer is done with each chunk when it asks for the next one (see TraceSource.chunks). */
  reuse?: boolean;
}

/** Target size of the chunks yielded by {@link TraceSource.chunks}. */
export const CHUNK_BYTES = 1 << 20;

/** Environment variable that overrides the sysdig binary (default: `sysdig` on PATH). */
export const SYSDIG_ENV = 'CHIDS_SYSDIG';
const SYSDIG_MISSING = "cannot read .scap: the sysdig binary was not found; install the Debian package 'sysdig' (apt-get install sysdig)";
/** How much of sysdig's stderr is kept for the error message. */
const STDERR_TAIL = 4096;
/** Grace period between SIGTERM and SIGKILL when stopping sysdig early. */
const KILL_GRACE_MS = 2000;

/** The source kind an input path has, from its extension (case-insensitive). */
export function kindOf(file: string): SourceKind {
  if (file === '-') return 'stdin';
  switch (path.extname(file).toLowerCase()) {
    case '.zip':
      return 'zip';
    case '.sc':
      return 'sc';
    case '.scap':
      return 'scap';
    default:
      return 'text';
  }
}

function recordingName(file: string): string {
  return path.basename(file, path.extname(file));
}

/**
 * Opens one input: a file, or '-' for stdin. A .zip is checked here (its central directory is
 * read and the .sc entry found) so that a damaged archive fails before any work starts.
 * InputError if the path is missing, a directory, or a LID-DS side file (.json/.pcap/.res).
 */
export async function openSource(file: string): Promise<TraceSource> {
  if (file === '-') return stdinSource();
  let st: Stats;
  try {
    st = await stat(file);
  } catch (err) {
    throw new InputError(file, fsProblem(err));
  }
  if (st.isDirectory()) throw new InputError(file, 'is a directory; expected a trace file (.zip, .sc, .scap, .txt)');
  const ext = path.extname(file).toLowerCase();
  const side = SIDECAR_EXTENSIONS[ext];
  if (side) throw new InputError(file, `this is a LID-DS ${side}, not a trace; give the recording's .zip or .sc`);
  const kind = kindOf(file);
  switch (kind) {
    case 'zip':
      return zipSource(file);
    case 'scap':
      return scapSource(file);
    case 'sc':
    case 'text':
      return plainSource(file, kind, st);
    default:
      throw new InputError(file, `unsupported input kind ${kind}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Plain files (.sc, .txt, anything else)

function plainSource(file: string, kind: 'sc' | 'text', st: Stats): TraceSource {
  const name = recordingName(file);
  return {
    path: file,
    name,
    kind,
    hint: kind === 'sc' ? 'lidds' : 'unknown',
    textBytes: st.isFile() ? st.size : null,
    chunks: (opts) => fileChunks(file, opts?.reuse === true),
    labels: async () => (kind === 'sc' ? readLabelsFile(path.join(path.dirname(file), `${name}.json`)) : null),
  };
}

async function* fileChunks(file: string, reuse: boolean): AsyncGenerator<Buffer> {
  let fh: FileHandle;
  try {
    fh = await fsOpen(file, 'r');
  } catch (err) {
    throw new InputError(file, `cannot open: ${fsProblem(err)}`);
  }
  const read = (buf: Buffer) =>
    fh.read(buf, 0, CHUNK_BYTES, null).then(
      (r) => r.bytesRead,
      (err) => {
        throw new InputError(file, `read error: ${fsProblem(err)}`);
      },
    );
  if (!reuse) {
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(CHUNK_BYTES);
        const n = await read(buf);
        if (n === 0) return;
        // A short read (end of file, pipe) would pin a whole 1 MiB buffer: copy it out instead.
        yield n === CHUNK_BYTES ? buf : n < CHUNK_BYTES / 2 ? Buffer.from(buf.subarray(0, n)) : buf.subarray(0, n);
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
  // Two buffers, read ahead: while the consumer parses one, the thread pool fills the other. The
  // buffer yielded is refilled only after the consumer asks for the one after it.
  const bufs = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
  let pending: Promise<number> | null = read(bufs[0]);
  try {
    for (let k = 0; ; k ^= 1) {
      const n: number = await pending!;
      pending = null;
      if (n === 0) return;
      if (n === CHUNK_BYTES) pending = read(bufs[k ^ 1]);
      yield n === CHUNK_BYTES ? bufs[k] : bufs[k].subarray(0, n);
      if (pending === null) pending = read(bufs[k ^ 1]); // after a short read (a growing file): try again
    }
  } finally {
    // Leaving early: let the read in flight finish before the handle is closed under it.
    if (pending !== null) await pending.catch(() => undefined);
    await fh.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// stdin

function stdinSource(): TraceSource {
  return {
    path: '-',
    name: 'stdin',
    kind: 'stdin',
    hint: 'unknown',
    textBytes: null,
    chunks: stdinChunks,
    labels: async () => null,
  };
}

async function* stdinChunks(opts?: ChunkOptions): AsyncGenerator<Buffer> {
  const stdin = process.stdin;
  if (stdin.isTTY) throw new InputError('stdin', 'is a terminal; pipe a trace in (e.g. sysdig -r F.scap | chids …) or give a file');
  if (opts?.reuse === true && stdinIsPlain()) {
    yield* fdChunks(0);
    return;
  }
  try {
    for await (const c of stdin) {
      const buf = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
      if (buf.length > 0) yield buf;
    }
  } catch (err) {
    throw new InputError('stdin', `read error: ${fsProblem(err)}`);
  }
}

/** True when fd 0 is a pipe, socket (what spawn gives a child) or file, not a terminal: it can be read with fs.read. */
function stdinIsPlain(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

/**
 * Reads fd 0 straight into one reused buffer: the stream interface would allocate a Buffer per
 * 64 KiB pipe read (measured: 3× the CPU and +30 MB RSS on a 94 MB trace). No read ahead: a
 * read pending on a pipe could wait forever for a writer after the consumer has stopped.
 */
async function* fdChunks(fd: number): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  for (;;) {
    let n: number;
    try {
      n = await new Promise<number>((resolve, reject) => fsRead(fd, buf, 0, CHUNK_BYTES, null, (err, bytes) => (err ? reject(err) : resolve(bytes))));
    } catch (err) {
      // A non-blocking pipe (set so by whoever made it) has nothing yet: wait a little.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      throw new InputError('stdin', `read error: ${fsProblem(err)}`);
    }
    if (n === 0) return;
    yield buf.subarray(0, n);
  }
}

// ---------------------------------------------------------------------------------------------
// .scap via `sysdig -r`

function scapSource(file: string): TraceSource {
  return {
    path: file,
    name: recordingName(file),
    kind: 'scap',
    hint: 'sysdig',
    textBytes: null,
    chunks: () => scapChunks(file),
    labels: async () => null,
  };
}

type Exit = { spawnError: Error } | { code: number | null; signal: NodeJS.Signals | null };

/**
 * Streams `sysdig -r FILE` (no shell). sysdig 0.29 reports failures on stderr ("Could not
 * initialize reader: invalid block type" for a non-capture, "expecting N bytes, read M … Is the
 * file truncated?" for a truncated one) and exits 1; stdout carries only event lines. A
 * truncated capture therefore yields its readable prefix and then throws an InputError with
 * sysdig's message. TZ=UTC makes the wall-clock time column independent of the host's zone (and
 * free of DST jumps); the golden files were made that way.
 */
async function* scapChunks(file: string): AsyncGenerator<Buffer> {
  let st: Stats;
  try {
    st = await stat(file);
  } catch (err) {
    throw new InputError(file, fsProblem(err));
  }
  if (st.isFile() && st.size === 0) return; // nothing to read; the caller reports the empty file
  const bin = process.env[SYSDIG_ENV] || 'sysdig';
  const { spawn } = builtin('node:child_process') as typeof ChildProcesses;
  const child = spawn(bin, ['-r', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
    shell: false,
    windowsHide: true,
  });
  let stderr = Buffer.alloc(0);
  child.stderr!.on('data', (d: Buffer) => {
    stderr = Buffer.concat([stderr, d]);
    if (stderr.length > STDERR_TAIL) stderr = stderr.subarray(stderr.length - STDERR_TAIL);
  });
  child.stderr!.on('error', () => undefined);
  const exited = new Promise<Exit>((resolve) => {
    // 'error' with no pid = the binary could not be started; other 'error's (a failed kill)
    // need a listener but change nothing: 'close' still follows.
    child.on('error', (err) => {
      if (child.pid === undefined) resolve({ spawnError: err });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  let settled = false;
  try {
    let streamError: unknown = null;
    try {
      for await (const c of coalesce(child.stdout!)) yield c;
    } catch (err) {
      streamError = err;
    }
    if (streamError !== null) {
      await stopChild(child, exited);
      settled = true;
      throw new InputError(file, `reading sysdig output failed: ${oneLine(streamError)}`);
    }
    const ex = await exited;
    settled = true;
    if ('spawnError' in ex) throw new InputError(file, spawnProblem(bin, ex.spawnError));
    if (ex.code !== 0) throw new InputError(file, sysdigFailure(bin, ex, stderr));
  } finally {
    // Reached early when the consumer left the loop: stop and reap sysdig before returning.
    if (!settled) await stopChild(child, exited);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<Exit>): Promise<void> {
  child.stdout?.destroy();
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, KILL_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function spawnProblem(bin: string, err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const which = bin === 'sysdig' ? '' : ` (${SYSDIG_ENV}=${bin})`;
  if (code === 'ENOENT') {
    return bin === 'sysdig' ? SYSDIG_MISSING : SYSDIG_MISSING.replace('was not found', `was not found${which}`);
  }
  return `cannot read .scap: cannot run sysdig${which}: ${fsProblem(err)}`;
}

function sysdigFailure(bin: string, ex: { code: number | null; signal: NodeJS.Signals | null }, stderr: Buffer): string {
  const msg = stderr
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join(' ');
  const shown = msg.length > 500 ? `${msg.slice(0, 500)}…` : msg;
  const cmd = bin === 'sysdig' ? 'sysdig -r' : `${bin} -r`;
  const how = ex.signal ? `was killed by ${ex.signal}` : `failed (exit ${ex.code})`;
  return `${cmd} ${how}${shown ? `: ${shown}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// LID-DS 2021 .zip

interface ZipPick {
  sc: Entry;
  json: Entry | null;
}

async function zipSource(file: string): Promise<TraceSource> {
  const name = recordingName(file);
  const pick = await withZip(file, async (_zip, entries) => pickEntries(file, name, entries));
  const scName = pick.sc.fileName;
  const jsonName = pick.json?.fileName ?? null;
  return {
    path: file,
    name,
    kind: 'zip',
    hint: 'lidds',
    textBytes: pick.sc.uncompressedSize,
    chunks: () => zipChunks(file, scName),
    labels: async () => (jsonName === null ? null : zipLabels(file, jsonName)),
  };
}

/** Opens the archive, lists the .sc/.json entries, runs `fn`, and closes the archive. */
async function withZip<T>(file: string, fn: (zip: ZipFile, entries: Entry[]) => Promise<T>): Promise<T> {
  const zip = await openZip(file);
  try {
    return await fn(zip, await listEntries(zip, file));
  } finally {
    zip.close();
  }
}

/**
 * autoClose is off on purpose: the central directory is walked to its end before an entry is
 * opened, and with autoClose yauzl would close the file at that 'end'. The callers close the
 * archive themselves (in `finally`), and yauzl keeps the descriptor open until the last read
 * stream is done or destroyed.
 */
function openZip(file: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    let yauzl: typeof Yauzl;
    try {
      yauzl = createRequire(import.meta.url)('yauzl') as typeof Yauzl; // loaded only for zips
    } catch (err) {
      // An incomplete install is not a bad archive: say what is missing.
      reject(new ChidsError(`${file}: cannot read zip archives: the yauzl package is missing (${oneLine(err)}); reinstall chids (npm ci)`));
      return;
    }
    try {
      yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) => {
        if (err) {
          const fsErr = (err as NodeJS.ErrnoException).code !== undefined;
          reject(new InputError(file, fsErr ? `cannot open: ${fsProblem(err)}` : `not a valid zip archive: ${oneLine(err)}`));
          return;
        }
        // yauzl emits at most one 'error'; keep a listener for the archive's whole life so a
        // late one (e.g. from closing the fd) cannot become an uncaught exception.
        zip.on('error', () => undefined);
        resolve(zip);
      });
    } catch (err) {
      reject(new InputError(file, `not a valid zip archive: ${oneLine(err)}`));
    }
  });
}

/** Walks the central directory and keeps only the entries we may read (.sc and .json files). */
function listEntries(zip: ZipFile, file: string): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const keep: Entry[] = [];
    const onEntry = (e: Entry) => {
      const n = e.fileName;
      const base = path.posix.basename(n);
      const junk = n.endsWith('/') || n.startsWith('__MACOSX/') || base.startsWith('._');
      const ext = path.posix.extname(n).toLowerCase();
      if (!junk && (ext === '.sc' || ext === '.json')) keep.push(e);
      zip.readEntry();
    };
    const done = (err: Error | null) => {
      zip.removeListener('entry', onEntry);
      zip.removeListener('end', onEnd);
      zip.removeListener('error', onError);
      if (err) reject(new InputError(file, `not a valid zip archive: ${oneLine(err)}`));
      else resolve(keep);
    };
    const onEnd = () => done(null);
    const onError = (err: Error) => done(err);
    zip.on('entry', onEntry);
    zip.once('end', onEnd);
    zip.once('error', onError);
    zip.readEntry();
  });
}

function pickEntries(file: string, name: string, entries: Entry[]): ZipPick {
  const byExt = (ext: string) => entries.filter((e) => path.posix.extname(e.fileName).toLowerCase() === ext);
  const named = (list: Entry[], want: string) => list.filter((e) => path.posix.basename(e.fileName) === want);
  const scs = byExt('.sc');
  let sc: Entry;
  if (scs.length === 0) throw new InputError(file, 'no .sc entry in the zip (a LID-DS 2021 recording NAME.zip holds NAME.sc)');
  if (scs.length === 1) sc = scs[0];
  else {
    const m = named(scs, `${name}.sc`);
    if (m.length !== 1) {
      const list = scs.slice(0, 5).map((e) => e.fileName).join(', ') + (scs.length > 5 ? ', …' : '');
      throw new InputError(file, `${scs.length} .sc entries in the zip (${list}) and ${m.length === 0 ? 'none' : 'more than one'} is named ${name}.sc`);
    }
    sc = m[0];
  }
  const jsons = byExt('.json');
  const jm = named(jsons, `${name}.json`);
  const json = jm.length === 1 ? jm[0] : jsons.length === 1 ? jsons[0] : null;
  return { sc, json };
}

/** The entry's data, inflated by yauzl, or (`raw`) as stored in the archive. */
function openEntry(zip: ZipFile, entry: Entry, file: string, raw = false): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(new InputError(file, `corrupt zip entry ${entry.fileName}: ${oneLine(err)}`));
    try {
      if (raw) zip.openReadStream(entry, { decodeFileData: false } as Yauzl.ZipFileOptions, (err, stream) => (err ? fail(err) : resolve(stream)));
      else zip.openReadStream(entry, (err, stream) => (err ? fail(err) : resolve(stream)));
    } catch (err) {
      fail(err);
    }
  });
}

/**
 * Inflates the .sc entry. Beyond what yauzl checks (inflate errors, the entry's size) the data's
 * CRC-32 is verified at the end (when this Node has zlib.crc32), so a damaged archive never
 * passes silently as a slightly different trace.
 */
async function* zipChunks(file: string, scName: string): AsyncGenerator<Buffer> {
  const zip = await openZip(file);
  try {
    const entries = await listEntries(zip, file);
    const entry = entries.find((e) => e.fileName === scName);
    if (!entry) throw new InputError(file, `no entry ${scName} in the zip any more (was the file replaced?)`);
    if (entry.isEncrypted()) throw new InputError(file, `corrupt zip entry ${entry.fileName}: entry is encrypted`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new InputError(file, `corrupt zip entry ${entry.fileName}: unsupported compression method: ${entry.compressionMethod}`);
    }
    // The raw (compressed) bytes from yauzl, inflated here into large output pieces: yauzl's own
    // inflate yields 16 KiB ones that were concatenated again (measured on 1 M events: 2.0 s of
    // CPU for the .zip path that way, 1.4 s this way; fflate's streaming inflate alone took 3×
    // the CPU of zlib's). Sizes and CRC are checked below.
    const raw = await openEntry(zip, entry, file, true);
    let stream: Readable = raw;
    if (entry.compressionMethod === 8) {
      const inflate = zlib().createInflateRaw({ chunkSize: 256 * 1024 });
      raw.on('error', (err) => inflate.destroy(err));
      stream = raw.pipe(inflate);
    }
    const corrupt = (problem: string) => new InputError(file, `corrupt zip entry ${entry.fileName}: ${problem}`);
    const { crc32 } = zlib() as { crc32?: (data: Buffer, value?: number) => number };
    let crc = 0;
    let bytes = 0;
    try {
      // Inflate output needs no regrouping (its pieces are ~10× the 16 KiB raw reads); a
      // stored entry's raw reads do.
      for await (const c of entry.compressionMethod === 8 ? (stream as AsyncIterable<Buffer>) : coalesce(stream)) {
        if (bytes + c.length > entry.uncompressedSize) throw corrupt(`inflates to more than the ${entry.uncompressedSize} bytes it declares`);
        if (crc32) crc = crc32(c, crc);
        bytes += c.length;
        yield c;
      }
    } catch (err) {
      throw err instanceof InputError ? err : corrupt(oneLine(err));
    } finally {
      stream.destroy();
      raw.destroy();
    }
    if (bytes !== entry.uncompressedSize) throw corrupt(`inflated to ${bytes} bytes, expected ${entry.uncompressedSize}`);
    if (crc32 && crc >>> 0 !== entry.crc32 >>> 0) throw corrupt('CRC-32 mismatch (the archive is damaged)');
  } finally {
    zip.close();
  }
}

async function zipLabels(file: string, jsonName: string): Promise<RecordingLabels | null> {
  return withZip(file, async (zip, entries) => {
    const entry = entries.find((e) => e.fileName === jsonName);
    if (!entry) return null;
    if (entry.uncompressedSize > MAX_LABELS_BYTES) {
      throw new InputError(file, `${jsonName}: labels entry is too large (${entry.uncompressedSize} bytes; at most ${MAX_LABELS_BYTES})`);
    }
    const stream = await openEntry(zip, entry, file);
    const parts: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of stream as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > MAX_LABELS_BYTES) throw new InputError(file, `${jsonName}: labels entry is too large`);
        parts.push(c);
      }
    } catch (err) {
      throw err instanceof InputError ? err : new InputError(file, `corrupt zip entry ${jsonName}: ${oneLine(err)}`);
    } finally {
      stream.destroy();
    }
    return parseLabels(Buffer.concat(parts, n).toString('utf8'), file, jsonName);
  });
}

// ---------------------------------------------------------------------------------------------

/** Regroups a stream's (often 16–64 KiB) chunks into ~`size` ones; never holds more than that plus one chunk. */
async function* coalesce(src: AsyncIterable<Buffer>, size = CHUNK_BYTES): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    if (c.length === 0) continue;
    if (n === 0 && c.length >= size) {
      yield c;
      continue;
    }
    parts.push(c);
    n += c.length;
    if (n >= size) {
      const out = parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
      parts = [];
      n = 0;
      yield out;
    }
  }
  if (n > 0) yield parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
}
