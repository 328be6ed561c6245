// A minimal Redis (RESP2) client: one connection, commands answered in order. No dependencies,
// so the victim app and the load generators run with a bare `node`.
import net from 'node:net';

export class RedisError extends Error {}

export class Resp {
  constructor(host = '127.0.0.1', port = 6379, timeoutMs = 3000) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.sock = null;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
  }

  connect() {
    if (this.sock) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host: this.host, port: this.port });
      const fail = (err) => {
        this.sock = null;
        for (const w of this.waiting.splice(0)) w.reject(err);
        reject(err);
      };
      s.once('connect', () => {
        s.removeListener('error', fail);
        s.on('error', (err) => {
          for (const w of this.waiting.splice(0)) w.reject(err);
        });
        s.on('close', () => {
          this.sock = null;
          for (const w of this.waiting.splice(0)) w.reject(new Error('redis connection closed'));
        });
        resolve();
      });
      s.once('error', fail);
      s.on('data', (d) => this.onData(d));
      s.setTimeout(this.timeoutMs * 10, () => s.destroy(new Error('redis idle timeout')));
      this.sock = s;
    });
  }

  async call(...args) {
    await this.connect();
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(`$${b.length}\r\n`, b, '\r\n');
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis ${args[0]} timed out`)), this.timeoutMs);
      this.waiting.push({
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      for (const p of parts) this.sock.write(p);
    });
  }

  close() {
    this.sock?.end();
    this.sock = null;
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const r = parse(this.buf, 0);
      if (r === null) return;
      this.buf = this.buf.subarray(r.end);
      const w = this.waiting.shift();
      if (!w) continue;
      if (r.value instanceof RedisError) w.reject(r.value);
      else w.resolve(r.value);
    }
  }
}

/** Parses one reply at `pos`; null when incomplete. */
function parse(buf, pos) {
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p);
        if (r === null) return null;
        items.push(r.value);
        p = r.end;
      }
      return { value: items, end: p };
    }
    default:
      return { value: new RedisError(`bad reply type ${type}`), end: next };
  }
}
