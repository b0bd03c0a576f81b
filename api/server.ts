/**
 * The Fastify server: authentication and roles, rate limits, security headers, route plugins,
 * OpenAPI at /docs, coded errors. Every route has a schema; a route without a query schema accepts
 * no query fields at all.
 */
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { EngineView } from '../engine/view.js';
import { PACKAGE_VERSION } from '../lib/paths.js';
import type { EngineSecurity } from '../security/engine-security.js';
import { aggregateRoutes } from './aggregate.js';
import { alertRoutes } from './alerts.js';
import { analyticsRoutes } from './analytics.js';
import { installAuth } from './auth.js';
import { consoleRoutes } from './console.js';
import { customerRoutes } from './customers.js';
import { installErrorHandler } from './errors.js';
import { healthRoutes } from './health.js';
import { installHttpMetrics } from './http-metrics.js';
import { lazyChildLogger } from './lazy-logger.js';
import { modelRoutes } from './models.js';
import { installSecurityHeaders, securityHeaders } from './security-headers.js';

export interface ServerOptions {
  logger: FastifyBaseLogger | false;
  security: EngineSecurity;
  /** Requests per minute per API key; 0 = off. */
  rateLimit: number;
}

const NoQuery = Type.Object({}, { additionalProperties: false });

export async function buildServer(engine: EngineView, opts: ServerOptions): Promise<FastifyInstance> {
  const headers = securityHeaders();
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger || undefined,
    // No log line per request: the request rate is a metric, not a log stream.
    logController: new LogController({ disableRequestLogging: true }),
    // Each request's child logger is made only if the request logs (lazy-logger.ts).
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger, bindings, options),
    // No route takes a body larger than this.
    bodyLimit: 16 * 1024,
    routerOptions: { maxParamLength: 256 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
    // A URL the router refuses before any route or hook (a path parameter longer than
    // maxParamLength: 414; a malformed escape: 400) gets a coded body too.
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      reply
        .headers(headers)
        .code(err.statusCode ?? 400)
        .send({ error: { code: 'BW_ERR_BAD_REQUEST', message: err.message } });
    },
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
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema };
    route.schema.querystring ??= NoQuery;
  });
  installSecurityHeaders(app, headers);
  const httpMetrics = installHttpMetrics(app);
  await installAuth(app, opts.security, opts.rateLimit);
  customerRoutes(app, engine, opts.security);
  healthRoutes(app, engine, httpMetrics);
  modelRoutes(app, engine);
  analyticsRoutes(app, engine);
  aggregateRoutes(app, engine);
  alertRoutes(app, engine);
  await consoleRoutes(app);
  app.get('/docs', { config: { permission: 'read' }, schema: { hide: true } }, async () => app.swagger());
  return app;
}
