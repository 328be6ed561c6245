/** A converter fed by hand, as the node-wide tests use it: one container (its namespace and id) known as the --pid target's. */
import { containerFrom, type ContainerInfo } from '../../src/capture/containers.js';
import { EbpfConverter } from '../../src/capture/ebpf.js';

const OWN = 4026531836;
const CNS = 4026532327;
const ID = 'f0606ace14a29abaf678b288fdd77dc365f9aefd4b864938c776b0862fe4792b';
export const EBPF = { OWN, CNS, ID, HOST: containerFrom(OWN, null, OWN) };

/** The `--pid` target's container, as the source finds it before the first event (its namespace and cgroup id). */
const TARGET: ContainerInfo = { key: `pidns:${CNS}/${ID}`, id: ID.slice(0, 12), pidns: CNS, cgroup: `/libpod_parent/libpod-${ID}`, containerId: ID, host: false };

/** Options passed untyped: the same calls run against the converter before the node-wide options existed. */
export function converter(mode: 'targets' | 'all' = 'all', identities: unknown = null, clockMs?: () => number) {
  const out: { c: ContainerInfo; line: string }[] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, OWN, TARGET, (c, line) => out.push({ c, line }), false, { mode, identities, clockMs } as never);
  return { conv, out };
}
