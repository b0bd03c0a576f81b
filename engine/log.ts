/** pino loggers: child loggers carry `{component, partition}`; messages are constant strings. */
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}
