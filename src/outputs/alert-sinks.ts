/**
 * The alert outputs every detecting command offers (`monitor`, `monitor --replicas`, `fleet`):
 * stdout unless turned off, an `--alerts` file, a `--webhook` with its headers; and their end,
 * where the webhook gets the drain timeout to deliver what is queued (the rest counts as lost).
 */
import type { Logger } from '../util/log.js';
import { type AlertSink, FileSink, StdoutSink, type WebhookOptions, WebhookSink } from './alerts.js';

export interface AlertSinkOptions {
  /** Also print alerts on stdout (default true). */
  stdout?: boolean;
  alertsFile?: string;
  webhook?: string;
  /** Extra webhook request headers (credentials); never logged. */
  webhookHeaders?: Record<string, string>;
  /** At the end, how long queued alerts may take to deliver before they count as lost (ms, default 5000). */
  drainTimeoutMs?: number;
  /** Where stdout alerts go (default process.stdout). */
  writeStdout?: (line: string) => void;
}

/**
 * Opens the outputs into `sinks` (the caller's list, so that what was opened before a failure
 * is still closed by the caller) and returns the webhook, if any.
 */
export function openAlertSinks(sinks: AlertSink[], o: AlertSinkOptions, log: Logger, onDrop?: WebhookOptions['onDrop']): WebhookSink | null {
  if (o.stdout ?? true) sinks.push(new StdoutSink(o.writeStdout));
  if (o.alertsFile) sinks.push(new FileSink(o.alertsFile));
  if (!o.webhook) return null;
  const webhook = new WebhookSink(o.webhook, { log, headers: o.webhookHeaders, onDrop });
  sinks.push(webhook);
  return webhook;
}

/** The regular end: every output closed in turn, the webhook within the drain timeout. */
export async function drainAlertSinks(sinks: readonly AlertSink[], o: AlertSinkOptions): Promise<void> {
  for (const s of sinks) await (s instanceof WebhookSink ? s.close(o.drainTimeoutMs ?? 5000) : s.close());
}
