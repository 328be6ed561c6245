/**
 * Child process for the crash tests: rewrites a baseline directory with writeBaseline, taking
 * its content from a source baseline with `created` set to a tag, and SIGKILLs itself right
 * after the given step (no cleanup runs, as in a real crash or power cut).
 *   node --import tsx crash-writer.ts SOURCE_DIR TARGET_DIR STEP TAG
 */
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readBaselineData, writeBaseline } from '../../src/engine/baseline-dir.js';
import { pathsInDir } from '../../src/engine/baseline-dir.js';

const [source, target, step, tag] = process.argv.slice(2);
const data = await readBaselineData(pathsInDir(source));
const manifest = JSON.parse(await readFile(path.join(source, 'manifest.json'), 'utf8'));
manifest.created = tag;
await writeBaseline(
  target,
  {
    manifest,
    seenSyscalls: [...data.vocab.seenSyscalls],
    seenArgs: [...data.vocab.seenArgs],
    maxFreq: data.vocab.maxFreq,
    thresholds: data.thresholds ?? [],
    calibration: null,
    saveModel: (dir) => cp(path.join(source, 'model'), path.join(dir, 'model'), { recursive: true }),
  },
  (s) => {
    if (s === step) process.kill(process.pid, 'SIGKILL');
  },
);
