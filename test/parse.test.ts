/**
 * TraceParser (src/trace/parse.ts) on hand-written lines, in both formats (sysdig text and
 * LID-DS) and both modes: improved (the default: fields found by structure, full-ns times,
 * malformed lines skipped and counted) and faithful (the reference's reading, quirks included:
 * noise and length filters on Python's bytes repr, positional fields, µs truncation, crashes
 * turned into InputErrors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyscallEvent } from '../src/trace/event.js';
import { NameTable } from '../src/trace/names.js';
import { TraceParser, pyBytesRepr, type ParseStats, type TraceFormat } from '../src/trace/parse.js';
import { InputError } from '../src/util/errors.js';

interface Ev {
  line: number;
  sec: number;
  nsec: number;
  hasTime: boolean;
  name: string;
  dir: string;
  proc: string;
  tid: number;
  pid: number;
  args: string;
}

interface Parsed {
  events: Ev[];
  stats: ParseStats;
}

/** Parses `data` pushed in chunks of `chunk` bytes (or at the given split offsets). */
function parse(data: string | Buffer, format: TraceFormat, faithful: boolean, chunking: number | number[] = 1 << 20): Parsed {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const names = new NameTable();
  const events: Ev[] = [];
  const parser = new TraceParser({
    file: 'trace.txt',
    format,
    faithful,
    names,
    onEvent: (ev) =>
      // The event object is reused: copy what we keep.
      events.push({
        line: ev.line,
        sec: ev.sec,
        nsec: ev.nsec,
        hasTime: ev.hasTime,
        name: names.name(ev.nameId),
        dir: ev.dir === 0 ? '' : String.fromCharCode(ev.dir),
        proc: ev.proc(),
        tid: ev.tid,
        pid: ev.pid,
        args: tokens(ev).join(' '),
      }),
  });
  const cuts: number[] = [];
  if (typeof chunking === 'number') for (let i = chunking; i < buf.length; i += chunking) cuts.push(i);
  else cuts.push(...chunking);
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    // A fresh copy per chunk: the parser must not keep references into a reused buffer.
    parser.push(Buffer.from(buf.subarray(prev, c)));
    prev = c;
  }
  parser.end();
  return { events, stats: { ...parser.stats } };
}

/** The argument tokens as the encoder sees them (token(i) until undefined). */
function tokens(ev: SyscallEvent): string[] {
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const t = ev.token(i);
    if (t === undefined) return out;
    out.push(t);
  }
}

function expectInputError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one-line message');
    return true;
  });
}

const SYS = (n: number, time: string, proc: string, tid: number, dir: string, name: string, args = '') =>
  `${n} ${time} 0 ${proc} (${tid}) ${dir} ${name}${args ? ' ' + args : ''} `;
const LID = (ts: string, proc: string, pid: number, tid: number, name: string, dir: string, args = '') =>
  `${ts} 0 ${pid} ${proc} ${tid} ${name} ${dir}${args ? ' ' + args : ''} `;

// ---- improved mode: sysdig text ------------------------------------------------------------

test('improved sysdig: fields of a plain line, full-ns time of day', () => {
  const { events, stats } = parse(SYS(7, '16:17:57.881730713', 'cat', 20072, '<', 'open', 'fd=3(<f>/etc/passwd) name=/etc/passwd flags=1(O_RDONLY)') + '\n', 'sysdig', false);
  assert.deepEqual(events, [
    {
      line: 1,
      sec: 16 * 3600 + 17 * 60 + 57,
      nsec: 881730713,
      hasTime: true,
      name: 'open',
      dir: '<',
      proc: 'cat',
      tid: 20072,
      pid: -1, // sysdig's default text has no pid
      args: 'fd=3(<f>/etc/passwd) name=/etc/passwd flags=1(O_RDONLY)',
    },
  ]);
  assert.equal(stats.events, 1);
  assert.equal(stats.malformed, 0);
});

test('improved sysdig: fewer fraction digits are scaled, no fraction is 0 ns', () => {
  const { events } = parse(
    [SYS(1, '01:02:03.5', 'a', 1, '>', 'read'), SYS(2, '01:02:03.000000007', 'a', 1, '<', 'read'), SYS(3, '1:02:04', 'a', 1, '>', 'read')].join('\n'),
    'sysdig',
    false,
  );
  assert.deepEqual(
    events.map((e) => [e.sec, e.nsec]),
    [
      [3723, 500000000],
      [3723, 7],
      [3724, 0],
    ],
  );
});

test('improved sysdig: a process name with spaces does not shift the fields', () => {
  const text = [
    SYS(1, '10:00:00.000000001', 'Web Content', 4242, '>', 'read', 'fd=3 size=10'),
    SYS(2, '10:00:00.000000002', 'Web Content Process X', 4243, '<', 'openat', 'fd=5 name=/tmp/x'),
    SYS(3, '10:00:00.000000003', 'bash', 1, '>', 'close', 'fd=3'),
  ].join('\n');
  const { events, stats } = parse(text, 'sysdig', false);
  assert.equal(stats.malformed, 0);
  assert.deepEqual(
    events.map((e) => [e.proc, e.tid, e.dir, e.name, e.args]),
    [
      ['Web Content', 4242, '>', 'read', 'fd=3 size=10'],
      ['Web Content Process X', 4243, '<', 'openat', 'fd=5 name=/tmp/x'],
      ['bash', 1, '>', 'close', 'fd=3'],
    ],
  );
});

test('improved sysdig: malformed lines are skipped and counted, blank lines ignored', () => {
  const text = [
    '', // 1 blank
    SYS(1, '10:00:00.1', 'a', 1, '>', 'read'), // 2 ok
    'garbage', // 3 malformed: too few fields
    '   \t ', // 4 blank
    SYS(2, 'xx:00:00.1', 'a', 1, '>', 'read'), // 5 malformed: bad time
    '1 10:00:00.2 0 a (1) >', // 6 malformed: no syscall name
    '1 10:00:00.3 0 a b c d e f g h', // 7 malformed: no "(tid) dir"
    SYS(3, '10:00:00.4', 'a', 1, '<', 'read', 'res=0'), // 8 ok
    '\f\v', // 9 blank (Python whitespace)
    '',
  ].join('\n');
  const { events, stats } = parse(text, 'sysdig', false);
  assert.deepEqual(
    events.map((e) => [e.line, e.name, e.dir]),
    [
      [2, 'read', '>'],
      [8, 'read', '<'],
    ],
  );
  assert.equal(stats.malformed, 4);
  assert.equal(stats.firstMalformedLine, 3);
  assert.equal(stats.lines, 9);
  assert.equal(stats.events, 2);
});

test('improved: CRLF line endings give the same events as LF', () => {
  const sys = [SYS(1, '10:00:00.1', 'a', 1, '>', 'open', 'name=/etc/x flags=1'), SYS(2, '10:00:00.2', 'a', 1, '<', 'close')];
  const lid = [LID('1631078867380457267', 'apache2', 10, 11, 'open', '>', 'name=/etc/x'), LID('1631078867380457268', 'apache2', 10, 11, 'close', '<')];
  for (const [format, lines] of [
    ['sysdig', sys],
    ['lidds', lid],
  ] as const) {
    // The helpers end each line with a space; strip it so that "\r" directly follows the last token.
    const trimmed = lines.map((l) => l.trimEnd());
    const lf = parse(trimmed.join('\n') + '\n', format, false);
    const crlf = parse(trimmed.join('\r\n') + '\r\n', format, false);
    assert.deepEqual(crlf.events, lf.events, format);
    assert.equal(crlf.stats.malformed, 0);
    assert.equal(crlf.events[0].args, 'name=/etc/x' + (format === 'sysdig' ? ' flags=1' : ''));
    assert.equal(crlf.events[1].name, 'close', 'no "\\r" in the name of a line without args');
  }
});

test('improved: a last line without a newline is read', () => {
  const sys = parse(SYS(1, '10:00:00.1', 'a', 1, '>', 'read') + '\n' + SYS(2, '10:00:00.2', 'a', 1, '<', 'write').trimEnd(), 'sysdig', false);
  assert.deepEqual(sys.events.map((e) => e.name), ['read', 'write']);
  const lid = parse(LID('1631078867380457267', 'p', 1, 1, 'read', '>').trimEnd(), 'lidds', false);
  assert.deepEqual(lid.events.map((e) => e.name), ['read']);
});

test('improved sysdig: times of day wrap at midnight onto the next day', () => {
  const text = [
    SYS(1, '23:59:59.900000000', 'a', 1, '>', 'read'),
    SYS(2, '00:00:00.100000000', 'a', 1, '<', 'read'),
    SYS(3, '06:00:00.000000000', 'a', 1, '>', 'read'),
    SYS(4, '12:00:00.000000000', 'a', 1, '<', 'read'),
    SYS(5, '18:00:00.000000000', 'a', 1, '>', 'read'),
    SYS(6, '23:59:59.000000000', 'a', 1, '<', 'read'),
    SYS(7, '00:00:01.000000000', 'a', 1, '>', 'read'), // second midnight
  ].join('\n');
  const { events } = parse(text, 'sysdig', false);
  assert.deepEqual(
    events.map((e) => [e.sec, e.nsec]),
    [
      [86399, 900000000],
      [86400, 100000000],
      [86400 + 21600, 0],
      [86400 + 43200, 0],
      [86400 + 64800, 0],
      [86400 + 86399, 0],
      [2 * 86400 + 1, 0],
    ],
  );
});

test('improved sysdig: an event a little out of order across midnight stays on its day', () => {
  // Late by 50 ms, just after the wrap: it belongs before midnight, not a day later (which would
  // open ~86,400 empty windows and shift the rest of the trace by a day).
  const text = [
    SYS(1, '23:59:59.900000000', 'a', 1, '>', 'read'),
    SYS(2, '00:00:00.100000000', 'a', 2, '>', 'read'),
    SYS(3, '23:59:59.950000000', 'a', 1, '<', 'read'),
    SYS(4, '00:00:00.200000000', 'a', 2, '<', 'read'),
  ].join('\n');
  const { events } = parse(text, 'sysdig', false);
  assert.deepEqual(
    events.map((e) => [e.sec, e.nsec]),
    [
      [86399, 900000000],
      [86400, 100000000],
      [86399, 950000000],
      [86400, 200000000],
    ],
  );
  // The same when the trace starts just after midnight.
  const early = parse([SYS(1, '00:00:00.100000000', 'a', 1, '>', 'read'), SYS(2, '23:59:59.950000000', 'a', 2, '>', 'read'), SYS(3, '00:00:00.200000000', 'a', 1, '<', 'read')].join('\n'), 'sysdig', false);
  assert.deepEqual(
    early.events.map((e) => e.sec * 1e9 + e.nsec),
    [100000000, -50000000, 200000000],
  );
});

// ---- improved mode: LID-DS -----------------------------------------------------------------

test('improved LID-DS: fields, epoch ns, pid and tid', () => {
  const { events } = parse(LID('1631078867467773648', 'apache2', 2902774, 2902775, 'open', '<', 'fd=13(<f>/dev/urandom) name=/dev/urandom') + '\n', 'lidds', false);
  assert.deepEqual(events, [
    {
      line: 1,
      sec: 1631078867,
      nsec: 467773648,
      hasTime: true,
      name: 'open',
      dir: '<',
      proc: 'apache2',
      tid: 2902775,
      pid: 2902774,
      args: 'fd=13(<f>/dev/urandom) name=/dev/urandom',
    },
  ]);
});

test('improved LID-DS: a process name with spaces does not shift the fields', () => {
  const text = [
    LID('1631078867000000001', 'Web Content', 10, 11, 'read', '>', 'fd=3'),
    LID('1631078867000000002', 'Web Content 2 x', 10, 12, 'write', '<', 'res=1'),
    LID('1631078867000000003', 'apache2', 10, 13, 'close', '>'),
  ].join('\n');
  const { events, stats } = parse(text, 'lidds', false);
  assert.equal(stats.malformed, 0);
  assert.deepEqual(
    events.map((e) => [e.proc, e.pid, e.tid, e.name, e.dir, e.args]),
    [
      ['Web Content', 10, 11, 'read', '>', 'fd=3'],
      ['Web Content 2 x', 10, 12, 'write', '<', 'res=1'],
      ['apache2', 10, 13, 'close', '>', ''],
    ],
  );
});

test('improved LID-DS: malformed lines are skipped and counted', () => {
  const text = [
    LID('1631078867000000001', 'p', 1, 1, 'read', '>'), // 1 ok
    '1631078867000000002 0 1 p 1 read', // 2: no dir
    'x631078867000000003 0 1 p 1 read >', // 3: bad timestamp
    '', // 4 blank
    '1631078867000000004 0 1 p x y z w', // 5: no dir anywhere
    LID('1631078867000000005', 'p', 1, 1, 'read', '<'), // 6 ok
  ].join('\n');
  const { events, stats } = parse(text, 'lidds', false);
  assert.deepEqual(events.map((e) => e.line), [1, 6]);
  assert.equal(stats.malformed, 3);
  assert.equal(stats.firstMalformedLine, 2);
});

// ---- chunk boundaries ------------------------------------------------------------------------

const MIXED_SYSDIG = [
  SYS(1, '10:00:00.100000001', 'bash', 500, '>', 'open', 'name=/etc/passwd flags=1(O_RDONLY) mode=0'),
  '',
  SYS(2, '10:00:00.100000002', 'Web Content', 501, '<', 'open', 'fd=3(<f>/etc/passwd) name=/etc/passwd') + '\r',
  'short line',
  SYS(3, '10:00:00.300000000', 'containerd', 600, '>', 'read', 'fd=5 size=10'),
  SYS(4, '10:00:01.000000000', 'bash', 500, '<', 'stat', 'res=0 path=/srv/config.json'),
  SYS(5, '10:00:01.5', 'bash', 500, '>', 'clone'),
  SYS(6, '10:00:02.000000000', 'nc', 501, '<', 'execve', 'res=0 exe=nc args=-l.4444.').trimEnd(), // no newline at the end
].join('\n');

const MIXED_LIDDS = [
  LID('1631078867380457267', 'apache2', 1, 1, 'select', '<', 'res=0'),
  LID('1631078867380460410', 'Web Content', 1, 2, 'wait4', '>') + '\r',
  '',
  'bad line',
  LID('1631078868000000000', 'apache2', 1, 1, 'open', '<', 'fd=13(<f>/dev/urandom) name=/dev/urandom'),
  LID('1631078869000000000', 'apache2', 1, 1, 'close', '>', 'fd=13').trimEnd(),
].join('\n');

const FAITHFUL_SYSDIG = [
  SYS(1, '10:00:00.100000001', 'bash', 500, '>', 'open', 'name=/etc/passwd flags=1(O_RDONLY) mode=0'),
  'short line',
  SYS(2, '10:00:00.100000999', 'containerd', 600, '>', 'read', 'fd=5 size=10'),
  SYS(3, '10:00:00.200000000', 'Web Content', 501, '<', 'open', 'fd=3 name=/x'),
  SYS(4, '10:00:00.300000000', 'bash', 500, '<', 'read', 'data=caf\u00e9') + '\r',
  '',
  SYS(5, '10:00:01.500000000', 'bash', 500, '>', 'clone').trimEnd(),
].join('\n');

function chunkingCases(): [string, string | Buffer, TraceFormat, boolean][] {
  return [
    ['improved sysdig', MIXED_SYSDIG, 'sysdig', false],
    ['improved lidds', MIXED_LIDDS, 'lidds', false],
    ['faithful sysdig', FAITHFUL_SYSDIG, 'sysdig', true],
    ['faithful lidds', MIXED_LIDDS.replace('bad line\n', ''), 'lidds', true],
  ];
}

test('chunking: chunks of 1, 2, 3, 7 and 4096 bytes give the same events and counts', () => {
  for (const [label, text, format, faithful] of chunkingCases()) {
    const whole = parse(text, format, faithful);
    assert.ok(whole.events.length >= 3, `${label}: the sample has events`);
    for (const size of [1, 2, 3, 7, 4096]) {
      const chunked = parse(text, format, faithful, size);
      assert.deepEqual(chunked.events, whole.events, `${label}, chunks of ${size}`);
      assert.deepEqual(chunked.stats, whole.stats, `${label}, chunks of ${size}: stats`);
    }
  }
});

test('chunking: a split at every possible offset gives the same events and counts', () => {
  for (const [label, text, format, faithful] of chunkingCases()) {
    const whole = parse(text, format, faithful);
    const len = Buffer.byteLength(text);
    for (let cut = 0; cut <= len; cut++) {
      const split = parse(text, format, faithful, [cut]);
      assert.deepEqual(split.events, whole.events, `${label}, split at ${cut}`);
      assert.deepEqual(split.stats, whole.stats, `${label}, split at ${cut}: stats`);
    }
  }
});

test('chunking: expected content of the mixed samples', () => {
  const sys = parse(MIXED_SYSDIG, 'sysdig', false);
  assert.deepEqual(sys.events.map((e) => e.line), [1, 3, 5, 6, 7, 8]);
  assert.equal(sys.events[1].proc, 'Web Content');
  assert.equal(sys.events[5].args, 'res=0 exe=nc args=-l.4444.');
  assert.equal(sys.stats.malformed, 1); // "short line"
  const lid = parse(MIXED_LIDDS, 'lidds', false);
  assert.deepEqual(lid.events.map((e) => e.name), ['select', 'wait4', 'open', 'close']);
  assert.equal(lid.stats.malformed, 1);
  const faithful = parse(FAITHFUL_SYSDIG, 'sysdig', true);
  // containerd is noise, "short line" and the blank line are short; Web Content shifts fields.
  assert.deepEqual(faithful.events.map((e) => e.name), ['open', '<', 'read', 'clone']);
  assert.equal(faithful.stats.noise, 1);
  assert.equal(faithful.stats.short, 2);
});

// ---- faithful mode ---------------------------------------------------------------------------

test('faithful: the time is truncated to µs (tok[1][:-3]), not rounded', () => {
  const { events } = parse(SYS(1, '16:17:57.881730999', 'cat', 1, '<', 'read') + '\n', 'sysdig', true);
  assert.deepEqual([events[0].sec, events[0].nsec, events[0].hasTime], [58677, 881730000, true]);
  const lid = parse(LID('1631078867380457999', 'p', 1, 1, 'read', '<') + '\n', 'lidds', true);
  assert.deepEqual([lid.events[0].sec, lid.events[0].nsec], [1631078867, 380457000]);
  // Improved keeps the nanoseconds.
  assert.equal(parse(SYS(1, '16:17:57.881730999', 'cat', 1, '<', 'read') + '\n', 'sysdig', false).events[0].nsec, 881730999);
});

test('faithful: fields by position, so a process name with spaces shifts them', () => {
  const { events } = parse(SYS(1, '10:00:00.000000001', 'Web Content', 9, '>', 'read', 'fd=3') + '\n', 'sysdig', true);
  assert.equal(events.length, 1);
  assert.equal(events[0].name, '>'); // token 6
  assert.equal(events[0].args, 'read fd=3'); // tokens 7…
});

test('faithful: the noise filter drops a line with container/json/expecting/falcosecurity-libs anywhere', () => {
  const lines = [
    SYS(1, '10:00:00.1', 'containerd', 1, '>', 'read', 'fd=3'),
    SYS(2, '10:00:00.2', 'bash', 1, '<', 'open', 'fd=3(<f>/srv/app/config.json) name=/srv/app/config.json'),
    SYS(3, '10:00:00.3', 'bash', 1, '<', 'write', 'data=expecting'),
    SYS(4, '10:00:00.4', 'bash', 1, '<', 'write', 'data=xfalcosecurity-libsx'),
    SYS(5, '10:00:00.5', 'bash', 1, '<', 'write', 'data=jso.n'), // not noise
  ];
  const faithful = parse(lines.join('\n') + '\n', 'sysdig', true);
  assert.deepEqual(faithful.events.map((e) => e.line), [5]);
  assert.equal(faithful.stats.noise, 4);
  // Improved mode keeps every event.
  const improved = parse(lines.join('\n') + '\n', 'sysdig', false);
  assert.deepEqual(improved.events.map((e) => e.line), [1, 2, 3, 4, 5]);
  assert.equal(improved.stats.noise, 0);
});

test('faithful: the length filter keeps a line only if len(repr(bytes)) > 20 (exact boundary)', () => {
  // "b'" + line + "\\n" + "'": a plain line with its newline needs 16 characters.
  const l15 = '1 ab 0 p 1 > xy';
  const l16 = '1 ab 0 p 1 > xyz';
  assert.equal(l15.length, 15);
  assert.equal(pyBytesRepr(Buffer.from(l15), 0, 15, true), "b'1 ab 0 p 1 > xy\\n'");
  let r = parse(`${l15}\n${l16}\n`, 'sysdig', true);
  assert.deepEqual(r.events.map((e) => [e.line, e.name]), [[2, 'xyz']]);
  assert.equal(r.stats.short, 1);
  // The last line has no newline: 2 characters fewer in the repr, so it needs 18.
  const l17 = '1 ab 0 p 1 > xyzw';
  const l18 = '1 ab 0 p 1 > xyzwv';
  r = parse(`${l16}\n${l17}`, 'sysdig', true);
  assert.deepEqual(r.events.map((e) => e.name), ['xyz']);
  assert.equal(r.stats.short, 1);
  r = parse(`${l16}\n${l18}`, 'sysdig', true);
  assert.deepEqual(r.events.map((e) => e.name), ['xyz', 'xyzwv']);
  assert.equal(r.stats.short, 0);
  // Escapes count: a backslash is doubled, "\r" is 2 characters, a quote is escaped when both
  // kinds occur (with only ' the repr switches to double quotes and escapes nothing).
  r = parse('1 ab 0 p 1 > x\\\n', 'sysdig', true); // 15 characters, one backslash
  assert.deepEqual(r.events.map((e) => e.name), ['x\\']);
  r = parse('1 ab 0 p 1 > x\r\n', 'sysdig', true); // 14 characters + \r
  assert.deepEqual(r.events.map((e) => e.name), ['x']);
  r = parse('1 ab 0 p 1 > x\n', 'sysdig', true);
  assert.deepEqual(r.events, []);
  r = parse(`1 ab 0 p 1 > '"\n`, 'sysdig', true); // both quotes: ' escaped, 21
  assert.deepEqual(r.events.map((e) => e.name), [`'"`]);
  r = parse(`1 ab 0 p 1 > x'\n`, 'sysdig', true); // only ': "b\"...\"", 20
  assert.deepEqual(r.events, []);
  // A short line is dropped before it is split: no IndexError for it, but one for a 16-character one.
  r = parse('123456789012345\n', 'sysdig', true);
  assert.deepEqual([r.events.length, r.stats.short], [0, 1]);
  expectInputError(() => parse('1234567890123456\n', 'sysdig', true), /line 1: .*IndexError/);
});

test('faithful: noise is searched in the repr, escapes included', () => {
  // b'\xaf' + 'alcosecurity-libs' reads "\xafalcosecurity-libs" in the repr: noise. The byte
  // is not valid UTF-8, but the line is dropped before it is decoded.
  const head = Buffer.from(SYS(1, '10:00:00.1', 'bash', 1, '<', 'write', 'data='));
  const xaf = Buffer.concat([head, Buffer.from([0xaf]), Buffer.from('alcosecurity-libs\n')]);
  let r = parse(xaf, 'sysdig', true);
  assert.deepEqual([r.events.length, r.stats.noise], [0, 1]);
  // "\x0c" before "ontainer" reads "\x0container"; "\x0e" before "xpecting" reads "\x0expecting".
  r = parse(Buffer.concat([head, Buffer.from('\x0c' + 'ontainer\n')]), 'sysdig', true);
  assert.deepEqual([r.events.length, r.stats.noise], [0, 1]);
  r = parse(Buffer.concat([head, Buffer.from('\x0e' + 'xpecting\n')]), 'sysdig', true);
  assert.deepEqual([r.events.length, r.stats.noise], [0, 1]);
  // Not noise: another byte before "alcosecurity-libs" (and then the bad UTF-8 is fatal).
  const xa0 = Buffer.concat([head, Buffer.from([0xa0]), Buffer.from('alcosecurity-libs\n')]);
  expectInputError(() => parse(xa0, 'sysdig', true), /UnicodeDecodeError/);
  // "\x0b" (\v) before "ontainer" is "\x0bontainer": not noise; \v is whitespace for split().
  r = parse(Buffer.concat([head, Buffer.from('\x0b' + 'ontainer\n')]), 'sysdig', true);
  assert.deepEqual([r.events.length, r.stats.noise], [1, 0]);
  assert.equal(r.events[0].args, 'data= ontainer');
  // Improved mode has no noise filter: the \xaf line is an event.
  r = parse(xaf, 'sysdig', false);
  assert.deepEqual([r.events.length, r.events[0].name], [1, 'write']);
});

test('faithful: invalid UTF-8 is an InputError naming UnicodeDecodeError and the line', () => {
  const good = SYS(1, '10:00:00.1', 'bash', 1, '<', 'read') + '\n';
  const bad = Buffer.concat([Buffer.from(good + good), Buffer.from('3 10:00:00.3 0 bash (1) < read data='), Buffer.from([0xff, 0x0a])]);
  expectInputError(() => parse(bad, 'sysdig', true), /line 3: .*UnicodeDecodeError/);
  // A valid multi-byte character is fine, and improved mode never fails on bytes.
  assert.equal(parse(good.replace('read', 'read data=café'), 'sysdig', true).events[0].args, 'data=café');
  assert.equal(parse(bad, 'sysdig', false).events.length, 3);
});

test('faithful: fewer than 7 tokens is an InputError naming IndexError and the line', () => {
  const good = SYS(1, '10:00:00.1', 'bash', 1, '<', 'read') + '\n';
  expectInputError(() => parse(good + good + '3 10:00:00.3 0 bash (1) <\n', 'sysdig', true), /line 3: .*IndexError/);
  const lid = LID('1631078867380457267', 'p', 1, 1, 'read', '<') + '\n';
  expectInputError(() => parse(lid + '1631078867380457268 0 1 p 1 read\n', 'lidds', true), /line 2: .*IndexError/);
  // Improved mode skips it.
  const r = parse(good + good + '3 10:00:00.3 0 bash (1) <\n', 'sysdig', false);
  assert.deepEqual([r.events.length, r.stats.malformed, r.stats.firstMalformedLine], [2, 1, 3]);
});

test('faithful: a time token of 3 characters or less is NaT (the event has no time); a longer bad one fails', () => {
  const r = parse('1 ab 0 bash (1) > read fd=3\n2 abc 0 bash (1) > read fd=3\n', 'sysdig', true);
  assert.deepEqual(r.events.map((e) => [e.name, e.hasTime]), [
    ['read', false],
    ['read', false],
  ]);
  expectInputError(() => parse('1 abcd 0 bash (1) > read fd=3\n', 'sysdig', true), /line 1: unparseable timestamp 'abcd'/);
  // Improved mode: a bad time makes the line malformed.
  assert.equal(parse('1 ab 0 bash (1) > read fd=3\n', 'sysdig', false).stats.malformed, 1);
});

test('faithful: tokens are split on Python whitespace, Unicode included', () => {
  const r = parse(SYS(1, '10:00:00.1', 'bash', 1, '>', 'read\u00a0fd=3\u2003size=1') + '\n', 'sysdig', true);
  assert.deepEqual(r.events.map((e) => [e.name, e.args]), [['read', 'fd=3 size=1']]);
  const x1c = parse(SYS(1, '10:00:00.1', 'bash', 1, '>', 'read\x1cfd=3') + '\n', 'sysdig', true);
  assert.deepEqual(x1c.events.map((e) => [e.name, e.args]), [['read', 'fd=3']]);
});

test('faithful: the time slice counts characters, not bytes', () => {
  // Python: '10:00:00.123456é12'[:-3] == '10:00:00.123456' (é is one character, two bytes).
  const r = parse(SYS(1, '10:00:00.123456é12', 'bash', 1, '>', 'read') + '\n', 'sysdig', true);
  assert.deepEqual(r.events.map((e) => [e.hasTime, e.sec, e.nsec]), [[true, 36000, 123456000]]);
  // 'aéb'[:-3] == '': NaT.
  const nat = parse(SYS(1, 'aéb', 'bash', 1, '>', 'read') + '\n', 'sysdig', true);
  assert.deepEqual(nat.events.map((e) => e.hasTime), [false]);
});

test('faithful: what [:-3] leaves of a short time is read as pandas (dateutil) reads it', () => {
  const at = (time: string) => {
    const e = parse(SYS(1, time, 'bash', 1, '>', 'read') + '\n', 'sysdig', true).events[0];
    return [e.sec, e.nsec];
  };
  assert.deepEqual(at('10:00:01.5'), [36000, 0]); // '10:00:0' is 10:00:00, not 10:00:01
  assert.deepEqual(at('10:00:5999'), [36005, 0]); // '10:00:5' is 10:00:05, not 10:00:59
  assert.deepEqual(at('1:2:3abc'), [3723, 0]);
  assert.deepEqual(at('10:00:00.123'), [36000, 0]); // '10:00:00.'
  expectInputError(() => at('10:00:999'), /unparseable timestamp/); // '10:00:' has no seconds
});

test('pyBytesRepr matches Python repr(bytes) for quotes, escapes and high bytes', () => {
  const cases: [number[], boolean, string][] = [
    [[0x61, 0x27], false, `b"a'"`],
    [[0x61, 0x27, 0x22], false, `b'a\\'"'`],
    [[0x5c], true, `b'\\\\\\n'`],
    [[0x09, 0x0d, 0x00, 0x7f, 0xff, 0x20], false, `b'\\t\\r\\x00\\x7f\\xff '`],
  ];
  for (const [bytes, nl, want] of cases) assert.equal(pyBytesRepr(Uint8Array.from(bytes), 0, bytes.length, nl), want);
});

test('chunks: the parser keeps nothing of a chunk after push (the caller may overwrite it)', () => {
  for (const [label, text, format, faithful] of chunkingCases()) {
    const whole = parse(text, format, faithful);
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (const size of [1, 5, 64]) {
      const names = new NameTable();
      const lines: string[] = [];
      const parser = new TraceParser({ file: 't', format, faithful, names, onEvent: (ev) => lines.push(`${ev.line} ${names.name(ev.nameId)} ${ev.argsText()}`) });
      const reused = Buffer.alloc(size);
      for (let p = 0; p < buf.length; p += size) {
        const n = buf.copy(reused, 0, p, p + size);
        parser.push(reused.subarray(0, n));
        reused.fill(0x41); // what a reused read buffer would hold next
      }
      parser.end();
      assert.deepEqual(lines, whole.events.map((e) => `${e.line} ${e.name} ${e.args}`), `${label}, reused chunks of ${size}`);
    }
  }
});

test('long lines: a line longer than 16 MiB is refused with its number; a shorter one is read in small chunks', () => {
  const head = '1631078867467773648 33 2902774 apache2 2902774 open < fd=13 name=/dev/urandom\n';
  const mk = (argBytes: number) => Buffer.concat([Buffer.from(head + head.slice(0, -1) + ' '), Buffer.alloc(argBytes, 0x61), Buffer.from('\n' + head)]);
  const push = (buf: Buffer) => {
    const names = new NameTable();
    let events = 0;
    const parser = new TraceParser({ file: 'big.sc', format: 'lidds', faithful: false, names, onEvent: () => events++ });
    for (let p = 0; p < buf.length; p += 65536) parser.push(buf.subarray(p, p + 65536));
    parser.end();
    return events;
  };
  assert.equal(push(mk(8 << 20)), 3);
  assert.throws(() => push(mk(17 << 20)), (err: unknown) => err instanceof InputError && /big\.sc: line 2 is longer than 16 MiB/.test(err.message));
});
