/** A minimal ChunkSource over a file or an in-memory buffer, for tests of the parser and encoder. */
import { createReadStream } from 'node:fs';
import type { ChunkSource } from '../../src/encode/pipeline.js';

export function fileSource(file: string, hint: ChunkSource['hint'] = 'unknown'): ChunkSource {
  return {
    path: file,
    hint,
    textBytes: null,
    async *chunks() {
      for await (const c of createReadStream(file, { highWaterMark: 1 << 16 })) yield c as Buffer;
    },
  };
}

export function bufferSource(name: string, data: Buffer | string, hint: ChunkSource['hint'] = 'unknown', chunkSize = 4096): ChunkSource {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return {
    path: name,
    hint,
    textBytes: buf.length,
    async *chunks() {
      for (let i = 0; i < buf.length; i += chunkSize) yield Buffer.from(buf.subarray(i, i + chunkSize));
    },
  };
}
