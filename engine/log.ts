/**
 * pino loggers: child loggers carry `{component, partition}`; messages are constant strings.
 * Personal fields that reach a log line anyway (an event's `props`, a `pii` record) are masked by
 * the same masks as the API, and credentials are redacted.
 */
import { type Logger, pino } from 'pino';
import { logRedaction, Masker } from '../security/masking.js';

export type { Logger } from 'pino';

const redact = logRedaction(new Masker());

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, redact });
}
