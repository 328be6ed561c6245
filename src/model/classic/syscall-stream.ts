/**
 * The syscall stream the classic detectors (STIDE, BoSC) read: what they share.
 *
 * - Which events: one per system call. A call is recorded as an enter event and an exit event
 *   (sysdig, LID-DS); only the enter event (or an event of unknown direction) counts, so each
 *   call counts once (LID-DS's own detectors read enter events too).
 * - Syscall names are mapped to a detector-local index (0, 1, …, in order of first appearance
 *   in training); the run's NameTable ids are not stable across runs, the names are.
 * - Folds for the training scores: a training window is scored against what the OTHER training
 *   recordings taught (leave one recording out), so that the thresholds measure how novel
 *   normal data looks to the detector, as the autoencoders' training errors do. With a single
 *   training recording, the folds are time blocks instead: its windows cut into
 *   min(MAX_BLOCK_FOLDS, windows) contiguous blocks of (nearly) equal length, each scored
 *   against the others. Fixed-length blocks would leave a short recording a single block,
 *   where nothing is left to compare with and every training score is 1.
 *
 * Free of TF.js.
 */
import { DIR_EXIT, type SyscallEvent } from '../../trace/event.js';
import type { NameTable } from '../../trace/names.js';

/**
 * Folds (time blocks) of a single training recording. Ten: each window is judged against 90 %
 * of the recording, close to what the detector will know at test time, while a block stays long
 * enough (a tenth of the recording) that the activity it holds is rarely cut across blocks.
 */
export const MAX_BLOCK_FOLDS = 10;

/** The time block (fold) of window w of a single training recording of n windows. */
export function blockFold(w: number, n: number): number {
  const k = Math.min(MAX_BLOCK_FOLDS, n);
  return Math.floor((w * k) / n);
}

/** Is this event a call (counted once per call)? */
export function isCall(ev: SyscallEvent): boolean {
  return ev.dir !== DIR_EXIT;
}

/** Syscall names ↔ detector-local indices. */
export class SyscallIndex {
  readonly names: string[] = [];
  private readonly byName = new Map<string, number>();

  constructor(
    names: readonly string[] = [],
    /** A frozen index (a trained detector) does not learn names: unknown ones are -1. */
    readonly frozen = false,
    /** Largest number of names; further names share index `limit - 1`. */
    readonly limit = 0xffff,
  ) {
    for (const n of names) this.add(n);
  }

  get size(): number {
    return this.names.length;
  }

  private add(name: string): number {
    let i = this.byName.get(name);
    if (i !== undefined) return i;
    if (this.names.length >= this.limit) return this.limit - 1;
    i = this.names.length;
    this.names.push(name);
    this.byName.set(name, i);
    return i;
  }

  indexOf(name: string): number {
    const i = this.byName.get(name);
    if (i !== undefined) return i;
    return this.frozen ? -1 : this.add(name);
  }
}

/** Caches NameTable id → local index for one run (ids are dense and small). */
export class LocalNames {
  private cache = new Int32Array(256).fill(-2);

  constructor(
    private readonly table: NameTable,
    private readonly index: SyscallIndex,
  ) {}

  local(id: number): number {
    if (id >= this.cache.length) {
      const bigger = new Int32Array(Math.max(id + 1, this.cache.length * 2)).fill(-2);
      bigger.set(this.cache);
      this.cache = bigger;
    }
    let v = this.cache[id];
    if (v === -2) {
      v = this.index.indexOf(this.table.name(id));
      this.cache[id] = v;
    }
    return v;
  }
}

/** Growable Int32 list. */
export class IntList {
  data = new Int32Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Fold membership of items (n-grams, bags) across training windows: for each item, the first
 * fold it was seen in, and whether it was seen in another fold too. Two fold systems are kept
 * at once (by recording, and by block of windows) so the choice can wait until the number of
 * usable recordings is known.
 */
export class FoldTracker {
  private firstRec = new Int32Array(1024).fill(-1);
  private multiRec = new Uint8Array(1024);
  private firstBlock = new Int32Array(1024).fill(-1);
  private multiBlock = new Uint8Array(1024);

  private ensure(id: number): void {
    if (id < this.firstRec.length) return;
    let size = this.firstRec.length;
    while (size <= id) size *= 2;
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(size).fill(-1);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(size);
      b.set(a);
      return b;
    };
    this.firstRec = i32(this.firstRec);
    this.multiRec = u8(this.multiRec);
    this.firstBlock = i32(this.firstBlock);
    this.multiBlock = u8(this.multiBlock);
  }

  see(id: number, rec: number, block: number): void {
    this.ensure(id);
    if (this.firstRec[id] === -1) this.firstRec[id] = rec;
    else if (this.firstRec[id] !== rec) this.multiRec[id] = 1;
    if (this.firstBlock[id] === -1) this.firstBlock[id] = block;
    else if (this.firstBlock[id] !== block) this.multiBlock[id] = 1;
  }

  /** Was the item seen in more than one fold? */
  shared(id: number, byRecording: boolean): boolean {
    return (byRecording ? this.multiRec[id] : this.multiBlock[id]) === 1;
  }

  /** The item's only fold (meaningful when not shared). */
  fold(id: number, byRecording: boolean): number {
    return byRecording ? this.firstRec[id] : this.firstBlock[id];
  }
}
