/**
 * The programs the lab runs, the Debian packages that provide them, and the checks that give
 * a clear error (naming the package) before anything is started.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';

/** Program → Debian package. */
export const PACKAGES: Record<string, string> = {
  strace: 'strace',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  ip: 'iproute2',
  nginx: 'nginx',
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  sqlite3: 'sqlite3',
  ping: 'iputils-ping',
  sha256sum: 'coreutils',
  bash: 'bash',
  hydra: 'hydra',
  sqlmap: 'sqlmap',
  curl: 'curl',
  base64: 'coreutils',
};

/** Where a program is on PATH (plus the sbin directories, which a root PATH may lack), or null. */
export function findProgram(name: string, envPath = process.env.PATH ?? ''): string | null {
  const dirs = [...envPath.split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Throws a ChidsError naming the Debian packages of the programs that are missing. */
export function requirePrograms(names: readonly string[], what: string): void {
  const missing = names.filter((n) => findProgram(n) === null);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((n) => PACKAGES[n] ?? n))];
  throw new ChidsError(
    `${what} needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed; install the Debian package${pkgs.length === 1 ? '' : 's'} ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')})`,
  );
}

/** Throws unless this process is root (the lab needs namespaces and ptrace). */
export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new ChidsError('chids lab record needs root (namespaces and ptrace); run it with sudo');
  }
}

/** First line of `cmd args…` output (stdout or stderr), or null; for the recording's metadata. */
export function versionOf(cmd: string, args: string[], pattern?: RegExp): string | null {
  if (findProgram(cmd) === null && !cmd.startsWith('/')) return null;
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  if (pattern) {
    const m = pattern.exec(text);
    return m ? (m[1] ?? m[0]).trim() : null;
  }
  const line = text.split('\n').find((l) => l.trim().length > 0);
  return line ? line.trim() : null;
}

/** Versions of the programs a victim and its attacks use (for the recording's JSON and the dataset README). */
export function programVersions(names: readonly string[]): Record<string, string> {
  const probes: Record<string, () => string | null> = {
    node: () => process.version,
    strace: () => versionOf('strace', ['-V'], /version\s+(\S+)/),
    nginx: () => versionOf('nginx', ['-v'], /nginx\/(\S+)/),
    'redis-server': () => versionOf('redis-server', ['--version'], /v=(\S+)/),
    sqlite3: () => versionOf('sqlite3', ['--version'], /^(\S+)/),
    hydra: () => versionOf('hydra', ['-h'], /Hydra v(\S+)/),
    sqlmap: () => versionOf('sqlmap', ['--version'], /^(\d\S*)/m),
    curl: () => versionOf('curl', ['--version'], /curl (\S+)/),
    'redis-cli': () => versionOf('redis-cli', ['--version'], /redis-cli (\S+)/),
    bash: () => versionOf('bash', ['--version'], /version (\S+)/),
    ping: () => versionOf('ping', ['-V'], /iputils[- ](\S+)/),
  };
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = probes[n]?.();
    if (v) out[n] = v;
  }
  return out;
}
