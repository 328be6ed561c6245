/**
 * Which syscalls carry an argument, and how it is read.
 *
 * Faithful: only `open`, `stat`, `clone`, `execve`, by token position, exactly as the
 * reference slices them: open/stat take the 2nd token minus 5 chars, execve the 1st minus 9,
 * clone the 2nd minus 4. A call with too few tokens has no argument (pandas' NaN).
 *
 * Improved (default): the modern members of each family are recognised too (openat, newfstatat,
 * clone3, execveat, …), and the value is read by parameter name, so the enter and exit events
 * of a call, and every sysdig/LID-DS layout, give the same path. An execve/execveat exit that
 * carries the argv (`args=`) gives `<processed exe> <command shape>` (src/trace/command.ts): a
 * program the service runs anyway, run with another command line (SQL injected into the query
 * a web app hands to `sqlite3`), is then an unseen argument; the enter event keeps giving the
 * processed filename.
 */
import { COMMAND_SHAPE, commandShape, execArgs } from '../trace/command.js';
import type { SyscallEvent } from '../trace/event.js';
import { processPath } from './process-path.js';
import type { Vocabulary } from './vocabulary.js';

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
  /** Command lines by `exe\0argv`: at most COMMANDS keys of at most COMMAND_KEY chars (a few MB). */
  private shapes = new Map<string, string>();
  private static readonly COMMANDS = 2_000;
  private static readonly COMMAND_KEY = 2_048;

  /** Whether the last read() returned a command shape (`<exe> <shape>`) rather than a path. */
  lastCommand = false;

  /** `commands`: improved mode reads an execve exit's command shape (false for a baseline trained before it; see Vocabulary.execCommands). */
  constructor(
    readonly faithful: boolean,
    readonly commands = true,
    /** The command shape version (Vocabulary.commandShape). */
    readonly shape = COMMAND_SHAPE,
    /** Improved mode reads the numbers of `/proc` paths as a class (Vocabulary.procNumbers). */
    readonly procNumbers = true,
  ) {}

  /** A reader that reads arguments as `vocab`'s were read when its baseline was trained. */
  static forVocabulary(faithful: boolean, vocab: Vocabulary): ArgReader {
    return new ArgReader(faithful, vocab.execCommands !== false, vocab.commandShape, vocab.procNumbers !== false);
  }

  /** This reader reads arguments as `vocab`'s were read. */
  readsAs(vocab: Vocabulary): boolean {
    return this.commands === (vocab.execCommands !== false) && this.shape === (vocab.commandShape ?? COMMAND_SHAPE) && this.procNumbers === (vocab.procNumbers !== false);
  }

  /** The processed argument of an event of family `fam`, or null when it has none. */
  read(ev: SyscallEvent, fam: ArgFamily): string | null {
    let raw: string | undefined;
    this.lastCommand = false;
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
      if (fam === ArgFamily.Execve && this.commands) {
        const argv = execArgs(ev);
        if (argv !== undefined) {
          this.lastCommand = true;
          return this.command(ev.param('exe') ?? '', argv);
        }
      }
      raw = ev.param(PARAM_OF[fam]);
      // execveat names its path `pathname` (sysdig/LID-DS: dirfd, pathname, flags).
      if (raw === undefined && fam === ArgFamily.Execve) raw = ev.param('pathname');
    }
    if (raw === undefined) return null;
    return this.process(raw);
  }

  /**
   * `<processed exe> <command shape>`, memoised like process(): a service runs the same few
   * command shapes per request, and shaping is regex work. Keys longer than COMMAND_KEY (a huge
   * argv) are shaped every time rather than kept.
   */
  command(exe: string, argv: string): string {
    const key = exe + '\0' + argv;
    const cacheable = key.length <= ArgReader.COMMAND_KEY;
    let v = cacheable ? this.shapes.get(key) : undefined;
    if (v === undefined) {
      v = this.process(exe) + ' ' + commandShape(argv, exe, this.shape);
      if (cacheable) {
        if (this.shapes.size >= ArgReader.COMMANDS) this.shapes.clear();
        this.shapes.set(key, v);
      }
    }
    return v;
  }

  process(raw: string): string {
    let v = this.cache.get(raw);
    if (v === undefined) {
      v = processPath(!this.faithful && this.procNumbers ? procNumbersAsClass(raw) : raw);
      if (this.cache.size >= ArgReader.MAX) this.cache.clear();
      this.cache.set(raw, v);
    }
    return v;
  }
}

const PROC_NUMBER = /\/[0-9]+(?=\/|$)/g;

/**
 * A `/proc` path with its all-digit components (pids, tids, fds) read as the class `<n>`:
 * `/proc/4711/stat` is `/proc/<n>/stat`. Why: the numbers name processes of one run; the next
 * run of the same program reads the same files under other numbers, so kept they make every
 * run's `/proc` reads unseen (measured on the web benchmark: 4 of its 6 false alarms at θ 1.0
 * were normal windows reading `/proc/<pid>/…` paths of pids training never had). Other paths
 * keep their digits (the reference's process_path already drops them from a lowercase last
 * component). Improved mode only; a baseline records it (`encoding.proc_numbers`).
 */
export function procNumbersAsClass(raw: string): string {
  return raw.startsWith('/proc/') ? raw.replace(PROC_NUMBER, '/<n>') : raw;
}
