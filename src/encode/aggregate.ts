/**
 * The anomaly vector of a window from an aggregate of it instead of its events: what an
 * in-kernel aggregation (src/capture/ebpf-aggregate.ts) can count without sending userspace a
 * line per syscall.
 *
 * The vector needs (see anomaly.ts) the number of events, the distinct nodes, and the distinct
 * predecessors and successors of the two special nodes USN and UAN. A node is a function of an
 * event's syscall name and argument only, so all of this follows from
 *   - the window's event count,
 *   - its distinct tokens: (syscall name, raw argument or none), and
 *   - its distinct consecutive token pairs (the sequence graph's edges over tokens; the first
 *     event of the window has no predecessor, as in the encoder).
 * Edge weights are not needed: the total weight is events − 1.
 *
 * Mapping tokens to nodes then merging the pairs gives exactly the node-level edge set the
 * encoder stamps event by event, and the arithmetic below is the encoder's, operation by
 * operation, so an aggregate of a window's events gives a bit-identical vector (tested).
 *
 * Improved mode only: faithful mode reads arguments by token position of the whole event line,
 * which a token of (name, argument) does not keep; a faithful monitor uses the per-event stream.
 */
import { ArgFamily, ArgReader, argFamilyOf } from './args.js';
import { BETA_FOLD_INCREASE, type AnomalyVector } from './anomaly.js';
import type { Vocabulary } from './vocabulary.js';

/** One distinct (syscall, argument) of a window. */
export interface AggregateToken {
  name: string;
  /** The argument's raw value as the event line carries it (before process_path), or null when the event has none. */
  arg: string | null;
}

export interface WindowAggregate {
  /** Events in the window. */
  events: number;
  /** Its distinct tokens. */
  tokens: AggregateToken[];
  /** Distinct consecutive pairs, as indices into `tokens`: from[i] → to[i]. */
  from: ArrayLike<number>;
  to: ArrayLike<number>;
}

export interface AggregateVector {
  av: AnomalyVector | null;
  unseenSyscalls: string[];
  unseenArgs: string[];
}

const NODE_USN = -1;
const NODE_UAN = -2;

/** Turns window aggregates into anomaly vectors against a vocabulary (improved mode). */
export class AggregateEncoder {
  private readonly args: ArgReader;
  private readonly family = new Map<string, ArgFamily>();

  constructor(private readonly vocab: Vocabulary) {
    // Read commands as the baseline's vocabulary holds them (eBPF aggregates carry no argv today).
    this.args = ArgReader.forVocabulary(false, vocab);
  }

  encode(w: WindowAggregate): AggregateVector {
    const count = w.events;
    if (count === 0) return { av: null, unseenSyscalls: [], unseenArgs: [] };
    const vocab = this.vocab;
    // Node of each token: its name's index in `nodeNames`, or USN / UAN.
    const node = new Int32Array(w.tokens.length);
    const nodeIds = new Map<string, number>();
    const unseenNames = new Set<string>();
    const argNames = new Set<string>();
    const unseenArgs = new Set<string>();
    let hasUSN = false;
    let hasUAN = false;
    for (let i = 0; i < w.tokens.length; i++) {
      const t = w.tokens[i];
      if (!vocab.seenSyscalls.has(t.name)) {
        unseenNames.add(t.name);
        node[i] = NODE_USN;
        hasUSN = true;
        continue;
      }
      let fam = this.family.get(t.name);
      if (fam === undefined) {
        fam = argFamilyOf(t.name, false);
        this.family.set(t.name, fam);
      }
      if (fam !== ArgFamily.None && t.arg !== null) {
        const arg = this.args.process(t.arg);
        if (!vocab.seenArgs.has(arg)) {
          node[i] = NODE_UAN;
          hasUAN = true;
          argNames.add(t.name);
          unseenArgs.add(arg);
          continue;
        }
      }
      let id = nodeIds.get(t.name);
      if (id === undefined) nodeIds.set(t.name, (id = nodeIds.size));
      node[i] = id;
    }
    const nodes = nodeIds.size + (hasUSN ? 1 : 0) + (hasUAN ? 1 : 0);
    const predUSN = new Set<number>();
    const succUSN = new Set<number>();
    const predUAN = new Set<number>();
    const succUAN = new Set<number>();
    for (let e = 0; e < w.from.length; e++) {
      const a = node[w.from[e]];
      const b = node[w.to[e]];
      if (b === NODE_USN) predUSN.add(a);
      if (a === NODE_USN) succUSN.add(b);
      if (b === NODE_UAN) predUAN.add(a);
      if (a === NODE_UAN) succUAN.add(b);
    }
    const fi = (count - 1) / (vocab.maxFreq * BETA_FOLD_INCREASE);
    const n = count >= 2 ? nodes : 0;
    let cUSN = 0;
    let cUAN = 0;
    if (n === 1) {
      // The only node: networkx gives it centrality 1 (in) + 1 (out).
      if (hasUSN) cUSN = 1 + 1;
      if (hasUAN) cUAN = 1 + 1;
    } else if (n > 1) {
      const scale = 1.0 / (n - 1.0);
      cUSN = predUSN.size * scale + succUSN.size * scale;
      cUAN = predUAN.size * scale + succUAN.size * scale;
    }
    const usi = unseenNames.size > 0 ? unseenNames.size * cUSN : 0;
    const v = unseenArgs.size;
    const uai = v > 0 ? argNames.size * v * cUAN : 0;
    return { av: [fi, usi, uai], unseenSyscalls: [...unseenNames].sort(), unseenArgs: [...unseenArgs].sort() };
  }
}

/**
 * Builds the aggregate of a sequence of events (name, raw argument) the way the kernel does:
 * for tests, and for anyone who wants to check an aggregation against the encoder.
 */
export function aggregateOf(events: readonly AggregateToken[]): WindowAggregate {
  const ids = new Map<string, number>();
  const tokens: AggregateToken[] = [];
  const pairs = new Set<string>();
  const from: number[] = [];
  const to: number[] = [];
  let prev = -1;
  for (const ev of events) {
    const key = `${ev.name}\u0000${ev.arg === null ? '\u0001' : ev.arg}`;
    let id = ids.get(key);
    if (id === undefined) {
      ids.set(key, (id = tokens.length));
      tokens.push({ name: ev.name, arg: ev.arg });
    }
    if (prev >= 0) {
      const pk = `${prev},${id}`;
      if (!pairs.has(pk)) {
        pairs.add(pk);
        from.push(prev);
        to.push(id);
      }
    }
    prev = id;
  }
  return { events: events.length, tokens, from, to };
}
