import { InvalidArgumentError, Option, type Command } from 'commander';
import { maxEmptyWindowsOption, positiveNumber, sourceOptions, windowLength, type ArtifactFlags } from './common.js';

interface Flags extends ArtifactFlags {
  source: 'strace' | 'ebpf' | 'stdin';
  pid?: string[];
  allContainers?: boolean;
  includeHost?: boolean;
  cmd?: string;
  format?: 'sysdig' | 'lidds';
  realtime?: boolean;
  baselines?: string;
  learn?: number;
  theta: number;
  alerts?: string;
  webhook?: string;
  webhookHeader?: string[];
  drainTimeout: number;
  metrics?: string;
  exploitAt?: number;
  grace: number;
  queueMb: number;
  maxEmptyWindows: number;
  stdout: boolean;
  restart: boolean;
  exitWithTarget?: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  quiet?: boolean;
  replicas?: boolean;
  replicaWindow?: number;
  replicaThreshold?: number;
  replicaSimilarity?: 'programs' | 'counted' | 'covered' | 'nearest' | 'mean';
  nats?: string;
  node?: string;
  spool?: string;
  containerName?: string;
  image?: string;
  ebpfMode: 'auto' | 'aggregate' | 'events';
}

export function register(program: Command): void {
  const cmd = program
    .command('monitor')
    .description('score a live container (or a replayed recording) window by window and raise Falco-style alerts');
  sourceOptions(cmd)
    .option('--od <dir>', 'baseline directory written by `chids baseline`')
    .option('--baselines <dir>', 'a directory of baselines, one per image (chids baseline --od DIR/NAME): each container is scored with its image\'s (--all-containers)')
    .addOption(new Option('--learn <length>', 'with --baselines: record the first container of an image with no baseline for this long (event time, e.g. 10m), train its baseline in the background, save it under --baselines and watch that image from then on').argParser(windowLength))
    .option('--ss <file>', 'seen syscalls file (instead of --od)')
    .option('--sa <file>', 'seen arguments file (instead of --od)')
    .option('--fm <file>', 'max_freq file (instead of --od)')
    .option('--tm <dir>', 'model directory (instead of --od)')
    .option('--tl <file>', 'threshold list file (instead of --od)')
    .option('--realtime', 'stdin: replay at the pace of the timestamps (default: as fast as it can be read)')
    .option('--theta <θ>', 'threshold = θ × the largest training error', positiveNumber('--theta'), 1.0)
    .option('--alerts <file>', 'also append alerts (JSON lines) to this file')
    .option('--webhook <url>', 'also POST each alert (JSON) to this URL, in the background')
    .option('--webhook-header <header>', `a request header for --webhook, 'Name: value' (repeatable; e.g. credentials; never logged; or set ${'$'}CHIDS_WEBHOOK_AUTH to the Authorization value)`, collectHeader)
    .addOption(new Option('--drain-timeout <length>', 'at exit, how long queued webhook alerts may take to deliver; the rest are counted as lost (exit 4)').argParser(windowLength).default(5e9, '5s'))
    .option('--no-stdout', 'do not print alerts on stdout')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
    .option('--exploit-at <epoch-seconds>', 'label alerts before this time as false alarms (replays of labelled recordings)', positiveNumber('--exploit-at'))
    .addOption(new Option('--grace <length>', 'live: how long a window waits after its end for late events').argParser(windowLength).default(250_000_000, '250ms'))
    .option('--queue-mb <n>', 'bound on buffered events (MiB); beyond it live events are dropped and counted', positiveNumber('--queue-mb'), 64)
    .addOption(
      new Option('--ebpf-mode <mode>', 'ebpf: count in the kernel and read once per window (aggregate), or one line per syscall (events); auto: aggregate when the detector reads only anomaly vectors')
        .choices(['auto', 'aggregate', 'events'])
        .default('auto'),
    )
    .addOption(maxEmptyWindowsOption())
    .option('--replicas', 'also (without a baseline: only) compare the watched containers of one image window by window, training-less: a container unlike its siblings raises a "Replica deviation" alert')
    .addOption(new Option('--replica-window <length>', '--replicas: window length, aligned on absolute time (default 10s)').argParser(windowLength))
    .option('--replica-threshold <x>', '--replicas: score above which a replica deviates (default 0.15)', positiveNumber('--replica-threshold'))
    .addOption(new Option('--replica-similarity <how>', '--replicas: programs (default), counted, covered, nearest or mean (see chids replicas --help)').choices(['programs', 'counted', 'covered', 'nearest', 'mean']))
    .option('--nats <url>', 'also publish every window and alert to NATS JetStream (nats://HOST:PORT, comma-separated for a cluster); see `chids fleet`')
    .option('--node <name>', 'with --nats: this node\'s name in subjects and messages (default: the host name)')
    .option('--spool <dir>', 'with --nats: keep messages on disk while the broker is away, replayed in order when it is back')
    .option('--container-name <name>', 'stdin: the replayed container\'s name (default: stdin)')
    .option('--image <ref>', 'the image the monitored containers run (fleet replica groups; the baseline fetched from the fleet when --od is not given; a stdin replay\'s image with --baselines)')
    .addHelpText(
      'after',
      `
Alerts: one JSON line each (Falco's shape: time, rule, priority, output, source, tags,
output_fields with the container, the anomaly vector, the score, the threshold, θ, and the
unseen syscalls and arguments). Logs: JSON lines on stderr. SIGINT/SIGTERM flush and exit 0.

Examples:
  $ cat recording.sc | chids monitor --od models/web --source stdin --format lidds
  $ unzip -p rec.zip rec.sc | chids monitor --od models/web --exploit-at 1631078877.51
  $ chids monitor --od models/web --source strace --pid 4242 --alerts /var/log/chids.jsonl
  $ chids monitor --od models/web --source strace --cmd "./serve.sh" --metrics 127.0.0.1:9464
  $ cat web-1.sc | chids monitor --od models/web --source stdin --realtime --nats nats://127.0.0.1:4222 --node node-a --container-name web-1 --image nginx:1.25 --spool /var/lib/chids/spool
  $ chids monitor --od models/web --source ebpf --pid "$(docker inspect -f '{{.State.Pid}}' web)"
  $ chids monitor --replicas --source strace --pid "$(podman inspect -f '{{.State.Pid}}' web-1 web-2 web-3 | paste -sd,)"
  $ chids monitor --source ebpf --all-containers --baselines models/ --alerts /var/log/chids.jsonl
  $ chids monitor --od models/web --source ebpf --ebpf-mode events --pid 4242`,
    )
    .action(async (flags: Flags) => {
      const { jsonLogger } = await import('../util/log.js');
      const { runMonitor } = await import('../app/monitor.js');
      const log = jsonLogger({ level: flags.quiet ? 'warn' : flags.logLevel, base: { cmd: 'monitor' } });
      const { checkDelivered, checkMonitorFlags, monitorBaseline, webhookHeaders } = await import('../app/monitor-request.js');
      const headers = webhookHeaders(flags.webhookHeader, flags.webhook);
      checkMonitorFlags(flags);
      const replicaOpts = { windowNs: flags.replicaWindow, threshold: flags.replicaThreshold, similarity: flags.replicaSimilarity };
      if (flags.replicas && !flags.od && !flags.tm) {
        // Training-less: the replica comparison alone.
        const { runReplicaMonitor } = await import('../app/replica-monitor.js');
        await runReplicaMonitor({
          ...replicaOpts,
          source: { kind: flags.source, pids: flags.pid?.map(Number), cmd: flags.cmd, format: flags.format, realtime: flags.realtime, restart: flags.restart },
          stdout: flags.stdout,
          alertsFile: flags.alerts,
          webhook: flags.webhook,
          webhookHeaders: headers,
          drainTimeoutMs: flags.drainTimeout / 1e6,
          graceMs: flags.grace / 1e6,
          queueBytes: Math.round(flags.queueMb * 1024 * 1024),
          log,
        });
        return;
      }
      const ReplicaFeed = flags.replicas ? (await import('../app/replica-monitor.js')).ReplicaFeed : null;
      const { artifacts, learn, fetched } = await monitorBaseline(flags, log);
      const summary = await runMonitor({
        companion: ReplicaFeed ? (sinks) => new ReplicaFeed(replicaOpts, sinks, log) : undefined,
        artifacts,
        baselines: flags.baselines,
        learn,
        source: {
          kind: flags.source,
          pids: flags.pid?.map(Number),
          allContainers: flags.allContainers,
          includeHost: flags.includeHost,
          cmd: flags.cmd,
          format: flags.format,
          realtime: flags.realtime,
          restart: flags.restart,
          exitWithTarget: flags.exitWithTarget,
          // A replay with --baselines is one container of --image (tests, and trying out --learn).
          stdinIdentity: flags.source === 'stdin' && flags.baselines && flags.image ? { name: flags.containerName ?? null, image: flags.image } : undefined,
        },
        theta: flags.theta,
        graceMs: flags.grace / 1e6,
        stdout: flags.stdout,
        alertsFile: flags.alerts,
        webhook: flags.webhook,
        webhookHeaders: headers,
        drainTimeoutMs: flags.drainTimeout / 1e6,
        metrics: flags.metrics,
        exploitAtSec: flags.exploitAt,
        queueBytes: Math.round(flags.queueMb * 1024 * 1024),
        maxEmptyWindows: flags.maxEmptyWindows,
        nats: flags.nats
          ? {
              url: flags.nats,
              node: flags.node,
              spoolDir: flags.spool ?? null,
              containerName: flags.containerName,
              image: flags.image,
              // A baseline from the registry is followed: a newer version pushed is swapped in.
              follow: fetched ? { image: flags.image!, revision: fetched.entry.revision } : undefined,
            }
          : undefined,
        ebpfMode: flags.ebpfMode,
        log,
      });
      checkDelivered(summary);
    });
}

/** `--webhook-header 'Name: value'`; the value is never echoed (it may be a credential). */
function collectHeader(value: string, previous: string[] = []): string[] {
  const i = value.indexOf(':');
  if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value.slice(0, i).trim())) {
    throw new InvalidArgumentError("--webhook-header must be 'Name: value'");
  }
  return [...previous, value];
}

