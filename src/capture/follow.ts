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
import { commOf, livePids } from './containers.js';

/**
 * The live processes whose cgroup path holds the 64-hex `containerId`, ready to be traced;
 * bounded by `max`. Empty while the runtime is still setting the container up: its init runs
 * as `runc:[2:INIT]` (or crun's) until it executes the container's entry point, and tracing the
 * runtime's own setup would count it as the container's activity.
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
    const comm = commOf(pid) ?? '';
    if (/^(?:runc|crun|youki)[:[]/.test(comm) || comm === 'runc' || comm === 'crun') {
      settingUp = true;
      continue;
    }
    pids.push(pid);
  }
  return settingUp ? { pids: [], settingUp } : { pids, settingUp };
}
