/**
 * The victim's sandbox: its own pid, mount, UTS, IPC and network namespaces (util-linux
 * `unshare`), with every syscall of its process tree captured by `strace -f`, and helpers to
 * run clients and attackers inside the same network namespace (`nsenter --net`).
 *
 *   chids (node)
 *   └─ setpriv --pdeathsig KILL unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc
 *      └─ sh -c SETUP            pid 1 of the new pid namespace: mounts, lo up, hostname …
 *         └─ (exec) strace -f -o TRACE -- /bin/sh /srv/run.sh     … the victim's process tree
 *   └─ setpriv --pdeathsig KILL nsenter --net=/proc/UNSHARE/ns/net  client / attacker
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
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import { sleep as delay } from '../util/sleep.js';
import { straceArgs } from '../trace/strace/options.js';

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

const SETUP = String.raw`
set -eu
for f in $LAB_CGROUP_PROCS; do echo 0 > "$f"; done
mount --make-rprivate /
# The host's file systems read-only (in this mount namespace only): every mount as it is now,
# except the kernel's. What the victim may write is mounted after: /srv, /tmp, /root, and the
# work directory strace writes its output to.
while read -r _ _ _ _ m _; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || echo "chids-lab: $m stays writable" >&2
done < /proc/self/mountinfo
mount --bind "$LAB_WORK" "$LAB_WORK"
mount -o remount,bind,rw "$LAB_WORK"
mount --bind "$LAB_SRV" /srv
mount -o remount,bind,rw /srv
mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp
mount -t tmpfs -o mode=0700,size=16m tmpfs /root
mkdir -m 0700 /root/.ssh
ip link set lo up
echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range
hostname "$LAB_HOSTNAME"
cd /srv
exec env -i PATH="$LAB_PATH" HOME=/root LANG=C.UTF-8 $LAB_ENV strace $LAB_STRACE -- /bin/sh "$LAB_ENTRY"
`;

export class Sandbox {
  private unshare: ChildProcess | null = null;
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
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'unshare', '--pid', '--mount', '--uts', '--ipc', '--net', '--fork', '--kill-child', '--mount-proc', '--', '/bin/sh', '-c', SETUP],
      { stdio: ['ignore', this.logFd, this.logFd], env, detached: false },
    );
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
        if (inner !== null && readlinkSync(`/proc/${inner}/ns/net`) !== own) return;
      } catch {
        /* not there yet */
      }
      await delay(20);
    }
    this.kill();
    throw new ChidsError(`lab: the sandbox did not start (${this.logTail() || 'unshare failed'})`);
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
    this.closeLog();
  }

  /** Emergency stop, synchronous (also safe in an 'exit' handler). */
  kill(): void {
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

/** The first process whose parent is `ppid` (from /proc/PID/stat), or null. */
export function childOf(ppid: number): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === ppid) return Number(e);
    } catch {
      /* exited meanwhile */
    }
  }
  return null;
}


/** Runs a command to completion (for setup steps outside the sandbox); throws with its stderr. */
export function runSync(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw new ChidsError(`lab: ${cmd} failed: ${r.error.message}`);
  if (r.status !== 0) throw new ChidsError(`lab: ${cmd} ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n')[0]}`);
  return r.stdout;
}
