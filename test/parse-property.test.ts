/**
 * Property tests of the parser (src/trace/parse.ts) with fast-check:
 *  (a) any bytes, pushed in any chunking, in both formats and both modes: the parser throws
 *      nothing but InputError, and the chunking never changes what it produces;
 *  (b) real lines (Falco's cat_write.txt, a LID-DS 2021 recording) damaged at random: improved
 *      mode never fails a file that keeps a valid line, and accounts for every line (an event,
 *      a malformed line or a blank one) while reading the intact lines exactly as on their own;
 *      faithful mode fails, if at all, with an InputError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { NameTable } from '../src/trace/names.js';
import { PY_SPACE, type SyscallEvent } from '../src/trace/event.js';
import { TraceParser, type TraceFormat } from '../src/trace/parse.js';
import { encodeTrace } from '../src/encode/pipeline.js';
import { makeVocabulary } from '../src/encode/vocabulary.js';
import { InputError } from '../src/util/errors.js';
import { bufferSource } from './helpers/file-source.js';
import { goldenInputs, missing } from './helpers/paths.js';

const NUM_RUNS = 200;
const MODES: [TraceFormat, boolean][] = [
  ['sysdig', false],
  ['sysdig', true],
  ['lidds', false],
  ['lidds', true],
];

/** One event, compactly: everything a consumer can read from it. */
function summarize(ev: SyscallEvent, names: NameTable): string {
  const tokens: string[] = [];
  for (let i = 0; ; i++) {
    const t = ev.token(i);
    if (t === undefined) break;
    tokens.push(t);
  }
  return [ev.line, names.name(ev.nameId), ev.hasTime ? `${ev.sec}.${ev.nsec}` : 'NaT', ev.dir, ev.proc(), ev.tid, ev.pid, tokens.join('\u0001')].join('|');
}

interface Outcome {
  events: string[];
  error: string | null;
  stats: string;
}

/** Parses `buf` cut at `cuts`; an InputError ends the parse (and is recorded), anything else fails the test. */
function parseCut(buf: Buffer, format: TraceFormat, faithful: boolean, cuts: number[]): Outcome {
  const names = new NameTable();
  const events: string[] = [];
  const parser = new TraceParser({ file: 'f', format, faithful, names, onEvent: (ev) => events.push(summarize(ev, names)) });
  let error: string | null = null;
  try {
    let prev = 0;
    for (const c of [...cuts, buf.length]) {
      parser.push(Buffer.from(buf.subarray(prev, c)));
      prev = c;
    }
    parser.end();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    error = err.message;
  }
  const { bytes: _bytes, ...rest } = parser.stats;
  void _bytes; // differs when an error stops the parse mid-chunk
  return { events, error, stats: JSON.stringify(rest) };
}

// ---- (a) random bytes, random chunkings ---------------------------------------------------------

const SAMPLE_LINES = [
  '131 16:17:57.881730713 0 cat (20072) < execve res=0 exe=cat args=/dev/null. tid=20072(cat)',
  '135 16:17:57.881765998 0 cat (20072) < access res=-2(ENOENT) name=/etc/ld.so.nohwcap',
  '1 10:00:00.100000999 0 Web Content (500) > open name=/etc/passwd flags=1(O_RDONLY) mode=0',
  '1631078867467773648 33 2902774 apache2 2902774 open < fd=13(<f>/dev/urandom) name=/dev/urandom',
  '1631078867467766934 33 2902774 Web Content 2902774 open >',
];

const PIECES: Buffer[] = [
  ...['\n', '\r\n', '\r', ' ', '  ', '\t', '\x0b', '\x0c', '\x1c', '>', '<', '(12)', '(', ')', '=', '0', '7'],
  ...['10:00:00.123456789', '23:59:59.999999999', '00:00:00.000000001', '1631078867380457267', '16310788673804572671234'],
  ...['containerd', 'config.json', 'expecting', 'falcosecurity-libs', 'alcosecurity-libs', 'ontainer', 'open', 'execve', 'name=/etc/x'],
  ...['é', '\u00a0', '\u2003', '😀'],
].map((s) => Buffer.from(s, 'utf8'));
PIECES.push(Buffer.from([0x00]), Buffer.from([0xff]), Buffer.from([0xaf]), Buffer.from([0xc3]), Buffer.from([0x85]), Buffer.from([0xc2, 0x85]));

const randomBytes = fc
  .array(
    fc.oneof(
      { arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), weight: 3 },
      { arbitrary: fc.constantFrom(...PIECES), weight: 6 },
      { arbitrary: fc.constantFrom(...SAMPLE_LINES.map((l) => Buffer.from(l + '\n'))), weight: 3 },
      { arbitrary: fc.integer({ min: 100, max: 5000 }).map((n) => Buffer.alloc(n, 0x61)), weight: 1 }, // long line
    ),
    { maxLength: 40 },
  )
  .map((parts) => Buffer.concat(parts));

const cutsFor = (len: number) =>
  fc.array(fc.integer({ min: 0, max: len }), { maxLength: 10 }).map((xs) => [...new Set(xs)].sort((a, b) => a - b));

test('(a) random bytes in random chunkings: only InputError, and chunking never changes the result', () => {
  for (const [format, faithful] of MODES) {
    fc.assert(
      fc.property(
        randomBytes.chain((buf) => fc.tuple(fc.constant(buf), cutsFor(buf.length))),
        ([buf, cuts]) => {
          const whole = parseCut(buf, format, faithful, []);
          const chunked = parseCut(buf, format, faithful, cuts);
          assert.deepEqual(chunked, whole);
          const bytewise = parseCut(buf, format, faithful, Array.from({ length: Math.max(0, buf.length - 1) }, (_, i) => i + 1));
          assert.deepEqual(bytewise, whole);
          if (!faithful) assert.equal(whole.error, null, 'improved mode never throws on a line');
        },
      ),
      { numRuns: NUM_RUNS },
    );
  }
});

// ---- (b) mutations of real lines -----------------------------------------------------------------

const catWrite = path.join(goldenInputs, 'cat_write.txt');
const noGolden = missing(catWrite);
const SYSDIG_LINES: string[] = noGolden
  ? []
  : readFileSync(catWrite, 'latin1')
      .split('\n')
      .filter((l) => l.length > 0 && l.length < 300);

// Real lines of the LID-DS 2021 recording ../shared/data/lid-ds-2021/aggressive_nightingale_1018.zip.
const LIDDS_LINES = [
  '1631078867380457267 0 2902771 apache2 2902771 select < res=0 ',
  '1631078867380460410 0 2902771 apache2 2902771 wait4 > ',
  '1631078867467692105 33 2902774 apache2 2902774 accept > flags=0 ',
  '1631078867467701544 33 2902774 apache2 2902774 accept < fd=12(<4t>192.168.240.3:50140->192.168.240.21:443) tuple=192.168.240.3:50140->192.168.240.21:443 queuepct=0 queuelen=0 queuemax=511 ',
  '1631078867467766934 33 2902774 apache2 2902774 open > ',
  '1631078867467773648 33 2902774 apache2 2902774 open < fd=13(<f>/dev/urandom) name=/dev/urandom flags=4097(O_RDONLY|O_CLOEXEC) mode=0 dev=200073 ',
  '1631078867467776775 33 2902774 apache2 2902774 read > fd=13(<f>/dev/urandom) size=512 ',
  '1631078867467786516 33 2902774 apache2 2902774 close > fd=13(<f>/dev/urandom) ',
  '1631078867467786796 33 2902774 apache2 2902774 close < res=0 ',
  '1631078867470622163 33 2902775 apache2 2902775 stat > ',
  '1631078867470627142 33 2902775 apache2 2902775 stat < res=0 path=/var/www/private/upload.php ',
  '1631078867470657568 33 2902775 apache2 2902775 fstat > fd=13(<f>/etc/apache2/.htpasswd) ',
  '1631078867471085925 33 2902775 apache2 2902775 rename < res=0 oldpath=/tmp/php3lhWS0 newpath=/var/www/private/uploads/tmpt00t4vqf ',
  '1631078867471211086 33 2902774 apache2 2902774 lstat < res=0 path=/tmp ',
  '1631078878388717751 0 2902771 apache2 2902771 clone > ',
];

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'delete'; i: number }
  | { kind: 'duplicate'; i: number }
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'garbage'; at: number; bytes: Uint8Array }
  | { kind: 'noNewline' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('garbage' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('noNewline' as const) }),
);

/** Applies a mutation to one line (without its newline); noNewline is handled by the caller. */
function mutate(line: Buffer, m: Mutation): Buffer {
  const tokens = line.toString('latin1').split(' ');
  const n = tokens.length;
  switch (m.kind) {
    case 'truncate':
      return line.subarray(0, m.at % (line.length + 1));
    case 'delete':
      tokens.splice(m.i % n, 1);
      return Buffer.from(tokens.join(' '), 'latin1');
    case 'duplicate':
      tokens.splice(m.i % n, 0, tokens[m.i % n]);
      return Buffer.from(tokens.join(' '), 'latin1');
    case 'swap': {
      const i = m.i % n;
      const j = m.j % n;
      [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
      return Buffer.from(tokens.join(' '), 'latin1');
    }
    case 'garbage': {
      const at = m.at % (line.length + 1);
      return Buffer.concat([line.subarray(0, at), Buffer.from(m.bytes), line.subarray(at)]);
    }
    case 'noNewline':
      return line;
  }
}

interface Damaged {
  text: Buffer;
  /** 1-based physical line numbers of the intact lines, with the line's text. */
  intact: { lineNo: number; text: Buffer }[];
}

/** A trace of `lines`, some of them damaged; the line at `keep` is always left intact. */
const damagedTrace = (pool: string[]) =>
  fc
    .record({
      picks: fc.array(fc.nat({ max: pool.length - 1 }), { minLength: 1, maxLength: 12 }),
      mutations: fc.array(fc.option(fc.array(mutation, { minLength: 1, maxLength: 3 }), { freq: 2 }), { minLength: 12, maxLength: 12 }),
      keep: fc.nat(),
    })
    .map(({ picks, mutations, keep }): Damaged => {
      const k = keep % picks.length;
      const parts: Buffer[] = [];
      const intact: Damaged['intact'] = [];
      let lineNo = 1;
      let joined = false; // the previous line lost its newline: this one is part of it
      for (let i = 0; i < picks.length; i++) {
        let line: Buffer = Buffer.from(pool[picks[i]], 'latin1');
        const ms = i === k ? null : mutations[i];
        let newline = true;
        for (const m of ms ?? []) {
          if (m.kind === 'noNewline') newline = false;
          else line = mutate(line, m);
        }
        if (i === k - 1) newline = true; // keep the intact line on a line of its own
        if (ms === null && !joined) intact.push({ lineNo, text: line });
        parts.push(line);
        if (newline) parts.push(Buffer.from('\n')); // a last line may end without one
        // Physical lines: count the newlines this part and its terminator hold.
        for (const b of line) if (b === 10) lineNo++;
        if (newline) lineNo++;
        joined = !newline;
      }
      return { text: Buffer.concat(parts), intact };
    });

/** Lines of a buffer as the parser sees them, and how many are blank (Python whitespace only). */
function physicalLines(buf: Buffer): { lines: number; blank: number } {
  let lines = 0;
  let blank = 0;
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length && start === buf.length) break;
    if (i === buf.length || buf[i] === 10) {
      lines++;
      let allSpace = true;
      for (let j = start; j < i; j++) if (PY_SPACE[buf[j]] !== 1) allSpace = false;
      if (allSpace) blank++;
      start = i + 1;
    }
  }
  return { lines, blank };
}

function checkImproved(format: TraceFormat, d: Damaged): void {
  const names = new NameTable();
  const events = new Map<number, string>();
  const parser = new TraceParser({ file: 'f', format, faithful: false, names, onEvent: (ev) => events.set(ev.line, summarize(ev, names)) });
  parser.push(d.text);
  parser.end();
  const { lines, blank } = physicalLines(d.text);
  const s = parser.stats;
  assert.equal(s.lines, lines, 'every line is read');
  assert.equal(s.events + s.malformed + blank, s.lines, 'each line is an event, malformed or blank');
  assert.ok(s.events >= 1);
  for (const { lineNo, text } of d.intact) {
    // The intact line reads as it does on its own (its time of day modulo the day offset).
    const alone = parseCut(Buffer.concat([text, Buffer.from('\n')]), format, false, []);
    assert.equal(alone.events.length, 1, `intact line ${lineNo} parses alone`);
    const got = events.get(lineNo);
    assert.ok(got !== undefined, `intact line ${lineNo} is an event`);
    const norm = (e: string) => e.split('|').slice(1).map((f, i) => (i === 1 && format === 'sysdig' ? normDay(f) : f)).join('|');
    assert.equal(norm(got), norm(alone.events[0]), `intact line ${lineNo}`);
  }
}

const normDay = (t: string) => (t === 'NaT' ? t : `${(((Number(t.split('.')[0]) % 86400) + 86400) % 86400)}.${t.split('.')[1]}`);

async function checkFile(format: TraceFormat, d: Damaged, faithful: boolean): Promise<void> {
  const vocab = makeVocabulary(['open', 'read', 'close'], ['/etc/passwd'], 100);
  // LID-DS times are epoch ns: a damaged timestamp can be years away, and windows of 1 s would
  // then be billions of empty windows. Windows of ~3 years keep the count small.
  const windowNs = format === 'lidds' ? 1e17 : 1e9;
  try {
    const r = await encodeTrace(bufferSource('damaged', d.text, 'unknown', 97), vocab, { faithful, windowNs }, () => undefined);
    assert.equal(r.format, format);
  } catch (err) {
    if (faithful && err instanceof InputError) return;
    throw err;
  }
}

for (const [format, pool, skip] of [
  ['sysdig', SYSDIG_LINES, noGolden],
  ['lidds', LIDDS_LINES, false],
] as const) {
  test(`(b) damaged ${format} lines: improved reads every intact line and accounts for the rest`, { skip }, () => {
    fc.assert(
      fc.property(damagedTrace(pool), (d) => checkImproved(format, d)),
      { numRuns: NUM_RUNS },
    );
  });

  test(`(b) damaged ${format} lines: faithful fails only with InputError`, { skip }, () => {
    fc.assert(
      fc.property(damagedTrace(pool), (d) => {
        // parseCut rethrows anything but an InputError.
        const r = parseCut(d.text, format, true, []);
        // Faithful reading has no state across lines: each intact line before the failure (if
        // any) reads as it does on its own, noise and short lines included.
        const failedAt = r.error === null ? Infinity : Number(/line (\d+)/.exec(r.error)?.[1] ?? 0);
        const byLine = new Map(r.events.map((e) => [Number(e.split('|')[0]), e]));
        for (const { lineNo, text } of d.intact) {
          if (lineNo >= failedAt) continue;
          const alone = parseCut(Buffer.concat([text, Buffer.from('\n')]), format, true, []);
          if (alone.error !== null) continue; // the line itself is fatal (e.g. fewer than 7 tokens)
          const want = alone.events.map((e) => e.split('|').slice(1).join('|'));
          const got = byLine.has(lineNo) ? [byLine.get(lineNo)!.split('|').slice(1).join('|')] : [];
          assert.deepEqual(got, want, `intact line ${lineNo}`);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test(`(b) damaged ${format} files through encodeTrace: improved never fails, faithful only with InputError`, { skip }, async () => {
    await fc.assert(
      fc.asyncProperty(damagedTrace(pool), fc.boolean(), async (d, faithful) => checkFile(format, d, faithful)),
      { numRuns: NUM_RUNS },
    );
  });
}
