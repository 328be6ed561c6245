/**
 * Resolving container ids to their runtime identity (name, image, pod), off the event path.
 *
 * {@link IdentityResolver.identity} returns at once: the shared, mutable identity object of a
 * container id, `pending` until the runtime has answered. An id not yet known schedules one
 * listing of every runtime (at most one in flight, at most one per `minIntervalMs`), which fills
 * in every identity it can; whoever holds the object (an alert being built, a metrics scrape, the
 * monitor choosing a baseline) sees the answer from then on. A runtime that cannot be asked
 * (not installed, no permission) is logged once and its containers stay `unknown`.
 */
import { identityOf, pendingIdentity, type ContainerIdentity, type ContainerRuntime, type RuntimeContainer } from './types.js';

export interface IdentityLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export class IdentityResolver {
  private readonly ids = new Map<string, ContainerIdentity>();
  private inFlight: Promise<void> | null = null;
  private lastRun = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly warned = new Set<string>();
  /** Every container seen in the last listing, by full id. */
  private known = new Map<string, RuntimeContainer>();
  private readonly listeners: ((id: string, identity: ContainerIdentity) => void)[] = [];
  lookups = 0;

  constructor(
    private readonly runtimes: ContainerRuntime[],
    private readonly log: IdentityLog,
    private readonly minIntervalMs = 1000,
  ) {}

  /** The identity of a full container id (pending until the runtime answers). */
  identity(fullId: string): ContainerIdentity {
    let id = this.ids.get(fullId);
    if (id === undefined) {
      if (this.ids.size > 4096) this.forgetResolved();
      id = pendingIdentity();
      this.ids.set(fullId, id);
      const k = this.known.get(fullId);
      if (k !== undefined) this.fill(fullId, id, k);
      else this.schedule();
    }
    return id;
  }

  /** Called with every identity the runtime resolves. */
  onResolved(f: (id: string, identity: ContainerIdentity) => void): void {
    this.listeners.push(f);
  }

  /** Resolves once every identity asked for so far has an answer (a listing if one is needed). */
  async settle(): Promise<void> {
    for (let i = 0; i < 3 && [...this.ids.values()].some((x) => x.state === 'pending'); i++) {
      if (this.inFlight) await this.inFlight;
      else await this.refresh();
    }
  }

  /** The containers of the last listing. */
  containers(): RuntimeContainer[] {
    return [...this.known.values()];
  }

  /** Lists every runtime now (not waiting for the interval). */
  refresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.lastRun = Date.now();
    this.lookups++;
    this.inFlight = (async () => {
      const next = new Map<string, RuntimeContainer>();
      const owner = new Map<string, string>();
      let anyAnswered = false;
      for (const rt of this.runtimes) {
        try {
          for (const c of await rt.list()) {
            next.set(c.id, c);
            owner.set(c.id, rt.name);
          }
          anyAnswered = true;
        } catch (err) {
          if (!this.warned.has(rt.name)) {
            this.warned.add(rt.name);
            this.log.warn('container runtime cannot be asked: containers are named by id only', { runtime: rt.name, error: (err as Error).message });
          }
        }
      }
      if (anyAnswered) this.known = next;
      for (const [fullId, identity] of this.ids) {
        if (identity.state === 'resolved') continue;
        const c = next.get(fullId);
        if (c !== undefined) this.fill(fullId, identity, c, owner.get(fullId));
        else identity.state = 'unknown';
      }
    })().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Stops any scheduled listing. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private fill(fullId: string, identity: ContainerIdentity, c: RuntimeContainer, runtime = this.runtimes[0]?.name ?? 'unknown'): void {
    Object.assign(identity, identityOf(c, runtime));
    this.log.info('container identified', { container: fullId.slice(0, 12), name: identity.name, image: identity.image, runtime });
    for (const f of this.listeners) f(fullId, identity);
  }

  private schedule(): void {
    if (this.inFlight || this.timer) return;
    const wait = Math.max(0, this.lastRun + this.minIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, wait);
    this.timer.unref?.();
  }

  private forgetResolved(): void {
    for (const [k, v] of this.ids) if (v.state !== 'pending') this.ids.delete(k);
  }
}
