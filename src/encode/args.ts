/**
 * Which syscalls carry an argument, and how it is read.
 *
 * Faithful: only `open`, `stat`, `clone`, `execve`, by token position, exactly as the
 * reference slices them: open/stat take the 2nd token minus 5 chars, execve the 1st minus 9,
 * clone the 2nd minus 4. A call with too few tokens has no argument (pandas' NaN).
 *
 * Improved (default): the modern members of each family are recognised too (openat, newfstatat,
 * clone3, execveat, …), and the value is read by parameter name, so the enter and exit events
 * of a call, and every sysdig/LID-DS layout, give the same path.
 */
import type { SyscallEvent } from '../trace/event.js';
import { processPath } from './process-path.js';

export const ArgFamily = {
  None: 0,
  Open: 1,
  Stat: 2,
  Execve: 3,
  Clone: 4,
} as const;
export type ArgFamily = (typeof ArgFamily)[keyof typeof ArgFamily];

const FAITHFUL_FAMILIES: Record<string, ArgFamily> = {
  open: ArgFamily.Open,
  stat: ArgFamily.Stat,
  execve: ArgFamily.Execve,
  clone: ArgFamily.Clone,
};

const IMPROVED_FAMILIES: Record<string, ArgFamily> = {
  open: ArgFamily.Open,
  openat: ArgFamily.Open,
  openat2: ArgFamily.Open,
  creat: ArgFamily.Open,
  stat: ArgFamily.Stat,
  stat64: ArgFamily.Stat,
  lstat: ArgFamily.Stat,
  lstat64: ArgFamily.Stat,
  newfstatat: ArgFamily.Stat,
  fstatat: ArgFamily.Stat,
  fstatat64: ArgFamily.Stat,
  statx: ArgFamily.Stat,
  execve: ArgFamily.Execve,
  execveat: ArgFamily.Execve,
  clone: ArgFamily.Clone,
  clone3: ArgFamily.Clone,
  fork: ArgFamily.Clone,
  vfork: ArgFamily.Clone,
};

/** Parameter read by name in improved mode, per family. */
const PARAM_OF: readonly string[] = ['', 'name', 'path', 'filename', 'exe'];

export function argFamilyOf(syscall: string, faithful: boolean): ArgFamily {
  const table = faithful ? FAITHFUL_FAMILIES : IMPROVED_FAMILIES;
  return Object.prototype.hasOwnProperty.call(table, syscall) ? table[syscall] : ArgFamily.None;
}

/** Names of the syscalls that carry arguments in a mode (for docs and help). */
export function argSyscalls(faithful: boolean): string[] {
  return Object.keys(faithful ? FAITHFUL_FAMILIES : IMPROVED_FAMILIES);
}

/** Python's s[n:] where s may hold astral characters (counted as one by Python). */
function pyDrop(s: string, n: number): string {
  for (let i = 0; i < n && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) return Array.from(s).slice(n).join('');
  }
  return s.slice(n);
}

/**
 * Memoises processPath on the raw value: a trace opens the same few hundred paths again and
 * again, and process_path is string work we need not repeat. Bounded, so a trace of unique
 * paths cannot grow it without limit.
 */
export class ArgReader {
  private cache = new Map<string, string>();
  private static readonly MAX = 50_000;

  constructor(readonly faithful: boolean) {}

  /** The processed argument of an event of family `fam`, or null when it has none. */
  read(ev: SyscallEvent, fam: ArgFamily): string | null {
    let raw: string | undefined;
    if (this.faithful) {
      switch (fam) {
        case ArgFamily.Open:
        case ArgFamily.Stat: {
          const t = ev.token(1);
          raw = t === undefined ? undefined : pyDrop(t, 5);
          break;
        }
        case ArgFamily.Execve: {
          const t = ev.token(0);
          raw = t === undefined ? undefined : pyDrop(t, 9);
          break;
        }
        case ArgFamily.Clone: {
          const t = ev.token(1);
          raw = t === undefined ? undefined : pyDrop(t, 4);
          break;
        }
        default:
          return null;
      }
    } else {
      raw = ev.param(PARAM_OF[fam]);
      // execveat names its path `pathname` (sysdig/LID-DS: dirfd, pathname, flags).
      if (raw === undefined && fam === ArgFamily.Execve) raw = ev.param('pathname');
    }
    if (raw === undefined) return null;
    return this.process(raw);
  }

  process(raw: string): string {
    let v = this.cache.get(raw);
    if (v === undefined) {
      v = processPath(raw);
      if (this.cache.size >= ArgReader.MAX) this.cache.clear();
      this.cache.set(raw, v);
    }
    return v;
  }
}
