// "Chids Shop": the web victim of the chids lab. A small Node.js shop behind nginx, backed by
// SQLite (the Debian `sqlite3` CLI, spawned per query) with sessions and a cache in Redis.
//
// DELIBERATELY VULNERABLE, for recording attacks in a namespace sandbox only:
//   - /search concatenates the query into SQL                       (CWE-89, SQL injection)
//   - /login has no rate limit or lockout                          (CWE-307, brute force)
//   - /upload stores any file type in the web root, and the CGI handler runs *.cgi/*.sh files
//     found under /uploads/                                          (CWE-434, unrestricted upload)
//   - /diag/ping passes the host to a shell                          (CWE-78, OS command injection)
//
// Its normal work spawns processes (sqlite3, ping, sha256sum, the status CGI script), reads
// templates and static files from disk on every request, writes logs and uploads, and answers
// errors (404, bad logins, bad input).
import { spawn, exec } from 'node:child_process';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Resp } from './resp.mjs';

const ROOT = process.env.APP_ROOT ?? '/srv/app';
const PORT = Number(process.env.APP_PORT ?? 3000);
const REDIS_PORT = Number(process.env.REDIS_PORT ?? 6379);
const DB = path.join(ROOT, 'data', 'shop.db');
const VIEWS = path.join(ROOT, 'views');
const UPLOADS = path.join(ROOT, 'uploads');
const LOGS = path.join(ROOT, 'logs');
const MAX_BODY = 2 * 1024 * 1024;
const CHILD_TIMEOUT_MS = 5000;

const redis = new Resp('127.0.0.1', REDIS_PORT);

// ---- helpers -------------------------------------------------------------------------------

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** Reads a template from disk (every time: the app has no template cache) and fills it in. */
function render(name, vars = {}) {
  const layout = fs.readFileSync(path.join(VIEWS, 'layout.html'), 'utf8');
  const body = fs.readFileSync(path.join(VIEWS, `${name}.html`), 'utf8');
  const fill = (t) =>
    t.replace(/\{\{\{(\w+)\}\}\}/g, (_m, k) => String(vars[k] ?? '')).replace(/\{\{(\w+)\}\}/g, (_m, k) => esc(vars[k]));
  return fill(layout).replace('<!--BODY-->', fill(body));
}

function send(res, status, body, type = 'text/html; charset=utf-8', headers = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function redirect(res, to, headers = {}) {
  res.writeHead(302, { Location: to, 'Content-Length': 0, ...headers });
  res.end();
}

function log(file, line) {
  fs.appendFile(path.join(LOGS, file), `${new Date().toISOString()} ${line}\n`, () => undefined);
}

/** Runs a program with a deadline; resolves with its output (never rejects). */
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const out = [];
    const err = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout: '', stderr: String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** One SQL statement through the sqlite3 CLI; rows as objects. Throws with sqlite's message. */
async function sql(query) {
  const r = await run('sqlite3', ['-json', '-bail', DB, query]);
  if (r.code !== 0) throw new Error(r.stderr.trim() || `sqlite3 exited with ${r.code}`);
  const text = r.stdout.trim();
  return text ? JSON.parse(text) : [];
}

/** Quotes a value for SQL (used everywhere but /search). */
function q(v) {
  return `'${String(v).replace(/'/g, "''")}'`;
}

function hashPassword(pw, salt) {
  return pbkdf2Sync(pw, salt, 2000, 32, 'sha256').toString('hex');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    req.on('data', (d) => {
      n += d.length;
      if (n > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function currentUser(req) {
  const sid = cookies(req).sid;
  if (!sid || !/^[0-9a-f]{32}$/.test(sid)) return null;
  try {
    return await redis.call('GET', `sess:${sid}`);
  } catch {
    return null;
  }
}

/** Parses multipart/form-data into { fields, files: [{ name, filename, data }] }. */
function multipart(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType ?? '');
  if (!m) throw new Error('no multipart boundary');
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const fields = {};
  const files = [];
  let pos = body.indexOf(boundary);
  for (let guard = 0; pos >= 0 && guard < 100; guard++) {
    const start = pos + boundary.length + 2;
    const next = body.indexOf(boundary, start);
    if (next < 0) break;
    const part = body.subarray(start, next - 2);
    const hdrEnd = part.indexOf('\r\n\r\n');
    if (hdrEnd >= 0) {
      const head = part.subarray(0, hdrEnd).toString('utf8');
      const data = part.subarray(hdrEnd + 4);
      const name = /name="([^"]*)"/.exec(head)?.[1];
      const filename = /filename="([^"]*)"/.exec(head)?.[1];
      if (filename !== undefined) files.push({ name, filename, data });
      else if (name) fields[name] = data.toString('utf8');
    }
    pos = next;
  }
  return { fields, files };
}

const TYPES = { '.txt': 'text/plain', '.csv': 'text/csv', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json', '.html': 'text/html' };

/** The "legacy CGI" handler: runs a script with /bin/sh and relays its output. */
async function cgi(res, script, query) {
  const r = await run('/bin/sh', [script], {
    cwd: path.dirname(script),
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', QUERY_STRING: query, GATEWAY_INTERFACE: 'CGI/1.1', SCRIPT_FILENAME: script },
  });
  const text = r.stdout;
  const split = text.indexOf('\n\n');
  const body = split >= 0 ? text.slice(split + 2) : text;
  const type = split >= 0 ? /content-type:\s*([^\n]+)/i.exec(text.slice(0, split))?.[1] ?? 'text/plain' : 'text/plain';
  send(res, r.code === 0 ? 200 : 500, body, type.trim());
}

// ---- routes --------------------------------------------------------------------------------

async function home(req, res) {
  let hits = 0;
  try {
    hits = await redis.call('INCR', 'stats:hits');
  } catch {
    /* the cache is optional */
  }
  const rows = await sql('SELECT id, name, price FROM products ORDER BY id LIMIT 6');
  const list = rows.map((p) => `<li><a href="/product?id=${p.id}">${esc(p.name)}</a> — ${esc(p.price)} €</li>`).join('');
  const user = await currentUser(req);
  send(res, 200, render('home', { title: 'Chids Shop', greeting: user ? `, ${user}` : '', products: list, hits }));
}

async function loginPost(req, res) {
  const form = new URLSearchParams((await readBody(req)).toString('utf8'));
  const user = form.get('user') ?? '';
  const pass = form.get('pass') ?? '';
  const rows = await sql(`SELECT name, salt, hash FROM users WHERE name = ${q(user)}`);
  const row = rows[0];
  if (!row || hashPassword(pass, row.salt) !== row.hash) {
    log('auth.log', `FAIL user=${JSON.stringify(user)} from=${req.headers['x-real-ip'] ?? '-'}`);
    send(res, 200, render('login', { title: 'Log in', error: 'Invalid username or password.' }));
    return;
  }
  const sid = randomBytes(16).toString('hex');
  await redis.call('SETEX', `sess:${sid}`, 900, row.name);
  log('auth.log', `OK user=${row.name}`);
  redirect(res, '/account', { 'Set-Cookie': `sid=${sid}; HttpOnly; Path=/` });
}

async function logout(req, res) {
  const sid = cookies(req).sid;
  if (sid) await redis.call('DEL', `sess:${sid}`).catch(() => 0);
  redirect(res, '/', { 'Set-Cookie': 'sid=; Max-Age=0; Path=/' });
}

async function account(req, res) {
  const user = await currentUser(req);
  if (!user) return redirect(res, '/login');
  const dir = path.join(UPLOADS, user);
  let files = [];
  try {
    files = fs.readdirSync(dir).filter((f) => !f.startsWith('.'));
  } catch {
    /* no uploads yet */
  }
  const list = files.map((f) => `<li><a href="/uploads/${encodeURIComponent(user)}/${encodeURIComponent(f)}">${esc(f)}</a></li>`).join('');
  const comments = await sql(`SELECT product_id, body FROM comments WHERE author = ${q(user)} ORDER BY id DESC LIMIT 5`);
  const clist = comments.map((c) => `<li>#${c.product_id}: ${esc(c.body)}</li>`).join('');
  send(res, 200, render('account', { title: 'Your account', user, files: list, comments: clist }));
}

async function search(req, res, url) {
  const term = url.searchParams.get('q') ?? '';
  const key = `cache:search:${createHash('sha1').update(term).digest('hex')}`;
  let cached = null;
  try {
    cached = await redis.call('GET', key);
  } catch {
    /* no cache */
  }
  let body;
  if (cached !== null) {
    body = cached;
  } else {
    try {
      // VULNERABLE (CWE-89): the term goes into the SQL text as it is.
      const rows = await sql(`SELECT id, name, price FROM products WHERE name LIKE '%${term}%' OR description LIKE '%${term}%' ORDER BY name LIMIT 20`);
      body = rows.length
        ? `<ul>${rows.map((p) => `<li><a href="/product?id=${esc(p.id)}">${esc(p.name)}</a> — ${esc(p.price)} €</li>`).join('')}</ul>`
        : '<p>No products found.</p>';
      await redis.call('SETEX', key, 30, body).catch(() => 0);
    } catch (err) {
      log('app.log', `search error: ${err.message}`);
      send(res, 500, render('error', { title: 'Error', message: `Search failed: ${err.message}` }));
      return;
    }
  }
  send(res, 200, render('search', { title: 'Search', q: term, results: body }));
}

async function product(req, res, url) {
  const id = Number(url.searchParams.get('id'));
  if (!Number.isInteger(id) || id <= 0) return send(res, 400, render('error', { title: 'Bad request', message: 'Invalid product id.' }));
  const rows = await sql(`SELECT id, name, price, description FROM products WHERE id = ${id}`);
  if (!rows.length) return notFound(req, res);
  const comments = await sql(`SELECT author, body FROM comments WHERE product_id = ${id} ORDER BY id DESC LIMIT 10`);
  const list = comments.map((c) => `<li><b>${esc(c.author)}</b>: ${esc(c.body)}</li>`).join('');
  send(res, 200, render('product', { title: rows[0].name, ...rows[0], comments: list, user: await currentUser(req) }));
}

async function comment(req, res) {
  const user = await currentUser(req);
  if (!user) return redirect(res, '/login');
  const form = new URLSearchParams((await readBody(req)).toString('utf8'));
  const id = Number(form.get('product_id'));
  const text = (form.get('body') ?? '').slice(0, 500);
  if (!Number.isInteger(id) || !text) return send(res, 400, render('error', { title: 'Bad request', message: 'Empty comment.' }));
  await sql(`INSERT INTO comments (product_id, author, body) VALUES (${id}, ${q(user)}, ${q(text)})`);
  redirect(res, `/product?id=${id}`);
}

async function upload(req, res) {
  const user = await currentUser(req);
  if (!user) return redirect(res, '/login');
  const { files } = multipart(await readBody(req), req.headers['content-type']);
  const file = files[0];
  if (!file || !file.filename) return send(res, 400, render('error', { title: 'Bad request', message: 'No file.' }));
  // VULNERABLE (CWE-434): any name and type is accepted, into a directory the CGI handler serves.
  const name = path.basename(file.filename);
  const dir = path.join(UPLOADS, user);
  fs.mkdirSync(dir, { recursive: true });
  const dest = path.join(dir, name);
  fs.writeFileSync(dest, file.data);
  const sum = await run('sha256sum', [dest]);
  fs.appendFileSync(path.join(dir, '.sums'), sum.stdout);
  log('app.log', `upload user=${user} file=${name} bytes=${file.data.length}`);
  redirect(res, '/account');
}

async function uploads(req, res, url) {
  const rel = decodeURIComponent(url.pathname.slice('/uploads/'.length));
  const file = path.join(UPLOADS, path.normalize(rel).replace(/^(\.\.(\/|$))+/, ''));
  if (!file.startsWith(UPLOADS + '/') || !fs.existsSync(file) || !fs.statSync(file).isFile()) return notFound(req, res);
  const ext = path.extname(file).toLowerCase();
  // VULNERABLE (CWE-434): the legacy CGI handler applies to the upload directory too.
  if (ext === '.cgi' || ext === '.sh') return cgi(res, file, url.search.slice(1));
  const data = fs.readFileSync(file);
  res.writeHead(200, { 'Content-Type': TYPES[ext] ?? 'application/octet-stream', 'Content-Length': data.length });
  res.end(data);
}

async function cgiBin(req, res, url) {
  const name = path.basename(url.pathname);
  const script = path.join(ROOT, 'cgi-bin', name);
  if (!fs.existsSync(script)) return notFound(req, res);
  return cgi(res, script, url.search.slice(1));
}

async function ping(req, res, url) {
  const host = url.searchParams.get('host') ?? '';
  if (!host) return send(res, 400, render('error', { title: 'Bad request', message: 'Give a host.' }));
  // VULNERABLE (CWE-78): the host goes to a shell.
  exec(`ping -c 1 -W 1 ${host}`, { timeout: CHILD_TIMEOUT_MS, env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }, (err, stdout, stderr) => {
    const out = `${stdout}${stderr}`;
    log('app.log', `ping host=${JSON.stringify(host)} ok=${!err}`);
    send(res, 200, render('diag', { title: 'Diagnostics', host, output: out || (err ? String(err.message) : '') }));
  });
}

async function apiProducts(req, res) {
  const rows = await sql('SELECT id, name, price FROM products ORDER BY id');
  send(res, 200, JSON.stringify(rows), 'application/json');
}

async function apiStats(req, res) {
  const [hits, dbsize] = await Promise.all([redis.call('GET', 'stats:hits'), redis.call('DBSIZE')]);
  send(res, 200, JSON.stringify({ hits: Number(hits ?? 0), keys: dbsize, uptime: process.uptime() }), 'application/json');
}

function notFound(req, res) {
  log('app.log', `404 ${req.url}`);
  send(res, 404, render('404', { title: 'Not found', path: req.url }));
}

const ROUTES = {
  'GET /': home,
  'GET /health': (req, res) => send(res, 200, 'ok\n', 'text/plain'),
  'GET /login': (req, res) => send(res, 200, render('login', { title: 'Log in', error: '' })),
  'POST /login': loginPost,
  'GET /logout': logout,
  'GET /account': account,
  'GET /search': search,
  'GET /product': product,
  'POST /comment': comment,
  'POST /upload': upload,
  'GET /diag': (req, res) => send(res, 200, render('diag', { title: 'Diagnostics', host: '', output: '' })),
  'GET /diag/ping': ping,
  'GET /api/products': apiProducts,
  'GET /api/stats': apiStats,
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = ROUTES[`${req.method} ${url.pathname}`];
  try {
    if (route) await route(req, res, url);
    else if (req.method === 'GET' && url.pathname.startsWith('/uploads/')) await uploads(req, res, url);
    else if (req.method === 'GET' && url.pathname.startsWith('/cgi-bin/')) await cgiBin(req, res, url);
    else notFound(req, res);
  } catch (err) {
    log('app.log', `error ${req.method} ${url.pathname}: ${err.message}`);
    if (!res.headersSent) send(res, 500, render('error', { title: 'Error', message: 'Internal error.' }));
    else res.destroy();
  }
});
server.keepAliveTimeout = 5000;
server.listen(PORT, '127.0.0.1', () => log('app.log', `listening on ${PORT}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
