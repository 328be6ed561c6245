#!/usr/bin/env node
// The speed floor for reading a trace: count its lines, reading it the way chids does
// (1 MiB chunks) and finding each newline with Buffer.indexOf. Prints the line count.
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

const fh = await open(process.argv[2], 'r');
const buf = Buffer.allocUnsafe(1 << 20);
let lines = 0;
for (;;) {
  const { bytesRead } = await fh.read(buf, 0, buf.length, null);
  if (bytesRead === 0) break;
  const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  for (let p = chunk.indexOf(10); p !== -1; p = chunk.indexOf(10, p + 1)) lines++;
}
await fh.close();
console.log(lines);
// Same resource report as the chids command (see bench/run.mjs).
if (process.env.CHIDS_RUSAGE) {
  const vmHWMkB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) || undefined;
  writeFileSync(process.env.CHIDS_RUSAGE, JSON.stringify({ ...process.resourceUsage(), vmHWMkB }) + '\n');
}
