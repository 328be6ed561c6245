/**
 * A real `nats-server -js` for the fleet tests: one server, or a JetStream cluster of three, on
 * free loopback ports with its store in a temp directory. Servers can be stopped (SIGTERM, the
 * graceful way), killed (SIGKILL, a crash) and restarted on the same port and store, which is
 * what a broker outage looks like to the agents. `cleanup()` ends every server it started and
 * removes the temp directory; every wait is bounded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A skip reason when nats-server is not installed (Debian package `nats-server`). */
export function needsNatsServer(): string | false {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return false;
  const msg = '!!! SKIPPED: nats-server is not installed (apt-get install nats-server) !!!';
  console.warn(msg);
  return msg;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface NatsNode {
  name: string;
  port: number;
  httpPort: number;
  url: string;
  storeDir: string;
  /** Is the process running? */
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGTERM and wait for the exit (a clean shutdown). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit (a crash). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** The server's own log (stderr), for failure messages. */
  log(): string;
  pid(): number | null;
}

class ServerProcess implements NatsNode {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output: string[] = [];

  constructor(
    readonly name: string,
    readonly port: number,
    readonly httpPort: number,
    readonly storeDir: string,
    private readonly configFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  pid(): number | null {
    return this.child?.pid ?? null;
  }

  log(): string {
    return this.output.join('').slice(-4000);
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn('nats-server', ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (c: Buffer) => {
      this.output.push(c.toString('utf8'));
      if (this.output.length > 200) this.output.splice(0, 100);
    });
    this.exited = new Promise<void>((resolve) =>
      child.on('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
    await this.ready(20_000);
  }

  /** Waits for the monitoring endpoint to report a healthy JetStream. */
  private async ready(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.child) throw new Error(`nats-server ${this.name} exited at start:\n${this.log()}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.httpPort}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nats-server ${this.name} not ready after ${timeoutMs} ms:\n${this.log()}`);
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }

  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export interface NatsHarness {
  nodes: NatsNode[];
  /** Client URLs of every node, comma-separated (what `--nats` takes for a cluster). */
  url: string;
  dir: string;
  cleanup(): Promise<void>;
}

/** One `nats-server -js` on a free loopback port, store in a temp dir; started. */
export async function startNats(opts: { prefix?: string } = {}): Promise<NatsHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${opts.prefix ?? 'chids-nats'}-`));
  const port = await freePort();
  const httpPort = await freePort();
  const store = path.join(dir, 'store');
  mkdirSync(store);
  const conf = path.join(dir, 'nats.conf');
  writeFileSync(conf, `server_name: n0\nlisten: 127.0.0.1:${port}\nhttp: 127.0.0.1:${httpPort}\njetstream { store_dir: "${store}" }\n`);
  const node = new ServerProcess('n0', port, httpPort, store, conf);
  const h: NatsHarness = { nodes: [node], url: node.url, dir, cleanup: () => cleanupAll(h) };
  try {
    await node.start();
  } catch (err) {
    await h.cleanup();
    throw err;
  }
  return h;
}

/** A JetStream cluster of `size` (default 3) servers on loopback, each with its own store; started. */
export async function startNatsCluster(opts: { size?: number; prefix?: string } = {}): Promise<NatsHarness> {
  const size = opts.size ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), `${opts.prefix ?? 'chids-nats-cluster'}-`));
  const ports: { client: number; http: number; route: number }[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), http: await freePort(), route: await freePort() });
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');
  const nodes: ServerProcess[] = ports.map((p, i) => {
    const store = path.join(dir, `store-${i}`);
    mkdirSync(store);
    const conf = path.join(dir, `nats-${i}.conf`);
    writeFileSync(
      conf,
      `server_name: n${i}\nlisten: 127.0.0.1:${p.client}\nhttp: 127.0.0.1:${p.http}\n` +
        `jetstream { store_dir: "${store}" }\n` +
        `cluster { name: chids-test\n listen: 127.0.0.1:${p.route}\n routes: [${routes}] }\n`,
    );
    return new ServerProcess(`n${i}`, p.client, p.http, store, conf);
  });
  const h: NatsHarness = { nodes, url: nodes.map((n) => n.url).join(','), dir, cleanup: () => cleanupAll(h) };
  try {
    // Started together: a clustered JetStream is healthy only once its peers have met.
    await Promise.all(nodes.map((n) => n.start()));
    await metaLeader(nodes, 30_000);
  } catch (err) {
    await h.cleanup();
    throw err;
  }
  return h;
}

/** Waits until every node knows the JetStream meta leader (before that, JetStream API calls fail). */
export async function metaLeader(nodes: readonly NatsNode[], timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const leaders = await Promise.all(
      nodes
        .filter((n) => n.running)
        .map(async (n) => {
          try {
            const res = await fetch(`http://127.0.0.1:${n.httpPort}/jsz`, { signal: AbortSignal.timeout(1000) });
            const j = (await res.json()) as { meta_cluster?: { leader?: string } };
            return j.meta_cluster?.leader ?? '';
          } catch {
            return '';
          }
        }),
    );
    if (leaders.length > 0 && leaders.every((l) => l !== '' && l === leaders[0])) return leaders[0];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no JetStream meta leader after ${timeoutMs} ms`);
}

async function cleanupAll(h: NatsHarness): Promise<void> {
  await Promise.all(h.nodes.map((n) => n.kill()));
  rmSync(h.dir, { recursive: true, force: true });
}

/** Every message of a stream, in stream order: subject, Nats-Msg-Id, payload text. */
export async function streamMessages(url: string, stream: string): Promise<{ subject: string; id: string; data: string }[]> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url.split(',') });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: { subject: string; id: string; data: string }[] = [];
    if (info.state.messages === 0) return out;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m) out.push({ subject: m.subject, id: m.header.get('Nats-Msg-Id'), data: m.string() });
    }
    return out;
  } finally {
    await nc.close();
  }
}
