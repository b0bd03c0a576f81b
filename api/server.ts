/** The Fastify server: route plugins, OpenAPI at /docs, coded errors. */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { PACKAGE_VERSION } from '../engine/paths.js';
import { analyticsRoutes } from './analytics.js';
import { customerRoutes } from './customers.js';
import type { EngineView } from './engine-view.js';
import { installErrorHandler } from './errors.js';
import { healthRoutes } from './health.js';
import { modelRoutes } from './models.js';

export interface ServerOptions {
  logger: FastifyBaseLogger | false;
}

export async function buildServer(engine: EngineView, opts: ServerOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger || undefined,
    // No log line per request: the request rate is a metric, not a log stream.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Bellwether',
        version: PACKAGE_VERSION,
        description: 'Per-customer features, churn and purchase-intent scores',
      },
    },
  });
  installErrorHandler(app);
  customerRoutes(app, engine);
  healthRoutes(app, engine);
  modelRoutes(app, engine);
  analyticsRoutes(app, engine);
  app.get('/docs', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
