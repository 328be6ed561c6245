/**
 * Structured logs for the long-running commands (`monitor`, `capture`): one JSON object per
 * line on stderr, `{"time","level","msg",…fields}`, so a log shipper can read them as they
 * come. stdout stays reserved for alerts.
 */
import { toJson } from './json.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface JsonLoggerOptions {
  /** Lowest level written (default info). */
  level?: LogLevel;
  /** Where lines go (default: process.stderr, written synchronously when it is a file or pipe). */
  write?: (line: string) => void;
  /** Fields added to every line (e.g. the command). */
  base?: Record<string, unknown>;
}

export function jsonLogger(opts: JsonLoggerOptions = {}): Logger {
  const min = RANK[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const base = opts.base ?? {};
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    const rec = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    let line: string;
    try {
      line = toJson(rec);
    } catch {
      line = JSON.stringify({ time: rec.time, level, msg });
    }
    write(line + '\n');
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
