/**
 * A busybox httpd in a pid namespace of its own (`unshare --pid --fork --mount-proc`): to eBPF
 * it is a container (its own pid namespace, what the per-container filter keys on), without a
 * container runtime. For the live eBPF aggregate tests and `npm run bench:live`. It serves a
 * static page and a CGI script that runs a shell (`/cgi-bin/run`; `?passwd` reads /etc/passwd:
 * the attack).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Why these tests cannot run here, or null when they can. */
export function nsHttpdMissing(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root';
  if (!existsSync('/bin/busybox')) return 'needs a static /bin/busybox (busybox-static)';
  for (const [bin, arg] of [['unshare', '--version'], ['bpftrace', '--version']] as const) {
    if (spawnSync(bin, [arg], { encoding: 'utf8', timeout: 20_000 }).status !== 0) return `needs ${bin}`;
  }
  return null;
}

const CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
case "$QUERY_STRING" in
  passwd) cat /etc/passwd ;;
  *) echo ok ;;
esac
`;

export interface NsHttpd {
  port: number;
  /** Host pid of httpd (inside its own pid namespace). */
  pid: number;
  child: ChildProcess;
  stop(): void;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Starts httpd on 127.0.0.1:port and waits until it answers (bounded). */
export async function startNsHttpd(port: number): Promise<NsHttpd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-www-'));
  mkdirSync(path.join(dir, 'cgi-bin'));
  writeFileSync(path.join(dir, 'index.html'), `<html><body>${'hello '.repeat(100)}</body></html>\n`);
  writeFileSync(path.join(dir, 'cgi-bin', 'run'), CGI, { mode: 0o755 });
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', '/bin/busybox', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', dir], { stdio: 'ignore' });
  const stop = () => {
    child.kill('SIGKILL'); // unshare --fork: its child (httpd, pid 1 of the namespace) and the namespace go with it
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 20_000;
  let pid = 0;
  while (Date.now() < end) {
    pid = childrenOf(child.pid!)[0] ?? 0;
    if (pid > 0 && (await get(port, '/index.html', 2000)) === 200) return { port, pid, child, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  stop();
  throw new Error(`busybox httpd on port ${port} did not answer within 20 s`);
}

/** One HTTP GET on loopback (resolves with the status code, or 0 on error). */
export async function get(port: number, pathname: string, timeoutMs = 5000): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${pathname}`, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}
