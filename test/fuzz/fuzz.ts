/**
 * Structured fuzzers for everything chids reads from a user: LID-DS and sysdig-text traces
 * (plausible lines with damaged fields, wild timestamps, invalid UTF-8, any chunking, both
 * modes), LID-DS zips (valid archives with odd members, then bytes flipped), baseline
 * manifests and the model files of the classic and neural detectors.
 *
 * Each input must end in one of two ways: a result (every anomaly vector finite) or a
 * ChidsError (the CLI prints it as one line). Anything else is a crash. Each input must also
 * take less than a second of CPU: a slow input is as much a finding as a crash. (CPU time, so
 * that a machine busy with other work does not fail the suite; the worst wall time is printed.)
 *
 * test/fuzz.test.ts runs a slice of it in CI; `npm run fuzz` runs 100,000 inputs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { readBaselineData, pathsInDir } from '../../src/engine/baseline-dir.js';
import { encodeTrace } from '../../src/encode/pipeline.js';
import { makeVocabulary } from '../../src/encode/vocabulary.js';
import { openSource } from '../../src/trace/sources/readers.js';
import { loadDetector } from '../../src/model/registry.js';
import { NameTable } from '../../src/trace/names.js';
import { ChidsError } from '../../src/util/errors.js';
import { bufferSource } from '../helpers/file-source.js';

/** A small trace of enter and exit events that every detector can score. */
export function probeTrace(n = 400, seen = true): Buffer {
  let s = '';
  for (let i = 0n; i < BigInt(n); i++) {
    const t = 1631078867380457267n + i * 25_000_000n;
    const call = i % 3n === 0n ? 'openat' : i % 7n === 0n && !seen ? 'ptrace' : 'read';
    s += `${t} 0 12 srv 12 ${call} > fd=3\n${t + 1000n} 0 12 srv 12 ${call} < fd=3(<f>/etc/passwd) name=/etc/passwd\n`;
  }
  return Buffer.from(s);
}
const PROBE = probeTrace(80, false);

export interface FuzzStats {
  name: string;
  inputs: number;
  /** Inputs that threw something other than a ChidsError (the first few kept). */
  crashes: number;
  crashSamples: string[];
  /** Inputs that took a second or more. */
  slow: number;
  slowSamples: string[];
  /** Anomaly vectors with NaN or ±Infinity. */
  nonFinite: number;
  nonFiniteSamples: string[];
  vectors: number;
  refused: number;
  /** Largest CPU time (user + system) of one input, and largest wall time, in ms. */
  maxMs: number;
  maxWallMs: number;
}

const vocab = makeVocabulary(['read', 'openat', 'execve', 'close'], ['/etc/passwd', '/bin/sh'], 10);
const SLOW_MS = 1000;

function stats(name: string): FuzzStats {
  return { name, inputs: 0, crashes: 0, crashSamples: [], slow: 0, slowSamples: [], nonFinite: 0, nonFiniteSamples: [], vectors: 0, refused: 0, maxMs: 0, maxWallMs: 0 };
}

/** Runs one input, classifies its end and times it. */
async function check(s: FuzzStats, describe: () => string, work: () => Promise<void>): Promise<void> {
  s.inputs++;
  // An input that kills the process (out of memory, a native abort) leaves no sample behind:
  // with CHIDS_FUZZ_LOG set, each input is written there before it runs, so the last is it.
  if (process.env.CHIDS_FUZZ_LOG) writeFileSync(process.env.CHIDS_FUZZ_LOG, `${describe().slice(0, 4000)}\n`);
  // CPU time of this process, not wall time: "≥ 1 s" means work, not a busy machine's queue.
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await work();
  } catch (err) {
    if (err instanceof ChidsError) {
      s.refused++;
      if (process.env.CHIDS_FUZZ_DEBUG) console.log('refused:', err.message.slice(0, 160));
    }
    else {
      s.crashes++;
      if (s.crashSamples.length < 3) s.crashSamples.push(`${(err as Error)?.stack ?? String(err)}\n--- input: ${describe().slice(0, 2000)}`);
    }
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  if (ms > s.maxMs) s.maxMs = ms;
  if (wall > s.maxWallMs) s.maxWallMs = wall;
  if (ms >= SLOW_MS) {
    s.slow++;
    if (s.slowSamples.length < 3) s.slowSamples.push(`${ms.toFixed(0)} ms CPU (${wall.toFixed(0)} ms wall): ${describe().slice(0, 2000)}`);
  }
}

// ---- trace lines ---------------------------------------------------------------------------

const SYSCALLS = ['read', 'write', 'openat', 'open', 'execve', 'clone', 'close', 'stat', 'newfstatat', 'mmap', 'epoll_wait', 'switch', 'procexit', 'accept'];
const junk = fc.string({ maxLength: 12, unit: 'binary' });
const name = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...SYSCALLS) }, { weight: 1, arbitrary: junk });
const arg = fc.oneof(
  fc.constantFrom('fd=3(<f>/etc/passwd)', 'res=0', 'name=/etc/passwd flags=O_RDONLY mode=0', 'fd=8(<f>/proc/12/stat) name=/proc/self/stat dirfd=-100(<f>/srv)', 'filename=/bin/sh', 'exe=/bin/sh args=-c.id.', 'res=-2(ENOENT)', 'path=./a/../b', ''),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  junk,
);
const args = fc.array(arg, { maxLength: 4 }).map((a) => a.join(' '));
const dir = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('<', '>') }, { weight: 1, arbitrary: junk });

/** Steps between consecutive timestamps in ns: mostly small, sometimes wild. */
const step = fc.oneof(
  { weight: 20, arbitrary: fc.bigInt({ min: 0n, max: 50_000_000n }) },
  { weight: 3, arbitrary: fc.bigInt({ min: -2_000_000_000n, max: 0n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 1_000_000_000n, max: 5_000_000_000_000n }) },
  { weight: 1, arbitrary: fc.constantFrom(86_400_000_000_000n, 86_400_000_000_001n, 10n ** 18n, -(10n ** 18n)) },
);

interface LineSpec {
  dt: bigint;
  name: string;
  dir: string;
  args: string;
  /** 0: well-formed; 1: a field dropped; 2: raw bytes; 3: timestamp not a number */
  damage: number;
  raw: Uint8Array;
  field: number;
}
const lineSpec: fc.Arbitrary<LineSpec> = fc.record({
  dt: step,
  name,
  dir,
  args,
  damage: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  raw: fc.uint8Array({ maxLength: 60 }),
  field: fc.integer({ min: 0, max: 7 }),
});

export interface TraceInput {
  format: 'lidds' | 'sysdig';
  faithful: boolean;
  hint: boolean;
  windowNs: number;
  chunk: number;
  crlf: boolean;
  lines: LineSpec[];
}

export const traceInput: fc.Arbitrary<TraceInput> = fc.record({
  format: fc.constantFrom('lidds' as const, 'sysdig' as const),
  faithful: fc.boolean(),
  hint: fc.boolean(),
  windowNs: fc.constantFrom(1e9, 1e9, 1e6, 1000, 3_600e9),
  chunk: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 65, max: 70_000 })),
  crlf: fc.boolean(),
  lines: fc.array(lineSpec, { minLength: 1, maxLength: 80 }),
});

const T0 = 1631078867380457267n;

function sysdigTime(ns: bigint): string {
  const day = 86_400_000_000_000n;
  const t = ((ns % day) + day) % day;
  const s = t / 1_000_000_000n;
  const h = String(s / 3600n).padStart(2, '0');
  const m = String((s / 60n) % 60n).padStart(2, '0');
  const sec = String(s % 60n).padStart(2, '0');
  return `${h}:${m}:${sec}.${String(t % 1_000_000_000n).padStart(9, '0')}`;
}

export function renderTrace(x: TraceInput): Buffer {
  const parts: Buffer[] = [];
  let t = T0;
  let n = 1;
  for (const l of x.lines) {
    t += l.dt;
    if (l.damage === 2) {
      parts.push(Buffer.from(l.raw));
    } else {
      let fields =
        x.format === 'lidds'
          ? [String(t), '0', '12', 'redis-server', '12', l.name, l.dir, l.args]
          : [String(n++), sysdigTime(t), '0', 'cat', '(20072)', l.dir, l.name, l.args];
      if (l.damage === 1) fields = fields.filter((_, i) => i !== l.field);
      if (l.damage === 3) fields[x.format === 'lidds' ? 0 : 1] = 'x' + fields[x.format === 'lidds' ? 0 : 1];
      parts.push(Buffer.from(fields.join(' ')));
    }
    parts.push(Buffer.from(x.crlf ? '\r\n' : '\n'));
  }
  return Buffer.concat(parts);
}

export async function fuzzTraces(runs: number, seed: number): Promise<FuzzStats> {
  const s = stats('traces (lidds + sysdig text, improved + faithful)');
  await fc.assert(
    fc.asyncProperty(traceInput, async (x) => {
      const data = renderTrace(x);
      await check(
        s,
        () => JSON.stringify({ ...x, lines: undefined, text: data.toString('latin1') }),
        async () => {
          await encodeTrace(bufferSource('fuzz', data, x.hint ? x.format : 'unknown', x.chunk), vocab, { faithful: x.faithful, windowNs: x.windowNs, details: true }, (w) => {
            if (w.av === null) return;
            s.vectors++;
            if (!w.av.every(Number.isFinite)) s.nonFinite++;
          });
        },
      );
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return s;
}

// ---- zips ------------------------------------------------------------------------------------

const zipInput = fc.record({
  trace: traceInput.map((x) => ({ ...x, format: 'lidds' as const })),
  scName: fc.constantFrom('rec.sc', 'dir/rec.sc', '../evil.sc', '/abs.sc', 'rec.SC', 'rec.txt', 'a.sc'),
  json: fc.oneof(
    fc.constant('{"time":{"exploit":[{"absolute":1631078877.5}]},"exploit":true}'),
    fc.constant('{"time":{"exploit":[]},"exploit":false}'),
    fc.string({ maxLength: 60 }),
    fc.constant(''),
  ),
  extra: fc.boolean(),
  flips: fc.oneof({ weight: 2, arbitrary: fc.constant([] as [number, number][]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }) }),
  truncate: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
});

export async function fuzzZips(runs: number, seed: number, dir: string): Promise<FuzzStats> {
  const s = stats('zips (LID-DS recordings, then damaged)');
  let k = 0;
  await fc.assert(
    fc.asyncProperty(zipInput, async (x) => {
      const files: Record<string, Uint8Array> = { [x.scName]: renderTrace(x.trace), 'rec.json': Buffer.from(x.json) };
      if (x.extra) files['rec.sc.bak'] = Buffer.from('junk');
      let zip = Buffer.from(zipSync(files, { level: x.trace.chunk % 2 === 0 ? 0 : 6 }));
      for (const [at, v] of x.flips) zip[at % zip.length] = v;
      if (x.truncate !== null) zip = zip.subarray(0, x.truncate % (zip.length + 1));
      const file = path.join(dir, `z${k++ % 8}.zip`);
      writeFileSync(file, zip);
      await check(
        s,
        () => JSON.stringify({ ...x, trace: undefined, zip: zip.toString('base64') }),
        async () => {
          const src = await openSource(file);
          await encodeTrace(src, vocab, { faithful: x.trace.faithful, windowNs: 1e9 }, (w) => {
            if (w.av === null) return;
            s.vectors++;
            if (!w.av.every(Number.isFinite)) s.nonFinite++;
          });
          await src.labels();
        },
      );
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return s;
}

// ---- manifests and model files -------------------------------------------------------------------

/** A JSON value mutated at one random path: replaced, deleted, or given a wrong type. */
function mutate(value: unknown, choice: number[], replacement: unknown): unknown {
  if (choice.length === 0 || value === null || typeof value !== 'object') return replacement;
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  if (keys.length === 0) return replacement;
  const key = keys[choice[0] % keys.length];
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  if (choice.length === 1 && replacement === undefined) {
    if (Array.isArray(copy)) copy.splice(key as number, 1);
    else delete copy[key];
  } else copy[key] = mutate(copy[key], choice.slice(1), replacement);
  return copy;
}

const replacement = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom(0, -1, 1e308, -1e-308, 1.5, 2 ** 53, 'x', '', true, [], {}, [1, 2, 3]),
  fc.jsonValue({ maxDepth: 2 }),
);
const mutation = fc.record({
  choice: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  replacement,
  text: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('{'), fc.constant('')) }),
});

/**
 * Tampering aimed at a sequence model's architecture (model/model.json of dense-seq, enhanced,
 * lstm, tcn). The generic mutation above rarely reaches a layer's config (six levels deep),
 * and a consistent edit (the sequence length changed everywhere it appears) is what a
 * hand-edited or hostile file would hold.
 */
const SEQ_LENGTHS = [0, 1, 2, 7, 1000, 100_000, 1e9, -1, 1.5] as const;
const ARCH_VALUES = [0, -1, 1, 2, 3, 1.5, 64, 100_000, 1e9, 2 ** 31, 1e308, 'x', 'softmax', 'linear', 'relu', 'tanh', 'same', null, true, [], [1e9, 1], { a: 1 }] as const;
const LAYER_CLASSES = ['Dense', 'LSTM', 'GRU', 'SimpleRNN', 'Masking', 'Dropout', 'RepeatVector', 'ChidsCausalConv1D', 'Conv1D', 'Reshape', 'Flatten', 'LayerNormalization', 'BatchNormalization', 'Lambda', 'Nope'] as const;
export interface ArchEdit {
  kind: 'seq-len' | 'layer-field' | 'class' | 'drop-layer' | 'dup-layer' | 'swap-layers' | 'weight-shape';
  layer: number;
  other: number;
  field: number;
  value: unknown;
  seqLen: number;
  cls: string;
}
export const archEdit: fc.Arbitrary<ArchEdit> = fc.record({
  kind: fc.constantFrom<ArchEdit['kind'][]>('seq-len', 'layer-field', 'class', 'drop-layer', 'dup-layer', 'swap-layers', 'weight-shape'),
  layer: fc.nat(),
  other: fc.nat(),
  field: fc.nat(),
  value: fc.constantFrom(...ARCH_VALUES),
  seqLen: fc.constantFrom(...SEQ_LENGTHS),
  cls: fc.constantFrom(...LAYER_CLASSES),
});

/** Applies one architecture edit to a parsed TF.js layers-model JSON (in place; returns it). */
export function tamperArchitecture(doc: any, e: ArchEdit): any {
  const layers: any[] | undefined = doc?.modelTopology?.config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) return doc;
  const i = e.layer % layers.length;
  switch (e.kind) {
    case 'seq-len': {
      // Every place T appears, changed together: the model then really runs at that length.
      const meta = doc.userDefinedMetadata?.chids;
      if (meta) {
        meta.seq_len = e.seqLen;
        if (meta.settings) meta.settings.seq_len = e.seqLen;
      }
      for (const l of layers) {
        const c = l.config ?? {};
        if (Array.isArray(c.batch_input_shape)) c.batch_input_shape[1] = e.seqLen;
        if (l.class_name === 'RepeatVector') c.n = e.seqLen;
        if (l.class_name === 'Reshape' && Array.isArray(c.target_shape)) c.target_shape[0] = e.seqLen;
        if (l.class_name === 'Dense' && Array.isArray(c.batch_input_shape)) c.batch_input_shape[1] = e.seqLen * 3;
      }
      break;
    }
    case 'layer-field': {
      // One field of one layer's config (units, filters, kernel_size, dilation_rate, n,
      // epsilon, activation, mask_value, return_sequences, target_shape, rate …).
      const c = layers[i].config ?? (layers[i].config = {});
      const inner = c.layer?.config; // TimeDistributed wraps a Dense
      const target = inner && e.other % 2 === 0 ? inner : c;
      const keys = Object.keys(target).filter((k) => k !== 'name');
      if (keys.length === 0) return doc;
      target[keys[e.field % keys.length]] = e.value;
      break;
    }
    case 'class':
      layers[i].class_name = e.cls;
      break;
    case 'drop-layer':
      layers.splice(i, 1);
      break;
    case 'dup-layer':
      layers.splice(i, 0, JSON.parse(JSON.stringify({ ...layers[i], config: { ...layers[i].config, name: `${layers[i].config?.name ?? 'l'}_dup` } })));
      break;
    case 'swap-layers': {
      const j = e.other % layers.length;
      [layers[i], layers[j]] = [layers[j], layers[i]];
      break;
    }
    case 'weight-shape': {
      // A weight's declared shape changed without the bytes (or with a dimension of 0 / huge).
      const specs: any[] | undefined = doc.weightsManifest?.[0]?.weights;
      if (!Array.isArray(specs) || specs.length === 0) return doc;
      const sp = specs[e.layer % specs.length];
      if (Array.isArray(sp.shape) && sp.shape.length > 0) sp.shape[e.field % sp.shape.length] = e.value;
      else sp.shape = e.value;
      break;
    }
  }
  return doc;
}

/**
 * Baselines to mutate: one per model kind, made once by the caller. For each input one file
 * of one baseline (the manifest, a vocabulary file, the thresholds, the model's JSON, or the
 * weights' bytes) is damaged, then the baseline is read and its model loaded and run.
 * (Architecture edits of the sequence models: fuzzArchitectures.)
 */
export async function fuzzBaselines(runs: number, seed: number, baselines: string[], dir: string): Promise<FuzzStats> {
  const s = stats('baselines (manifest, vocabulary, thresholds, model files)');
  const targets = ['manifest.json', 'seen_syscalls.json', 'seen_args.json', 'max_freq.json', 'thresh_list.json', 'calibration.json', 'model/model.json', 'model/stide.json', 'model/bosc.json', 'model/weights.bin'];
  const work = path.join(dir, 'b');
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.nat(), mutation, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (bi, ti, m, flips) => {
      const base = baselines[bi % baselines.length];
      rmSync(work, { recursive: true, force: true });
      cpSync(base, work, { recursive: true });
      const rel = targets[ti % targets.length];
      const file = path.join(work, rel);
      let original: Buffer;
      try {
        original = readFileSync(file);
      } catch {
        return; // this model kind has no such file
      }
      let damaged: Buffer;
      if (rel.endsWith('.bin')) {
        damaged = Buffer.from(original);
        for (const [at, v] of flips) damaged[at % damaged.length] = v;
        if (flips.length > 4) damaged = damaged.subarray(0, flips[0][0] % (damaged.length + 1));
      } else if (m.text !== null) {
        damaged = Buffer.from(m.text);
      } else {
        damaged = Buffer.from(JSON.stringify(mutate(JSON.parse(original.toString('utf8')), m.choice, m.replacement)) ?? '');
      }
      writeFileSync(file, damaged);
      const describe = () => `${path.basename(base)}/${rel}: ${damaged.toString('utf8').slice(0, 400)}`;
      await check(s, describe, () => loadAndRun(s, work, describe));
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return s;
}

/** Reads the baseline in `work`, loads its detector and scores the probe trace with it. */
async function loadAndRun(s: FuzzStats, work: string, describe: () => string): Promise<void> {
  const data = await readBaselineData(pathsInDir(work));
  const det = await loadDetector(work, data.manifest?.model.type);
  try {
    const names = new NameTable();
    const tap = det.newTap?.(names);
    const avs: number[] = [];
    await encodeTrace(bufferSource('probe.sc', PROBE, 'lidds', 4096), data.vocab, { faithful: false, windowNs: data.manifest?.encoding.window_ns ?? 1e9, tap }, (w) => {
      if (w.av !== null) avs.push(...w.av);
    }, names);
    const errs = det.scoreRecording({ avs: Float64Array.from(avs), n: avs.length / 3, tap: tap ?? null });
    s.vectors += errs.length;
    const bad = errs.filter((e) => !Number.isFinite(e)).length;
    s.nonFinite += bad;
    if (bad > 0 && s.nonFiniteSamples.length < 3) s.nonFiniteSamples.push(`${bad} non-finite scores: ${describe().slice(0, 2000)}`);
  } finally {
    det.dispose();
  }
}

/**
 * Sequence-model baselines (`baselines`: directories of dense-seq, enhanced, lstm, tcn models)
 * with one architecture edit to model/model.json each (tamperArchitecture), loaded and run.
 */
export async function fuzzArchitectures(runs: number, seed: number, baselines: string[], dir: string): Promise<FuzzStats> {
  const s = stats('sequence-model architectures (layers, sizes, lengths, classes, weight shapes)');
  const work = path.join(dir, 'a');
  await fc.assert(
    fc.asyncProperty(fc.nat(), archEdit, async (bi, e) => {
      const base = baselines[bi % baselines.length];
      rmSync(work, { recursive: true, force: true });
      cpSync(base, work, { recursive: true });
      const file = path.join(work, 'model', 'model.json');
      const text = JSON.stringify(tamperArchitecture(JSON.parse(readFileSync(file, 'utf8')), e));
      writeFileSync(file, text);
      const describe = () => `${path.basename(base)}: ${JSON.stringify(e)}`;
      await check(s, describe, () => loadAndRun(s, work, describe));
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  return s;
}

export function scratch(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'chids-fuzz-'));
  mkdirSync(path.join(d, 'z'), { recursive: true });
  return d;
}
