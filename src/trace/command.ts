/**
 * The shape of a command line: what an execve started, with the data a request brought in
 * taken out. Used by the replica comparison (its commands aspect) and by the encoder in
 * improved mode (the execve family's argument), so that both read a command the same way.
 *
 * The rule (version 2, argvShape): an argv element that is a single value (a file name, a host,
 * an id) is data and becomes its class; options and embedded programs (an `sh -c` script, an SQL
 * query) are shape, with their quoted literals ('…' or "…") and numbers taken out as data. A web
 * app that runs `sqlite3 … "SELECT … WHERE name LIKE '%tea%'"` per request gives one shape for
 * every search term; an injection (`… LIKE '%tea%' UNION ALL SELECT CHAR(113,…)`) leaves SQL
 * outside the quotes and so another shape.
 *
 * Not for the hot loop as such: regexes and allocation, so callers run it only on execve exits
 * and memoise it (ArgReader, in src/encode/args.ts).
 */
import { PY_SPACE, type SyscallEvent } from './event.js';

const DIGITS = /[0-9]/g;

/** Removes digits (pids, fds, ports, dates, sizes: they differ between runs for no security reason). */
export function stripDigits(s: string): string {
  return s.replace(DIGITS, '');
}

// Long runs of base64/hex-like characters mixing cases or letters and digits: encoded payloads,
// tokens, session ids — they differ per request, not per replica.
const HEX_NUMBER = /^-?(?:0x)?(?=[0-9a-f]*[0-9])[0-9a-f]+$/i;
const OPAQUE_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;

function opaque(run: string): string {
  return /[a-z]/.test(run) && (/[A-Z]/.test(run) || /[0-9]/.test(run)) && !run.includes('/') ? '*' : run;
}

/**
 * An argument token without digits, with hex runs that look like ids or addresses dropped and
 * opaque encoded runs (16+ characters of mixed case or letters and digits, no '/') replaced by '*'.
 */
export function normaliseToken(tok: string): string {
  // A value that is a number written in hex (addresses: brk/mmap results, pointers) is a number
  // like any other: it goes entirely, not just its digits (which would leave its letters).
  const eq = tok.indexOf('=');
  if (eq > 0 && HEX_NUMBER.test(tok.slice(eq + 1))) return stripDigits(tok.slice(0, eq + 1));
  return stripDigits(tok.replace(/0x[0-9a-f]+/gi, '').replace(/[0-9a-f]{12,}/gi, '').replace(OPAQUE_RUN, opaque));
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Longest command shape kept (longer ones are cut): an inline script as argv stays one bounded item. */
export const COMMAND_CHARS = 240;

/**
 * An execve argv written base64 (NUL-terminated arguments) as text, arguments joined by a space;
 * anything else as it was. A value is taken for base64 argv only when it decodes to printable
 * text ending in NUL, so a plain word that happens to be valid base64 stays a word.
 */
export function decodeArgv(a: string): string {
  if (a.length % 4 !== 0 || a.length < 4 || !BASE64.test(a)) return a;
  const b = Buffer.from(a, 'base64');
  if (b.length === 0 || b[b.length - 1] !== 0) return a;
  for (const c of b) if (c !== 0 && c !== 9 && c !== 10 && c !== 13 && c < 32) return a;
  return b.toString('utf8', 0, Math.min(b.length - 1, COMMAND_CHARS * 4)).split('\0').join(' ');
}

// A quoted literal inside an argument: '…' or "…" (SQL strings, shell-quoted words). A quote
// doubled inside one is SQL's escape for the quote itself (`'grandma''s tea'`, what a web app
// makes of a search with an apostrophe): part of the literal (shape version 3 on). Read as two
// literals, a search term with an apostrophe gave the query another shape than every other
// search term. An injection that closes the literal still leaves a quote outside any
// (`'x' OR 1=1 --'`); a doubled quote typed into an unescaped query is, for SQL too, a quote
// inside the literal.
const QUOTED = /'(?:[^']|'')*'|"(?:[^"]|"")*"/g;
// Versions 1 and 2: a doubled quote ends one literal and starts another.
const QUOTED_V2 = /'[^']*'|"[^"]*"/g;
const quotedOf = (version: number): RegExp => (version >= 3 ? QUOTED : QUOTED_V2);

/**
 * A command line's shape: quoted literals emptied, then each space-separated word normalised
 * like a token (digits removed, opaque runs '*'), the whole cut to COMMAND_CHARS. A quoted
 * literal is data a request brought in (a search term, a comment, a user name in
 * `sqlite3 … WHERE name = 'bob'`): replicas serving different users, and one service serving
 * many, see different ones. What stays is the command's shape, which an injection changes
 * (`… LIKE '%tea' AND 1=1 AND 'a'='a%'` leaves quotes outside any literal).
 */
export function normaliseCommand(line: string, version = COMMAND_SHAPE): string {
  const out = line.replace(quotedOf(version), (q) => q[0] + q[0]).split(' ').map(normaliseToken).join(' ');
  return out.length > COMMAND_CHARS ? out.slice(0, COMMAND_CHARS) : out;
}

/**
 * Versions of the command shape (a baseline records the one its seen arguments hold, as
 * `encoding.command_shape`; one without it holds version 1):
 * - 1: normaliseCommand over the whole argv line.
 * - 2: argv element by element, single values replaced by their class (argvShape).
 * - 3 (current): as 2, a doubled quote inside a quoted literal (SQL's escape) part of it.
 */
export const COMMAND_SHAPE = 3;

/**
 * An execve argv written base64 (NUL-terminated arguments) as its list of arguments, or
 * undefined when the value is not base64 argv (the same test as decodeArgv). Cut like decodeArgv.
 */
export function decodeArgvList(a: string): string[] | undefined {
  if (decodeArgv(a) === a) return undefined;
  const b = Buffer.from(a, 'base64');
  return b.toString('utf8', 0, Math.min(b.length - 1, COMMAND_CHARS * 4)).split('\0');
}

// Characters that make an argument code rather than a value: shell operators, quotes,
// substitutions and redirections, SQL's separators and comparisons, globs.
const CODE_CHARS = /[\s;|&`$()<>'"=,*]/;

/**
 * The class of a single value: '<path>' when it names something by a path, '<word>' otherwise
 * (a host, an id, a name, a number, an empty argument).
 */
function valueClass(v: string): string {
  return v.includes('/') ? '<path>' : '<word>';
}

/**
 * The shape of a command's arguments (version 2), element by element. An element is one of:
 * - an option (starts with '-'): the command's own vocabulary, kept (normalised like a token:
 *   digits out, opaque runs '*');
 * - a single value (no whitespace and none of ; | & ` $ ( ) < > ' " = , *): data a request
 *   brings — a file name, an upload path, a host, an id. Which one says nothing about the code
 *   that runs: `sha256sum /srv/app/uploads/erin/photo.png` and `…/bob/cv.pdf` are one command,
 *   as `ping -c 1 -W 1 localhost` and `… 127.0.0.2` are. It becomes its class, and a run of
 *   consecutive values one class ('<path>' if any of them has a '/'), so that the count of
 *   positional values does not matter either (sysdig's text cannot tell it, below);
 * - an embedded program (anything else: an `sh -c` script, an SQL query, an injected
 *   `127.0.0.1; bash -i …`): its structure is code and keeps version 1's shape (quoted literals
 *   emptied, digits out, opaque runs '*'), so `; bash -i >& /dev/tcp/…` stays visible.
 * The program itself (exe) is not in argv and stays as it is; when it is an interpreter (a
 * shell, python, perl, ruby, node, php), its first element that is not an option names the program
 * it runs (`/bin/sh /srv/app/cgi-bin/status.cgi`, `sh -c id`) and is kept as a program too
 * (normalised, not a class): an uploaded script run by the shell is another program, not another
 * value.
 *
 * The attacks, thought through before measuring: command injection into `sh -c "ping -c 1 -W 1
 * HOST"` puts `; bash -i >& /dev/tcp/…` into the script, which keeps its structure, so the
 * shape changes (and bash is a new program, its own execve); SQL injection changes the query
 * outside its literals; an uploaded program run directly is a new exe, run by an interpreter a
 * new script; a container escape runs programs the service never runs. What an attack no
 * longer changes: a value it chooses for an argument the service already passes with a single
 * value (`sha256sum /etc/shadow` is `sha256sum <path>`); the file is still seen by its path, in
 * the open family.
 *
 * `elements` are exact for base64 argv (NUL-separated). sysdig's text joins them with '.', which
 * file names and addresses contain too, so there the pieces between dots are taken as the
 * elements: a value with dots gives a run of values, one class either way; a script with dots
 * (`ping … 127.0.0.1`) is cut at them, its first piece a program and the rest values, so its
 * shape is only comparable with sysdig text (as in version 1).
 */
export function argvShape(elements: readonly string[], exe = '', version = COMMAND_SHAPE): string {
  const out: string[] = [];
  let run: string | null = null;
  let script = isInterpreter(exe);
  const flush = (): void => {
    if (run !== null) out.push(run);
    run = null;
  };
  for (const e of elements) {
    if (e.startsWith('-') && !CODE_CHARS.test(e)) {
      flush();
      out.push(normaliseToken(e));
    } else if (script) {
      flush();
      out.push(normaliseCommand(e, version));
    } else if (!CODE_CHARS.test(e)) {
      const c = valueClass(e);
      run = run === '<path>' ? run : c;
    } else {
      flush();
      out.push(normaliseCommand(e, version));
    }
    if (!e.startsWith('-')) script = false;
  }
  flush();
  const s = out.join(' ');
  return s.length > COMMAND_CHARS ? s.slice(0, COMMAND_CHARS) : s;
}

// Programs whose first non-option argument is the program they run (a script, or `-c`'s code).
const INTERPRETERS = /^(?:(?:ba|da|k|z|c|tc)?sh|ash|busybox|python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|php[0-9.]*|lua[0-9.]*)$/;

function isInterpreter(exe: string): boolean {
  return exe !== '' && INTERPRETERS.test(exe.slice(exe.lastIndexOf('/') + 1));
}

/** sysdig's '.'-joined argv text as elements (the trailing '.' ends the last one). */
function textElements(args: string, version: number): string[] {
  // Quoted literals first, so that a '.' inside one ('%x.y%') does not split it.
  const parts = args.replace(quotedOf(version), (q) => q[0] + q[0]).split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * The shape of an execve exit's `args=` value, in either layout: base64 argv (chids' strace
 * converter) or sysdig's '.'-joined text. `version` 1 is the shape before argvShape (baselines
 * trained with it keep reading commands as they did). `exe`: the program (execve's `exe=`), which
 * tells whether the first argument is a script (see argvShape).
 */
export function commandShape(args: string, exe = '', version = COMMAND_SHAPE): string {
  if (version === 1) return normaliseCommand(decodeArgv(args), 1);
  return argvShape(decodeArgvList(args) ?? textElements(args, version), exe, version);
}

/**
 * sysdig's argv text spanning several tokens is cut after this many bytes (the shape keeps
 * COMMAND_CHARS anyway). A single token (base64 argv) is kept whole, or it would not decode.
 */
const ARGS_BYTES = COMMAND_CHARS * 8;

/**
 * The params sysdig (and the strace converter) write after execve's `args=`: the argv ends at the
 * first of them. sysdig joins argv with '.' but keeps the spaces inside an argument
 * (`args=-c.ping -c 1 host.`), so the value spans tokens; base64 argv is one token.
 */
const AFTER_ARGS = ['tid=', 'pid=', 'ptid=', 'cwd=', 'fdlimit=', 'comm=', 'env='];

function startsWithAt(buf: Buffer, p: number, end: number, s: string): boolean {
  if (p + s.length > end) return false;
  for (let k = 0; k < s.length; k++) if (buf[p + k] !== s.charCodeAt(k)) return false;
  return true;
}

/**
 * The `args=` value of an execve/execveat exit, spaces inside arguments included (up to the next
 * param), or undefined when the event has no `args=` token.
 */
export function execArgs(ev: SyscallEvent): string | undefined {
  if (ev.argTokens !== null) {
    const t = ev.argTokens;
    let i = t.findIndex((x) => x.startsWith('args='));
    if (i < 0) return undefined;
    const first = t[i].slice(5);
    const parts = [first];
    while (++i < t.length && !AFTER_ARGS.some((k) => t[i].startsWith(k))) parts.push(t[i]);
    if (parts.length === 1) return first;
    const v = parts.join(' ');
    return v.length > ARGS_BYTES ? v.slice(0, ARGS_BYTES) : v;
  }
  const buf = ev.buf;
  const end = ev.argsEnd;
  let p = ev.argsStart;
  let start = -1;
  let firstEnd = -1;
  let last = -1;
  while (p < end) {
    while (p < end && PY_SPACE[buf[p]] === 1) p++;
    if (p >= end) break;
    const s = p;
    if (start >= 0 && AFTER_ARGS.some((k) => startsWithAt(buf, s, end, k))) break;
    while (p < end && PY_SPACE[buf[p]] === 0) p++;
    if (start < 0) {
      if (startsWithAt(buf, s, p, 'args=')) {
        start = s + 5;
        firstEnd = last = p;
      }
    } else {
      last = p;
      if (last - start >= ARGS_BYTES) break;
    }
  }
  if (start < 0) return undefined;
  return buf.toString('utf8', start, last === firstEnd ? last : Math.min(last, start + ARGS_BYTES));
}
