/**
 * Reading strace's argument syntax: splitting an argument list at its top-level commas,
 * decoding C string literals, and turning `-yy` fd annotations into sysdig's notation.
 *
 * Pure functions over strings, total on any input: malformed text yields a best-effort
 * result, never an exception (the converter is fed whatever strace, or a truncated file,
 * produces).
 */

/** Result of {@link splitArgs}: the top-level arguments and where the list ended. */
export interface SplitArgs {
  /** Arguments as written, trimmed (`"a\"b"`, `{st_mode=…}`, `3</etc/passwd>`, `0x7f…`). */
  args: string[];
  /** Index just after the `)` closing the list, or -1 when the text ended first. */
  end: number;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/**
 * Splits the text after a syscall's `(` into its arguments, up to the matching `)`.
 * Quotes (with backslash escapes), (), [], {} and the `<…>` of `-y` fd annotations nest; a
 * `>` outside an annotation (as in clone3's `=>`) is plain text.
 */
export function splitArgs(text: string, from = 0): SplitArgs {
  const args: string[] = [];
  const stack: string[] = [];
  let start = from;
  let i = from;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (stack.length > 0 && stack[stack.length - 1] === '>') {
      // Inside an fd annotation: only its end matters (paths may hold brackets and commas).
      if (c === '>' && isAnnotationEnd(text, i + 1)) stack.pop();
      i++;
      continue;
    }
    const close = OPEN[c];
    if (close !== undefined) {
      stack.push(close);
    } else if (c === '<' && i > 0 && isAnnotationStart(text, i)) {
      stack.push('>');
    } else if (c === ')' || c === ']' || c === '}') {
      if (stack.length === 0) {
        if (c === ')') {
          pushArg(args, text.slice(start, i));
          return { args, end: i + 1 };
        }
      } else if (stack[stack.length - 1] === c) {
        stack.pop();
      }
    } else if (c === ',' && stack.length === 0) {
      pushArg(args, text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  pushArg(args, text.slice(start, n));
  return { args, end: -1 };
}

function pushArg(args: string[], raw: string): void {
  const t = raw.trim();
  if (t.length > 0 || args.length > 0) args.push(t);
}

/** `3<`, `AT_FDCWD<`, `-100<`: a `-y` annotation follows an fd number or AT_FDCWD. */
function isAnnotationStart(text: string, i: number): boolean {
  const p = text.charCodeAt(i - 1);
  if (p >= 48 && p <= 57) return true; // digit
  return i >= 8 && text.startsWith('AT_FDCWD', i - 8);
}

/** The `>` closing an annotation is followed by the end, a separator or another bracket. */
function isAnnotationEnd(text: string, j: number): boolean {
  if (j >= text.length) return true;
  const c = text[j];
  return c === ',' || c === ')' || c === ']' || c === '}' || c === ' ' || c === '\t' || c === '>';
}

/**
 * Decodes a C string literal as strace prints it (`"a\nb\x01\303\251"`, possibly followed by
 * `...` when truncated by -s) into bytes. Text that is not a literal is returned as its UTF-8
 * bytes.
 */
export function decodeCString(lit: string): Buffer {
  let s = lit.trim();
  if (s.endsWith('...')) s = s.slice(0, -3);
  if (!(s.length >= 2 && s.startsWith('"') && s.endsWith('"'))) {
    if (s.startsWith('"')) s = s.slice(1);
    else return Buffer.from(s, 'utf8');
  } else {
    s = s.slice(1, -1);
  }
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 92 /* \ */ || i + 1 >= s.length) {
      if (c < 0x80) out.push(c);
      else for (const b of Buffer.from(s[i], 'utf8')) out.push(b);
      continue;
    }
    const e = s[++i];
    switch (e) {
      case 'n':
        out.push(10);
        break;
      case 't':
        out.push(9);
        break;
      case 'r':
        out.push(13);
        break;
      case 'v':
        out.push(11);
        break;
      case 'f':
        out.push(12);
        break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1, i + 3));
        if (m) {
          out.push(parseInt(m[0], 16));
          i += m[0].length;
        } else out.push(120);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          const m = /^[0-7]{1,3}/.exec(s.slice(i, i + 3))!;
          out.push(parseInt(m[0], 8) & 0xff);
          i += m[0].length - 1;
        } else {
          out.push(e.charCodeAt(0) & 0xff);
        }
    }
  }
  return Buffer.from(out);
}

/**
 * Makes any text safe as one whitespace-free `.sc` token: whitespace, control characters and
 * backslashes become `\xHH` (so `a b` reads `a\x20b`), everything else stays as it is.
 */
export function tokenSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\s\\\x00-\x1f\x7f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A string argument (literal or not) as one `.sc` token: decoded, then made token-safe. */
export function stringValue(arg: string | undefined): string {
  if (arg === undefined) return '';
  const t = arg.trim();
  if (t.startsWith('"')) return tokenSafe(decodeCString(t).toString('utf8'));
  return plainValue(t);
}

/** A non-string argument as one token: its first word (`0x7ff… /* 39 vars *\/` → `0x7ff…`). */
export function plainValue(arg: string | undefined): string {
  if (arg === undefined) return '';
  const t = arg.trim();
  const m = /^\S*/.exec(t);
  return tokenSafe(m ? m[0] : t);
}

/** Splits `3</etc/passwd>` into the number text and the annotation, or null without one. */
export function splitFd(arg: string): { num: string; note: string } | null {
  const t = arg.trim();
  const lt = t.indexOf('<');
  if (lt <= 0 || !t.endsWith('>')) return null;
  const num = t.slice(0, lt);
  if (!/^(-?\d+|AT_FDCWD)$/.test(num)) return null;
  return { num: num === 'AT_FDCWD' ? '-100' : num, note: t.slice(lt + 1, -1) };
}

const SOCKET_NOTE = /^(TCP|UDP|TCPv6|UDPv6|UNIX|UNIX-STREAM|UNIX-DGRAM|NETLINK|UDPLITE|RAW|RAWv6|PING|PINGv6):\[(.*)\]$/;

/**
 * A `-y`/`-yy` fd annotation in sysdig's notation: `/etc/passwd` → `<f>/etc/passwd`,
 * `TCP:[127.0.0.1:80->127.0.0.1:4242]` → `<4t>127.0.0.1:80->127.0.0.1:4242`,
 * `pipe:[123]` → `<p>`, `anon_inode:[eventpoll]` → `<l>`, …
 */
export function fdNote(note: string): string {
  const m = SOCKET_NOTE.exec(note);
  if (m) {
    const kind = m[1];
    // An unconnected socket shows only its inode (`TCP:[368798]`): no address to give.
    const body = /^\d+$/.test(m[2]) ? '' : tokenSafe(m[2]);
    switch (kind) {
      case 'TCP':
        return `<4t>${body}`;
      case 'UDP':
      case 'UDPLITE':
        return `<4u>${body}`;
      case 'TCPv6':
        return `<6t>${body}`;
      case 'UDPv6':
        return `<6u>${body}`;
      case 'NETLINK':
        return `<n>`;
      case 'RAW':
      case 'PING':
        return `<4r>${body}`;
      case 'RAWv6':
      case 'PINGv6':
        return `<6r>${body}`;
      default: {
        // UNIX:[inode,path] or UNIX-STREAM:[inode->peer,path]: keep the path, if any.
        const comma = m[2].indexOf(',');
        return `<u>${comma >= 0 ? tokenSafe(m[2].slice(comma + 1)) : ''}`;
      }
    }
  }
  if (note.startsWith('pipe:')) return '<p>';
  if (note.startsWith('socket:')) return '<u>';
  if (note.startsWith('anon_inode:')) {
    const what = note.slice('anon_inode:'.length);
    if (what.includes('eventpoll')) return '<l>';
    if (what.includes('eventfd')) return '<e>';
    if (what.includes('signalfd')) return '<s>';
    if (what.includes('timerfd')) return '<t>';
    if (what.includes('inotify')) return '<i>';
    if (what.includes('bpf')) return '<b>';
    return '<o>';
  }
  // -yy adds the device numbers of device files: `/dev/null<char 1:3>`.
  return `<f>${tokenSafe(unescapePath(note.replace(/<(char|block) \d+:\d+>$/, '')))}`;
}

/**
 * A socket address as sysdig writes it: `{sa_family=AF_INET, sin_port=htons(80),
 * sin_addr=inet_addr("127.0.0.1")}` → `127.0.0.1:80`, AF_INET6 → `::1:80`, AF_UNIX → its path
 * (or `@name` for an abstract one); anything else → its family.
 */
export function sockaddrValue(arg: string | undefined): string {
  if (arg === undefined) return '';
  const t = arg.trim();
  const port = /sin6?_port=htons\((\d+)\)/.exec(t)?.[1];
  const v4 = /inet_addr\("([^"]*)"\)/.exec(t)?.[1];
  if (v4 !== undefined) return tokenSafe(`${v4}:${port ?? 0}`);
  const v6 = /inet_pton\(AF_INET6, "([^"]*)"/.exec(t)?.[1];
  if (v6 !== undefined) return tokenSafe(`${v6}:${port ?? 0}`);
  const un = /sun_path=(@?"(?:[^"\\]|\\.)*")/.exec(t)?.[1];
  if (un !== undefined) return (un.startsWith('@') ? '@' : '') + stringValue(un.replace(/^@/, ''));
  const fam = /sa_family=(\w+)/.exec(t)?.[1];
  return fam ?? plainValue(t);
}

/** strace escapes special bytes of annotated paths as \xHH (and \\, \<, \>): undo that. */
function unescapePath(p: string): string {
  if (!p.includes('\\')) return p;
  return decodeCString(`"${p}"`).toString('utf8');
}

/** An fd argument as sysdig prints it: `3</etc/passwd>` → `3(<f>/etc/passwd)`, `3` → `3`. */
export function fdValue(arg: string | undefined): string {
  if (arg === undefined) return '';
  const fd = splitFd(arg);
  if (fd === null) return plainValue(arg);
  return `${fd.num}(${fdNote(fd.note)})`;
}

/** The path an fd annotation names, when it is a file (`3</etc/passwd>` → `/etc/passwd`). */
export function fdPath(arg: string | undefined): string | null {
  if (arg === undefined) return null;
  const fd = splitFd(arg);
  if (fd === null) return null;
  const v = fdNote(fd.note);
  return v.startsWith('<f>') ? v.slice(3) : null;
}

/** Decodes a strace string array (`["sh", "-c", "…"]`, possibly with `...` at the end). */
export function stringArray(arg: string | undefined): Buffer[] {
  if (arg === undefined) return [];
  const t = arg.trim();
  if (!t.startsWith('[')) return [];
  const inner = splitArgs(t.slice(1).replace(/\]$/, '') + ')').args;
  return inner.filter((a) => a.startsWith('"')).map(decodeCString);
}
