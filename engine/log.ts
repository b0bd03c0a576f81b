/**
 * pino loggers: child loggers carry `{component, partition}`; messages are constant strings.
 * Personal fields that reach a log line anyway (an event's `props`, a `pii` record) are masked by
 * the same masks as the API, and credentials are redacted.
 */
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { logRedaction, Masker } from '../security/masking.js';

export type { Logger } from 'pino';

const redact = logRedaction(new Masker());

/** `json`: one pino object per line (collectors); `pretty`: one readable coloured line per entry (a terminal). */
export type LogFormat = 'json' | 'pretty';

export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  format: LogFormat = 'json',
): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, redact };
  if (format === 'json') return pino(options);
  // Synchronous, in this thread: a worker thread's stdout already goes through the main thread.
  return pino(
    options,
    pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
  );
}
