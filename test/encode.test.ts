/**
 * Windows → SSG → anomaly vector (src/encode/*), on small hand-written traces whose vectors are
 * computed by hand from the method's rules (windows, SSG, anomaly vector). Also the argument readers of both modes, out-of-order
 * events, the window-length parser and the format sniffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameTable } from '../src/trace/names.js';
import { TraceParser } from '../src/trace/parse.js';
import { ArgFamily, ArgReader, argFamilyOf } from '../src/encode/args.js';
import { trainingVectors, type EncodedWindow } from '../src/encode/anomaly.js';
import { collectTrace, encodeTrace, sniffFormat, type TraceSummary } from '../src/encode/pipeline.js';
import { makeVocabulary, type Vocabulary } from '../src/encode/vocabulary.js';
import { DEFAULT_WINDOW_NS, parseWindowLength } from '../src/encode/windows.js';
import { InputError } from '../src/util/errors.js';
import { bufferSource } from './helpers/file-source.js';

const BASE = 10 * 3600; // 10:00:00

/** A sysdig text line at `t` seconds after 10:00:00 (t given in ms to stay exact). */
function sys(ms: number, name: string, args = '', dir = '>', proc = 'bash', tid = 1): string {
  const ns = BigInt(BASE) * 1_000_000_000n + BigInt(ms) * 1_000_000n;
  const sec = Number(ns / 1_000_000_000n);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const p = (n: number) => String(n).padStart(2, '0');
  const clock = `${p(Math.floor(sec / 3600))}:${p(Math.floor(sec / 60) % 60)}:${p(sec % 60)}.${frac}`;
  return `1 ${clock} 0 ${proc} (${tid}) ${dir} ${name}${args ? ' ' + args : ''}`;
}

interface Run {
  windows: EncodedWindow[];
  summary: TraceSummary;
  warnings: string[];
}

async function encode(
  lines: string[],
  vocab: Vocabulary,
  opts: { faithful?: boolean; windowNs?: number; details?: boolean; chunkSize?: number } = {},
): Promise<Run> {
  const windows: EncodedWindow[] = [];
  const warnings: string[] = [];
  const summary = await encodeTrace(
    bufferSource('t.txt', lines.join('\n') + '\n', 'unknown', opts.chunkSize),
    vocab,
    { faithful: opts.faithful ?? false, windowNs: opts.windowNs ?? DEFAULT_WINDOW_NS, details: opts.details, onWarning: (m) => warnings.push(m) },
    (w) => windows.push(w),
  );
  return { windows, summary, warnings };
}

const avs = (r: Run) => r.windows.map((w) => w.av);

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

// ---- anomaly vectors ---------------------------------------------------------------------------

test('one event: [0, 0, 0] even when its syscall is unseen (no edge, so no node)', async () => {
  const vocab = makeVocabulary(['read'], [], 10);
  for (const faithful of [false, true]) {
    const r = await encode([sys(0, 'ptrace')], vocab, { faithful });
    assert.deepEqual(avs(r), [[0, 0, 0]]);
    assert.ok(Object.is(r.windows[0].av![1], 0), 'usi is +0');
    assert.equal(r.windows[0].events, 1);
  }
});

test('windows are anchored at the first event; gaps give empty windows (av null)', async () => {
  const vocab = makeVocabulary(['read', 'write'], [], 10);
  const r = await encode([sys(250, 'read'), sys(750, 'write'), sys(1249, 'read'), sys(3300, 'read'), sys(3400, 'write')], vocab);
  // t0 = 10:00:00.25: [t0, t0+1) has 3 events, then two empty windows, then 2 events.
  assert.deepEqual(r.windows.map((w) => [w.index, w.events]), [
    [0, 3],
    [1, 0],
    [2, 0],
    [3, 2],
  ]);
  assert.deepEqual(avs(r), [[2 / 50, 0, 0], null, null, [1 / 50, 0, 0]]);
  const t0 = BigInt(BASE) * 1_000_000_000n + 250_000_000n;
  assert.deepEqual(r.windows.map((w) => w.startNs), [0n, 1n, 2n, 3n].map((k) => t0 + k * 1_000_000_000n));
  assert.equal(r.summary.windows, 4);
  assert.equal(r.summary.startNs, String(t0));
});

test('USN: distinct unseen names × (in + out centrality), self-loops count', async () => {
  const vocab = makeVocabulary(['read'], [], 10);
  // read ptrace ptrace read mount → read USN USN read USN: edges read→USN, USN→USN, USN→read,
  // read→USN. Nodes {read, USN}: n = 2, scale 1. USN in {read, USN} = 2, out {USN, read} = 2.
  // usi = |{ptrace, mount}| × (2 + 2) = 8; fi = 4 edges / (10 × 5).
  const r = await encode([sys(0, 'read'), sys(1, 'ptrace'), sys(2, 'ptrace'), sys(3, 'read'), sys(4, 'mount')], vocab);
  assert.deepEqual(avs(r), [[4 / 50, 8, 0]]);
});

test('USN with three nodes: centrality = degree / (n - 1)', async () => {
  const vocab = makeVocabulary(['read', 'write'], [], 10);
  // read ptrace write ptrace → read USN write USN: nodes {read, USN, write}, n = 3.
  // USN in {read, write} = 2, out {write} = 1 → 2/2 + 1/2 = 1.5; |U| = 1 → usi = 1.5.
  const r = await encode([sys(0, 'read'), sys(1, 'ptrace'), sys(2, 'write'), sys(3, 'ptrace')], vocab);
  assert.deepEqual(avs(r), [[3 / 50, 1.5, 0]]);
});

test('a single-node graph (self-loop only) has centrality 1 + 1', async () => {
  const vocab = makeVocabulary(['read', 'open'], [], 10);
  // ptrace mount → USN USN: one self-loop, n = 1 → centrality 2; |U| = 2 → usi = 4.
  let r = await encode([sys(0, 'ptrace'), sys(1, 'mount')], vocab);
  assert.deepEqual(avs(r), [[1 / 50, 4, 0]]);
  // Two opens of unseen paths → UAN UAN: |A| = 1 (open), |V| = 2 → uai = 1 × 2 × 2 = 4.
  r = await encode([sys(0, 'open', 'name=/etc/a'), sys(1, 'open', 'name=/etc/b')], vocab);
  assert.deepEqual(avs(r), [[1 / 50, 0, 4]]);
  // A seen syscall alone: nothing unseen.
  r = await encode([sys(0, 'read'), sys(1, 'read'), sys(2, 'read')], vocab);
  assert.deepEqual(avs(r), [[2 / 50, 0, 0]]);
});

test('UAN: |A| × |V| × (in + out centrality), improved mode reads args by name', async () => {
  const vocab = makeVocabulary(['execve', 'openat', 'read', 'newfstatat', 'close'], ['/etc/passwd'], 10);
  const lines = [
    sys(0, 'execve', 'filename=/usr/bin/nc'), // arg /usr/bin/nc: unseen → UAN
    sys(1, 'openat', 'dirfd=-100(AT_FDCWD) name=/home/u/.ssh/id_rsa flags=0'), // /home/u/.ssh (4 slashes: dirname) → UAN
    sys(2, 'read', 'fd=3'),
    sys(3, 'newfstatat', 'res=0 dirfd=-100 path=/etc/shadow flags=0', '<'), // /etc/shadow → UAN
    sys(4, 'openat', 'dirfd=-100(AT_FDCWD) name=/etc/passwd flags=0'), // seen arg: stays openat
    sys(5, 'close', 'fd=3'),
  ];
  // UAN UAN read UAN openat close: nodes {UAN, read, openat, close}, n = 4, scale 1/3.
  // UAN in {UAN, read} = 2, out {UAN, read, openat} = 3 → 2/3 + 3/3.
  // A = {execve, openat, newfstatat} = 3, V = {/usr/bin/nc, /home/u/.ssh, /etc/shadow} = 3.
  const r = await encode(lines, vocab, { details: true });
  const scale = 1 / 3;
  assert.deepEqual(avs(r), [[5 / 50, 0, 3 * 3 * (2 * scale + 3 * scale)]]);
  assert.deepEqual(r.windows[0].unseenArgs!.sort(), ['/etc/shadow', '/home/u/.ssh', '/usr/bin/nc']);
  assert.deepEqual(r.windows[0].unseenSyscalls, []);
  // Faithful: openat and newfstatat carry no argument; only execve's does.
  // UAN openat read newfstatat openat close: UAN in {} = 0, out {openat} = 1, n = 5 → 1/4.
  const f = await encode(lines, vocab, { faithful: true });
  assert.deepEqual(avs(f), [[5 / 50, 0, 1 * 1 * (1 / 4)]]);
});

test('unseen syscalls become USN before arguments are looked at', async () => {
  // open is unseen: its unseen argument does not make a UAN (its args are cleared).
  const vocab = makeVocabulary(['read'], [], 10);
  const r = await encode([sys(0, 'read'), sys(1, 'open', 'name=/new/path'), sys(2, 'read')], vocab, { details: true });
  // read USN read: n = 2; USN in {read} 1, out {read} 1 → usi = 1 × 2 = 2; no UAN.
  assert.deepEqual(avs(r), [[2 / 50, 2, 0]]);
  assert.deepEqual(r.windows[0].unseenSyscalls, ['open']);
  assert.deepEqual(r.windows[0].unseenArgs, []);
});

test('the quirks.txt window 4 of the golden README, by hand (faithful)', async () => {
  // Sequence clone UAN UAN UAN execve open UAN USN USN with seen args that exclude
  // /usr/bin/bash, /usr/bin/nc, /home/user/.ssh: 8 transitions; 5 nodes; USN in 2 out 1;
  // UAN in 3 out 3; usi = 1 × 3/4; uai = 3 × 3 × 6/4.
  const vocab = makeVocabulary(['clone', 'execve', 'open', 'close'], ['', '/etc/passwd'], 6827);
  const lines = [
    sys(0, 'clone', '', '>'),
    sys(1, 'clone', 'res=501 exe=/usr/bin/bash args= tid=500(bash)', '<'),
    sys(2, 'clone', 'res=0 exe=/usr/bin/bash args= tid=501(bash)', '<'),
    sys(10, 'execve', 'filename=/usr/bin/nc'),
    sys(20, 'execve', 'res=0 exe=nc args=-l.4444. tid=501(nc)', '<'),
    sys(30, 'open', 'name=/home/user/.ssh/id_rsa flags=1(O_RDONLY) mode=0'),
    sys(31, 'open', 'fd=3(<f>/home/user/.ssh/id_rsa) name=/home/user/.ssh/id_rsa flags=1(O_RDONLY) mode=0 dev=803', '<'),
    sys(40, 'mount', 'ID=165(mount) nativeID=165'),
    sys(41, 'mount', 'ID=165(mount)', '<'),
  ];
  const r = await encode(lines, vocab, { faithful: true });
  assert.deepEqual(avs(r), [[8 / (6827 * 5), 1 * (2 * 0.25 + 1 * 0.25), 3 * 3 * (3 * 0.25 + 3 * 0.25)]]);
  const [fi, usi, uai] = r.windows[0].av!;
  assert.ok(Math.abs(fi - 2.3436e-4) < 1e-8);
  assert.deepEqual([usi, uai], [0.75, 13.5]);
});

// ---- arguments ---------------------------------------------------------------------------------

/** The processed arguments a trace contributes to the training vocabulary. */
async function argsOf(lines: string[], faithful: boolean): Promise<string[]> {
  const r = await collectTrace(bufferSource('t.txt', lines.join('\n') + '\n'), { faithful, windowNs: DEFAULT_WINDOW_NS });
  return [...r.seenArgs].sort();
}

test('improved mode reads arguments by name, for the modern syscalls too', async () => {
  const cases: [string, string, string][] = [
    ['openat', 'dirfd=-100(AT_FDCWD) name=/etc/hosts flags=0', '/etc/hosts'],
    ['openat', 'fd=3(<f>/etc/hosts) dirfd=-100(AT_FDCWD) name=/etc/hosts flags=0', '/etc/hosts'],
    ['openat2', 'dirfd=-100 name=/etc/a2 flags=0 mode=0 resolve=0', '/etc/a'],
    ['creat', 'fd=3 name=/tmp/new mode=0', '/tmp/new'],
    ['newfstatat', 'res=0 dirfd=-100 path=/etc/nsswitch.conf flags=0', '/etc/nsswitch.conf'],
    ['lstat', 'res=0 path=/usr/lib', '/usr/lib'],
    ['stat', 'res=0 path=/var/lib/app/data/Cache123/x7', '/var/lib/app/data'], // dirname, then Cache123 dropped
    ['execve', 'filename=/usr/bin/id', '/usr/bin/id'],
    ['execveat', 'dirfd=-100 pathname=/usr/bin/id2 flags=0', '/usr/bin/id'],
    ['clone', 'res=501 exe=/usr/bin/bash args= tid=500(bash)', '/usr/bin/bash'],
    ['clone3', 'res=0 exe=/usr/sbin/nginx args=', '/usr/sbin/nginx'],
    ['vfork', 'res=0 exe=/bin/sh args=', '/bin/sh'],
    ['fork', 'exe=/bin/dash res=0', '/bin/dash'], // by name: order does not matter
  ];
  for (const [name, args, want] of cases) {
    assert.deepEqual(await argsOf([sys(0, name, args)], false), [want], `${name} ${args}`);
  }
  // No such parameter: no argument (an enter event without args).
  assert.deepEqual(await argsOf([sys(0, 'execve', 'res=0', '<'), sys(1, 'clone', '', '>'), sys(2, 'open', '', '>')], false), []);
  // execve's exit with its argv: the processed exe and the command's shape (digits are data).
  assert.deepEqual(await argsOf([sys(0, 'execve', 'res=0 exe=nc args=-l.4444. tid=501(nc)', '<')], false), ['nc -l <word>']);
  // Other syscalls never carry one.
  assert.deepEqual(await argsOf([sys(0, 'read', 'name=/etc/x path=/y')], false), []);
});

test('faithful mode reads arguments by position, only for open/stat/clone/execve', async () => {
  const cases: [string, string, string[]][] = [
    ['open', 'fd=3(<f>/etc/passwd) name=/etc/passwd flags=1(O_RDONLY)', ['/etc/passwd']], // token 1 minus "name="
    ['open', 'name=/etc/passwd flags=1(O_RDONLY) mode=0', ['']], // enter: "=1(O_RDONLY)" → O_RDONLY dropped
    ['stat', 'res=0 path=/var/lib/app/data/Cache123/x7', ['/var/lib/app/data']], // "path=" is also 5 chars
    ['execve', 'filename=/usr/bin/nc', ['/usr/bin/nc']],
    ['execve', 'res=0 exe=nc args=-l.4444.', ['']], // "res=0"[9:] = ''
    ['clone', 'res=501 exe=/usr/bin/bash args=', ['/usr/bin/bash']],
    ['clone', 'exe=/x res=0', ['']], // token 1 "res=0" minus 4 = "0": not lower, dropped
    ['openat', 'dirfd=-100 name=/etc/hosts', []],
    ['newfstatat', 'res=0 dirfd=-100 path=/etc/x', []],
    ['execveat', 'dirfd=-100 pathname=/usr/bin/id', []],
    ['clone3', 'res=0 exe=/usr/sbin/nginx', []],
    ['stat', '', []], // "> stat": no token 1 (NaN in the reference)
    ['clone', 'res=0', []],
    ['execve', '', []],
  ];
  for (const [name, args, want] of cases) {
    assert.deepEqual(await argsOf([sys(0, name, args)], true), want, `${name} ${args}`);
  }
});

test('argFamilyOf and ArgReader on parsed events', () => {
  assert.equal(argFamilyOf('openat', false), ArgFamily.Open);
  assert.equal(argFamilyOf('openat', true), ArgFamily.None);
  assert.equal(argFamilyOf('execveat', false), ArgFamily.Execve);
  assert.equal(argFamilyOf('constructor', false), ArgFamily.None); // not an Object.prototype key
  assert.equal(argFamilyOf('toString', true), ArgFamily.None);
  const names = new NameTable();
  const got: (string | null)[] = [];
  const improved = new ArgReader(false);
  const faithful = new ArgReader(true);
  const parser = new TraceParser({
    file: 't',
    format: 'sysdig',
    faithful: false,
    names,
    onEvent: (ev) => {
      const fam = argFamilyOf(names.name(ev.nameId), false);
      got.push(improved.read(ev, fam), faithful.read(ev, argFamilyOf(names.name(ev.nameId), true)));
    },
  });
  parser.push(Buffer.from([sys(0, 'open', 'name=/lib/libc.so.6 flags=0'), sys(1, 'execve', 'filename=/usr/bin/python3.11')].join('\n') + '\n'));
  parser.end();
  // open: improved by name → /lib/libc.so. ; faithful token 1 "flags=0"[5:] = "=0" → ''.
  // execve: both → /usr/bin/python. (digits of a lower last part removed).
  assert.deepEqual(got, ['/lib/libc.so.', '', '/usr/bin/python.', '/usr/bin/python.']);
});

// ---- windows -----------------------------------------------------------------------------------

test('window length other than 1 s', async () => {
  const vocab = makeVocabulary(['read'], [], 4);
  const lines = [sys(0, 'read'), sys(300, 'read'), sys(600, 'read'), sys(1100, 'read'), sys(1499, 'read'), sys(1500, 'read')];
  let r = await encode(lines, vocab, { windowNs: 500_000_000 });
  assert.deepEqual(r.windows.map((w) => w.events), [2, 1, 2, 1]);
  assert.deepEqual(avs(r), [[1 / 20, 0, 0], [0, 0, 0], [1 / 20, 0, 0], [0, 0, 0]]);
  r = await encode(lines, vocab, { windowNs: 2_000_000_000 });
  assert.deepEqual(r.windows.map((w) => w.events), [6]);
  r = await encode(lines, vocab, { windowNs: 100_000_000 });
  assert.deepEqual(r.windows.map((w) => w.events), [1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1]);
});

test('a late event: improved counts it in the current window and warns; faithful refuses', async () => {
  const vocab = makeVocabulary(['read', 'write'], [], 10);
  const lines = [sys(0, 'read'), sys(1500, 'read'), sys(700, 'write'), sys(1600, 'read')];
  const r = await encode(lines, vocab);
  assert.deepEqual(r.windows.map((w) => w.events), [1, 3]);
  assert.equal(r.summary.late, 1);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /t\.txt: 1 events were out of time order/);
  await rejects(encode(lines, vocab, { faithful: true }), /line 3: events are not in time order/);
  // Late within the current window is not late at all.
  const inWindow = await encode([sys(0, 'read'), sys(1500, 'read'), sys(1200, 'write')], vocab, { faithful: true });
  assert.deepEqual(inWindow.windows.map((w) => w.events), [1, 2]);
  assert.equal(inWindow.summary.late, 0);
});

test('events earlier than the first one: faithful drops them (no window), improved counts them late', async () => {
  const vocab = makeVocabulary(['read', 'write'], [], 10);
  const lines = [sys(1000, 'read'), sys(500, 'write'), sys(1200, 'read'), sys(2100, 'read')];
  const f = await encode(lines, vocab, { faithful: true });
  assert.deepEqual(f.windows.map((w) => w.events), [2, 1]);
  assert.equal(f.summary.dropped, 1);
  assert.equal(f.summary.events, 4);
  const i = await encode(lines, vocab);
  assert.deepEqual(i.windows.map((w) => w.events), [3, 1]);
  assert.deepEqual([i.summary.dropped, i.summary.late], [0, 1]);
});

test('faithful: events without a time fall in no window; a first event without one is refused', async () => {
  const vocab = makeVocabulary(['read'], [], 10);
  const nat = '1 ab 0 bash (1) > read fd=3';
  const r = await encode([sys(0, 'read'), nat, sys(100, 'read')], vocab, { faithful: true });
  assert.deepEqual(r.windows.map((w) => w.events), [2]);
  assert.equal(r.summary.dropped, 1);
  await rejects(encode([nat, sys(0, 'read')], vocab, { faithful: true }), /line 1: the first event has no timestamp/);
});

test('the training shortcut gives the vectors full encoding gives for a training trace', async () => {
  const lines = [sys(0, 'open', 'name=/etc/a'), sys(10, 'read'), sys(20, 'open', 'name=/etc/b'), sys(2500, 'clone', 'res=0 exe=/bin/x', '<'), sys(2600, 'read')];
  for (const faithful of [false, true]) {
    const t = await collectTrace(bufferSource('t.txt', lines.join('\n') + '\n'), { faithful, windowNs: DEFAULT_WINDOW_NS });
    assert.deepEqual(t.counts, [3, 0, 2]);
    const maxFreq = Math.max(...t.counts);
    const vocab = makeVocabulary(t.seenSyscalls, t.seenArgs, maxFreq);
    const r = await encode(lines, vocab, { faithful });
    assert.deepEqual(avs(r), trainingVectors(t.counts, maxFreq));
    assert.deepEqual(avs(r), [[2 / 15, 0, 0], null, [1 / 15, 0, 0]]);
  }
});

test('windowing and vectors do not depend on how the bytes are chunked', async () => {
  const vocab = makeVocabulary(['read', 'open'], ['/etc/a'], 10);
  const lines = [sys(0, 'open', 'name=/etc/a'), sys(10, 'ptrace'), sys(20, 'open', 'name=/etc/zz'), sys(1500, 'read'), sys(3000, 'mount'), sys(3001, 'read')];
  const whole = await encode(lines, vocab);
  for (const chunkSize of [1, 2, 3, 7, 64]) {
    const r = await encode(lines, vocab, { chunkSize });
    assert.deepEqual(r.windows, whole.windows, `chunks of ${chunkSize}`);
  }
});

test('encodeTrace: empty and unrecognisable inputs are InputErrors', async () => {
  const vocab = makeVocabulary(['read'], [], 10);
  const run = (data: string, chunkSize?: number) =>
    encodeTrace(bufferSource('x.txt', data, 'unknown', chunkSize), vocab, { faithful: false, windowNs: DEFAULT_WINDOW_NS }, () => undefined);
  await rejects(run(''), /x\.txt: empty file/);
  await rejects(run('hello world\nthis is not a trace\n'), /unrecognised trace format/);
  await rejects(run('hello world\n'.repeat(1000), 100), /unrecognised trace format/);
  await rejects(run('\n\n  \n'), /unrecognised trace format/);
  // Recognised, but every line malformed.
  await rejects(run('1 10:00:00.1 0 a (1)\n'), /no syscall events in the trace \(1 malformed lines, the first at line 1\)/);
});

// ---- format sniffing ---------------------------------------------------------------------------

test('sniffFormat: sysdig text, LID-DS, garbage', () => {
  assert.equal(sniffFormat(Buffer.from(sys(0, 'read') + '\n')), 'sysdig');
  assert.equal(sniffFormat(Buffer.from('131 16:17:57.881730713 0 cat (20072) < execve res=0\n')), 'sysdig');
  assert.equal(sniffFormat(Buffer.from('1631078867380457267 0 2902771 apache2 2902771 select < res=0\n')), 'lidds');
  assert.equal(sniffFormat(Buffer.from('\n\r\n   \n1631078867380457267 0 1 p 1 read >\n')), 'lidds');
  assert.equal(sniffFormat(Buffer.from('hello world\n')), null);
  assert.equal(sniffFormat(Buffer.from('')), null);
  assert.equal(sniffFormat(Buffer.from('{"json": true}\n')), null);
  assert.equal(sniffFormat(Buffer.from([0x00, 0xff, 0x0a, 0x89, 0x50])), null);
  assert.equal(sniffFormat(Buffer.from('12345 not-a-time\n')), null);
  // A line of something else before the events (a warning) is passed over.
  assert.equal(sniffFormat(Buffer.from('warning: something\n' + sys(0, 'read') + '\n')), 'sysdig');
});

test('the format is recognised even when the first chunk holds only part of the first line', async () => {
  const vocab = makeVocabulary(['read'], [], 10);
  for (const chunkSize of [1, 5, 13]) {
    const r = await encode([sys(0, 'read'), sys(1, 'read')], vocab, { chunkSize });
    assert.equal(r.summary.format, 'sysdig', `chunks of ${chunkSize}`);
    assert.equal(r.summary.events, 2);
    const lid = await encodeTrace(
      bufferSource('l.sc', '1631078867380457267 0 1 p 1 read >\n1631078867380457268 0 1 p 1 read <\n', 'unknown', chunkSize),
      vocab,
      { faithful: false, windowNs: DEFAULT_WINDOW_NS },
      () => undefined,
    );
    assert.equal(lid.format, 'lidds');
    assert.equal(lid.events, 2);
  }
});

test('faithful: a short line before the events does not hide the format (the reference drops it)', async () => {
  const vocab = makeVocabulary(['read'], [], 10);
  const r = await encode(['short line', sys(0, 'read'), sys(1, 'read')], vocab, { faithful: true });
  assert.deepEqual([r.summary.format, r.summary.events, r.summary.short], ['sysdig', 2, 1]);
});

// ---- window length parser ----------------------------------------------------------------------

test('parseWindowLength', () => {
  const ok: [string, number][] = [
    ['1s', 1e9],
    ['500ms', 5e8],
    ['2.5s', 2.5e9],
    ['100000us', 1e8],
    ['1000µs', 1e6],
    ['1000000000ns', 1e9],
    ['1m', 60e9],
    ['2', 2e9],
    [' 1 s ', 1e9],
    ['1us', 1000],
    ['0.001ms', 1000],
  ];
  for (const [text, ns] of ok) assert.equal(parseWindowLength(text), ns, text);
  for (const bad of ['', 's', 'abc', '1h', '-1s', '1e3s', '1,5s', '1 2s', '.5s', '1.s']) {
    assert.throws(() => parseWindowLength(bad), /invalid window length/, JSON.stringify(bad));
  }
  for (const tiny of ['999ns', '0s', '0.5ns', '0']) {
    assert.throws(() => parseWindowLength(tiny), /too short/, tiny);
  }
});

test('improved mode: a corrupt timestamp far in the future is skipped, not billions of empty windows', async () => {
  const base = 1631078867000000000n;
  const line = (ts: bigint, name: string) => `${ts} 0 10 app 10 ${name} > fd=1\n`;
  const text =
    line(base, 'read') +
    line(base + 500_000_000n, 'write') +
    line(4631078867000000000n, 'read') + // a damaged digit: year 2116
    line(base + 1_200_000_000n, 'close') +
    '163107886800000000 0 10 app 10 read > fd=1\n' + // 18 digits: truncated, malformed
    line(base + 2_100_000_000n, 'read');
  const warnings: string[] = [];
  const windows: EncodedWindow[] = [];
  const vocab = makeVocabulary(['read', 'write', 'close'], [], 10);
  const summary = await encodeTrace(bufferSource('jump.sc', text, 'lidds'), vocab, { faithful: false, windowNs: DEFAULT_WINDOW_NS, onWarning: (w) => warnings.push(w) }, (w) => windows.push(w));
  assert.deepEqual(windows.map((w) => w.events), [2, 1, 1]);
  assert.equal(summary.malformed, 1);
  assert.ok(warnings.some((w) => /more than a day after/.test(w)), warnings.join('\n'));
});
