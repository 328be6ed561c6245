/**
 * Resource limits for a lab victim: a cgroup of its own with a memory and a process-count
 * limit, so a fork bomb or a runaway allocation in an attack (or a victim bug) cannot take
 * the host down. Works with cgroup v2 (one unified hierarchy) and v1 (the `memory` and `pids`
 * controllers); the new group is a child of chids' own group, so it is also bound by any
 * limit the host already puts on chids.
 *
 * The victim joins it itself, before strace starts (the sandbox's setup script writes 0, "the
 * writing process", into each `cgroup.procs`), so every process of its tree is inside and the
 * joining is not in the trace. When the cgroup file system is not writable (no root, a
 * read-only /sys), the lab goes on without limits and says so.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface LabLimits {
  /** Bytes of memory (RSS + page cache) the victim's tree may use. */
  memoryBytes: number;
  /** Processes and threads the victim's tree may have at once. */
  pids: number;
}

export const DEFAULT_LAB_LIMITS: LabLimits = { memoryBytes: 1 << 30, pids: 512 };

export interface LabCgroup {
  /** The `cgroup.procs` files the victim writes 0 into to join. */
  procs: string[];
  /** The group directories (one for v2, one per controller for v1). */
  dirs: string[];
  /** Removes the (by then empty) groups; best effort. */
  remove(): void;
}

const ROOT = '/sys/fs/cgroup';

/** Our own group in each hierarchy, from /proc/self/cgroup: "" for v2, else by controller. */
function ownGroups(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1].split(',')) out.set(c, m[2]);
  }
  return out;
}

/** Creates the victim's cgroup; null (with the reason) when the host does not let us. */
export function createLabCgroup(name: string, limits: LabLimits = DEFAULT_LAB_LIMITS): { cgroup: LabCgroup | null; problem: string | null } {
  const made: string[] = [];
  const remove = () => {
    for (const d of made.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* still busy or already gone */
      }
    }
  };
  try {
    const own = ownGroups();
    const plan: { dir: string; files: [string, string][] }[] = [];
    if (existsSync(path.join(ROOT, 'cgroup.controllers'))) {
      // v2: the controllers must be enabled for our group's children (refused when our own
      // group holds processes and is not the root: then there are no limits, and we say so).
      const parent = path.join(ROOT, own.get('') ?? '/');
      const enabled = readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8');
      if (!/\bmemory\b/.test(enabled) || !/\bpids\b/.test(enabled)) writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+memory +pids');
      plan.push({ dir: path.join(ROOT, own.get('') ?? '/', name), files: [['memory.max', String(limits.memoryBytes)], ['memory.swap.max', '0'], ['pids.max', String(limits.pids)]] });
    } else {
      plan.push({ dir: path.join(ROOT, 'memory', own.get('memory') ?? '/', name), files: [['memory.limit_in_bytes', String(limits.memoryBytes)]] });
      plan.push({ dir: path.join(ROOT, 'pids', own.get('pids') ?? '/', name), files: [['pids.max', String(limits.pids)]] });
    }
    for (const p of plan) {
      mkdirSync(p.dir);
      made.push(p.dir);
      for (const [f, v] of p.files) {
        const file = path.join(p.dir, f);
        // memory.swap.max is absent when swap accounting is off: nothing to limit then.
        if (f === 'memory.swap.max' && !existsSync(file)) continue;
        writeFileSync(file, v);
      }
    }
    return { cgroup: { procs: plan.map((p) => path.join(p.dir, 'cgroup.procs')), dirs: plan.map((p) => p.dir), remove }, problem: null };
  } catch (err) {
    remove();
    return { cgroup: null, problem: (err as Error).message.split('\n')[0] };
  }
}
