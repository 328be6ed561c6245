/**
 * A small synthetic LID-DS 2021 scenario, written at test time (and by bench/models.ts when the
 * bundled data/example is absent): zipped `.sc` + `.json` recordings of a multi-threaded web
 * server, in the layout training/ validation/ test/normal/ test/normal_and_attack/.
 *
 * Normal traffic varies: request mix, bursts and idle spells, 404s, an occasional CGI child
 * (clone + execve of a known binary). The attack, from its exploit time on for `attackSeconds`,
 * is a web shell: the worker spawns /bin/sh, which reads /etc/shadow, opens a socket to the
 * attacker and runs syscalls the server never makes (dup2, setuid, ptrace, mount), while normal
 * traffic goes on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { mulberry32 } from '../../src/util/rng.js';

export interface SyntheticRecording {
  name: string;
  seconds: number;
  /** Seconds after the start; null for a normal recording. */
  exploitAt: number | null;
  seed: number;
  /** Epoch seconds of the first event. */
  startSec: number;
  /** Mean requests per second (default 40). */
  rate?: number;
  /** Seconds the attack lasts (default 3). */
  attackSeconds?: number;
}

/** The `.sc` text of one recording. */
export function recordingText(r: SyntheticRecording): string {
  const rng = mulberry32(r.seed);
  const lines: string[] = [];
  const t0 = BigInt(r.startSec) * 1_000_000_000n;
  const pages = ['index.html', 'about.html', 'news.html', 'img/logo.png', 'css/site.css', 'js/app.js', 'blog/2021.html'];
  const rate = r.rate ?? 40;
  const attackEnd = (r.exploitAt ?? 0) + (r.attackSeconds ?? 3);
  let t = 0;
  const emit = (tid: number, proc: string, name: string, enter: string, exit: string) => {
    t += 2000 + Math.floor(rng() * 30000);
    lines.push(`${t0 + BigInt(t)} 33 ${tid} ${proc} ${tid} ${name} > ${enter}`);
    t += 500 + Math.floor(rng() * 8000);
    lines.push(`${t0 + BigInt(t)} 33 ${tid} ${proc} ${tid} ${name} < ${exit}`);
  };
  const request = (tid: number) => {
    const page = pages[Math.floor(rng() * pages.length)];
    emit(tid, 'nginx', 'epoll_wait', 'epfd=7 maxevents=512', 'res=1');
    emit(tid, 'nginx', 'accept4', 'flags=0', 'fd=9(<4t>10.0.0.2:40000->10.0.0.1:80)');
    emit(tid, 'nginx', 'recvfrom', 'fd=9 size=1024', 'res=310');
    if (rng() < 0.08) {
      emit(tid, 'nginx', 'open', '', `fd=-2(ENOENT) name=/var/www/html/missing.html flags=1(O_RDONLY) mode=0`);
      emit(tid, 'nginx', 'writev', 'fd=9', 'res=180');
    } else {
      emit(tid, 'nginx', 'open', '', `fd=10(<f>/var/www/html/${page}) name=/var/www/html/${page} flags=1(O_RDONLY) mode=0`);
      emit(tid, 'nginx', 'fstat', 'fd=10', 'res=0');
      if (rng() < 0.5) emit(tid, 'nginx', 'sendfile', 'out_fd=9 in_fd=10', 'res=4096');
      else emit(tid, 'nginx', 'read', 'fd=10 size=4096', 'res=2048');
      emit(tid, 'nginx', 'writev', 'fd=9', 'res=2300');
      emit(tid, 'nginx', 'close', 'fd=10', 'res=0');
    }
    if (rng() < 0.02) {
      emit(tid, 'nginx', 'clone', '', `res=0 exe=/usr/sbin/nginx args= tid=${tid}(nginx) pid=${tid}(nginx)`);
      emit(tid + 1000, 'php', 'execve', 'filename=/usr/bin/php', 'res=0 exe=/usr/bin/php args=-f.index.php.');
      emit(tid + 1000, 'php', 'open', '', 'fd=3(<f>/var/www/html/index.php) name=/var/www/html/index.php flags=1(O_RDONLY) mode=0');
      emit(tid + 1000, 'php', 'exit_group', 'status=0', '');
    }
    emit(tid, 'nginx', 'close', 'fd=9', 'res=0');
  };
  const shell = () => {
    emit(300, 'nginx', 'clone', '', 'res=0 exe=/usr/sbin/nginx args= tid=300(nginx) pid=300(nginx)');
    emit(300, 'sh', 'execve', 'filename=/bin/sh', 'res=0 exe=/bin/sh args=-c.id.');
    emit(300, 'sh', 'open', '', 'fd=3(<f>/etc/shadow) name=/etc/shadow flags=1(O_RDONLY) mode=0');
    emit(300, 'sh', 'read', 'fd=3 size=4096', 'res=1024');
    emit(300, 'sh', 'socket', 'domain=2 type=1 proto=0', 'fd=4');
    emit(300, 'sh', 'connect', 'fd=4', 'res=0 tuple=10.0.0.1:5555->10.0.0.66:4444');
    emit(300, 'sh', 'dup2', 'oldfd=4 newfd=0', 'res=0');
    emit(300, 'sh', 'dup2', 'oldfd=4 newfd=1', 'res=1');
    emit(300, 'sh', 'setuid', 'uid=0', 'res=-1(EPERM)');
    emit(300, 'sh', 'ptrace', 'request=16', 'res=-1(EPERM)');
    emit(300, 'sh', 'mount', 'dev=none dir=/mnt', 'res=-1(EPERM)');
  };
  let burst = 1;
  while (t < r.seconds * 1e9) {
    if (rng() < 0.05) burst = 0.3 + rng() * 2.5; // traffic changes pace now and then
    request(200 + Math.floor(rng() * 4));
    if (r.exploitAt !== null && t >= r.exploitAt * 1e9 && t < attackEnd * 1e9) shell();
    t += Math.floor((-Math.log(1 - rng()) * 1e9) / (rate * burst));
  }
  return lines.join('\n') + '\n';
}

/** Writes `DIR/NAME.zip` holding `NAME.sc` and `NAME.json` (LID-DS 2021 layout). */
export function writeRecording(dir: string, r: SyntheticRecording): string {
  mkdirSync(dir, { recursive: true });
  const labels = {
    exploit: r.exploitAt !== null,
    exploit_name: r.exploitAt !== null ? 'web-shell' : 'default',
    recording_time: r.seconds,
    time: {
      exploit: r.exploitAt !== null ? [{ absolute: r.startSec + r.exploitAt, name: 'attack', relative: r.exploitAt, source: 'TEST' }] : [],
      warmup_end: { absolute: r.startSec, relative: 0, source: 'TEST' },
    },
  };
  const file = path.join(dir, `${r.name}.zip`);
  writeFileSync(file, zipSync({ [`${r.name}.sc`]: strToU8(recordingText(r)), [`${r.name}.json`]: strToU8(JSON.stringify(labels)) }));
  return file;
}

export interface DatasetShape {
  training: number;
  normal: number;
  attack: number;
  seconds: number;
  rate?: number;
  seed?: number;
}

/** Writes a scenario under `root`; attacks start between 40 % and 60 % of a recording. */
export function writeDataset(root: string, shape: DatasetShape): string {
  const rng = mulberry32(shape.seed ?? 7);
  let seed = (shape.seed ?? 7) * 1000;
  let start = 1_700_000_000;
  const add = (split: string, n: number, attack: boolean) => {
    for (let i = 0; i < n; i++) {
      writeRecording(path.join(root, split), {
        name: `${split.replace(/\W/g, '_')}_${String(i).padStart(3, '0')}`,
        seconds: shape.seconds,
        exploitAt: attack ? Math.round(shape.seconds * (0.4 + 0.2 * rng()) * 10) / 10 : null,
        seed: seed++,
        startSec: (start += 1000),
        rate: shape.rate,
      });
    }
  };
  add('training', shape.training, false);
  add('validation', 1, false);
  add('test/normal', shape.normal, false);
  add('test/normal_and_attack', shape.attack, true);
  return root;
}
