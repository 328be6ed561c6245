/**
 * `process_path` of the reference (chids/utils/process_args.py, PATH_LENGTH = 3), written to
 * give the same string for every input, Python's string semantics included: lengths and
 * slices count code points, `islower()` follows Unicode case properties, `urlparse().path`
 * and `os.path.dirname` behave as in CPython 3.11.
 */

const PATH_LENGTH = 3;

/** Code points, as Python's len(). */
function pyLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function countSlashes(s: string): number {
  let n = 0;
  for (let i = s.indexOf('/'); i !== -1; i = s.indexOf('/', i + 1)) n++;
  return n;
}

/** Python's str.replace(old, '') (old may be empty: then nothing changes). */
function removeAll(s: string, old: string): string {
  if (old.length === 0) return s;
  return s.split(old).join('');
}

// Python 3.11 (the reference's) uses Unicode 14 case properties; Node's ICU is newer. Characters
// cased only in later Unicode versions are uncased for Python, and U+0295 was lowercase until
// Unicode 16. The exhaustive check in test/process-path.test.ts keeps this list complete.
const LOWER = /[\p{Lowercase}\u0295]/u;
const UPPER_OR_TITLE = /[\p{Uppercase}\p{Lt}]/u;
const UNCASED_IN_UNICODE_14 =
  /[\u10fc\u1c89\u1c8a\ua7cb-\ua7cf\ua7d2\ua7d4\ua7da-\ua7dc\ua7f1-\ua7f4\uab69\u{10d50}-\u{10d65}\u{10d70}-\u{10d85}\u{16ea0}-\u{16eb8}\u{16ebb}-\u{16ed3}\u{1df25}-\u{1df2a}\u{1e030}-\u{1e06d}]/gu;

/** Python's str.islower(): at least one cased character, and none upper- or title-case. */
export function pyIsLower(s: string): boolean {
  // ASCII fast path.
  let sawLower = false;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) {
      ascii = false;
      break;
    }
    if (c >= 65 && c <= 90) return false;
    if (c >= 97 && c <= 122) sawLower = true;
  }
  if (ascii) return sawLower;
  const t = s.replace(UNCASED_IN_UNICODE_14, '');
  if (UPPER_OR_TITLE.test(t)) return false;
  return LOWER.test(t);
}

const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
const USES_PARAMS = new Set(['', 'ftp', 'hdl', 'prospero', 'http', 'imap', 'https', 'shttp', 'rtsp', 'rtspu', 'sip', 'sips', 'mms', 'sftp', 'tel']);
// CPython 3.11 strips leading C0 controls and spaces, and removes tab, CR and LF anywhere.
const LEADING_C0 = /^[\u0000-\u0020]+/;
const UNSAFE = /[\t\r\n]/g;

/** `urllib.parse.urlparse(url).path` (CPython 3.11, allow_fragments=True, scheme=''). */
export function pyUrlPath(input: string): string {
  let url = input.replace(LEADING_C0, '').replace(UNSAFE, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0) {
    const candidate = url.slice(0, colon);
    if (SCHEME_CHARS.test(candidate)) {
      scheme = candidate.toLowerCase();
      url = url.slice(colon + 1);
    }
  }
  if (url.startsWith('//')) {
    // netloc runs to the first '/', '?' or '#'.
    let delim = url.length;
    for (const c of ['/', '?', '#']) {
      const w = url.indexOf(c, 2);
      if (w >= 0 && w < delim) delim = w;
    }
    url = url.slice(delim);
  }
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  const q = url.indexOf('?');
  if (q >= 0) url = url.slice(0, q);
  if (USES_PARAMS.has(scheme) && url.includes(';')) {
    // _splitparams: the ';' after the last '/' (or the first ';' when there is no '/').
    let i: number;
    if (url.includes('/')) {
      i = url.indexOf(';', url.lastIndexOf('/'));
      if (i < 0) return url;
    } else {
      i = url.indexOf(';');
    }
    url = url.slice(0, i);
  }
  return url;
}

/** posixpath.dirname. */
export function pyDirname(p: string): string {
  const i = p.lastIndexOf('/') + 1;
  let head = p.slice(0, i);
  if (head.length > 0 && head !== '/'.repeat(head.length)) head = head.replace(/\/+$/, '');
  return head;
}

/** The reference's process_path. */
export function processPath(input: string): string {
  let p = input;
  const open = p.indexOf('(');
  const close = p.indexOf(')');
  if (open >= 0 && close >= 0) {
    const between = close > open + 1 ? p.slice(open + 1, close) : '';
    const before = p.slice(0, open);
    const lb = pyLen(between);
    const la = pyLen(before);
    // max()/min() with key=len return the first of equals: `between`.
    const longer = la > lb ? before : between;
    if (countSlashes(p) > PATH_LENGTH) {
      const shorter = la < lb ? before : between;
      p = removeAll(longer, shorter);
    } else {
      p = longer;
    }
  } else if (countSlashes(p) > PATH_LENGTH) {
    p = pyDirname(pyUrlPath(p));
  }
  const cut = p.lastIndexOf('/');
  const last = p.slice(cut + 1);
  if (pyIsLower(last)) {
    return p.slice(0, cut + 1) + last.replace(/[0-9]/g, '');
  }
  return cut < 0 ? '' : p.slice(0, cut);
}
