/**
 * Conformance: with --faithful, the encoder reproduces the reference implementation's values
 * on every scenario of ../shared/golden/expected.json, bit for bit (seen sets, max_freq, events
 * kept, windows, anomaly vectors, and the errors on empty inputs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { collectTrace, encodeTrace, type ChunkSource } from '../src/encode/pipeline.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';
import { trainingVectors, type EncodedWindow } from '../src/encode/anomaly.js';
import { DEFAULT_WINDOW_NS } from '../src/encode/windows.js';
import { InputError } from '../src/util/errors.js';
import { goldenDir, goldenInputs, missing } from './helpers/paths.js';
import { fileSource } from './helpers/file-source.js';

interface GoldenFile {
  events_kept?: number;
  window_count?: number;
  window_event_counts?: number[];
  avs?: number[][];
  first_timestamp?: string;
  error?: string;
}
interface Scenario {
  training: string[];
  seen_syscalls: string[];
  seen_args: string[];
  max_freq: number;
  files: Record<string, GoldenFile>;
}

const expectedPath = path.join(goldenDir, 'expected.json');
const skip = missing(expectedPath);
const scenarios: Record<string, Scenario> = skip ? {} : JSON.parse(readFileSync(expectedPath, 'utf8')).scenarios;

async function sourceFor(name: string): Promise<ChunkSource> {
  const file = path.join(goldenInputs, name);
  if (name.endsWith('.scap')) {
    const { openSource } = await import('../src/trace/sources/readers.js');
    return openSource(file);
  }
  return fileSource(file);
}

const opts = { faithful: true, windowNs: DEFAULT_WINDOW_NS };

function clockString(sec: number, nsec: number): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(Math.floor(sec / 3600))}:${p(Math.floor(sec / 60) % 60)}:${p(sec % 60)}.${String(Math.floor(nsec / 1000)).padStart(6, '0')}`;
}

for (const [name, sc] of Object.entries(scenarios)) {
  test(`golden scenario ${name}`, { skip }, async (t) => {
    const seenSyscalls = new Set<string>();
    const seenArgs = new Set<string>();
    let maxFreq = 0;
    const trainCounts = new Map<string, number[]>();
    for (const f of sc.training) {
      const r = await collectTrace(await sourceFor(f), opts);
      r.seenSyscalls.forEach((s) => seenSyscalls.add(s));
      r.seenArgs.forEach((s) => seenArgs.add(s));
      for (const c of r.counts) maxFreq = Math.max(maxFreq, c);
      trainCounts.set(f, r.counts);
    }
    assert.deepEqual([...seenSyscalls].sort(), [...sc.seen_syscalls].sort(), 'seen_syscalls');
    assert.deepEqual([...seenArgs].sort(), [...sc.seen_args].sort(), 'seen_args');
    assert.equal(maxFreq, sc.max_freq, 'max_freq');
    const vocab = makeVocabulary(seenSyscalls, seenArgs, maxFreq);

    for (const [file, exp] of Object.entries(sc.files)) {
      await t.test(file, async () => {
        const windows: EncodedWindow[] = [];
        let summary: Awaited<ReturnType<typeof encodeTrace>>;
        try {
          const src = await sourceFor(file);
          summary = await encodeTrace(src, vocab, opts, (w) => windows.push(w));
        } catch (err) {
          assert.ok(exp.error, `unexpected error: ${err}`);
          assert.ok(err instanceof InputError, `not a user error: ${err}`);
          if (exp.error.startsWith('CorruptedFile')) assert.match(err.message, /empty file/);
          else if (exp.error.startsWith('NoSyscallsFound')) assert.match(err.message, /no syscall events/);
          else assert.fail(`unknown expected error ${exp.error}`);
          return;
        }
        assert.ok(!exp.error, `expected error ${exp.error}`);
        assert.equal(summary.events, exp.events_kept, 'events_kept');
        assert.equal(windows.length, exp.window_count, 'window_count');
        assert.deepEqual(windows.map((w) => w.events), exp.window_event_counts, 'window_event_counts');
        assert.deepEqual(windows.map((w) => w.index), windows.map((_, i) => i), 'window order');
        const avs = windows.map((w) => w.av ?? []);
        assert.equal(avs.length, exp.avs!.length);
        for (let i = 0; i < avs.length; i++) {
          // Exact: the arithmetic follows the reference operation by operation.
          assert.deepEqual(avs[i], exp.avs![i], `window ${i} AV`);
        }
        const counts = trainCounts.get(file);
        if (counts) {
          // The training shortcut (fi from the window size, usi = uai = 0) equals full encoding.
          assert.deepEqual(trainingVectors(counts, maxFreq).map((v) => v ?? []), exp.avs, 'training shortcut');
        }
      });
    }
  });
}

test('golden: first timestamps are truncated to µs like the reference', { skip }, async () => {
  const sc = scenarios.falco;
  for (const [file, exp] of Object.entries(sc.files)) {
    if (exp.error || file.endsWith('.scap')) continue;
    const vocab = makeVocabulary([], [], 1);
    let first = '';
    const { WindowEncoder } = await import('../src/encode/anomaly.js');
    void WindowEncoder;
    const src = await sourceFor(file);
    const { NameTable } = await import('../src/trace/names.js');
    const { TraceParser } = await import('../src/trace/parse.js');
    const parser = new TraceParser({
      file,
      format: 'sysdig',
      faithful: true,
      names: new NameTable(),
      onEvent: (ev) => {
        if (!first) first = clockString(ev.sec, ev.nsec);
      },
    });
    for await (const c of src.chunks()) parser.push(c);
    parser.end();
    void vocab;
    assert.equal(first, exp.first_timestamp, file);
  }
});
