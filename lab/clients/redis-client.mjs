// Normal users of the redis victim: a few application connections doing a seeded mix of cache,
// session, counter, queue and leaderboard work, a monitoring connection (INFO, CONFIG GET,
// SLOWLOG) and a "backup job" that asks for BGSAVE now and then; plus the errors real clients
// make (wrong types, unknown commands, missing keys). Runs in the sandbox's network namespace.
//
//   node redis-client.mjs --seed N --until EPOCH_MS [--clients K]
//
// Prints READY on stdout once Redis answers PING, then works until --until or SIGTERM.
import { Resp } from '../common/resp.mjs';
import { parseArgs, rng, sleep } from '../common/rng.mjs';

const args = parseArgs(process.argv.slice(2));
const seed = Number(args.seed ?? 1);
const until = Number(args.until ?? Date.now() + 10_000);
const readyTimeout = Number(args['ready-timeout'] ?? 30_000);
const R0 = rng(seed);
const NCLIENTS = Number(args.clients ?? R0.int(2, 4));
const THINK = Number(args.think ?? R0.int(30, 80));

let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));
const stats = { commands: 0, errors: 0 };

async function call(c, ...cmd) {
  stats.commands++;
  try {
    return await c.call(...cmd);
  } catch (err) {
    stats.errors++;
    return err;
  }
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const PAGES = ['/', '/products', '/product/1', '/product/2', '/product/7', '/cart', '/search', '/about'];

async function appClient(idx) {
  const R = rng(seed * 7919 + idx);
  const c = new Resp();
  await c.connect();
  if (R.chance(0.3)) await call(c, 'SELECT', R.int(0, 2));
  const actions = { cacheGet: 20, cacheSet: 10, session: 12, counter: 12, queue: 10, leaderboard: 8, hash: 10, scan: 3, multi: 4, expire: 4, wrongType: 1, unknown: 0.5, del: 3, ping: 2 };
  for (let i = 0; i < 200_000 && !stopping && Date.now() < until; i++) {
    const user = R.pick(USERS);
    switch (R.weighted(actions)) {
      case 'cacheGet': {
        const v = await call(c, 'GET', `cache:page:${R.pick(PAGES)}`);
        if (v === null) await call(c, 'SET', `cache:page:${R.pick(PAGES)}`, `<html>${'x'.repeat(R.int(50, 2000))}</html>`, 'EX', R.int(5, 60));
        break;
      }
      case 'cacheSet':
        await call(c, 'SETEX', `cache:product:${R.int(1, 20)}`, R.int(10, 120), JSON.stringify({ id: R.int(1, 20), price: R.int(1, 99) }));
        break;
      case 'session':
        await call(c, 'SETEX', `sess:${user}:${R.int(1, 5)}`, 900, JSON.stringify({ user, at: Date.now() }));
        await call(c, 'GET', `sess:${user}:${R.int(1, 5)}`);
        break;
      case 'counter':
        await call(c, 'INCR', `stats:hits:${R.pick(PAGES)}`);
        if (R.chance(0.2)) await call(c, 'INCRBY', `stats:bytes`, R.int(100, 5000));
        break;
      case 'queue':
        await call(c, 'LPUSH', 'queue:mail', JSON.stringify({ to: user, kind: R.pick(['welcome', 'receipt', 'reset']) }));
        await call(c, 'LTRIM', 'queue:mail', 0, 199);
        if (R.chance(0.5)) await call(c, 'RPOP', 'queue:mail');
        break;
      case 'leaderboard':
        await call(c, 'ZINCRBY', 'board:buyers', R.int(1, 10), user);
        if (R.chance(0.4)) await call(c, 'ZREVRANGE', 'board:buyers', 0, 4, 'WITHSCORES');
        break;
      case 'hash':
        await call(c, 'HSET', `user:${user}`, 'last_seen', Date.now(), 'visits', R.int(1, 500));
        if (R.chance(0.5)) await call(c, 'HGETALL', `user:${user}`);
        break;
      case 'scan':
        await call(c, 'SCAN', 0, 'MATCH', R.pick(['cache:*', 'sess:*', 'user:*']), 'COUNT', 100);
        break;
      case 'multi':
        await call(c, 'MULTI');
        await call(c, 'INCR', 'orders:id');
        await call(c, 'RPUSH', `orders:${user}`, Date.now());
        await call(c, 'EXEC');
        break;
      case 'expire':
        await call(c, 'EXPIRE', `cache:page:${R.pick(PAGES)}`, R.int(1, 30));
        await call(c, 'TTL', `sess:${user}:1`);
        break;
      case 'wrongType':
        await call(c, 'LPUSH', 'stats:bytes', 'oops');
        break;
      case 'unknown':
        await call(c, 'GETT', 'cache:page:/');
        break;
      case 'del':
        await call(c, 'DEL', `cache:product:${R.int(1, 20)}`, `sess:${user}:${R.int(1, 5)}`);
        break;
      case 'ping':
        await call(c, 'PING');
        break;
    }
    await sleep(Math.min(R.exp(THINK), 1000, until - Date.now()));
  }
  c.close();
}

async function monitor() {
  const R = rng(seed * 31 + 7);
  const c = new Resp();
  await c.connect();
  let nextBackup = Date.now() + R.int(3000, 7000);
  for (let i = 0; i < 100_000 && !stopping && Date.now() < until; i++) {
    switch (R.int(0, 5)) {
      case 0:
        await call(c, 'INFO', R.pick(['memory', 'stats', 'persistence', 'clients']));
        break;
      case 1:
        await call(c, 'CONFIG', 'GET', R.pick(['maxmemory', 'save', 'appendonly']));
        break;
      case 2:
        await call(c, 'DBSIZE');
        break;
      case 3:
        await call(c, 'SLOWLOG', 'GET', 5);
        break;
      case 4:
        await call(c, 'CLIENT', 'LIST');
        break;
      default:
        await call(c, 'LASTSAVE');
    }
    if (Date.now() > nextBackup) {
      await call(c, 'BGSAVE');
      nextBackup = Date.now() + R.int(4000, 9000);
    }
    await sleep(Math.min(R.int(400, 1500), until - Date.now()));
  }
  c.close();
}

async function waitReady() {
  const deadline = Date.now() + readyTimeout;
  for (let i = 0; i < 1000 && Date.now() < deadline && !stopping; i++) {
    const c = new Resp('127.0.0.1', 6379, 1000);
    try {
      await c.connect();
      if ((await c.call('PING')) === 'PONG') {
        c.close();
        return true;
      }
    } catch {
      /* not yet */
    }
    c.close();
    await sleep(200);
  }
  return false;
}

if (!(await waitReady())) {
  process.stderr.write('redis-client: redis did not become ready\n');
  process.exit(3);
}
process.stdout.write('READY\n');
await Promise.all([...Array.from({ length: NCLIENTS }, (_, i) => sleep(i * 150).then(() => appClient(i))), monitor()]);
process.stderr.write(`redis-client: ${JSON.stringify({ clients: NCLIENTS, think_ms: THINK, ...stats })}\n`);
