/**
 * One connection to the broker that an agent can live without: connecting happens in the
 * background and never fails the caller (an agent started before its broker keeps detecting),
 * reconnects forever, and says at any moment whether it is connected. `chids fleet` commands,
 * which need the broker, use {@link connectOrFail} instead: one attempt, a one-line error.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ChidsError, describeError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';

/** `--nats nats://a:4222,nats://b:4222` → the server list. */
export function natsServers(url: string): string[] {
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new ChidsError('--nats: no server URL given');
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$|^[^\s:/]+:\d+$/.test(s)) throw new ChidsError(`--nats ${s}: expected nats://HOST:PORT (comma-separated for a cluster)`);
  }
  return servers;
}

/** Connects once (within `timeoutMs`); an unreachable broker is a one-line ChidsError. */
export async function connectOrFail(url: string, name: string, timeoutMs = 5000): Promise<NatsConnection> {
  const servers = natsServers(url);
  try {
    return await connect({ servers, name, timeout: timeoutMs, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (err) {
    throw new ChidsError(`--nats ${url}: cannot connect to the broker (${describeError(err)})`);
  }
}

export class NatsLink {
  nc: NatsConnection | null = null;
  connected = false;
  private closed = false;
  private waiters = new Set<() => void>();
  /** Resolves once the first connection is made (never rejects). */
  readonly firstConnect: Promise<void>;

  constructor(
    readonly url: string,
    private readonly o: { name: string; log: Logger; onConnect?: (nc: NatsConnection) => Promise<void> },
  ) {
    const servers = natsServers(url);
    this.firstConnect = this.run(servers);
  }

  private async run(servers: string[]): Promise<void> {
    let warned = false;
    while (!this.closed) {
      try {
        // Our own loop for the first connection (not waitOnFirstConnect): close() must be able
        // to stop it. Once connected, the client reconnects by itself, forever.
        const nc = await connect({ servers, name: this.o.name, maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 2000 });
        if (this.closed) {
          await nc.close();
          return;
        }
        this.nc = nc;
        await this.up(nc);
        void this.watch(nc);
        return;
      } catch (err) {
        if (!warned) this.o.log.warn('NATS broker unreachable: windows are queued (and spooled) until it is back', { url: this.url, error: describeError(err) });
        warned = true;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async up(nc: NatsConnection): Promise<void> {
    try {
      await this.o.onConnect?.(nc);
      this.connected = true;
      this.o.log.info('NATS connected', { url: this.url, server: nc.info?.server_name });
      for (const w of this.waiters) w();
      this.waiters.clear();
    } catch (err) {
      // Connected but JetStream is not ready (a cluster electing its leader): try again soon.
      this.o.log.warn('NATS connected but the streams are not ready', { error: describeError(err) });
      setTimeout(() => {
        if (!this.closed && !nc.isClosed() && !this.connected) void this.up(nc);
      }, 1000);
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        if (this.connected) this.o.log.warn('NATS disconnected: spooling until it is back', { url: this.url });
        this.connected = false;
      } else if (s.type === 'reconnect') {
        await this.up(nc);
      }
    }
  }

  /** Resolves when connected (at once if it is), or after `ms`. */
  waitConnected(ms: number): Promise<void> {
    if (this.connected || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.add(done);
    });
  }

  /** A broken pipe seen by a publish: treat as disconnected until the client reports it is back. */
  suspect(): void {
    this.connected = false;
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // Re-check after a pause: when the connection is fine after all (a timeout under load), resume.
      setTimeout(() => {
        if (!this.closed && !this.connected && !nc.isClosed() && nc.info) void nc.flush().then(() => this.up(nc), () => undefined);
      }, 500);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters) w();
    this.waiters.clear();
    const nc = this.nc;
    this.nc = null;
    this.connected = false;
    if (nc) await nc.close().catch(() => undefined);
  }
}
