/**
 * Interning of syscall names straight from the bytes of a line.
 *
 * The encoder's hot loop sees one syscall name per event; allocating a string for each of
 * them (millions per trace) and hashing it into a Map is most of the cost of a naive parser.
 * A trace uses a few hundred distinct names at most, so we hash the name's bytes, find the
 * dense id in an open-addressing table, and only create a string the first time a name is
 * seen. Ids are stable for the life of the table, so per-name facts (seen in training? which
 * argument family?) can live in plain arrays indexed by id.
 */
/** FNV-1a, 32 bit: the hash of the name table's keys. */
export const FNV_SEED = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

export class NameTable {
  private names: string[] = [];
  private readonly ids = new Map<string, number>();
  // Open addressing: slot -> id + 1 (0 = empty). Keys are compared by bytes.
  private slots = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private pool: Buffer = Buffer.allocUnsafe(4096);
  private poolUsed = 0;
  private starts: number[] = [];
  private lengths: number[] = [];

  get size(): number {
    return this.names.length;
  }

  name(id: number): string {
    return this.names[id];
  }

  /** Id of a name given as a string (creates it if new). */
  intern(name: string): number {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    const bytes = Buffer.from(name, 'utf8');
    return this.internBytes(bytes, 0, bytes.length);
  }

  /** Id of a name given as a string, or -1 if it was never interned. */
  lookup(name: string): number {
    const id = this.ids.get(name);
    return id === undefined ? -1 : id;
  }

  /** Id of the name in buf[start, end). */
  internBytes(buf: Uint8Array, start: number, end: number): number {
    let h = FNV_SEED;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
    return this.internHashed(buf, start, end, h);
  }

  /**
   * Id of the name in buf[start, end) whose FNV-1a hash (FNV_SEED, then
   * `h = Math.imul(h ^ byte, FNV_PRIME)` per byte) the caller computed while scanning the line:
   * the parser's fused pass reads each byte of the name once.
   */
  internHashed(buf: Uint8Array, start: number, end: number, h: number): number {
    // Last name looked up: runs of the same syscall (enter/exit pairs, read loops) are common,
    // and one compare beats a probe.
    const lid = this.lastId;
    if (lid >= 0 && this.lastHash === h && this.lengths[lid] === end - start && this.sameBytes(lid, buf, start)) return lid;
    const id = this.probe(buf, start, end, h);
    this.lastId = id;
    this.lastHash = h;
    return id;
  }

  private lastId = -1;
  private lastHash = 0;

  private sameBytes(id: number, buf: Uint8Array, start: number): boolean {
    const s = this.starts[id];
    const len = this.lengths[id];
    const pool = this.pool;
    for (let i = 0; i < len; i++) if (pool[s + i] !== buf[start + i]) return false;
    return true;
  }

  private probe(buf: Uint8Array, start: number, end: number, h: number): number {
    const mask = this.slots.length - 1;
    let slot = h & mask;
    const len = end - start;
    for (;;) {
      const v = this.slots[slot];
      if (v === 0) break;
      const id = v - 1;
      if (this.hashes[slot] === h && this.lengths[id] === len) {
        const s = this.starts[id];
        const pool = this.pool;
        let same = true;
        for (let i = 0; i < len; i++) {
          if (pool[s + i] !== buf[start + i]) {
            same = false;
            break;
          }
        }
        if (same) return id;
      }
      slot = (slot + 1) & mask;
    }
    return this.add(buf, start, end, h, slot);
  }

  private add(buf: Uint8Array, start: number, end: number, h: number, slot: number): number {
    const len = end - start;
    const text = Buffer.from(buf.buffer, buf.byteOffset + start, len).toString('utf8');
    const existing = this.ids.get(text);
    // Two byte sequences can decode to the same string (invalid UTF-8 both become U+FFFD);
    // they must share the id, or a name would be "unseen" depending on its bytes.
    const id = existing ?? this.names.length;
    if (existing === undefined) {
      this.names.push(text);
      this.ids.set(text, id);
    }
    if (this.poolUsed + len > this.pool.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.pool.length * 2, this.poolUsed + len));
      this.pool.copy(bigger, 0, 0, this.poolUsed);
      this.pool = bigger;
    }
    for (let i = 0; i < len; i++) this.pool[this.poolUsed + i] = buf[start + i];
    // A byte key that maps to an existing id still needs its own slot for fast hits.
    if (existing === undefined) {
      this.starts.push(this.poolUsed);
      this.lengths.push(len);
      this.poolUsed += len;
      this.slots[slot] = id + 1;
      this.hashes[slot] = h;
    }
    if (this.names.length * 2 > this.slots.length) this.grow();
    return id;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    const slots = new Int32Array(size);
    const hashes = new Int32Array(size);
    const mask = size - 1;
    for (let s = 0; s < this.slots.length; s++) {
      const v = this.slots[s];
      if (v === 0) continue;
      let slot = this.hashes[s] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = v;
      hashes[slot] = this.hashes[s];
    }
    this.slots = slots;
    this.hashes = hashes;
  }
}
