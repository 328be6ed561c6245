/**
 * Container attribution: which container a process belongs to, from /proc.
 *
 * A container is identified by its pid namespace, refined by the container id found in its
 * cgroup path when there is one (Docker, containerd, CRI-O, Podman and Kubernetes all put the
 * 64-hex id there), so the containers of a pod that share one pid namespace stay apart. The
 * host's own processes (our pid namespace, no container id) form the container `host`.
 *
 * Everything here reads /proc synchronously: it is called once per new process, never per
 * event, and a process that is already gone simply yields null.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { ContainerIdentity } from './runtime/types.js';

export interface ContainerInfo {
  /** Stable key: `pidns:<inode>` or `pidns:<inode>/<container id>`; `stdin` for a replay. */
  readonly key: string;
  /** Short id for alerts: the 12-hex container id, `pidns-<inode>`, `host` or `stdin`. */
  readonly id: string;
  /** Inode of the pid namespace, when known. */
  readonly pidns: number | null;
  /** cgroup path (v2 unified path, else the first non-root v1 path), when there is one. */
  readonly cgroup: string | null;
  /** Full 64-hex container id from the cgroup path, when there is one. */
  readonly containerId: string | null;
  /** The pid namespace is the host's (ours). */
  readonly host: boolean;
  /** Name, image and pod from the container runtime, filled in asynchronously (node-wide eBPF). */
  readonly identity?: ContainerIdentity;
  /**
   * The events come from a process that entered the container from outside (`podman exec`,
   * `nsenter`, …) or from one of its descendants: same container, marked in the alert.
   */
  readonly entered?: boolean;
}

const CONTAINER_ID = /([0-9a-f]{64})/;

/** The container for a pid namespace and cgroup path. `ownPidns` is our own namespace (the host's). */
export function containerFrom(pidns: number | null, cgroup: string | null, ownPidns: number | null): ContainerInfo {
  const m = cgroup ? CONTAINER_ID.exec(cgroup) : null;
  const containerId = m ? m[1] : null;
  const host = pidns !== null && pidns === ownPidns;
  const nsKey = pidns === null ? 'pidns:unknown' : `pidns:${pidns}`;
  const key = containerId ? `${nsKey}/${containerId}` : nsKey;
  const id = containerId ? containerId.slice(0, 12) : host ? 'host' : pidns === null ? 'unknown' : `pidns-${pidns}`;
  return { key, id, pidns, cgroup, containerId, host };
}

/**
 * A container known by its full id: the key is the id alone, so the same container keeps its
 * key (its windows, its baseline) across restarts, which give it a new pid namespace.
 */
export function containerById(fullId: string, pidns: number | null, cgroup: string | null, identity?: ContainerIdentity): ContainerInfo {
  return { key: `container:${fullId}`, id: fullId.slice(0, 12), pidns, cgroup, containerId: fullId, host: false, identity };
}

/** The full container id in a cgroup path, or null. */
export function containerIdIn(cgroup: string | null): string | null {
  const m = cgroup ? CONTAINER_ID.exec(cgroup) : null;
  return m ? m[1] : null;
}

/**
 * A live process of a pid namespace whose cgroup names a container, or null: how a namespace
 * entered from a host cgroup (`nsenter`) is tied to its container. Walks /proc once; callers cache.
 */
export function containerIdOfPidns(inum: number): { fullId: string; cgroup: string } | null {
  for (const pid of livePids()) {
    if (pidNamespaceOf(pid) !== inum) continue;
    const cg = cgroupPathOf(pid);
    const id = containerIdIn(cg);
    if (id !== null) return { fullId: id, cgroup: cg! };
  }
  return null;
}

/** The single "container" of a replayed recording (its format carries no container ids). */
export const STDIN_CONTAINER: ContainerInfo = Object.freeze({
  key: 'stdin',
  id: 'stdin',
  pidns: null,
  cgroup: null,
  containerId: null,
  host: false,
});

/** The pids of the processes in /proc now, or none when /proc cannot be read. */
export function livePids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(e));
  }
  return out;
}

/** A process's parent pid (from /proc/PID/stat), or null when it has exited. */
export function parentPidOf(pid: number): number | null {
  const fields = statFieldsOf(pid);
  if (fields === null) return null;
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : null;
}

/**
 * The fields of /proc/PID/stat that follow `pid (comm)`: the state, the parent pid, …; null when
 * the process is gone (or there is no /proc).
 */
function statFieldsOf(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Inode of a process's pid namespace (`/proc/PID/ns/pid` → `pid:[N]`), or null. */
export function pidNamespaceOf(pid: number | 'self'): number | null {
  try {
    const m = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/pid`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * A process's cgroup path: the cgroup v2 path (`0::/…`) when it is not the root, else the
 * first non-root v1 path (preferring one that holds a container id); null when all are `/`.
 */
export function cgroupPathOf(pid: number | 'self'): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  return pickCgroupPath(text);
}

/** The path {@link cgroupPathOf} picks from the text of /proc/PID/cgroup. */
export function pickCgroupPath(text: string): string | null {
  let v2: string | null = null;
  let v1: string | null = null;
  let withId: string | null = null;
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const p = line.slice(b + 1).trim();
    if (p === '' || p === '/') continue;
    if (line.startsWith('0::')) v2 = p;
    else v1 ??= p;
    if (withId === null && CONTAINER_ID.test(p)) withId = p;
  }
  return withId ?? v2 ?? v1;
}

/** The container a live process is in, or null when it is gone. */
export function containerOfPid(pid: number, ownPidns: number | null): ContainerInfo | null {
  const ns = pidNamespaceOf(pid);
  if (ns === null) return null;
  return containerFrom(ns, cgroupPathOf(pid), ownPidns);
}

/**
 * Is a process alive (signal 0; EPERM counts as alive)? A zombie (exited, not yet reaped by its
 * parent) is not: signal 0 still reaches it, but it runs nothing and cannot be traced. Right after
 * a container stops, its processes are zombies until the runtime reaps them; taken as alive, a
 * followed container's strace would be pointed at them again, fail at once, and that failure
 * would count as a restart of its own before the container came back (the likely cause of a CI
 * run counting 2 restarts for one).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const fields = statFieldsOf(pid);
  if (fields === null) return true; // no /proc to say otherwise
  return fields[0] !== 'Z' && fields[0] !== 'X';
}

/** Process name (`/proc/PID/comm`), or null. */
export function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return null;
  }
}

/** Executable path (`/proc/PID/exe`), or null. */
export function exeOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** Real uid and thread-group id from /proc/PID/status, or null. */
export function statusOf(pid: number): { uid: number; tgid: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const uid = /^Uid:\s+(\d+)/m.exec(text);
  const tgid = /^Tgid:\s+(\d+)/m.exec(text);
  return { uid: uid ? Number(uid[1]) : 0, tgid: tgid ? Number(tgid[1]) : pid };
}

/** Every live descendant of `pid` (children, grandchildren, …), from /proc/*\/stat; bounded. */
export function descendantsOf(pid: number, max = 4096): number[] {
  const children = new Map<number, number[]>();
  for (const p of livePids()) {
    const ppid = parentPidOf(p);
    if (ppid === null) continue;
    let list = children.get(ppid);
    if (!list) children.set(ppid, (list = []));
    list.push(p);
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0 && out.length < max) {
    const p = queue.shift()!;
    out.push(p);
    for (const c of children.get(p) ?? []) queue.push(c);
  }
  return out;
}
