// Normal users of the web victim: a seeded mix of browsing, searching, logging in (and
// sometimes failing to), uploading allowed files, commenting, running the diagnostics page
// on legitimate hosts, and hitting missing pages. Runs in the sandbox's network namespace.
//
//   node web-client.mjs --seed N --until EPOCH_MS [--users K] [--think MS] [--go-on-stdin]
//
// Prints READY on stdout once the shop answers (nginx → app → sqlite3 and redis), then sends
// traffic until --until or SIGTERM, and prints a summary on stderr.
//
// --go-on-stdin (replicas of one victim, each with its own client and the same seed): after
// READY, wait for a line on stdin holding the epoch ms at which to start, and keep each user's
// actions on a schedule from that start (think times added to the planned time, not to the end
// of the last response), so that every replica receives the same requests at about the same
// moments instead of drifting apart as their response times differ.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs, rng, sleep } from '../common/rng.mjs';

const args = parseArgs(process.argv.slice(2));
const seed = Number(args.seed ?? 1);
const until = Number(args.until ?? Date.now() + 10_000);
const readyTimeout = Number(args['ready-timeout'] ?? 30_000);
const BASE = { host: '127.0.0.1', port: Number(args.port ?? 8080) };
const R = rng(seed);
const USERS = JSON.parse(readFileSync(new URL('../web/users.json', import.meta.url), 'utf8')).filter((u) => u.name !== 'mallory');
const NUSERS = Number(args.users ?? R.int(2, 4));
const THINK = Number(args.think ?? R.int(600, 1100));
const PACED = args['go-on-stdin'] !== undefined;

let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));

const stats = { requests: 0, errors: 0, byStatus: {} };
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
// Our own User-Agent, so that the victim's access log tells normal requests from the
// attacker's (the lab counts the attack requests that reached the victim in the window).
const USER_AGENT = 'chids-lab-client/1';

function request(method, path, { body, headers = {}, cookie, keepAlive = true } = {}) {
  return new Promise((resolve) => {
    const h = { 'User-Agent': USER_AGENT, ...headers };
    if (cookie) h.Cookie = cookie;
    if (body) h['Content-Length'] = Buffer.byteLength(body);
    const req = http.request({ ...BASE, method, path, headers: h, agent: keepAlive ? agent : false, timeout: 8000 }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        stats.requests++;
        stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] ?? 0) + 1;
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString('utf8') });
      });
      res.on('error', () => resolve({ status: 0, headers: {}, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      stats.errors++;
      resolve({ status: 0, headers: {}, body: '' });
    });
    if (body) req.write(body);
    req.end();
  });
}

const SEARCHES = ['coffee', 'tea', 'mug', 'grinder', 'press', 'green', 'Ethiopia', 'kettle', 'milk', 'bottle', 'chai', 'filter', 'scale', 'espresso', 'cup', 'iron', 'roast', 'xyz', 'blue mug', 'decaf', 'gift card', '', 'tea infuser', 'moka'];
const ODD_SEARCHES = ["o'clock", "grandma's tea", '100%', 'café', 'mug"', '<b>tea</b>'];
const PAGES = ['/', '/', '/search?q=', '/login', '/diag', '/api/products', '/api/stats', '/robots.txt', '/favicon.ico'];
const STATIC = ['/static/style.css', '/static/app.js', '/static/img/logo.svg', '/static/img/product-1.svg', '/static/img/product-2.svg', '/static/img/product-3.svg', '/static/img/product-4.svg', '/static/img/product-5.svg', '/static/img/product-6.svg'];
const MISSING = ['/admin', '/wp-login.php', '/static/img/product-9.svg', '/old/index.html', '/products', '/api/users', '/.well-known/security.txt', '/cart', '/static/print.css'];
const PING_HOSTS = ['127.0.0.1', '127.0.0.1', 'localhost', '::1', 'no-such-host.invalid', '127.0.0.2'];
const COMMENTS = ['Great quality!', 'Arrived quickly.', 'A bit pricey but worth it.', 'My favourite.', 'Would buy again', 'The colour is lovely', 'Not what I expected.', 'Perfect gift.'];
const UPLOADS = [
  ['notes.txt', 'text/plain', (R) => `Shopping list ${R.int(1, 99)}\n- beans\n- filters\n`],
  ['order.csv', 'text/csv', (R) => `item,qty\nbeans,${R.int(1, 5)}\nfilters,${R.int(1, 3)}\n`],
  ['receipt.txt', 'text/plain', (R) => `Receipt #${R.int(1000, 9999)}\nTotal: ${R.int(5, 80)} EUR\n`],
  ['avatar.svg', 'image/svg+xml', (R) => `<svg xmlns="http://www.w3.org/2000/svg"><circle r="${R.int(5, 30)}"/></svg>`],
  ['wishlist.txt', 'text/plain', (R) => 'teapot\nmoka pot\n'],
  ['photo.png', 'image/png', (R) => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(R.int(64, 512), R.int(0, 255))]).toString('latin1')],
];

function multipart(R, filename, type, content) {
  const boundary = `----chids${R.int(100000, 999999)}`;
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${content}\r\n--${boundary}--\r\n`;
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

/** One virtual user: a loop of actions with think time, until the deadline. */
async function user(idx, startMs) {
  // Each user has its own sequence, so the mix does not depend on how requests interleave.
  // Paced (replicas): each action draws from its own generator, (seed, user, action number), so
  // that one slow or failed response (a login without its cookie, which then logs in again and
  // draws more) changes that action only, not every later one: the replicas stay in step.
  const base = (seed * 7919 + idx) >>> 0;
  let R = rng(base);
  const me = USERS[(idx + seed) % USERS.length];
  let cookie = null;
  const login = async () => {
    const wrong = R.chance(0.15);
    const body = `user=${encodeURIComponent(me.name)}&pass=${encodeURIComponent(wrong ? me.password.slice(0, -1) : me.password)}`;
    const r = await request('POST', '/login', { body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    const set = r.headers['set-cookie']?.[0];
    if (r.status === 302 && set) cookie = set.split(';')[0];
  };
  const actions = {
    home: 14,
    page: 8,
    static: 10,
    product: 14,
    search: 16,
    oddSearch: 1.5,
    login: 5,
    account: 7,
    upload: 4,
    viewUpload: 4,
    comment: 4,
    ping: 4,
    status: 3,
    missing: 3,
    badProduct: 1.5,
    logout: 2,
  };
  let due = startMs;
  for (let i = 0; i < 100_000 && !stopping && Date.now() < until; i++) {
    if (PACED) R = rng((Math.imul(base, 1_000_003) + i) >>> 0);
    const a = R.weighted(actions);
    switch (a) {
      case 'home':
        await request('GET', '/', { cookie });
        for (const s of STATIC.slice(0, R.int(0, 3))) await request('GET', s);
        break;
      case 'page':
        await request('GET', R.pick(PAGES), { cookie });
        break;
      case 'static':
        await request('GET', R.pick(STATIC), { keepAlive: R.chance(0.7) });
        break;
      case 'product':
        await request('GET', `/product?id=${R.int(1, 20)}`, { cookie });
        break;
      case 'search':
        await request('GET', `/search?q=${encodeURIComponent(R.pick(SEARCHES))}`, { cookie });
        break;
      case 'oddSearch':
        await request('GET', `/search?q=${encodeURIComponent(R.pick(ODD_SEARCHES))}`, { cookie });
        break;
      case 'login':
        await request('GET', '/login');
        await login();
        break;
      case 'account':
        if (!cookie) await login();
        await request('GET', '/account', { cookie });
        break;
      case 'upload': {
        if (!cookie) await login();
        if (!cookie) break;
        const [name, type, make] = R.pick(UPLOADS);
        const m = multipart(R, name, type, make(R));
        await request('POST', '/upload', { body: m.body, headers: { 'Content-Type': m.type }, cookie });
        break;
      }
      case 'viewUpload': {
        const [name] = R.pick(UPLOADS);
        await request('GET', `/uploads/${me.name}/${name}`, { cookie });
        break;
      }
      case 'comment':
        if (!cookie) await login();
        if (!cookie) break;
        await request('POST', '/comment', {
          body: `product_id=${R.int(1, 20)}&body=${encodeURIComponent(R.pick(COMMENTS))}`,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          cookie,
        });
        break;
      case 'ping':
        await request('GET', `/diag/ping?host=${encodeURIComponent(R.pick(PING_HOSTS))}`, { cookie });
        break;
      case 'status':
        await request('GET', '/cgi-bin/status.cgi');
        break;
      case 'missing':
        await request('GET', R.pick(MISSING));
        break;
      case 'badProduct':
        await request('GET', R.pick(['/product?id=999', '/product?id=abc', '/product?id=-1']));
        break;
      case 'logout':
        if (cookie) await request('GET', '/logout', { cookie });
        cookie = null;
        break;
    }
    const think = Math.min(R.exp(THINK), 3000);
    due += think;
    await sleep(Math.min(PACED ? due - Date.now() : think, until - Date.now()));
  }
}

async function waitReady() {
  const deadline = Date.now() + readyTimeout;
  for (let i = 0; i < 1000 && Date.now() < deadline && !stopping; i++) {
    const r = await request('GET', '/api/stats', { keepAlive: false });
    if (r.status === 200) return true;
    await sleep(200);
  }
  return false;
}

if (!(await waitReady())) {
  process.stderr.write('web-client: the shop did not become ready\n');
  process.exit(3);
}
stats.requests = 0;
stats.byStatus = {};
process.stdout.write('READY\n');
let start = Date.now();
if (PACED) {
  start = await new Promise((resolve) => {
    let buf = '';
    process.stdin.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\n')) resolve(Number(buf.split('\n')[0]));
    });
    process.stdin.on('end', () => resolve(Date.now()));
  });
  process.stdin.pause();
  await sleep(start - Date.now());
}
await Promise.all(
  Array.from({ length: NUSERS }, () => R.int(0, 400)).map((stagger, i) => sleep(start + stagger - Date.now()).then(() => user(i, start + stagger))),
);
agent.destroy();
process.stderr.write(`web-client: ${JSON.stringify({ users: NUSERS, think_ms: THINK, ...stats })}\n`);
