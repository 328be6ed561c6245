/**
 * Byte sources (src/trace/sources/readers.ts, labels.ts, inputs.ts), on real inputs: the LID-DS 2021
 * recording and the golden .scap captures from ../shared, read through the real sysdig, plus
 * damaged copies of them and small archives built here. Every failure must be an InputError
 * (one line, naming the file); nothing may hang, leak a file descriptor or leave a sysdig behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { CHUNK_BYTES, SYSDIG_ENV, openSource, type TraceSource } from '../src/trace/sources/readers.js';
import { forEachSource, planSources, reportUnexpected, type SkippedInput } from '../src/trace/sources/plan.js';
import { parseLabels } from '../src/trace/labels.js';
import { InputError } from '../src/util/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.CHIDS_SHARED ?? path.resolve(repoRoot, '../shared');
const realZip = path.join(shared, 'data/lid-ds-2021/aggressive_nightingale_1018.zip');
const goldenInputs = path.join(shared, 'golden/inputs');
const catWriteScap = path.join(goldenInputs, 'cat_write.scap');

/** A skip reason, printed loudly, when shared data is absent; false when it is there. */
function absent(file: string): string | false {
  if (existsSync(file)) return false;
  const msg = `!!! SKIPPED: ${file} is missing; this test needs the shared data in ../shared !!!`;
  console.warn(msg);
  return msg;
}

const sysdigMissing = spawnSync(process.env[SYSDIG_ENV] || 'sysdig', ['--version']).error ? 'sysdig is not installed' : false;
if (sysdigMissing) console.warn(`!!! SKIPPED: .scap tests need sysdig (apt-get install sysdig) !!!`);

async function tmpDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chids-sources-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(src: TraceSource): Promise<{ data: Buffer; chunks: number; max: number }> {
  const parts: Buffer[] = [];
  let max = 0;
  for await (const c of src.chunks()) {
    assert.ok(Buffer.isBuffer(c));
    parts.push(c);
    max = Math.max(max, c.length);
  }
  return { data: Buffer.concat(parts), chunks: parts.length, max };
}

/** Opens, reads everything and the labels; the only failure allowed is a one-line InputError. */
async function drainOrInputError(file: string): Promise<'ok' | 'input-error'> {
  try {
    const src = await openSource(file);
    for await (const _ of src.chunks()) void _;
    await src.labels();
    return 'ok';
  } catch (err) {
    assertInputError(err);
    return 'input-error';
  }
}

function assertInputError(err: unknown, re?: RegExp): true {
  assert.ok(err instanceof InputError, `expected an InputError, got ${err instanceof Error ? err.stack : String(err)}`);
  assert.ok(!err.message.includes('\n'), `message must be one line: ${JSON.stringify(err.message)}`);
  if (re) assert.match(err.message, re);
  return true;
}

const rejectsInput = (p: Promise<unknown>, re?: RegExp) => assert.rejects(p, (e) => assertInputError(e, re));

/** A minimal zip writer (stored or deflated entries), to build archives the tests need. */
function makeZip(entries: { name: string; data: Buffer | string; deflate?: boolean; crc?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const body = e.deflate ? zlib.deflateRawSync(data) : data;
    const name = Buffer.from(e.name);
    const crc = e.crc ?? zlib.crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(e.deflate ? 8 : 0, 8);
    lh.writeUInt16LE(0x21, 12); // 1980-01-01
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(e.deflate ? 8 : 0, 10);
    ch.writeUInt16LE(0x21, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, body);
    centrals.push(ch, name);
    offset += lh.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const SC_LINES = (n: number) =>
  Array.from({ length: n }, (_, i) => `${1631078866440315200 + i * 1000} 33 1234 apache2 1234 read < res=${i} data=${'x'.repeat(i % 50)}\n`).join('');

/**
 * A large, valid capture built from the golden cat_write.scap: its header blocks, then its event
 * blocks (type 0x204) repeated `reps` times with timestamps shifted so they keep increasing.
 * sysdig prints about 7.4 KiB of text per repetition.
 */
function bigScap(reps: number): Buffer {
  const d = zlib.gunzipSync(readFileSync(catWriteScap));
  const blocks: { type: number; off: number; len: number }[] = [];
  for (let off = 0; off < d.length; ) {
    const type = d.readUInt32LE(off);
    const len = d.readUInt32LE(off + 4);
    assert.ok(len > 0);
    blocks.push({ type, off, len });
    off += len;
  }
  const first = blocks.findIndex((b) => b.type === 0x204);
  const events = blocks.slice(first);
  assert.ok(first > 0 && events.every((b) => b.type === 0x204), 'unexpected block layout in cat_write.scap');
  const ts0 = d.readBigUInt64LE(events[0].off + 10);
  const span = d.readBigUInt64LE(events[events.length - 1].off + 10) - ts0 + 1000n;
  const out: Buffer[] = [d.subarray(0, events[0].off)];
  for (let k = 0; k < reps; k++) {
    for (const b of events) {
      const blk = Buffer.from(d.subarray(b.off, b.off + b.len));
      blk.writeBigUInt64LE(blk.readBigUInt64LE(10) + BigInt(k) * span, 10);
      out.push(blk);
    }
  }
  return Buffer.concat(out);
}

/** Child processes of this process named `comm` (zombies included), from /proc. */
function childrenNamed(comm: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && name === comm) out.push(Number(e));
    } catch {
      // the process went away while we looked
    }
  }
  return out;
}

const openFds = () => readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function fdsSettle(expected: number): Promise<number> {
  for (let i = 0; i < 50 && openFds() > expected; i++) await sleep(10);
  return openFds();
}

// ---------------------------------------------------------------------------------------------
// LID-DS 2021 zip

test('real LID-DS zip: the .sc entry comes out whole, in ~1 MiB chunks, with its labels', async (t) => {
  const skip = absent(realZip);
  if (skip) return t.skip(skip);
  const src = await openSource(realZip);
  assert.equal(src.kind, 'zip');
  assert.equal(src.hint, 'lidds');
  assert.equal(src.name, 'aggressive_nightingale_1018');
  assert.equal(src.path, realZip);
  assert.equal(src.textBytes, 2325130); // the entry's uncompressedSize (unzip -l)
  const { data, chunks, max } = await readAll(src);
  assert.equal(data.length, src.textBytes);
  assert.ok(chunks >= 2 && max <= CHUNK_BYTES + 64 * 1024, `chunks=${chunks} max=${max}`);
  let lines = 0;
  for (const b of data) if (b === 10) lines++;
  assert.equal(lines, 23468);
  assert.equal(data[data.length - 1], 10);
  assert.match(data.subarray(0, 200).toString(), /^\d{19} \d+ \d+ \S+ \d+ \S+ [<>] /);
  // a second read gives the same bytes
  assert.ok((await readAll(src)).data.equals(data));

  const labels = await src.labels();
  assert.ok(labels);
  assert.equal(labels.exploit, true);
  assert.equal(labels.exploitStartSec, 1631078877.513988);
  assert.equal(labels.exploitName, 'default');
  assert.equal(labels.recordingTimeSec, 18);
  assert.equal(labels.warmupEndSec, 1631078866.4403152);
  assert.equal((labels.raw as { image: string }).image, 'victim_bruteforce');
});

test('real zip: leaving the loop early closes the archive (no fd leak)', async (t) => {
  const skip = absent(realZip);
  if (skip) return t.skip(skip);
  const src = await openSource(realZip);
  const before = openFds();
  for (let i = 0; i < 5; i++) {
    for await (const c of src.chunks()) {
      assert.ok(c.length > 0);
      break;
    }
  }
  const after = await fdsSettle(before);
  assert.ok(after <= before, `${after} fds open after, ${before} before`);
});

test('truncated copy of the real zip → InputError, not a crash', async (t) => {
  const skip = absent(realZip);
  if (skip) return t.skip(skip);
  const dir = await tmpDir(t);
  const whole = await readFile(realZip);
  for (const keep of [0.5, 0.99, 1 - 10 / whole.length]) {
    const f = path.join(dir, `trunc_${keep}.zip`);
    await writeFile(f, whole.subarray(0, Math.floor(whole.length * keep)));
    await rejectsInput(openSource(f), /trunc_.*\.zip: not a valid zip archive: /);
  }
});

test('real zip with its .sc data damaged → "corrupt zip entry", after the readable prefix', async (t) => {
  const skip = absent(realZip);
  if (skip) return t.skip(skip);
  const dir = await tmpDir(t);
  const buf = Buffer.from(await readFile(realZip));
  // the .sc is the last entry: find its local header and scribble over the middle of its data
  // (local header at 984,940; 388,076 compressed bytes follow)
  const at = buf.lastIndexOf(Buffer.from('aggressive_nightingale_1018.sc'), buf.length - 300_000);
  assert.ok(at > 0 && at < buf.length - 388_000, `local header of the .sc at ${at}`);
  const mid = at + 200_000;
  for (let i = 0; i < 64; i++) buf[mid + i] ^= 0x5a;
  const f = path.join(dir, 'aggressive_nightingale_1018.zip');
  await writeFile(f, buf);
  const src = await openSource(f); // the central directory is intact
  let seen = 0;
  await rejectsInput(
    (async () => {
      for await (const c of src.chunks()) seen += c.length;
    })(),
    /aggressive_nightingale_1018\.zip: corrupt zip entry aggressive_nightingale_1018\.sc: /,
  );
  assert.ok(seen > 0 && seen < 2325130, `yielded ${seen} bytes before the error`);
});

test('zip: garbage, no .sc, several .sc, bad CRC, bad labels', async (t) => {
  const dir = await tmpDir(t);
  const w = async (name: string, data: Buffer | string) => {
    const f = path.join(dir, name);
    await writeFile(f, data);
    return f;
  };
  await rejectsInput(openSource(await w('garbage.zip', 'this is not a zip file at all')), /garbage\.zip: not a valid zip archive: /);
  await rejectsInput(openSource(await w('empty.zip', '')), /empty\.zip: not a valid zip archive/);

  const noSc = await w('rec.zip', makeZip([{ name: 'rec.json', data: '{"exploit": false}' }, { name: 'rec.pcap', data: 'x' }]));
  await rejectsInput(openSource(noSc), /rec\.zip: no \.sc entry in the zip/);

  const sc = SC_LINES(3000);
  const several = await w('pick.zip', makeZip([
    { name: 'other.sc', data: 'nope\n' },
    { name: 'pick.sc', data: sc, deflate: true },
    { name: '__MACOSX/._pick.sc', data: 'resource fork' },
  ]));
  const src = await openSource(several);
  assert.equal(src.textBytes, Buffer.byteLength(sc));
  assert.equal((await readAll(src)).data.toString(), sc);
  assert.equal(await src.labels(), null); // no .json inside

  const ambiguous = await w('amb.zip', makeZip([{ name: 'a.sc', data: 'a\n' }, { name: 'b.sc', data: 'b\n' }]));
  await rejectsInput(openSource(ambiguous), /amb\.zip: 2 \.sc entries in the zip \(a\.sc, b\.sc\) and none is named amb\.sc/);

  // single .sc under another name, in a folder: fine
  const folder = await w('renamed.zip', makeZip([{ name: 'x/orig.sc', data: sc, deflate: true }, { name: 'x/orig.json', data: '{"exploit":true,"time":{"exploit":[{"absolute":12.5}]}}' }]));
  const fsrc = await openSource(folder);
  assert.equal((await readAll(fsrc)).data.length, Buffer.byteLength(sc));
  assert.deepEqual({ ...(await fsrc.labels()), raw: null }, { exploit: true, exploitStartSec: 12.5, warmupEndSec: null, raw: null });

  // stored and deflated entries whose CRC-32 does not match their data
  for (const deflate of [false, true]) {
    const bad = await w(`crc${deflate}.zip`, makeZip([{ name: 'crc.sc', data: sc, deflate, crc: 12345 }]));
    await rejectsInput(readAll(await openSource(bad)), /corrupt zip entry crc\.sc: CRC-32 mismatch/);
  }

  const badJson = await w('lab.zip', makeZip([{ name: 'lab.sc', data: sc }, { name: 'lab.json', data: '{"exploit": tru' }]));
  await rejectsInput((await openSource(badJson)).labels(), /lab\.zip: lab\.json: malformed JSON labels/);
  const badType = await w('typ.zip', makeZip([{ name: 'typ.sc', data: sc }, { name: 'typ.json', data: '{"exploit": "yes"}' }]));
  await rejectsInput((await openSource(badType)).labels(), /typ\.zip: typ\.json: invalid labels: exploit: /);
});

// ---------------------------------------------------------------------------------------------
// .scap through sysdig

test('every golden .scap yields exactly the bytes of its `sysdig -r` .txt', async (t) => {
  const skip = absent(goldenInputs) || sysdigMissing;
  if (skip) return t.skip(skip);
  const scaps = readdirSync(goldenInputs).filter((f) => f.endsWith('.scap')).sort();
  assert.ok(scaps.includes('empty.scap') && scaps.length >= 6, scaps.join(' '));
  for (const f of scaps) {
    const src = await openSource(path.join(goldenInputs, f));
    assert.equal(src.kind, 'scap');
    assert.equal(src.hint, 'sysdig');
    assert.equal(src.textBytes, null);
    assert.equal(await src.labels(), null);
    const { data } = await readAll(src);
    const want = readFileSync(path.join(goldenInputs, f.replace(/\.scap$/, '.txt')));
    assert.ok(data.equals(want), `${f}: ${data.length} bytes, want ${want.length}`);
    if (f === 'empty.scap') assert.equal(data.length, 0);
  }
});

test('sysdig missing (CHIDS_SYSDIG=/nonexistent) → InputError naming the Debian package', async (t) => {
  const dir = await tmpDir(t);
  const cap = path.join(dir, 'cat_write.scap'); // never read: the binary is missing
  await writeFile(cap, absent(catWriteScap) ? Buffer.from('not empty') : readFileSync(catWriteScap));
  const saved = process.env[SYSDIG_ENV];
  process.env[SYSDIG_ENV] = '/nonexistent';
  t.after(() => {
    if (saved === undefined) delete process.env[SYSDIG_ENV];
    else process.env[SYSDIG_ENV] = saved;
  });
  const src = await openSource(cap);
  await rejectsInput(readAll(src), /cat_write\.scap: cannot read \.scap: the sysdig binary was not found.*Debian package 'sysdig'/);
  assert.deepEqual(childrenNamed('sysdig'), []);
});

test('garbage, empty and truncated .scap', async (t) => {
  const skip = absent(catWriteScap) || sysdigMissing;
  if (skip) return t.skip(skip);
  const dir = await tmpDir(t);
  const garbage = path.join(dir, 'garbage.scap');
  await writeFile(garbage, Buffer.from('this is no capture, just some text\n'.repeat(100)));
  await rejectsInput(readAll(await openSource(garbage)), /garbage\.scap: sysdig -r failed \(exit 1\): Could not initialize reader/);

  const zero = path.join(dir, 'zero.scap');
  await writeFile(zero, '');
  assert.equal((await readAll(await openSource(zero))).data.length, 0);

  // a capture cut in the middle of its events: the readable prefix, then sysdig's complaint
  const big = bigScap(20);
  const cut = path.join(dir, 'cut.scap');
  await writeFile(cut, big.subarray(0, big.length - 5000));
  const seen: Buffer[] = [];
  await rejectsInput(
    (async () => {
      for await (const c of (await openSource(cut)).chunks()) seen.push(c);
    })(),
    /cut\.scap: sysdig -r failed \(exit 1\):.*truncated/,
  );
  const prefix = Buffer.concat(seen).toString();
  assert.ok(prefix.length > 0 && /^\d+ \d\d:\d\d:\d\d\.\d{9} \d+ \S+ \(\d+\) [<>] /.test(prefix), prefix.slice(0, 100));
  assert.deepEqual(childrenNamed('sysdig'), []);
});

test('large capture streams in ~1 MiB chunks; leaving the loop early kills and reaps sysdig', async (t) => {
  const skip = absent(catWriteScap) || sysdigMissing;
  if (skip) return t.skip(skip);
  const dir = await tmpDir(t);
  const f = path.join(dir, 'big.scap');
  await writeFile(f, bigScap(800)); // ~17 MB capture, ~5.9 MB of text
  const src = await openSource(f);

  const whole = await readAll(src);
  assert.ok(whole.data.length > 5_000_000 && whole.chunks >= 5, `${whole.data.length} bytes in ${whole.chunks} chunks`);
  assert.ok(whole.max <= CHUNK_BYTES + 64 * 1024, `max chunk ${whole.max}`);

  let pid = 0;
  for await (const c of src.chunks()) {
    assert.ok(c.length > 0);
    const kids = childrenNamed('sysdig');
    assert.equal(kids.length, 1, 'sysdig should still be running (blocked on the pipe)');
    pid = kids[0];
    break;
  }
  assert.ok(pid > 0);
  assert.equal(existsSync(`/proc/${pid}`), false, 'sysdig must be killed and reaped when the loop is left');
  assert.deepEqual(childrenNamed('sysdig'), []);
});

// ---------------------------------------------------------------------------------------------
// plain files, labels beside a .sc, stdin

test('.sc and .txt: bytes as on disk, sibling NAME.json labels for .sc only', async (t) => {
  const dir = await tmpDir(t);
  const sc = SC_LINES(40_000); // > 2 MiB, several chunks
  const f = path.join(dir, 'rec_1.sc');
  await writeFile(f, sc);
  const src = await openSource(f);
  assert.deepEqual([src.kind, src.hint, src.name, src.textBytes], ['sc', 'lidds', 'rec_1', Buffer.byteLength(sc)]);
  const got = await readAll(src);
  assert.equal(got.data.toString(), sc);
  assert.ok(got.chunks >= 3 && got.max <= CHUNK_BYTES);
  assert.equal(await src.labels(), null); // no rec_1.json

  await writeFile(path.join(dir, 'rec_1.json'), JSON.stringify({ exploit: false, extra: { a: 1 }, time: { exploit: [], warmup_end: { absolute: 5 } } }));
  const l = await src.labels();
  assert.ok(l);
  assert.equal(l.exploit, false);
  assert.equal(l.exploitStartSec, null);
  assert.equal(l.warmupEndSec, 5);
  assert.deepEqual((l.raw as { extra: unknown }).extra, { a: 1 });

  await writeFile(path.join(dir, 'rec_1.json'), '{ not json');
  await rejectsInput(src.labels(), /rec_1\.json: malformed JSON labels/);
  await writeFile(path.join(dir, 'rec_1.json'), '[1,2]');
  await rejectsInput(src.labels(), /rec_1\.json: labels must be a JSON object/);
  await writeFile(path.join(dir, 'rec_1.json'), '{"exploit": true, "time": {"exploit": [{"absolute": "soon"}]}}');
  await rejectsInput(src.labels(), /rec_1\.json: invalid labels: time\.exploit\.0\.absolute: /);

  const txt = path.join(dir, 'trace.txt');
  await writeFile(txt, 'hello\n');
  const tsrc = await openSource(txt);
  assert.deepEqual([tsrc.kind, tsrc.hint, tsrc.name], ['text', 'unknown', 'trace']);
  assert.equal(await tsrc.labels(), null);
  const empty = path.join(dir, 'empty.txt');
  await writeFile(empty, '');
  assert.equal((await readAll(await openSource(empty))).chunks, 0);

  const other = path.join(dir, 'capture.log');
  await writeFile(other, 'x\n');
  assert.equal((await openSource(other)).kind, 'text');
});

test('parseLabels: defaults and pass-through', () => {
  const l = parseLabels('{"image":"x","time":{"exploit":[{"absolute":1.5,"name":"a"},{"absolute":0.5}]}}', 'f.json');
  assert.deepEqual({ ...l, raw: undefined }, { exploit: false, exploitStartSec: 1.5, warmupEndSec: null, raw: undefined });
  assert.equal((l.raw as { image: string }).image, 'x');
  // odd types in the descriptive fields are dropped, not fatal
  const m = parseLabels('{"exploit":true,"exploit_name":7,"recording_time":"long","time":{"warmup_end":null}}', 'g.json');
  assert.equal(m.exploitName, undefined);
  assert.equal(m.recordingTimeSec, undefined);
  assert.equal(m.warmupEndSec, null);
});

test("stdin ('-') streams what is piped in", () => {
  const code = `
    const { openSource } = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'src/trace/sources/readers.ts')).href)});
    const s = await openSource('-');
    let n = 0; for await (const c of s.chunks()) n += c.length;
    console.log(JSON.stringify({ n, kind: s.kind, name: s.name, hint: s.hint, textBytes: s.textBytes, labels: await s.labels() }));`;
  const input = Buffer.alloc(3 * CHUNK_BYTES + 17, 'a');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { input, cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { n: input.length, kind: 'stdin', name: 'stdin', hint: 'unknown', textBytes: null, labels: null });
});

// ---------------------------------------------------------------------------------------------
// paths and directories

test('missing path, directory, side files → InputError', async (t) => {
  const dir = await tmpDir(t);
  await rejectsInput(openSource(path.join(dir, 'nope.sc')), /nope\.sc: no such file or directory/);
  await rejectsInput(planSources([path.join(dir, 'nope')]), /nope: no such file or directory/);
  await rejectsInput(openSource(dir), /is a directory/);
  await writeFile(path.join(dir, 'r.pcap'), 'x');
  await rejectsInput(openSource(path.join(dir, 'r.pcap')), /r\.pcap: this is a LID-DS network capture \(\.pcap\), not a trace/);
  await rejectsInput(planSources(['-', '-']), /given more than once/);
});

test('directories expand recursively to sorted recordings; other files are skipped and reported', async (t) => {
  const dir = await tmpDir(t);
  const files: Record<string, string | Buffer> = {
    'b.txt': 'x\n',
    'a-c.txt': 'x\n',
    'a/b.sc': 'x\n',
    'a/b.json': '{}',
    'a/b.pcap': 'x',
    'a/b.res': 'x',
    'a/deeper/z.scap': '',
    'A.zip': makeZip([{ name: 'A.sc', data: 'x\n' }]),
    'notes.md': 'hi',
    '.hidden.txt': 'x\n',
    '.git/c.txt': 'x\n',
  };
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), data);
  }
  await symlink(dir, path.join(dir, 'a', 'loop')); // symlinked directories are not followed (no cycles, no duplicates)
  await symlink(path.join(dir, 'b.txt'), path.join(dir, 'a', 'link.txt')); // symlinked files are
  const skipped: [string, string][] = [];
  const planned = await planSources([dir], (p, why) => skipped.push([path.relative(dir, p), why]));
  assert.ok(planned.every((p) => p.fromDirectory));
  const got = await Promise.all(planned.map((p) => openSource(p.path)));
  assert.deepEqual(
    got.map((s) => path.relative(dir, s.path)),
    ['A.zip', 'a-c.txt', 'a/b.sc', 'a/deeper/z.scap', 'a/link.txt', 'b.txt'], // code-unit order of the full path
  );
  assert.deepEqual(got.map((s) => s.kind), ['zip', 'text', 'sc', 'scap', 'text', 'text']);
  const skippedNames = skipped.map(([p]) => p);
  assert.deepEqual(skippedNames, ['.git', '.hidden.txt', 'a/b.json', 'a/b.pcap', 'a/b.res', 'a/loop', 'notes.md']);
  assert.match(skipped.find(([p]) => p === 'a/b.pcap')![1], /network capture/);
  // what commands warn about: the stray file, not the LID-DS side files or hidden entries
  const stray: string[] = [];
  await planSources([dir], reportUnexpected((w) => stray.push(w)));
  assert.equal(stray.length, 2, stray.join('; ')); // notes.md, and the link to a directory
  assert.ok(stray.some((w) => /passed over .*notes\.md: not a recording/.test(w)), stray.join('; '));

  // explicit files keep their given order, around a directory
  const extra = path.join(dir, 'b.txt');
  const mixed = await planSources([extra, path.join(dir, 'a')]);
  assert.deepEqual(mixed.map((s) => path.relative(dir, s.path)), ['b.txt', 'a/b.sc', 'a/deeper/z.scap', 'a/link.txt']);
  assert.deepEqual(mixed.map((s) => s.fromDirectory), [false, true, true, true]);

  const empty = path.join(dir, 'empty');
  await mkdir(path.join(empty, 'sub'), { recursive: true });
  await writeFile(path.join(empty, 'sub', 'x.json'), '{}');
  await rejectsInput(planSources([empty]), /empty: no recordings \(\.zip, \.sc, \.scap, \.txt\) found/);

  // a damaged zip found in a directory is skipped with its reason; named on its own, it fails
  await writeFile(path.join(empty, 'sub', 'bad.zip'), 'not a zip');
  const skippedBad: SkippedInput[] = [];
  const warnings: string[] = [];
  const read = await forEachSource(await planSources([empty]), async (src) => src.path, skippedBad, (w) => warnings.push(w));
  assert.deepEqual(read, []);
  assert.equal(skippedBad.length, 1);
  assert.match(skippedBad[0].reason, /bad\.zip: not a valid zip archive/);
  assert.match(warnings[0], /skipped .*bad\.zip/);
  await rejectsInput(
    forEachSource(await planSources([path.join(empty, 'sub', 'bad.zip')]), async (src) => src.path, []),
    /bad\.zip: not a valid zip archive/,
  );
});

// ---------------------------------------------------------------------------------------------
// properties: whatever the bytes, an InputError or a clean read

test('property: random bytes as .zip/.scap/.sc (+ .json) give only InputError or a clean read', async (t) => {
  const dir = await tmpDir(t);
  let n = 0;
  for (const ext of ['.zip', '.scap', '.sc'] as const) {
    if (ext === '.scap' && sysdigMissing) continue;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.option(fc.uint8Array({ maxLength: 256 })), async (bytes, json) => {
        const base = path.join(dir, `r${n++}`);
        await writeFile(base + ext, bytes);
        if (json) await writeFile(base + '.json', json);
        await drainOrInputError(base + ext);
      }),
      { numRuns: 30 },
    );
  }
  assert.deepEqual(childrenNamed('sysdig'), []);
});

test('property: damaged copies of the real zip give only InputError or a clean read', { timeout: 120_000 }, async (t) => {
  const skip = absent(realZip);
  if (skip) return t.skip(skip);
  const whole = await readFile(realZip);
  const dir = await tmpDir(t);
  const f = path.join(dir, 'aggressive_nightingale_1018.zip');
  const outcomes = { ok: 0, 'input-error': 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(whole.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(whole.length), { freq: 4 }),
      async (flips, cut) => {
        const buf = Buffer.from(whole);
        for (const [at, x] of flips) buf[at] ^= x;
        await writeFile(f, cut === null ? buf : buf.subarray(0, cut));
        outcomes[await drainOrInputError(f)]++;
      },
    ),
    { numRuns: 30 },
  );
  console.log(`damaged zips: ${JSON.stringify(outcomes)}`);
});

test('property: damaged copies of a real .scap give only InputError or a clean read', { timeout: 120_000 }, async (t) => {
  const skip = absent(catWriteScap) || sysdigMissing;
  if (skip) return t.skip(skip);
  const raw = zlib.gunzipSync(readFileSync(catWriteScap));
  const dir = await tmpDir(t);
  const f = path.join(dir, 'damaged.scap');
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(raw.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(raw.length), { freq: 3 }),
      async (flips, cut) => {
        const buf = Buffer.from(raw);
        for (const [at, x] of flips) buf[at] ^= x;
        await writeFile(f, cut === null ? buf : buf.subarray(0, cut));
        await drainOrInputError(f);
      },
    ),
    { numRuns: 30 },
  );
  assert.deepEqual(childrenNamed('sysdig'), []);
});
