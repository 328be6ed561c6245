/**
 * The anomaly vector of a window's aggregate (distinct tokens, distinct consecutive pairs, event
 * count) equals, bit for bit, the encoder's vector of the window's events: on random windows of
 * real-looking events (the LID-DS lines the eBPF converter writes), parsed and encoded as any trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WindowEncoder, type EncodedWindow } from '../src/encode/anomaly.js';
import { AggregateEncoder, aggregateOf, type AggregateToken } from '../src/encode/aggregate.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';
import { NameTable } from '../src/trace/names.js';
import { TraceParser } from '../src/trace/parse.js';

/** An event as the eBPF converter writes it, and the token the kernel aggregates for it. */
interface Ev {
  line: (ts: number) => string;
  token: AggregateToken;
}

// Token-safe, as the converter writes them (a space as \x20).
const PATHS = ['/www/index.html', '/etc/passwd', '/bin/sh', '/lib/libc.so.6', '', '/tmp/a\\x20b', '/proc/1/stat', '/usr/lib/x/y/z/w.so'];
const PLAIN = ['read', 'write', 'poll', 'accept4', 'close', 'fcntl', 'mmap', 'procexit'];

const ev = fc.oneof(
  fc.record({ name: fc.constantFrom(...PLAIN), dir: fc.constantFrom('>', '<') }).map(({ name, dir }): Ev => ({
    line: (ts) => `${ts} 0 7 httpd 7 ${name} ${dir} ${dir === '<' ? 'res=0' : ''}`,
    token: { name, arg: null },
  })),
  // open/stat exit with the path (enter: no argument)
  fc.record({ name: fc.constantFrom('openat', 'open', 'newfstatat', 'statx'), p: fc.constantFrom(...PATHS), exit: fc.boolean() }).map(({ name, p, exit }): Ev => {
    const param = name.startsWith('open') ? 'name' : 'path';
    const lead = name.startsWith('open') ? 'fd=3' : 'res=0';
    return exit
      ? { line: (ts) => `${ts} 0 7 httpd 7 ${name} < ${lead} ${param}=${p}`, token: { name, arg: p } }
      : { line: (ts) => `${ts} 0 7 httpd 7 ${name} > `, token: { name, arg: null } };
  }),
  // execve enter with the filename; exit without one (its exe= is not execve's parameter)
  fc.record({ p: fc.constantFrom(...PATHS), exit: fc.boolean() }).map(({ p, exit }): Ev =>
    exit
      ? { line: (ts) => `${ts} 0 7 sh 7 execve < res=0 exe=${p}`, token: { name: 'execve', arg: null } }
      : { line: (ts) => `${ts} 0 7 sh 7 execve > filename=${p}`, token: { name: 'execve', arg: p } },
  ),
  // clone exit with the exe
  fc.constantFrom(...PATHS.slice(0, 4)).map((p): Ev => ({ line: (ts) => `${ts} 0 7 httpd 7 clone < res=9 exe=${p}`, token: { name: 'clone', arg: p } })),
);

function encodeEvents(evs: Ev[], vocab: ReturnType<typeof makeVocabulary>): EncodedWindow {
  const names = new NameTable();
  const out: EncodedWindow[] = [];
  const enc = new WindowEncoder(vocab, names, { file: 't', faithful: false, windowNs: 1e9, details: true }, (w) => out.push(w));
  const parser = new TraceParser({ file: 't', format: 'lidds', faithful: false, names, onEvent: (e) => enc.push(e) });
  const t0 = 1_600_000_000_000_000_000;
  parser.push(Buffer.from(evs.map((e, i) => e.line(t0 + i * 1000)).join('\n') + '\n'));
  parser.end();
  enc.finish();
  assert.equal(out.length, 1);
  return out[0];
}

test('aggregate AV = the encoder AV of the same events (random windows, random vocabularies)', () => {
  fc.assert(
    fc.property(
      fc.array(ev, { minLength: 1, maxLength: 60 }),
      fc.subarray([...PLAIN, 'openat', 'open', 'newfstatat', 'statx', 'execve', 'clone']),
      fc.subarray(['/www/index.html', '/etc/passwd', '/bin/sh', '/lib/libc.so.', '', '/tmp/a\\x20b', '/proc/stat']),
      fc.integer({ min: 1, max: 500 }),
      (evs, seenNames, seenArgs, maxFreq) => {
        const vocab = makeVocabulary(seenNames, seenArgs, maxFreq);
        const want = encodeEvents(evs, vocab);
        const got = new AggregateEncoder(vocab).encode(aggregateOf(evs.map((e) => e.token)));
        assert.deepEqual(got.av, want.av);
        assert.deepEqual(got.unseenSyscalls, [...(want.unseenSyscalls ?? [])].sort());
        assert.deepEqual(got.unseenArgs, [...(want.unseenArgs ?? [])].sort());
      },
    ),
    { numRuns: 2000, seed: 11 },
  );
});

test('aggregate of one event, and of a window that is all one unseen node', () => {
  const vocab = makeVocabulary(['read'], [], 10);
  const enc = new AggregateEncoder(vocab);
  assert.deepEqual(enc.encode(aggregateOf([{ name: 'ptrace', arg: null }])).av, [0, 0, 0]);
  // Two ptrace events: one node (USN) with a self-loop: centrality 2, |U| = 1.
  assert.deepEqual(enc.encode(aggregateOf([{ name: 'ptrace', arg: null }, { name: 'ptrace', arg: null }])).av, [1 / 50, 2, 0]);
  assert.equal(enc.encode({ events: 0, tokens: [], from: [], to: [] }).av, null);
});
