/**
 * Writes a LID-DS 2021 recording: `NAME.zip` holding `NAME.sc` (the syscall lines) and
 * `NAME.json` (metadata and labels, in LID-DS's layout), streamed through fflate's deflate
 * into a temporary file beside the target and renamed into place at the end, so a reader never
 * sees half a recording. Memory stays bounded whatever the length of the capture.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Zip, ZipDeflate } from 'fflate';
import { ChidsError } from '../util/errors.js';
import type { RecordingMeta } from '../trace/lidds/metadata.js';

const FLUSH_BYTES = 256 * 1024;


export class LiddsRecorder {
  readonly name: string;
  readonly target: string;
  private readonly tmp: string;
  private fd: number;
  private readonly zip: Zip;
  private readonly sc: ZipDeflate;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private zipError: Error | null = null;
  /** Bytes of .sc text written. */
  textBytes = 0;
  zipBytes = 0;

  /** `out` is the recording's path, `DIR/NAME.zip`. */
  constructor(out: string) {
    if (path.extname(out).toLowerCase() !== '.zip') throw new ChidsError(`--out ${out}: a LID-DS recording is a .zip (e.g. --out recordings/normal_1.zip)`);
    this.target = path.resolve(out);
    this.name = path.basename(out, path.extname(out));
    const dir = path.dirname(this.target);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new ChidsError(`--out ${out}: cannot create ${dir} (${(err as Error).message})`);
    }
    this.tmp = path.join(dir, `.${this.name}.zip.tmp-${process.pid}`);
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (err) {
      throw new ChidsError(`--out ${out}: cannot write in ${dir} (${(err as Error).message})`);
    }
    this.zip = new Zip((err, data) => {
      if (err) {
        this.zipError = err;
        return;
      }
      if (this.fd >= 0 && data.length > 0) {
        writeSync(this.fd, data);
        this.zipBytes += data.length;
      }
    });
    this.sc = new ZipDeflate(`${this.name}.sc`, { level: 6 });
    this.zip.add(this.sc);
  }

  /** Appends .sc text (complete lines). */
  write(data: Buffer): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    this.textBytes += data.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush(false);
  }

  private flush(final: boolean): void {
    const chunk = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.sc.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length), final);
    if (this.zipError) throw new ChidsError(`${this.target}: writing the zip failed (${this.zipError.message})`);
  }

  /** Adds NAME.json, completes the archive and renames it into place. Returns the path. */
  finish(meta: RecordingMeta): string {
    try {
      this.flush(true);
      const json = new ZipDeflate(`${this.name}.json`, { level: 6 });
      this.zip.add(json);
      json.push(new TextEncoder().encode(JSON.stringify(meta, null, 4) + '\n'), true);
      this.zip.end();
      if (this.zipError) throw new ChidsError(`${this.target}: writing the zip failed (${(this.zipError as Error).message})`);
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.tmp, this.target);
      return this.target;
    } catch (err) {
      this.abort();
      if (err instanceof ChidsError) throw err;
      throw new ChidsError(`${this.target}: cannot write the recording (${(err as Error).message})`);
    }
  }

  /** Removes the temporary file (nothing is left behind). */
  abort(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = -1;
    }
    rmSync(this.tmp, { force: true });
  }
}
