/**
 * Progress on stderr for long work: a bar per trace (bytes read) and one for training epochs.
 * Off when stderr is not a terminal (CI logs, pipes), so nothing but warnings reaches them.
 * Warnings always go to stderr, one line each.
 */
import type cliProgressTypes from 'cli-progress';
import { createRequire } from 'node:module';
import { stderrColors as pc } from './colors.js';
import path from 'node:path';

// Loaded only when a bar is shown (a terminal), so piped runs start faster.
let cliProgress: typeof cliProgressTypes | null = null;
const load = () => (cliProgress ??= createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes);
import type { BaselineHooks } from '../app/train.js';

export interface ProgressOptions {
  /** Force on/off; default: on when stderr is a TTY. */
  enabled?: boolean;
  quiet?: boolean;
}

export class Progress implements BaselineHooks {
  private bar: cliProgressTypes.SingleBar | null = null;
  private readonly enabled: boolean;
  private readonly quiet: boolean;
  private warnings = 0;

  constructor(opts: ProgressOptions = {}) {
    this.enabled = opts.enabled ?? Boolean(process.stderr.isTTY);
    this.quiet = opts.quiet ?? false;
  }

  get warningCount(): number {
    return this.warnings;
  }

  private start(format: string, total: number, payload: Record<string, unknown>): void {
    this.stop();
    if (!this.enabled || this.quiet) return;
    const cp = load();
    this.bar = new cp.SingleBar(
      { format, stream: process.stderr, hideCursor: true, clearOnComplete: true, barsize: 28, etaBuffer: 20, fps: 10 },
      cp.Presets.shades_classic,
    );
    this.bar.start(Math.max(total, 1), 0, payload);
  }

  stop = (): void => {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }

  onTraceStart = (index: number, total: number, file: string, bytes: number | null): void => {
    const name = path.basename(file);
    if (bytes !== null && bytes > 0) {
      this.start(`{bar} {percentage}% | ${index + 1}/${total} ${name} | {value_mb}/{total_mb} MB | ETA {eta_formatted}`, bytes, {
        value_mb: '0.0',
        total_mb: (bytes / 1e6).toFixed(1),
      });
    } else {
      this.start(`${index + 1}/${total} ${name} | {value_mb} MB read`, 1, { value_mb: '0.0' });
    }
  }

  onBytes = (bytes: number): void => {
    if (!this.bar) return;
    this.bar.update(Math.min(bytes, this.bar.getTotal()), { value_mb: (bytes / 1e6).toFixed(1) });
  }

  onTraceEnd = (): void => {
    this.stop();
  }

  onTrainStart = (vectors: number, epochs: number): void => {
    this.start(`training on ${vectors} windows {bar} epoch {value}/{total} | loss {loss} | ETA {eta_formatted}`, epochs, { loss: '-' });
  }

  onEpoch = (epoch: number, _epochs: number, loss: number): void => {
    this.bar?.update(epoch, { loss: loss.toExponential(3) });
  }

  onWarning = (message: string): void => {
    this.warnings++;
    const hadBar = this.bar !== null;
    if (hadBar) this.bar!.stop();
    if (!this.quiet) process.stderr.write(`${pc.yellow('warning:')} ${message}\n`);
    if (hadBar) this.bar = null;
  }
}
