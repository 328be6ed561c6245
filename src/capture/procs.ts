/**
 * What a live source knows about each traced thread: its process (thread group), name,
 * executable, uid and container. strace prints only a thread id per line, so the rest is read
 * from /proc the first time a thread shows up, or inherited along clone/fork (a child that has
 * already exited when we look is attributed through its parent), and updated on execve.
 *
 * Bounded: at most `maxEntries` threads are remembered (the oldest are forgotten first), so a
 * fork-heavy workload cannot grow it without limit.
 */
import path from 'node:path';
import { commOf, containerFrom, containerOfPid, exeOf, statusOf, type ContainerInfo } from './containers.js';

export interface ProcInfo {
  tid: number;
  tgid: number;
  /** Process name as LID-DS writes it (comm, whitespace replaced by `_`). */
  comm: string;
  /** Executable path, when known. */
  exe: string | null;
  uid: number;
  container: ContainerInfo;
}

export interface ProcessTableOptions {
  /** Our own pid namespace (the host's). */
  ownPidns: number | null;
  /** Container for a thread we cannot place (gone before we looked, no known parent). */
  fallback: ContainerInfo;
  maxEntries?: number;
  /** Read /proc (default true; tests turn it off). */
  procfs?: boolean;
}

export function sanitizeComm(comm: string): string {
  const c = comm.replace(/\s/g, '_');
  return c === '' ? '?' : c;
}

export class ProcessTable {
  private readonly map = new Map<number, ProcInfo>();
  private readonly max: number;
  private readonly procfs: boolean;
  /** Containers by key, so equal containers share one object. */
  private readonly containers = new Map<string, ContainerInfo>();

  constructor(private readonly opts: ProcessTableOptions) {
    this.max = opts.maxEntries ?? 65536;
    this.procfs = opts.procfs ?? true;
  }

  get size(): number {
    return this.map.size;
  }

  private intern(c: ContainerInfo): ContainerInfo {
    const known = this.containers.get(c.key);
    if (known) return known;
    if (this.containers.size > 4096) this.containers.clear();
    this.containers.set(c.key, c);
    return c;
  }

  private put(info: ProcInfo): ProcInfo {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(info.tid, info);
    return info;
  }

  /** Is the thread known already? */
  has(tid: number): boolean {
    return this.map.has(tid);
  }

  /**
   * The thread's info, read from /proc on first sight; when /proc no longer has it, inherited
   * from `parentHint` (a thread with a clone in progress) if given, else the fallback.
   */
  get(tid: number, parentHint = -1): ProcInfo {
    const known = this.map.get(tid);
    if (known) return known;
    const fromProc = this.fromProc(tid);
    if (fromProc) return this.put(fromProc);
    const parent = parentHint >= 0 ? this.map.get(parentHint) : undefined;
    if (parent) return this.put({ tid, tgid: tid, comm: parent.comm, exe: parent.exe, uid: parent.uid, container: parent.container });
    return this.put({ tid, tgid: tid, comm: '?', exe: null, uid: 0, container: this.opts.fallback });
  }

  /** Adds a thread as given (tests, sources that know everything). */
  set(info: ProcInfo): void {
    this.put({ ...info, comm: sanitizeComm(info.comm), container: this.intern(info.container) });
  }

  private fromProc(tid: number): ProcInfo | null {
    if (!this.procfs) return null;
    const container = containerOfPid(tid, this.opts.ownPidns);
    if (container === null) return null;
    const st = statusOf(tid);
    const tgid = st?.tgid ?? tid;
    return {
      tid,
      tgid,
      comm: sanitizeComm(commOf(tid) ?? '?'),
      exe: exeOf(tgid),
      uid: st?.uid ?? 0,
      container: this.intern(container),
    };
  }

  /**
   * A clone/fork returned `child` in `parentTid`. A thread (CLONE_THREAD) joins the parent's
   * process; a new process gets its own. The child's container is read from /proc when it is
   * still there (it may have entered a new pid namespace), else inherited.
   */
  fork(parentTid: number, child: number, thread: boolean): ProcInfo {
    const parent = this.get(parentTid);
    let container = parent.container;
    if (this.procfs && !thread) {
      const c = containerOfPid(child, this.opts.ownPidns);
      if (c !== null) container = this.intern(c);
    }
    const existing = this.map.get(child);
    if (existing) {
      // The child's own lines came first (strace may print them before the parent's return).
      existing.tgid = thread ? parent.tgid : child;
      return existing;
    }
    return this.put({ tid: child, tgid: thread ? parent.tgid : child, comm: parent.comm, exe: parent.exe, uid: parent.uid, container });
  }

  /** A successful execve: new name and executable. */
  exec(tid: number, file: string): void {
    const p = this.get(tid);
    p.comm = sanitizeComm(path.posix.basename(file).slice(0, 15));
    p.exe = file;
  }

  /** The thread is gone. */
  exit(tid: number): void {
    this.map.delete(tid);
  }

  /** A container for a namespace/cgroup pair (shared object per key). */
  container(pidns: number | null, cgroup: string | null): ContainerInfo {
    return this.intern(containerFrom(pidns, cgroup, this.opts.ownPidns));
  }
}
