/**
 * The agent side of the fleet (`chids monitor … --nats URL`): every window the monitor closes,
 * empty ones included, goes to `chids.windows.<node>.<container>` with its score, verdict and the
 * replica aspect sets of its events; every alert goes to `chids.alerts.<node>.<container>`.
 * Through the publisher (src/outputs/nats/publisher.ts): queued, never blocking detection,
 * spooled when the broker is away.
 *
 * The aspect sets are those of the replica comparison (src/model/replicas/aspects.ts), gathered
 * by a tap on the container's events and capped per window (ASPECT_ITEMS per aspect, what is cut
 * is counted), so `chids fleet` can compare replicas of an image across nodes without the
 * events themselves.
 */
import os from 'node:os';
import type { ContainerInfo } from '../capture/containers.js';
import type { EventTap } from '../encode/pipeline.js';
import { AspectSets, addEvent, windowSetsData } from '../model/replicas/aspects.js';
import { NatsLink } from '../outputs/nats/link.js';
import { NatsPublisher, type PublisherStats } from '../outputs/nats/publisher.js';
import { ensureStreams } from '../outputs/nats/streams.js';
import { alertMsgId, alertSubject, windowMsgId, windowSubject } from '../outputs/nats/subjects.js';
import { alertLine, type FalcoAlert } from '../outputs/alerts.js';
import type { SyscallEvent } from '../trace/event.js';
import type { NameTable } from '../trace/names.js';
import type { Logger } from '../util/log.js';
import { describeError } from '../util/errors.js';
import { watchBaseline, type BaselineEntry } from './fleet-baselines.js';
import { jetstreamManager } from '@nats-io/jetstream';
import type { EncodedWindow } from '../encode/anomaly.js';

/** A window as the monitor closed it (its ScoredWindow; restated here so the monitor can import the agent). */
export interface ClosedWindow {
  container: ContainerInfo;
  window: EncodedWindow;
  score: number | null;
  alert: FalcoAlert | null;
}

/** Items kept per aspect in one window's message (a window message stays a few KiB). */
export const ASPECT_ITEMS = 200;

export interface FleetAgentOptions {
  /** `nats://HOST:PORT`, comma-separated for a cluster. */
  url: string;
  /** This node's name in subjects and messages (default: the host name). */
  node?: string;
  spoolDir?: string | null;
  /** stdin replays: the container's name (default `stdin`). */
  containerName?: string;
  /** The image the containers run (for the baseline registry and replica groups). */
  image?: string;
  /** Follow this image's baseline in the registry: versions after `revision` are handed to followBaseline's callback. */
  follow?: { image: string; revision: number };
  log: Logger;
}

/** One window as published on CHIDS_WINDOWS. */
export interface WindowMessage {
  v: 1;
  node: string;
  container: { id: string; name: string; key: string };
  image: string | null;
  /** As `chids encode` prints it: index, start (decimal ns), events, AV ([] for an empty window). */
  window: number;
  start_ns: string;
  end_ns: string;
  events: number;
  av: number[];
  /** null for an empty window (nothing to score). */
  score: number | null;
  threshold: number;
  verdict: 'empty' | 'normal' | 'alert';
  /** Per aspect (ASPECTS order by name), the window's normalised items, at most ASPECT_ITEMS each. */
  aspects: Record<string, string[]>;
  /** Per aspect, how often each of those items was seen, in the same order. */
  counts: Record<string, number[]>;
  /** Per program (process name without digits), its items of the aspects compared per program. */
  programs: Record<string, Record<string, string[]>>;
  /** Items left out by the cap (summed over aspects). */
  aspects_cut: number;
  /** Wall clock (ms) when the window closed on the agent, for end-to-end latency. */
  closed_ms: number;
}

class AspectTap implements EventTap {
  index = -1;
  sets = AspectTap.empty();
  constructor(private readonly names: NameTable) {}
  event(ev: SyscallEvent, window: number): void {
    if (window !== this.index) {
      this.index = window;
      this.sets = AspectTap.empty();
    }
    addEvent(this.sets, ev, this.names.name(ev.nameId));
  }
  /** The sets of window k (empty when it had no events). */
  take(k: number): AspectSets | null {
    if (this.index !== k) return null;
    const s = this.sets;
    this.index = -1;
    this.sets = AspectTap.empty();
    return s;
  }

  // Kept per program too: `chids fleet` compares replicas with the `programs` similarity, as
  // `chids replicas` does.
  private static empty(): AspectSets {
    return new AspectSets(ASPECT_ITEMS, { byProgram: true });
  }
}

export class FleetAgent {
  readonly node: string;
  private readonly taps = new Map<string, AspectTap>();
  private closed = false;
  windows = 0;
  alerts = 0;

  private constructor(
    private readonly o: FleetAgentOptions,
    private readonly link: NatsLink,
    readonly publisher: NatsPublisher,
  ) {
    this.node = o.node ?? os.hostname();
  }

  static start(o: FleetAgentOptions): FleetAgent {
    const link = new NatsLink(o.url, {
      name: `chids-monitor ${o.node ?? os.hostname()}`,
      log: o.log,
      onConnect: async (nc) => void (await ensureStreams(nc, await jetstreamManager(nc))),
    });
    const publisher = new NatsPublisher(link, { spoolDir: o.spoolDir ?? null, log: o.log });
    return new FleetAgent(o, link, publisher);
  }

  /** The container as the fleet names it: a named stdin replay, else its id. */
  identity(c: ContainerInfo): { id: string; name: string } {
    if (c.key === 'stdin' && this.o.containerName) return { id: this.o.containerName, name: this.o.containerName };
    return { id: c.id, name: c.id };
  }

  /** A tap for one container's events (the monitor calls it when it starts tracking one). */
  readonly newTap = (c: ContainerInfo, names: NameTable): EventTap => {
    const t = new AspectTap(names);
    this.taps.set(c.key, t);
    return t;
  };

  /** Publishes a closed window (and its alert). */
  window(w: ClosedWindow, threshold: number, windowNs: number): void {
    if (this.closed) return;
    const { id, name } = this.identity(w.container);
    const sets = this.taps.get(w.container.key)?.take(w.window.index) ?? null;
    const data = sets === null ? null : windowSetsData(sets);
    const start = w.window.startNs;
    const msg: WindowMessage = {
      v: 1,
      node: this.node,
      container: { id, name, key: w.container.key },
      image: this.o.image ?? null,
      window: w.window.index,
      start_ns: start.toString(),
      end_ns: (start + BigInt(windowNs)).toString(),
      events: w.window.events,
      av: w.window.av === null ? [] : Array.from(w.window.av),
      score: w.score,
      threshold,
      verdict: w.score === null ? 'empty' : w.alert ? 'alert' : 'normal',
      aspects: data?.aspects ?? {},
      counts: data?.counts ?? {},
      programs: data?.programs ?? {},
      aspects_cut: data?.cut ?? 0,
      closed_ms: Date.now(),
    };
    this.windows++;
    this.publisher.send(windowSubject(this.node, id), windowMsgId(this.node, id, start), JSON.stringify(msg));
    if (w.alert) this.alert(w.alert, id, name, start);
  }

  private alert(a: FalcoAlert, id: string, name: string, startNs: bigint): void {
    const fields: Record<string, unknown> = { ...a.output_fields, 'container.id': id, 'container.name': name, 'chids.node': this.node };
    if (this.o.image) fields['container.image.repository'] = this.o.image;
    // The text names the container as the fleet does (a stdin replay is `stdin` locally).
    const output = a.output.replace(` in container ${a.output_fields['container.id']} `, ` in container ${id} on ${this.node} `);
    const alert: FalcoAlert = { ...a, output, output_fields: fields };
    this.alerts++;
    this.publisher.send(alertSubject(this.node, id), alertMsgId(a.rule, this.node, id, startNs), alertLine(alert).trimEnd());
  }

  stats(): { node: string; windows: number; alerts: number; queued: number; spool_bytes: number } & PublisherStats {
    return { node: this.node, windows: this.windows, alerts: this.alerts, queued: this.publisher.queued, spool_bytes: this.publisher.spoolBytes, ...this.publisher.stats };
  }

  private unwatch: (() => void) | null = null;

  /**
   * Watches the registry for newer baselines of `o.follow.image` (once connected) and hands
   * each one, fetched into the cache, to `onVersion` (the monitor swaps it in).
   */
  followBaseline(onVersion: (dir: string, entry: BaselineEntry) => Promise<void>): void {
    const f = this.o.follow;
    if (!f) return;
    void this.link.firstConnect.then(async () => {
      const nc = this.link.nc;
      if (this.closed || nc === null) return;
      try {
        this.unwatch = await watchBaseline(nc, f.image, f.revision, (dir, entry) => void onVersion(dir, entry).catch((err) => this.o.log.warn('new baseline not swapped in', { image: f.image, version: entry.version, error: describeError(err) })), this.o.log);
        if (this.closed) this.unwatch();
      } catch (err) {
        this.o.log.warn('cannot watch the baseline registry', { image: f.image, error: describeError(err) });
      }
    });
  }

  /** Publishes what is queued (within `timeoutMs`), spools the rest, disconnects. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    await this.publisher.close(timeoutMs);
    await this.link.close();
  }
}
