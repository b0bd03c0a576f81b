/**
 * A request's logger, made only when something is logged. Fastify gives every request a child of
 * the engine's logger (bound to its request id); with pino's redaction each child costs a few µs
 * to make, on every request, although a request logs only when it fails. Under load that was ~3%
 * of the HTTP thread's time (profile in bench/README.md). This stands in for the child and makes
 * it on the first call.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function lazyChildLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  let made: FastifyBaseLogger | undefined;
  const real = (): FastifyBaseLogger => {
    made ??= parent.child(bindings, options);
    return made;
  };
  const forward =
    (method: LogMethod) =>
    (...args: unknown[]): void => {
      const logger = real();
      (logger[method] as (...a: unknown[]) => void).apply(logger, args);
    };
  return {
    get level() {
      return made ? made.level : parent.level;
    },
    set level(value: string) {
      real().level = value;
    },
    fatal: forward('fatal'),
    error: forward('error'),
    warn: forward('warn'),
    info: forward('info'),
    debug: forward('debug'),
    trace: forward('trace'),
    silent: forward('silent'),
    child: (childBindings: Bindings, childOptions?: ChildLoggerOptions) =>
      real().child(childBindings, childOptions),
  };
}
