/**
 * The victim's sandbox: its own user, pid, mount, UTS, IPC and network namespaces (util-linux
 * `unshare`), with every syscall of its process tree captured by `strace -f`, and helpers to
 * run clients and attackers inside the same network namespace (`nsenter --net`).
 *
 *   chids (node)
 *   └─ unshare --user sleep     holds a user namespace while chids writes its uid/gid maps
 *   └─ sh: join the cgroup, then (exec) nsenter --user=HOLDER (uid 0 inside = LAB_ID_BASE outside)
 *      setpriv --pdeathsig KILL unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc
 *      └─ sh -c SETUP            pid 1 of the new pid namespace: mounts, lo up, hostname …
 *         └─ (exec) strace -f -o TRACE -- /bin/sh /srv/run.sh     … the victim's process tree
 *   └─ setpriv --pdeathsig KILL nsenter --net=/proc/UNSHARE/ns/net  client / attacker
 *
 * The victim is root only in its own user namespace: uids and gids 0…65535 inside are
 * LAB_ID_BASE + 0…65535 on the host, ids no host file belongs to. Inside, it keeps the root it
 * expects (Redis runs as root, nginx and the app switch to www-data, an attack that writes to
 * /root/.ssh still does), so the traces keep their shape; outside, every host file is owned
 * by an id it does not have (/etc/shadow unreadable, nothing of the host writable even where
 * a mount could not be made read-only), and its capabilities reach only its own namespaces.
 * The staged /srv and the work directory are handed to the shifted ids before the start.
 * (No seccomp filter: util-linux has no tool to install one and a native helper is not worth
 * it while the user namespace already takes every host privilege away.)
 *
 * Inside, `/srv` is the recording's work directory (bind mount), `/tmp` and `/root` are fresh
 * tmpfs (an attack that writes there leaves nothing on the host), every other file system of
 * the host is read-only (an attack cannot plant a file or change a config on the host), the
 * victim's tree is in a cgroup with memory and process limits (src/lab/cgroup.ts), `lo` is up and everything
 * listens on 127.0.0.1 of the namespace. Paths are the same in every recording, so two
 * recordings of the same victim see the same file names.
 *
 * Nothing outlives a recording: strace is pid 1 of the namespace, so when it exits the kernel
 * kills every process in it; `--kill-child` kills strace when unshare dies, and
 * `--pdeathsig KILL` kills unshare (and each client/attacker) when chids dies, even by SIGKILL.
 * {@link Sandbox.stop} and {@link Sandbox.kill} do the orderly and the emergency shutdown.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, lchownSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { sleep as delay } from '../util/sleep.js';
import { straceArgs } from '../trace/strace/options.js';
import { livePids, parentPidOf } from '../capture/containers.js';

/** Host uid and gid of root inside the sandbox's user namespace (ids 0…65535 are shifted by it). */
export const LAB_ID_BASE = 1_500_000_000;
/** Ids mapped into the user namespace (0…65535: root, the system users, nobody). */
export const LAB_ID_COUNT = 65_536;

/** The PATH every process of the sandbox gets (the host's PATH would leak into the traces). */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SandboxOptions {
  /** Host directory bind-mounted at /srv inside. */
  srvDir: string;
  /** Host path strace writes its output to. */
  traceFile: string;
  /** Host path for the sandbox's own stdout/stderr (victim messages, strace's notes). */
  logFile: string;
  /** The victim's entry point inside the sandbox, run with /bin/sh (e.g. /srv/run.sh). */
  entry: string;
  /** Extra environment for the victim (on top of PATH, HOME, LANG). */
  env?: Record<string, string>;
  hostname?: string;
  /** `cgroup.procs` files the victim joins before anything runs (src/lab/cgroup.ts). */
  cgroupProcs?: string[];
}

/**
 * Run on the host before the namespaces: the victim's tree joins its cgroup here (inside the
 * user namespace the host's cgroup files belong to an id it does not have), then enters the
 * user namespace as its root and makes the other namespaces, owned by it.
 */
const OUTER = String.raw`
set -eu
for f in $LAB_CGROUP_PROCS; do echo $$ > "$f"; done
exec nsenter --user="$LAB_USERNS" -- setpriv --pdeathsig KILL -- unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc -- /bin/sh -c "$LAB_SETUP"
`;

const SETUP = String.raw`
set -eu
mount --make-rprivate /
# The host's file systems read-only (in this mount namespace only): every mount as it is now,
# except the kernel's. What the victim may write is mounted after: /srv, /tmp, /root, and the
# work directory strace writes its output to. A mount under a directory the namespace's root
# cannot enter (a host directory of mode 0700) cannot be remounted, and needs not be: the
# victim cannot reach it either.
while read -r _ _ _ _ m _; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || if [ -x "$m" ]; then echo "chids-lab: $m stays writable" >&2; fi
done < /proc/self/mountinfo
mount --bind "$LAB_WORK" "$LAB_WORK"
mount -o remount,bind,rw "$LAB_WORK"
mount --bind "$LAB_SRV" /srv
mount -o remount,bind,rw /srv
mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp
mount -t tmpfs -o mode=0700,size=16m tmpfs /root
mkdir -m 0700 /root/.ssh
ip link set lo up
# Every group may open ICMP sockets (ping without CAP_NET_RAW); only mapped gids can be named.
echo '0 65535' > /proc/sys/net/ipv4/ping_group_range
hostname "$LAB_HOSTNAME"
cd /srv
exec env -i PATH="$LAB_PATH" HOME=/root LANG=C.UTF-8 $LAB_ENV strace $LAB_STRACE -- /bin/sh "$LAB_ENTRY"
`;

export class Sandbox {
  private unshare: ChildProcess | null = null;
  /** Holds the user namespace until the sandbox has entered it. */
  private holder: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private readonly children = new Set<ChildProcess>();
  private logFd: number | null = null;

  constructor(
    private readonly opts: SandboxOptions,
    private readonly straceVersion: string | null,
  ) {}

  /** Host pid of unshare (its network namespace is the sandbox's). */
  get pid(): number | null {
    return this.unshare?.pid ?? null;
  }

  get netns(): string {
    if (this.unshare?.pid === undefined) throw new Error('sandbox not started');
    return `/proc/${this.unshare.pid}/ns/net`;
  }

  /** Starts the victim under strace in fresh namespaces. */
  async start(): Promise<void> {
    const o = this.opts;
    this.logFd = openSync(o.logFile, 'a');
    const env: Record<string, string> = {
      PATH: SANDBOX_PATH,
      LAB_PATH: SANDBOX_PATH,
      LAB_SRV: o.srvDir,
      LAB_HOSTNAME: o.hostname ?? 'victim',
      LAB_ENTRY: o.entry,
      LAB_WORK: path.dirname(o.traceFile),
      LAB_CGROUP_PROCS: (o.cgroupProcs ?? []).join(' '),
      LAB_STRACE: straceArgs(o.traceFile, this.straceVersion).join(' '),
      LAB_ENV: Object.entries(o.env ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    };
    // These go through an unquoted shell expansion: no spaces or quotes (the paths are ours).
    for (const v of [o.srvDir, o.traceFile, o.entry, ...(o.cgroupProcs ?? []), ...Object.keys(o.env ?? {}), ...Object.values(o.env ?? {})]) {
      if (/[\s'"$`\\;&|<>]/.test(v)) throw new ChidsError(`lab: the path ${JSON.stringify(v)} cannot be used in the sandbox (no spaces or shell characters)`);
    }
    // What the victim writes must belong to its shifted ids: /srv as staged, and the directory
    // strace writes to (not its other files: the log is written through our descriptor).
    shiftOwnership(o.srvDir, true);
    shiftOwnership(path.dirname(o.traceFile), false);
    for (const d of [o.srvDir, path.dirname(o.traceFile)]) checkReachable(d);
    env['LAB_USERNS'] = `/proc/${await this.makeUserNamespace()}/ns/user`;
    env['LAB_SETUP'] = SETUP;
    const child = spawn('/bin/sh', ['-c', OUTER], { stdio: ['ignore', this.logFd, this.logFd], env, detached: false });
    this.unshare = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new ChidsError(`lab: cannot start the sandbox: ${err.message}`)));
    });
    // Until unshare has made its namespaces, /proc/PID/ns/net is still ours: a client joining
    // it then would talk to the host's loopback. Wait for the namespace's init to exist.
    const own = readlinkSync('/proc/self/ns/net');
    for (let i = 0; i < 250; i++) {
      if (!this.running) break;
      const inner = this.innerPid();
      try {
        if (inner !== null && readlinkSync(`/proc/${inner}/ns/net`) !== own) {
          this.dropHolder(); // the namespace lives on in the victim's processes
          return;
        }
      } catch {
        /* not there yet */
      }
      await delay(20);
    }
    this.kill();
    throw new ChidsError(`lab: the sandbox did not start (${this.logTail() || 'unshare failed'})`);
  }

  /**
   * Creates the victim's user namespace, held by a sleeping process, and maps ids 0…65535 in
   * it to LAB_ID_BASE… on the host (we are root on the host, so any map may be written; the
   * `--map-users` of unshare would need the setuid newuidmap and /etc/subuid). Returns the
   * holder's pid.
   */
  private async makeUserNamespace(): Promise<number> {
    // Bounded life: it is killed as soon as the sandbox is in, or by --pdeathsig with chids.
    const h = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--user', '--', 'sleep', '60'], { stdio: ['ignore', 'ignore', this.logFd ?? 'ignore'] });
    this.holder = h;
    await new Promise<void>((resolve, reject) => {
      h.once('spawn', resolve);
      h.once('error', (err) => reject(new ChidsError(`lab: cannot start the sandbox: ${err.message}`)));
    });
    const own = readlinkSync('/proc/self/ns/user');
    for (let i = 0; i < 250 && h.exitCode === null && h.signalCode === null; i++) {
      let ns = own;
      try {
        ns = readlinkSync(`/proc/${h.pid}/ns/user`);
      } catch {
        /* not there yet */
      }
      if (ns !== own) {
        try {
          for (const f of ['uid_map', 'gid_map']) writeFileSync(`/proc/${h.pid}/${f}`, `0 ${LAB_ID_BASE} ${LAB_ID_COUNT}\n`);
        } catch (err) {
          this.dropHolder();
          throw new ChidsError(`lab: cannot map ids into the victim's user namespace (${(err as Error).message.split('\n')[0]})`);
        }
        return h.pid!;
      }
      await delay(20);
    }
    this.dropHolder();
    throw new ChidsError(`lab: cannot create a user namespace for the victim (${this.logTail() || 'unshare --user failed'})`);
  }

  private dropHolder(): void {
    const h = this.holder;
    this.holder = null;
    if (h && h.exitCode === null && h.signalCode === null) {
      try {
        h.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** Host pid of the namespace's init (strace), when it is running. */
  innerPid(): number | null {
    const pid = this.unshare?.pid;
    // Once unshare has exited its pid may belong to someone else: never look it up then.
    if (pid === undefined || !this.running) return null;
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      return kids.length ? Number(kids[0]) : null;
    } catch {
      // Kernels without CONFIG_PROC_CHILDREN: find the child by its parent pid.
      return childOf(pid);
    }
  }

  /** True while unshare (and so the victim) runs. */
  get running(): boolean {
    const c = this.unshare;
    return c !== null && c.exitCode === null && c.signalCode === null;
  }

  /** The end of the sandbox's log, for error messages. */
  logTail(lines = 5): string {
    try {
      return readFileSync(this.opts.logFile, 'utf8').trim().split('\n').slice(-lines).join(' | ');
    } catch {
      return '';
    }
  }

  /**
   * Runs a program inside the sandbox's network namespace (not traced, not in its pid
   * namespace: clients and attackers are outside the "container"). Tracked for cleanup.
   */
  spawnInNet(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'nsenter', `--net=${this.netns}`, '--', cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
      detached: true,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Kills one client/attacker process group. */
  killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      /* gone */
    }
  }

  /**
   * Orderly stop: clients and attackers first, then strace (SIGTERM makes it detach and flush
   * its output; as the namespace's init its exit kills every process left in it), then unshare.
   */
  async stop(graceMs = 8000): Promise<void> {
    for (const c of [...this.children]) this.killChild(c, 'SIGTERM');
    const inner = this.innerPid();
    if (inner !== null) {
      try {
        process.kill(inner, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    const done = await Promise.race([this.exited?.then(() => true) ?? Promise.resolve(true), delay(graceMs).then(() => false)]);
    if (!done) this.kill();
    await Promise.race([this.exited ?? Promise.resolve(), delay(2000)]);
    await this.reapChildren(2000);
    this.dropHolder();
    this.closeLog();
  }

  /** Emergency stop, synchronous (also safe in an 'exit' handler). */
  kill(): void {
    this.dropHolder();
    for (const c of [...this.children]) this.killChild(c, 'SIGKILL');
    const inner = this.innerPid();
    if (inner !== null) {
      try {
        process.kill(inner, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const u = this.unshare;
    if (u?.pid !== undefined && u.exitCode === null && u.signalCode === null) {
      try {
        u.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** Waits (bounded) for the tracked clients and attackers to exit, killing stragglers. */
  private async reapChildren(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 100 && this.children.size > 0 && Date.now() < deadline; i++) await delay(20);
    for (const c of [...this.children]) this.killChild(c, 'SIGKILL');
    for (let i = 0; i < 50 && this.children.size > 0; i++) await delay(20);
  }

  private closeLog(): void {
    if (this.logFd !== null) {
      try {
        closeSync(this.logFd);
      } catch {
        /* closed */
      }
      this.logFd = null;
    }
  }

  /** Waits until unshare has exited (bounded). */
  async waitExit(ms: number): Promise<boolean> {
    return Promise.race([this.exited?.then(() => true) ?? Promise.resolve(true), delay(ms).then(() => false)]);
  }
}

/** The first process whose parent is `ppid`, or null. */
export function childOf(ppid: number): number | null {
  return livePids().find((p) => parentPidOf(p) === ppid) ?? null;
}


/**
 * Hands `dir` (and, with `deep`, everything under it) to the sandbox's shifted ids: a file of
 * host uid u < 65536 becomes LAB_ID_BASE + u, so it keeps its owner as seen inside (root stays
 * root, www-data stays www-data). Symlinks themselves, never their targets.
 */
export function shiftOwnership(dir: string, deep: boolean): void {
  const shift = (p: string) => {
    const st = lstatSync(p);
    const uid = st.uid < LAB_ID_COUNT ? st.uid + LAB_ID_BASE : st.uid;
    const gid = st.gid < LAB_ID_COUNT ? st.gid + LAB_ID_BASE : st.gid;
    if (uid !== st.uid || gid !== st.gid) lchownSync(p, uid, gid);
  };
  shift(dir);
  if (!deep) return;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) shift(path.join(e.parentPath, e.name));
}

/**
 * The sandbox's root reaches `dir` by its path (to bind-mount it) as a stranger to every host
 * directory on the way: each of them must let others through (mode o+x). A 0700 parent (a
 * mkdtemp directory as $CHIDS_LAB_TMPDIR) would stop the sandbox's setup; say so up front.
 */
export function checkReachable(dir: string): void {
  const abs = path.resolve(dir);
  for (let d = path.dirname(abs); ; d = path.dirname(d)) {
    const st = statSync(d);
    if ((st.mode & 0o001) === 0 && st.uid !== LAB_ID_BASE) {
      throw new ChidsError(`lab: ${d} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}) does not let the victim's user namespace through to ${abs}; use a work directory whose parents are o+x (chmod o+x ${d})`);
    }
    if (d === path.dirname(d)) return;
  }
}

/** Runs a command to completion (for setup steps outside the sandbox); throws with its stderr. */
export function runSync(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw new ChidsError(`lab: ${cmd} failed: ${r.error.message}`);
  if (r.status !== 0) throw new ChidsError(`lab: ${cmd} ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n')[0]}`);
  return r.stdout;
}
