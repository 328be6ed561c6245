/**
 * Following a traced container across restarts.
 *
 * A process id does not survive `podman restart` / `docker restart` / a pod's container restart:
 * the container's processes end and new ones start under new pids. What does survive is the
 * container id the runtime puts in the cgroup path (`/libpod_parent/libpod-<64 hex>`,
 * `…/docker-<64 hex>.scope`, `…/cri-containerd-<64 hex>.scope`), so a container is found again by
 * the processes whose cgroup path holds its id. Read from /proc only while the container is gone
 * (a poll, never per event), so it costs nothing while the container runs.
 */
import { readFileSync } from 'node:fs';
import { commOf, exeOf, isAlive, livePids } from './containers.js';

/**
 * The live processes whose cgroup path holds the 64-hex `containerId`, ready to be traced;
 * bounded by `max`. Empty while the runtime is still setting the container up, since tracing the
 * runtime's own setup would count it as the container's activity, and its first process is gone
 * within milliseconds (strace would be pointed at it, lose it, and count a second restart).
 */
export function processesOfContainer(containerId: string, max = 4096): { pids: number[]; settingUp: boolean } {
  const pids: number[] = [];
  let settingUp = false;
  for (const pid of livePids()) {
    if (pids.length >= max) break;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    if (!text.includes(containerId)) continue;
    if (isRuntimeSetup(commOf(pid) ?? '', exeOf(pid))) {
      settingUp = true;
      continue;
    }
    if (isAlive(pid)) pids.push(pid); // not a zombie the runtime has yet to reap
  }
  return settingUp ? { pids: [], settingUp } : { pids, settingUp };
}

/**
 * Is this process the container runtime setting the container up, not the container's own?
 * runc starts as `/proc/self/exe init`, so for its first milliseconds its name is `exe` and only
 * its executable says runc; it then renames itself `runc:[0:PARENT]`, `runc:[1:CHILD]`,
 * `runc:[2:INIT]` (whose executable reads as `/`) until it executes the entry point. crun and
 * youki follow the same pattern; a runtime re-executed from a sealed copy shows `memfd:runc…`.
 */
export function isRuntimeSetup(comm: string, exe: string | null): boolean {
  if (RUNTIME.test(comm)) return true;
  if (exe === null) return false;
  // A memfd's link reads `/memfd:NAME (deleted)`, and NAME may hold slashes of its own.
  if (/^\/?memfd:(?:runc|crun|youki)/.test(exe)) return true;
  return RUNTIME.test(exe.slice(exe.lastIndexOf('/') + 1).replace(/ \(deleted\)$/, ''));
}

/** A runtime's name alone, or renamed for a stage of its setup (`runc:[2:INIT]`). */
const RUNTIME = /^(?:runc|crun|youki)(?:$|[:[])/;
