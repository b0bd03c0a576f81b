/** One error handler: coded JSON bodies, no stack traces. */
import type { FastifyError, FastifyInstance } from 'fastify';
import { BellwetherError } from '../contract/errors.js';

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | BellwetherError, request, reply) => {
    if (err instanceof BellwetherError) {
      const status = err.status ?? 500;
      if (status === 401) reply.header('www-authenticate', 'Bearer');
      const retryAfter = (err.data as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      if (status === 503) request.log.warn({ code: err.code }, 'request refused: worker unavailable');
      else if (status >= 500) request.log.error({ err }, 'request failed');
      const violations = (err.data as { violations?: unknown } | undefined)?.violations;
      const listed = Array.isArray(violations) ? { violations: violations.map(String) } : {};
      return reply.code(status).send({ error: { code: err.code, message: err.message, ...listed } });
    }
    if (err.validation) {
      return reply.code(400).send({ error: { code: 'BW_ERR_BAD_REQUEST', message: err.message } });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).send({
      error: {
        code: status >= 500 ? 'BW_ERR_INTERNAL' : 'BW_ERR_BAD_REQUEST',
        message: status >= 500 ? 'internal error' : err.message,
      },
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: {
        code: 'BW_ERR_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    });
  });
}
