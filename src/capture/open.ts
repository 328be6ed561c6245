/**
 * Opening a live source by kind. Kept apart from source.ts, whose line splitting and batching the
 * sources themselves use, so that the sources and their factory do not import each other; each
 * implementation is loaded only when asked for (the eBPF one pulls in the syscall table).
 */
import type { LiveSource, SourceSpec } from './source.js';

/** Opens the source a spec describes (the implementations load lazily). */
export async function openLiveSource(spec: SourceSpec): Promise<LiveSource> {
  if ((spec.allContainers || spec.includeHost) && spec.kind !== 'ebpf') {
    const { ChidsError } = await import('../util/errors.js');
    throw new ChidsError(`--all-containers${spec.includeHost ? ' / --include-host' : ''} needs --source ebpf (one eBPF program for the node)`);
  }
  switch (spec.kind) {
    case 'strace': {
      const { StraceSource } = await import('./strace-source.js');
      return new StraceSource(spec);
    }
    case 'ebpf': {
      const { EbpfSource } = await import('./ebpf.js');
      return new EbpfSource(spec);
    }
    case 'stdin': {
      const { StdinSource } = await import('./stdin-source.js');
      return new StdinSource(spec, spec.input as (NodeJS.ReadableStream & { isTTY?: boolean }) | undefined);
    }
  }
}
