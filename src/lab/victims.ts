/**
 * The lab's victims: what each one runs, how its `/srv` is staged before a recording, and
 * which client drives its normal traffic. The programs themselves live in the repository's
 * `lab/` directory (victim sources, configs, clients, attack payloads).
 */
import { pbkdf2Sync } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChidsError } from '../util/errors.js';
import { rng } from './rng.js';
import { runSync } from './sandbox.js';

export type VictimName = 'web' | 'redis';

export interface Victim {
  name: VictimName;
  description: string;
  /** Shown as the recording's `image` (LID-DS: the Docker image). */
  image: string;
  /** Programs it runs (checked before a recording). */
  programs: string[];
  /** Fills the recording's /srv (host directory `srv`). */
  stage(srv: string, seed: number): void;
  /** The load generator: a script of lab/clients and its arguments. */
  client(seed: number, untilMs: number): { script: string; args: string[] };
  /** Seconds of normal traffic before the recording starts (LID-DS: warm-up). */
  warmupSeconds: number;
  /**
   * After a recording (the victim stopped, `srv` still there): how many requests not from the
   * normal client the victim served between the two epoch times (seconds), i.e. the attack
   * traffic that reached it; undefined when the victim keeps no such log.
   */
  attackerRequests?(srv: string, fromSec: number, toSec: number): number;
}

/** The web client's User-Agent (lab/clients/web-client.mjs); any other one is the attacker. */
export const WEB_CLIENT_AGENT = 'chids-lab-client/1';

/**
 * Counts nginx access-log lines (lab/web/nginx.conf's `chids` format: `$msec $status
 * "$request" "$http_user_agent"`) in [fromSec, toSec] whose agent is not the normal client's.
 */
export function countAttackerRequests(log: string, fromSec: number, toSec: number): number {
  let n = 0;
  for (const line of log.split('\n')) {
    const m = /^(\d+\.\d+) \d+ ".*" "(.*)"$/.exec(line);
    if (!m) continue;
    const t = Number(m[1]);
    if (t >= fromSec && t <= toSec && m[2] !== WEB_CLIENT_AGENT) n++;
  }
  return n;
}

/** The repository's `lab/` directory (works from src/ with tsx and from dist/). */
export function labDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = path.join(dir, 'lab');
    if (existsSync(path.join(cand, 'web', 'app.mjs'))) return cand;
    dir = path.dirname(dir);
  }
  throw new ChidsError("lab: cannot find the lab's files (lab/web/app.mjs) next to the chids sources");
}

/** uid and gid of a system user, from /etc/passwd. */
export function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new ChidsError(`lab: the system user '${name}' does not exist (it comes with Debian's base-passwd)`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  const ls = runSync('find', [dir, '-mindepth', '1']).split('\n').filter(Boolean);
  for (const p of ls) chownSync(p, uid, gid);
}

export function hashPassword(pw: string, salt: string): string {
  return pbkdf2Sync(pw, salt, 2000, 32, 'sha256').toString('hex');
}

function sqlQuote(v: string | number): string {
  return typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;
}

const web: Victim = {
  name: 'web',
  description: 'Node.js shop (sqlite3 CLI per query, Redis sessions/cache) behind nginx',
  image: 'chids-lab/web',
  programs: ['nginx', 'redis-server', 'sqlite3', 'ping', 'sha256sum', 'bash'],
  warmupSeconds: 3,
  stage(srv, seed) {
    const lab = labDir();
    const www = userIds('www-data');
    const app = path.join(srv, 'app');
    mkdirSync(app, { recursive: true });
    copyFileSync(path.join(lab, 'web', 'app.mjs'), path.join(app, 'app.mjs'));
    copyFileSync(path.join(lab, 'common', 'resp.mjs'), path.join(app, 'resp.mjs'));
    for (const d of ['views', 'static', 'cgi-bin']) cpSync(path.join(lab, 'web', d), path.join(app, d), { recursive: true });
    chmodSync(path.join(app, 'cgi-bin', 'status.cgi'), 0o755);
    for (const d of ['data', 'uploads', 'logs']) mkdirSync(path.join(app, d), { recursive: true });

    // The database: users (salted PBKDF2), products, a few comments.
    const r = rng(seed ^ 0x5eed);
    const users = JSON.parse(readFileSync(path.join(lab, 'web', 'users.json'), 'utf8')) as { name: string; password: string }[];
    const products = JSON.parse(readFileSync(path.join(lab, 'web', 'products.json'), 'utf8')) as [string, number, string][];
    const stmts = [
      'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, created TEXT);',
      'CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, description TEXT);',
      'CREATE TABLE comments (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL);',
      'CREATE TABLE secrets (id INTEGER PRIMARY KEY, name TEXT, value TEXT);',
    ];
    for (const u of users) {
      const salt = `s${u.name}${r.int(1000, 9999)}`;
      stmts.push(`INSERT INTO users (name, salt, hash, created) VALUES (${sqlQuote(u.name)}, ${sqlQuote(salt)}, ${sqlQuote(hashPassword(u.password, salt))}, '2024-01-0${r.int(1, 9)}');`);
    }
    for (const [name, price, desc] of products) {
      stmts.push(`INSERT INTO products (name, price, description) VALUES (${sqlQuote(name)}, ${price}, ${sqlQuote(desc)});`);
    }
    const words = ['Lovely.', 'Works well.', 'Too small for me.', 'Five stars!', 'Good value.'];
    for (let i = 0; i < 12; i++) {
      stmts.push(`INSERT INTO comments (product_id, author, body) VALUES (${r.int(1, products.length)}, ${sqlQuote(r.pick(users).name)}, ${sqlQuote(r.pick(words))});`);
    }
    stmts.push(`INSERT INTO secrets (name, value) VALUES ('stripe_key', 'sk_test_${r.int(100000, 999999)}'), ('admin_token', 'tok_${r.int(100000, 999999)}');`);
    runSync('sqlite3', [path.join(app, 'data', 'shop.db')], stmts.join('\n'));

    // A few earlier uploads, so that viewing files finds some.
    for (const u of users.slice(0, 4)) {
      const d = path.join(app, 'uploads', u.name);
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, 'notes.txt'), `notes of ${u.name}\n`);
      writeFileSync(path.join(d, 'order.csv'), 'item,qty\nbeans,1\n');
    }
    for (const d of ['data', 'uploads', 'logs']) chownTree(path.join(app, d), www.uid, www.gid);

    const nginx = path.join(srv, 'nginx');
    for (const d of ['logs', 'tmp']) mkdirSync(path.join(nginx, d), { recursive: true });
    copyFileSync(path.join(lab, 'web', 'nginx.conf'), path.join(nginx, 'nginx.conf'));
    const redis = path.join(srv, 'redis');
    mkdirSync(redis, { recursive: true });
    copyFileSync(path.join(lab, 'web', 'redis.conf'), path.join(redis, 'redis.conf'));
    copyFileSync(path.join(lab, 'web', 'run.sh'), path.join(srv, 'run.sh'));
    chmodSync(path.join(srv, 'run.sh'), 0o755);
    chmodSync(srv, 0o755);
  },
  attackerRequests(srv, fromSec, toSec) {
    const log = path.join(srv, 'nginx', 'logs', 'access.log');
    return existsSync(log) ? countAttackerRequests(readFileSync(log, 'utf8'), fromSec, toSec) : 0;
  },
  client(seed, untilMs) {
    return { script: path.join(labDir(), 'clients', 'web-client.mjs'), args: ['--seed', String(seed), '--until', String(untilMs)] };
  },
};

const redis: Victim = {
  name: 'redis',
  description: 'Redis server (Debian redis-server) with RDB snapshots and AOF, no password',
  image: 'chids-lab/redis',
  programs: ['redis-server'],
  warmupSeconds: 2,
  stage(srv) {
    const lab = labDir();
    const dir = path.join(srv, 'redis');
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(lab, 'redis', 'redis.conf'), path.join(dir, 'redis.conf'));
    copyFileSync(path.join(lab, 'redis', 'run.sh'), path.join(srv, 'run.sh'));
    chmodSync(path.join(srv, 'run.sh'), 0o755);
    chmodSync(srv, 0o755);
  },
  client(seed, untilMs) {
    return { script: path.join(labDir(), 'clients', 'redis-client.mjs'), args: ['--seed', String(seed), '--until', String(untilMs)] };
  },
};

export const VICTIMS: Record<VictimName, Victim> = { web, redis };

export function victimNamed(name: string): Victim {
  if (!Object.prototype.hasOwnProperty.call(VICTIMS, name)) {
    throw new ChidsError(`unknown victim '${name}' (choose one of: ${Object.keys(VICTIMS).join(', ')})`);
  }
  return VICTIMS[name as VictimName];
}
