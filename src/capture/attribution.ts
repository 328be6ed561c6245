/**
 * Which container each LID-DS line of a strace capture belongs to.
 *
 * strace sees threads, not containers. A thread's container is read from /proc the first time
 * it shows up (its pid namespace, and the container id in its cgroup path); a thread that is
 * already gone by then (a short-lived child) inherits its parent's, learnt from the clone
 * family's exit lines the converter writes (`clone < res=CHILD` in the parent, `clone < res=0
 * … ptid=PARENT(…)` in the child), and so does one whose /proc entry names another container
 * than its parent's; anything else falls back to the traced target's container.
 *
 * Bounded: at most `maxThreads` threads are remembered (oldest forgotten first).
 */
import { containerFrom, containerOfPid, type ContainerInfo } from './containers.js';
import { CLONE_FAMILY } from '../trace/syscall-families.js';


export interface ContainerTrackerOptions {
  /** Our own pid namespace (the host's). */
  ownPidns: number | null;
  /** Container of a thread that cannot be placed. */
  fallback: ContainerInfo;
  /** Read /proc (default true; tests turn it off). */
  procfs?: boolean;
  maxThreads?: number;
}

export class ContainerTracker {
  private readonly byTid = new Map<number, ContainerInfo>();
  private readonly parentOf = new Map<number, number>();
  private readonly containers = new Map<string, ContainerInfo>();
  private readonly procfs: boolean;
  private readonly max: number;

  constructor(private readonly o: ContainerTrackerOptions) {
    this.procfs = o.procfs ?? true;
    this.max = o.maxThreads ?? 65536;
  }

  /** The container of a LID-DS line (`ts uid pid proc tid syscall dir params…`). */
  ofLine(line: string): ContainerInfo {
    const t = fields(line);
    if (t === null) return this.o.fallback;
    const { tid, name, dir, params } = t;
    if (dir === '<' && CLONE_FAMILY.has(name)) {
      const res = /(?:^| )res=(-?\d+)/.exec(params);
      if (res !== null) {
        const r = Number(res[1]);
        if (r > 0) this.remember(this.parentOf, r, tid);
        else if (r === 0) {
          const p = /(?:^| )ptid=(\d+)/.exec(params);
          if (p !== null) this.remember(this.parentOf, tid, Number(p[1]));
        }
      }
    }
    return this.of(tid);
  }

  /** The container of a thread. */
  of(tid: number): ContainerInfo {
    const known = this.byTid.get(tid);
    if (known !== undefined) return known;
    const parent = this.parentOf.get(tid);
    const inherited = parent !== undefined && parent !== tid ? this.byTid.get(parent) : undefined;
    let c: ContainerInfo | null = this.procfs ? containerOfPid(tid, this.o.ownPidns) : null;
    // A child of a container's process cannot leave that container's cgroup by forking (a new
    // pid namespace, yes: /proc says which, with the same container id). When /proc names another
    // container or none, it describes another process that got the number after the child ended
    // (CI: a line attributed to another test's pid namespace; this VM's pid space is 32768):
    // the parent, which strace reported, is the truth.
    if (inherited !== undefined && inherited.containerId !== null && c?.containerId !== inherited.containerId) c = inherited;
    if (c === null && inherited !== undefined) c = inherited;
    const found = this.intern(c ?? this.o.fallback);
    this.remember(this.byTid, tid, found);
    return found;
  }

  /** A thread ended (`+++ exited`): forget it. */
  exit(tid: number): void {
    this.byTid.delete(tid);
    this.parentOf.delete(tid);
  }

  private intern(c: ContainerInfo): ContainerInfo {
    const known = this.containers.get(c.key);
    if (known !== undefined) return known;
    if (this.containers.size > 4096) this.containers.clear();
    this.containers.set(c.key, c);
    return c;
  }

  private remember<V>(map: Map<number, V>, k: number, v: V): void {
    if (map.size >= this.max && !map.has(k)) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(k, v);
  }

  /** A container for a pid namespace and cgroup path. */
  container(pidns: number | null, cgroup: string | null): ContainerInfo {
    return this.intern(containerFrom(pidns, cgroup, this.o.ownPidns));
  }
}

/** tid, syscall, direction and the params of a LID-DS line (the process name has no spaces in converter output). */
function fields(line: string): { tid: number; name: string; dir: string; params: string } | null {
  let p = 0;
  const starts: number[] = [];
  for (let k = 0; k < 7; k++) {
    while (p < line.length && line.charCodeAt(p) === 32) p++;
    if (p >= line.length) return null;
    starts.push(p);
    const sp = line.indexOf(' ', p);
    p = sp < 0 ? line.length : sp;
  }
  const tok = (k: number) => line.slice(starts[k], line.indexOf(' ', starts[k]) < 0 ? line.length : line.indexOf(' ', starts[k]));
  const tid = Number(tok(4));
  if (!Number.isInteger(tid)) return null;
  return { tid, name: tok(5), dir: tok(6), params: line.slice(p) };
}
