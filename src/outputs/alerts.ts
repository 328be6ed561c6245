/**
 * Alerts in Falco's JSON shape, and where they go.
 *
 * One alert is one JSON line, shaped like Falco's `json_output` so the tools that already read
 * Falco (falcosidekick, a SIEM's Falco parser, jq scripts) read chids too:
 *
 *     {"time":"2021-09-08T05:27:58.513988000Z","rule":"Anomalous syscall window",
 *      "priority":"Warning","source":"syscall","tags":["chids","anomaly","container"],
 *      "hostname":"…","output":"05:27:58.513988000: Warning anomalous syscall window …",
 *      "output_fields":{"container.id":"…","chids.av":[…],"chids.score":…,
 *                       "chids.threshold":…,"chids.theta":1,"chids.unseen_syscalls":[…],
 *                       "chids.unseen_args":[…],…}}
 *
 * `time` is the end of the window (in the events' time: for a replay, the recording's time).
 * Priority: `Critical` when the score is above the θ = 2.0 threshold too (twice the largest
 * training error), else `Warning`.
 *
 * Sinks share one small interface (as Falco's outputs do): stdout, a file (appended, each
 * alert written through to the kernel as it is raised), and a webhook (HTTP POST of the JSON,
 * in the background with a bounded queue and bounded retries; it never blocks detection).
 */
import { closeSync, constants as fsc, mkdirSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerInfo } from '../capture/containers.js';
import type { Logger } from '../util/log.js';
import type { AnomalyVector } from '../encode/anomaly.js';
import type { WindowExplanation } from '../model/detector.js';
import { fsProblem } from '../trace/labels.js';
import { ChidsError } from '../util/errors.js';
import { toJson } from '../util/json.js';
import { sleep as delay } from '../util/sleep.js';

export const ALERT_RULE = 'Anomalous syscall window';
/** Unseen syscalls / arguments listed in one alert at most (the totals are given too). */
export const MAX_LISTED = 50;

export type FalcoPriority = 'Emergency' | 'Alert' | 'Critical' | 'Error' | 'Warning' | 'Notice' | 'Informational' | 'Debug';

export interface FalcoAlert {
  time: string;
  rule: string;
  priority: FalcoPriority;
  output: string;
  source: 'syscall';
  tags: string[];
  hostname: string;
  output_fields: Record<string, unknown>;
}

/** What is known about a scored window when it raises an alert. */
export interface WindowVerdict {
  container: ContainerInfo;
  index: number;
  startNs: bigint;
  windowNs: number;
  events: number;
  av: AnomalyVector;
  score: number;
  threshold: number;
  theta: number;
  /** The θ = 2.0 threshold (for the priority). */
  criticalThreshold: number;
  unseenSyscalls: string[];
  unseenArgs: string[];
  model: string;
  /** The feature that gave the score and its normal reference (detectors that explain: calibrated). */
  explanation?: WindowExplanation;
  /** With --exploit-at: what the alert is, judged against the attack start. */
  label?: 'false_alarm' | 'after_exploit_start';
  /** Some of the window's events come from a process that entered the container (`podman exec`, `nsenter`). */
  entered?: boolean;
}

const HOST = os.hostname();

/** ns since the epoch → RFC 3339 with nanoseconds (`2021-09-08T05:27:58.513988000Z`). */
export function isoNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(ms)).toISOString(); // …T05:27:58.513Z
  return `${base.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

export function buildAlert(v: WindowVerdict): FalcoAlert {
  const endNs = v.startNs + BigInt(v.windowNs);
  const time = isoNs(endNs);
  const priority: FalcoPriority = v.score > v.criticalThreshold ? 'Critical' : 'Warning';
  const why: string[] = [];
  const e = v.explanation;
  // The n-gram feature's reference is a fence above its normal maximum, fi's a tail bound above it (src/model/calibrated.ts).
  if (e) {
    const bound = e.feature === 'novel' || e.maximum !== undefined;
    const max = e.maximum !== undefined ? ` (largest normal ${fmt(e.maximum)})` : '';
    why.push(`${FEATURE_NAMES[e.feature] ?? e.feature} ${fmt(e.value)} is ${fmtRatio(e.ratio)}× its normal ${bound ? 'bound' : 'maximum'} ${fmt(e.reference)}${max}`);
  }
  if (v.unseenSyscalls.length > 0) why.push(`unseen syscalls ${list(v.unseenSyscalls)}`);
  if (v.unseenArgs.length > 0) why.push(`unseen args ${list(v.unseenArgs)}`);
  if (why.length === 0) why.push('unusual volume or sequence');
  const label = v.label ? ` [${v.label === 'false_alarm' ? 'false alarm: before the exploit start' : 'after the exploit start'}]` : '';
  const output =
    `${time.slice(11, 29)}: ${priority} anomalous syscall window in container ${v.container.id}${nameOf(v.container)} ` +
    `(window ${v.index}, ${v.events} events): score ${fmt(v.score)} > threshold ${fmt(v.threshold)} (θ=${v.theta}); ${why.join('; ')}${label}`;
  const fields: Record<string, unknown> = {
    'container.id': v.container.id,
    'container.key': v.container.key,
    'container.pidns': v.container.pidns,
    'container.cgroup': v.container.cgroup,
    'container.full_id': v.container.containerId,
    ...identityFields(v.container),
    'evt.time': endNs,
    'chids.window.index': v.index,
    'chids.window.start': isoNs(v.startNs),
    'chids.window.end': time,
    'chids.window.start_ns': v.startNs,
    'chids.window.events': v.events,
    'chids.av': v.av,
    'chids.score': v.score,
    'chids.threshold': v.threshold,
    'chids.theta': v.theta,
    'chids.unseen_syscalls': v.unseenSyscalls.slice(0, MAX_LISTED),
    'chids.unseen_syscalls_total': v.unseenSyscalls.length,
    'chids.unseen_args': v.unseenArgs.slice(0, MAX_LISTED),
    'chids.unseen_args_total': v.unseenArgs.length,
    'chids.model': v.model,
  };
  if (e) {
    fields['chids.feature'] = e.feature;
    fields['chids.feature_value'] = e.value;
    fields['chids.feature_reference'] = e.reference;
    fields['chids.feature_ratio'] = e.ratio;
    if (e.maximum !== undefined) fields['chids.feature_maximum'] = e.maximum;
  }
  if (v.label) fields['chids.label'] = v.label;
  if (v.entered !== undefined) fields['proc.is_exec'] = v.entered;
  return { time, rule: ALERT_RULE, priority, output, source: 'syscall', tags: ['chids', 'anomaly', 'container'], hostname: HOST, output_fields: fields };
}

/** ` (name, image)` after the id in an alert's text, when the runtime named the container. */
function nameOf(c: ContainerInfo): string {
  const i = c.identity;
  if (!i || i.state !== 'resolved') return '';
  return ` (${i.name}, ${i.image})`;
}

/** Falco's container fields from the runtime identity, when the container has one (node-wide eBPF). */
function identityFields(c: ContainerInfo): Record<string, unknown> {
  const i = c.identity;
  if (!i) return {};
  return {
    'container.name': i.name,
    'container.image': i.image,
    'container.image.repository': i.repository,
    'container.image.tag': i.tag,
    'container.image.id': i.imageId,
    'k8s.pod.name': i.podName,
    'k8s.ns.name': i.podNamespace,
  };
}

/** How an explained feature is named in an alert's text. */
const FEATURE_NAMES: Record<string, string> = { fi: 'volume (fi)', unseen: 'unseen activity (usi + uai)', novel: 'unseen syscall sequences (n-grams)' };

function fmtRatio(r: number): string {
  return r >= 1000 ? r.toExponential(2) : r.toFixed(2);
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(3);
}

function list(xs: string[]): string {
  const shown = xs.slice(0, 5).join(', ');
  return `[${shown}${xs.length > 5 ? `, … ${xs.length - 5} more` : ''}]`;
}

/** One JSON line; bigints (ns times) are written as JSON integers. */
export function alertLine(a: FalcoAlert): string {
  return toJson(a) + '\n';
}

export interface AlertSink {
  readonly name: string;
  /** Hands an alert over; must not block (the webhook queues it). */
  send(alert: FalcoAlert, line: string): void;
  /** Flushes what is pending (bounded in time) and releases resources. */
  close(): Promise<void>;
}

export class StdoutSink implements AlertSink {
  readonly name = 'stdout';
  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(l)) {}
  send(_a: FalcoAlert, line: string): void {
    this.write(line);
  }
  async close(): Promise<void> {}
}

/**
 * Appends each alert to a file, written through (writeSync) as it is raised. Alerts say what
 * a container did: the file is created readable by its owner only (0600), and a symlink at
 * its path is refused (O_NOFOLLOW), not followed to wherever it points.
 */
export class FileSink implements AlertSink {
  readonly name = 'file';
  private fd: number;
  constructor(readonly file: string) {
    try {
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
      this.fd = openSync(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ELOOP' ? 'is a symbolic link; give the file itself' : fsProblem(err);
      throw new ChidsError(`--alerts ${file}: cannot open for appending (${why})`);
    }
  }
  send(_a: FalcoAlert, line: string): void {
    if (this.fd < 0) return;
    writeSync(this.fd, line);
  }
  async close(): Promise<void> {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

export interface WebhookOptions {
  /** Alerts waiting at most; beyond, new ones are dropped and counted. */
  maxQueue?: number;
  /** Attempts per alert (first try included). */
  attempts?: number;
  timeoutMs?: number;
  /** First retry delay, doubled each retry. */
  backoffMs?: number;
  log: Logger;
  /** Counts an alert the webhook could not deliver (queue full, every attempt failed, or still queued when the drain timeout ran out). */
  onDrop?: (reason: 'queue_full' | 'failed' | 'at_exit', n?: number) => void;
  /** Extra request headers (credentials: Authorization). Never logged. */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/** Environment variable holding the webhook's Authorization header value (kept out of argv and logs). */
export const WEBHOOK_AUTH_ENV = 'CHIDS_WEBHOOK_AUTH';

/** POSTs each alert as JSON, one at a time in the background. */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private queue: string[] = [];
  private running: Promise<void> | null = null;
  private closing = false;
  delivered = 0;
  /** Alerts every attempt failed for. */
  failed = 0;
  /** Alerts refused because the queue was full. */
  dropped = 0;
  /** Alerts still queued or in flight when close() gave up (the drain timeout). */
  lostAtExit = 0;
  private readonly o: Required<Omit<WebhookOptions, 'onDrop' | 'fetch'>> & Pick<WebhookOptions, 'onDrop'> & { fetch: typeof fetch };
  private readonly headers: Record<string, string>;
  private readonly abort = new AbortController();

  constructor(
    readonly url: string,
    opts: WebhookOptions,
  ) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ChidsError(`--webhook ${url}: not a valid URL`);
    }
    if (u.username !== '' || u.password !== '') {
      // fetch refuses such a URL (it could never deliver), and the URL ends up in logs.
      u.username = '';
      u.password = '';
      throw new ChidsError(
        `--webhook ${u.href}: the URL holds credentials (user:password@); give them with --webhook-header 'Authorization: …' or the ${WEBHOOK_AUTH_ENV} environment variable instead`,
      );
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ChidsError(`--webhook ${url}: only http:// and https:// URLs are supported`);
    this.o = { maxQueue: 1000, attempts: 3, timeoutMs: 5000, backoffMs: 500, fetch: globalThis.fetch, headers: {}, ...opts };
    this.headers = { ...this.o.headers, 'content-type': 'application/json' };
  }

  /** Alerts that never reached the webhook, for whatever reason. */
  get lost(): number {
    return this.failed + this.dropped + this.lostAtExit;
  }

  send(_a: FalcoAlert, line: string): void {
    if (this.closing) return;
    if (this.queue.length >= this.o.maxQueue) {
      this.dropped++;
      this.o.onDrop?.('queue_full');
      return;
    }
    this.queue.push(line);
    // Started on the next turn: the first fetch() loads its HTTP client (a second on a busy
    // machine), which must not hold up the window that raised the alert.
    if (this.running === null) this.running = new Promise<void>((r) => setImmediate(r)).then(() => this.drain()).finally(() => (this.running = null));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const body = this.queue.shift()!;
      let ok = false;
      let last = '';
      for (let attempt = 1; attempt <= this.o.attempts && !this.abort.signal.aborted; attempt++) {
        try {
          const res = await this.o.fetch(this.url, {
            method: 'POST',
            headers: this.headers,
            body,
            signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.abort.signal]),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) {
            ok = true;
            break;
          }
          last = `HTTP ${res.status}`;
        } catch (err) {
          last = (err as Error).message;
        }
        if (attempt < this.o.attempts) await delay(this.o.backoffMs * 2 ** (attempt - 1), this.abort.signal);
      }
      if (ok) this.delivered++;
      else if (this.abort.signal.aborted) {
        this.lostAtExit++; // given up by close(): counted there
      } else {
        this.failed++;
        this.o.onDrop?.('failed');
        this.o.log.warn('webhook delivery failed', { url: this.url, attempts: this.o.attempts, error: last });
      }
    }
  }

  /** Waits for the queue to drain, at most `graceMs`, then gives up on the rest. */
  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    if (this.queue.length > 0 || this.running) {
      // What is queued, plus the one in flight (counted when its attempt is aborted below).
      const before = this.lostAtExit;
      this.lostAtExit += this.queue.length;
      this.queue = [];
      this.abort.abort();
      await this.running?.catch(() => undefined);
      const n = this.lostAtExit - before;
      if (n > 0) {
        this.o.onDrop?.('at_exit', n);
        this.o.log.error('webhook: alerts not delivered before the drain timeout', { url: this.url, alerts: n });
      }
    }
  }
}

