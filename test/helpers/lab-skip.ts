/**
 * Why a lab test cannot run here, or false: it needs root, the programs its victims and
 * attacks run, and a machine that lets root make namespaces and trace (root in a container
 * without CAP_SYS_ADMIN/CAP_SYS_PTRACE cannot). The reason is printed loudly, since a skip
 * hides a whole recording.
 */
import { spawnSync } from 'node:child_process';
import { findProgram, PACKAGES } from '../../src/lab/programs.js';

export function labSkipReason(what: string, needed: readonly string[]): string | false {
  const say = (msg: string) => {
    console.warn(msg);
    return msg;
  };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return say(`!!! SKIPPED: ${what} need root (namespaces and ptrace); run the tests as root (CI does) !!!`);
  }
  const missing = needed.filter((p) => findProgram(p) === null);
  if (missing.length) {
    const pkgs = [...new Set(missing.map((p) => PACKAGES[p] ?? p))].join(' ');
    return say(`!!! SKIPPED: ${what} need ${missing.join(', ')}: apt-get install ${pkgs} (.ci/run does) !!!`);
  }
  const probe = spawnSync('unshare', ['--pid', '--mount', '--uts', '--ipc', '--net', '--fork', '--mount-proc', '--', 'strace', '-f', '-o', '/dev/null', 'true'], { timeout: 10_000 });
  if (probe.status !== 0) {
    return say(`!!! SKIPPED: this machine cannot create namespaces or ptrace as root (${(probe.stderr?.toString() || probe.error?.message || '').trim().split('\n')[0]}) !!!`);
  }
  return false;
}
