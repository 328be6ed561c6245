import type { Command } from 'commander';
import { positiveNumber, sourceOptions } from './common.js';

interface Flags {
  source: 'strace' | 'ebpf' | 'stdin';
  pid?: string[];
  allContainers?: boolean;
  includeHost?: boolean;
  cmd?: string;
  format?: 'sysdig' | 'lidds';
  seconds?: number;
  out: string;
  restart: boolean;
  exitWithTarget?: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  quiet?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('capture').description('record a live container (or stdin) into a LID-DS 2021 recording (NAME.zip) for training');
  sourceOptions(cmd)
    .requiredOption('--out <file.zip>', 'the recording to write, DIR/NAME.zip (NAME.sc + NAME.json inside); with --all-containers a directory: DIR/<container name>.zip each')
    .option('--seconds <n>', 'stop after this many seconds (default: when the source ends or on SIGINT/SIGTERM)', positiveNumber('--seconds'))
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ chids capture --source strace --cmd "./normal-workload.sh" --seconds 60 --out data/train/normal_1.zip
  $ chids capture --source ebpf --pid 4242 --seconds 300 --out data/train/web_1.zip
  $ chids capture --source ebpf --all-containers --seconds 300 --out data/node
  $ chids baseline --td data/train --od models/web`,
    )
    .action(async (flags: Flags) => {
      const { jsonLogger } = await import('../util/log.js');
      const { runCapture } = await import('../app/capture.js');
      const log = jsonLogger({ level: flags.quiet ? 'warn' : flags.logLevel, base: { cmd: 'capture' } });
      if (flags.allContainers) {
        const { runCaptureAll } = await import('../app/capture-containers.js');
        const a = await runCaptureAll({
          source: { kind: flags.source, allContainers: true, includeHost: flags.includeHost, pids: flags.pid?.map(Number), cmd: flags.cmd, restart: flags.restart },
          out: flags.out,
          seconds: flags.seconds ?? null,
          log,
        });
        process.stdout.write(
          flags.json ? JSON.stringify(a) + '\n' : a.recordings.map((r) => `wrote ${r.path}: ${r.name ?? r.container} (${r.image ?? 'image unknown'}), ${r.events} events\n`).join(''),
        );
        return;
      }
      const s = await runCapture({
        source: { kind: flags.source, pids: flags.pid?.map(Number), cmd: flags.cmd, format: flags.format, restart: flags.restart, exitWithTarget: flags.exitWithTarget },
        out: flags.out,
        seconds: flags.seconds ?? null,
        log,
      });
      process.stdout.write(
        flags.json ? JSON.stringify(s) + '\n' : `wrote ${s.path}: ${s.events} events in ${s.seconds.toFixed(1)} s${s.dropped ? `, ${s.dropped} dropped` : ''}\n`,
      );
    });
}
