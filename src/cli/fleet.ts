import { Option, type Command } from 'commander';
import { windowLength } from './common.js';

interface ServiceFlags {
  nats?: string;
  alerts?: string;
  webhook?: string;
  metrics?: string;
  stdout: boolean;
  replicaWindow: number;
  replicaThreshold?: number;
  replicaIdle: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** `--nats` is the fleet command's option (commander gives it to the parent wherever it appears). */
async function natsOf(cmd: Command): Promise<string> {
  const url = (cmd.optsWithGlobals() as { nats?: string }).nats;
  if (url) return url;
  const { ChidsError } = await import('../util/errors.js');
  throw new ChidsError(`fleet ${cmd.name()}: give the broker with --nats nats://HOST:PORT`, 2);
}

const natsHelp = 'the broker: nats://HOST:PORT (comma-separated for a cluster)';

export function register(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('the fleet service: consumes every agent\'s windows and alerts from NATS JetStream, compares replicas across nodes, writes the alerts')
    .option('--nats <url>', natsHelp)
    .option('--alerts <file>', 'append every alert of the fleet (JSON lines) to this file')
    .option('--webhook <url>', 'also POST each alert (JSON) to this URL')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
    .option('--no-stdout', 'do not print alerts on stdout')
    .addOption(new Option('--replica-window <length>', 'replica comparison window').argParser(windowLength).default(10e9, '10s'))
    .addOption(new Option('--replica-threshold <x>', 'replica deviation threshold (default: chids replicas\' 0.05)').argParser(Number))
    .addOption(new Option('--replica-idle <length>', 'a replica quiet this long no longer holds back the comparison of its siblings').argParser(windowLength).default(30e9, '30s'))
    .addOption(new Option('--log-level <level>', 'log level (JSON lines on stderr)').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText(
      'after',
      `
Streams (created on first use): CHIDS_WINDOWS (chids.windows.<node>.<container>) and
CHIDS_ALERTS (chids.alerts.<node>.<container>); durable pull consumers chids-fleet-windows and
chids-fleet-alerts (several instances share them). Baselines: object store bucket chids-baselines.

Examples:
  $ chids fleet --nats nats://127.0.0.1:4222 --alerts /var/log/chids-fleet.jsonl --metrics 127.0.0.1:9465
  $ chids fleet push --nats nats://127.0.0.1:4222 --od models/web --image nginx:1.25
  $ chids fleet baselines --nats nats://127.0.0.1:4222
  $ chids fleet status --nats nats://127.0.0.1:4222 --json`,
    )
    .action(async (flags: ServiceFlags) => {
      const { jsonLogger } = await import('../util/log.js');
      const { runFleet } = await import('../app/fleet.js');
      const log = jsonLogger({ level: flags.logLevel, base: { cmd: 'fleet' } });
      if (!flags.nats) {
        const { ChidsError } = await import('../util/errors.js');
        throw new ChidsError('fleet: give the broker with --nats nats://HOST:PORT', 2);
      }
      await runFleet({
        url: flags.nats,
        alertsFile: flags.alerts,
        webhook: flags.webhook,
        metrics: flags.metrics,
        stdout: flags.stdout,
        replicaWindowNs: flags.replicaWindow,
        replicaThreshold: flags.replicaThreshold,
        replicaIdleMs: flags.replicaIdle / 1e6,
        log,
      });
    });

  fleet
    .command('push')
    .description('store a baseline in the fleet registry (object store chids-baselines), keyed by image, versioned')
    .requiredOption('--od <dir>', 'baseline directory written by `chids baseline`')
    .option('--image <ref>', 'the image it is for (default: the directory name)')
    .option('--json', 'print the stored entry as JSON')
    .action(async (flags: { od: string; image?: string; json?: boolean }, cmd: Command) => {
      const nats = await natsOf(cmd);
      const { pushBaseline } = await import('../app/fleet-baselines.js');
      const e = await pushBaseline({ url: nats, dir: flags.od, image: flags.image });
      process.stdout.write(flags.json ? JSON.stringify(e) + '\n' : `pushed ${e.image} version ${e.version} (${e.size} bytes, model ${e.model})\n`);
    });

  fleet
    .command('baselines')
    .description('list the baselines in the fleet registry')
    .option('--json', 'JSON output')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const nats = await natsOf(cmd);
      const { listBaselines } = await import('../app/fleet-baselines.js');
      const list = await listBaselines({ url: nats });
      if (flags.json) process.stdout.write(JSON.stringify(list) + '\n');
      else if (list.length === 0) process.stdout.write('no baselines\n');
      else for (const e of list) process.stdout.write(`${e.image}\tv${e.version}\t${e.size} bytes\t${e.model}\t${e.mtime}\n`);
    });

  fleet
    .command('status')
    .description('nodes, containers, images, last window, alert counts and consumer lag of the fleet')
    .option('--json', 'JSON output')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const nats = await natsOf(cmd);
      const { fleetStatus } = await import('../app/fleet.js');
      const s = await fleetStatus({ url: nats });
      if (flags.json) {
        process.stdout.write(JSON.stringify(s) + '\n');
        return;
      }
      const lines: string[] = [];
      for (const [name, st] of Object.entries(s.streams)) lines.push(`${name}: ${st.messages} messages, ${st.bytes} bytes, ${st.replicas} replica(s)`);
      for (const [name, c] of Object.entries(s.consumers)) lines.push(`consumer ${name}: ${c === null ? 'not created' : `${c.pending} pending, ${c.ack_pending} unacknowledged`}`);
      lines.push(`nodes: ${s.nodes.length}, images: ${s.images.join(', ') || '-'}`);
      for (const c of s.containers) lines.push(`  ${c.node}/${c.container}  ${c.image ?? '-'}  ${c.windows} windows  ${c.alerts} alerts  last ${c.last_window_start ?? '-'} (${c.last_verdict ?? '-'})`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
