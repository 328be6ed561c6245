#!/usr/bin/env node
// Writes a synthetic LID-DS 2021 .sc trace of N events (default 1,000,000), deterministic.
// Usage: node bench/gen-lidds.mjs OUT.sc [N] [GAP_SCALE]
// GAP_SCALE (default 1) stretches the time between events: 2500 makes 200 k events span
// ~10 000 one-second windows (the training bench).
// The mix imitates a web server worker pool: a request loop of accept/read/open/stat/
// fstat/mmap/writev/close with enter and exit events, file paths drawn from a small site,
// an occasional clone/execve, and ~20 µs between events (so 1 M events span ~20 s).
import { openSync, writeSync, closeSync } from 'node:fs';
// The project's generator, from the build (`npm run bench` builds first).
import { mulberry32 } from '../dist/util/rng.js';

const out = process.argv[2];
const n = Number(process.argv[3] ?? 1_000_000);
const gapScale = BigInt(process.argv[4] ?? 1);
if (!out || !Number.isInteger(n) || n < 1) {
  console.error('usage: node bench/gen-lidds.mjs OUT.sc [EVENTS]');
  process.exit(2);
}
const rnd = mulberry32(0x9e3779b9);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const pages = Array.from({ length: 40 }, (_, i) => `/var/www/html/${['index', 'login', 'about', 'img/logo', 'css/site', 'js/app'][i % 6]}${i}.${['php', 'html', 'png', 'css', 'js'][i % 5]}`);
const libs = ['/lib/x86_64-linux-gnu/libc.so.6', '/etc/ld.so.cache', '/usr/lib/apache2/modules/mod_php.so', '/etc/apache2/.htpasswd'];
const procs = ['apache2', 'apache2', 'apache2', 'php-fpm7.4'];

// One request: a list of [syscall, enterArgs, exitArgs] templates.
function request() {
  const page = pick(pages);
  const fd = 10 + Math.floor(rnd() * 20);
  const ev = [
    ['epoll_wait', 'epfd=7 maxevents=1', 'res=1'],
    ['accept', 'flags=0', `fd=${fd}(<4t>172.17.0.1:${30000 + Math.floor(rnd() * 30000)}->172.17.0.2:80) tuple=172.17.0.1:41000->172.17.0.2:80 queuepos=0`],
    ['fcntl', `fd=${fd}(<4t>172.17.0.1) cmd=4(F_GETFL)`, 'res=2(<f>/dev/pts/0)'],
    ['read', `fd=${fd}(<4t>172.17.0.1) size=8000`, `res=${300 + Math.floor(rnd() * 200)} data=GET ${page} HTTP/1.1..Host: localhost..User-Agent: python-requests/2.25.1..Accept: */*..`],
    ['stat', '', `res=0 path=${page}`],
    ['open', '', `fd=${fd + 1}(<f>${page}) name=${page} flags=1(O_RDONLY) mode=0 dev=803`],
    ['fstat', `fd=${fd + 1}(<f>${page})`, 'res=0'],
    ['mmap', `addr=0 length=${4096 * (1 + Math.floor(rnd() * 8))} prot=1(PROT_READ) flags=2(MAP_PRIVATE) fd=${fd + 1}(<f>${page}) offset=0`, 'res=7F2A5C400000 vm_size=112372 vm_rss=15916 vm_swap=0'],
    ['writev', `fd=${fd}(<4t>172.17.0.1) size=${500 + Math.floor(rnd() * 5000)}`, `res=${500 + Math.floor(rnd() * 5000)} data=HTTP/1.1 200 OK..Date: Wed, 08 Sep 2021 05:27:47 GMT..Server: Apache/2.4.29`],
    ['munmap', 'addr=7F2A5C400000 length=8192', 'res=0 vm_size=112364 vm_rss=15912 vm_swap=0'],
    ['close', `fd=${fd + 1}(<f>${page})`, 'res=0'],
    ['shutdown', `fd=${fd}(<4t>172.17.0.1) how=1(SHUT_WR)`, 'res=0'],
    ['poll', `fds=${fd}:41 timeout=2000`, `res=1 fds=${fd}:41`],
    ['close', `fd=${fd}(<4t>172.17.0.1)`, 'res=0'],
  ];
  if (rnd() < 0.05) ev.splice(4, 0, ['open', '', `fd=${fd + 2}(<f>${pick(libs)}) name=${pick(libs)} flags=4097(O_RDONLY|O_CLOEXEC) mode=0 dev=803`]);
  if (rnd() < 0.01) ev.push(['clone', '', 'res=0 exe=/usr/sbin/apache2 args= tid=2904005(apache2) pid=2904005(apache2) ptid=2902771(apache2) cwd= fdlimit=8192 flags=0 uid=33 gid=33 vtid=23 vpid=23']);
  if (rnd() < 0.005) ev.push(['execve', 'filename=/usr/bin/php', 'res=0 exe=/usr/bin/php args=-f.index.php. tid=2904006(php) pid=2904006(php) ptid=2904005(apache2) cwd=/var/www/html fdlimit=8192']);
  return ev;
}

const fd = openSync(out, 'w');
let buf = '';
let written = 0;
let ts = 1631078867000000000n;
const tid0 = 2902771;
while (written < n) {
  const proc = pick(procs);
  const tid = tid0 + Math.floor(rnd() * 8);
  for (const [name, enter, exit] of request()) {
    for (const [dir, args] of [['>', enter], ['<', exit]]) {
      if (written >= n) break;
      ts += gapScale * BigInt(5000 + Math.floor(rnd() * 30000));
      buf += `${ts} 33 ${tid} ${proc} ${tid} ${name} ${dir} ${args}${args ? ' ' : ''}\n`;
      written++;
    }
  }
  if (buf.length > 1 << 20) {
    writeSync(fd, buf);
    buf = '';
  }
}
writeSync(fd, buf);
closeSync(fd);
