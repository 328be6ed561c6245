/**
 * Real containers for the live tests: podman (runc, cgroupfs: what works on a VM with hybrid
 * cgroups and without CAP_SYS_RESOURCE) running busybox's httpd from an image imported from a
 * local rootfs (static /bin/busybox + applet links + /www), so nothing is pulled from a registry.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PODMAN = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];

export function podman(args: string[], timeoutMs = 60_000): string {
  const r = spawnSync('podman', [...PODMAN, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.error || r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}: ${(r.stderr ?? '').trim().slice(-400)}`);
  return r.stdout.trim();
}

/** A skip reason when podman cannot run a container here (not root, no podman, no static busybox), else false. */
export function podmanMissing(): string | false {
  const why = (m: string) => {
    const msg = `!!! SKIPPED: these tests need root, podman (runc) and a static /bin/busybox (apt-get install podman runc busybox-static): ${m} !!!`;
    console.warn(msg);
    return msg;
  };
  if (process.getuid?.() !== 0) return why('not root');
  const v = spawnSync('podman', ['--version'], { encoding: 'utf8', timeout: 15_000 });
  if (v.error || v.status !== 0) return why('podman --version failed');
  const b = spawnSync('/bin/busybox', ['true'], { timeout: 5000 });
  if (b.error || b.status !== 0) return why('/bin/busybox does not run');
  const f = spawnSync('file', ['-L', '/bin/busybox'], { encoding: 'utf8' });
  if (!f.error && f.status === 0 && !/statically linked|static-pie/.test(f.stdout)) return why('/bin/busybox is not static');
  return false;
}

/** Imports `localhost/NAME:1` from a busybox rootfs with httpd serving /www (index.html). */
export function buildBusyboxImage(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chids-img-'));
  try {
    const root = path.join(dir, 'root');
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'www'), { recursive: true });
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
    for (const a of ['sh', 'httpd', 'cat', 'ls', 'sleep', 'echo', 'id']) symlinkSync('busybox', path.join(root, 'bin', a));
    writeFileSync(path.join(root, 'www', 'index.html'), 'hello\n');
    const tar = path.join(dir, 'img.tar');
    const t = spawnSync('tar', ['-C', root, '-cf', tar, '.'], { timeout: 30_000 });
    if (t.status !== 0) throw new Error(`tar failed: ${t.stderr?.toString()}`);
    const image = `localhost/${name}:1`;
    podman(['import', tar, image], 120_000);
    return image;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Container {
  name: string;
  port: number;
  /** Host pid of the container's httpd (changes on restart). */
  pid(): number;
  id: string;
}

/** Runs busybox httpd in a new container published on a free port of 127.0.0.1 (podman picks it; kept across restarts). */
export function runHttpd(image: string, name: string): Container {
  podman(['rm', '-f', '-t', '0', name]);
  podman(['run', '-d', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096', '--name', name, '-p', '127.0.0.1::80', image, '/bin/httpd', '-f', '-p', '80', '-h', '/www'], 120_000);
  const id = podman(['inspect', name, '--format', '{{.Id}}']);
  const port = Number(/:(\d+)\s*$/.exec(podman(['port', name, '80/tcp']))?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`podman port ${name}: no published port`);
  return { name, port, id, pid: () => Number(podman(['inspect', name, '--format', '{{.State.Pid}}'])) };
}

export function removeContainer(name: string): void {
  try {
    podman(['rm', '-f', '-t', '0', name]);
  } catch {
    // already gone
  }
}

export function removeImage(image: string): void {
  try {
    podman(['rmi', '-f', image]);
  } catch {
    // already gone
  }
}

/** GETs / from the container `n` times (each request is a new child of httpd); returns how many answered 200. */
export async function hit(port: number, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(5000) });
      await r.text();
      if (r.status === 200) ok++;
    } catch {
      // counted as not answered
    }
  }
  return ok;
}
