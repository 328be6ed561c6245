/**
 * Writes a LID-DS 2021 recording: `NAME.zip` holding `NAME.sc` (converted from strace's
 * output, streaming) and `NAME.json` (the metadata). The archive is written to a temporary file
 * next to its destination and renamed into place only when complete, so a reader never sees
 * a half-written recording (and an interrupted run leaves none).
 */
import { createReadStream, closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Zip, ZipDeflate } from 'fflate';
import { StraceToLidds, type StraceConverterOptions, type StraceConverterStats } from '../strace/to-lidds.js';

export interface RecordingZipInput {
  /** strace's output file. */
  traceFile: string;
  /** Destination, `…/NAME.zip`. */
  outFile: string;
  converter: StraceConverterOptions;
  /** Builds NAME.json once the trace is converted (it may use the conversion's stats). */
  metadata: (stats: StraceConverterStats) => unknown;
  /** Modification time stored in the archive (the recording's start). */
  mtime: Date;
}

const FLUSH_BYTES = 1 << 18;

export async function writeRecordingZip(input: RecordingZipInput): Promise<StraceConverterStats> {
  const name = path.basename(input.outFile, '.zip');
  const tmp = path.join(path.dirname(input.outFile), `.${name}.zip.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    let zipError: Error | null = null;
    const zip = new Zip((err, chunk) => {
      if (err) zipError = err;
      else if (chunk.length > 0) writeSync(fd, chunk);
    });
    const sc = new ZipDeflate(`${name}.sc`, { level: 6 });
    sc.mtime = input.mtime;
    zip.add(sc);
    const conv = new StraceToLidds(input.converter);
    const out: string[] = [];
    let pending = '';
    const rl = createInterface({ input: createReadStream(input.traceFile, { encoding: 'utf8', highWaterMark: 1 << 16 }), crlfDelay: Infinity });
    for await (const line of rl) {
      conv.push(line, out);
      if (out.length > 0) {
        pending += out.join('\n') + '\n';
        out.length = 0;
        if (pending.length >= FLUSH_BYTES) {
          sc.push(Buffer.from(pending, 'utf8'));
          pending = '';
        }
      }
      if (zipError) throw zipError;
    }
    conv.end(out);
    if (out.length > 0) pending += out.join('\n') + '\n';
    sc.push(Buffer.from(pending, 'utf8'), true);
    const json = new ZipDeflate(`${name}.json`, { level: 9 });
    json.mtime = input.mtime;
    zip.add(json);
    json.push(Buffer.from(JSON.stringify(input.metadata(conv.stats), null, 4) + '\n', 'utf8'), true);
    zip.end();
    if (zipError) throw zipError;
    closeSync(fd);
    renameSync(tmp, input.outFile);
    ok = true;
    return conv.stats;
  } finally {
    if (!ok) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
      try {
        unlinkSync(tmp);
      } catch {
        /* gone */
      }
    }
  }
}
