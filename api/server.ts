/**
 * The Fastify server: authentication and roles, rate limits, security headers, route plugins,
 * OpenAPI at /docs, coded errors. Every route has a schema; a route without a query schema accepts
 * no query fields at all.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
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
import { ruleRoutes } from './rules.js';
import { ErrorBody, SHARED_SCHEMAS } from './schemas.js';
import { installSecurityHeaders, securityHeaders } from './security-headers.js';
import { formatValidationErrors } from './validation-errors.js';

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
    // A value outside a set of allowed values is told the set, once (validation-errors.ts).
    schemaErrorFormatter: formatValidationErrors,
    // A URL the router refuses before any route or hook (a path parameter longer than
    // maxParamLength: 414; a malformed escape: 400) gets a coded body too.
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      reply
        .headers(headers)
        .code(err.statusCode ?? 400)
        .send({ error: { code: 'BW_ERR_BAD_REQUEST', message: err.message } });
    },
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    // Shared schemas keep their names in components/schemas (the default would be def-0, def-1, ...).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    openapi: {
      info: {
        title: 'Bellwether',
        version: PACKAGE_VERSION,
        description: 'Per-customer features, churn and purchase-intent scores',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (`bellwether keys create`); its role decides what the route allows',
          },
        },
      },
    },
  });
  installErrorHandler(app);
  app.addHook('onRoute', (route) => {
    // Swagger UI and its assets (/docs, /docs/json, /docs/static/...): public, their own queries.
    if (route.url === '/docs' || route.url.startsWith('/docs/')) {
      route.config = { ...route.config, public: true };
      return;
    }
    route.schema = { ...route.schema };
    route.schema.querystring ??= NoQuery;
    // Every guarded route documents its key and the refusals every guarded route can give.
    if (!route.config?.public) {
      route.schema.security ??= [{ bearerAuth: [] }];
      route.schema.response = {
        401: ErrorBody,
        403: ErrorBody,
        429: ErrorBody,
        ...(route.schema.response as Record<string, unknown> | undefined),
      };
    }
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
  ruleRoutes(app, engine);
  await consoleRoutes(app);
  // Swagger UI at /docs, the OpenAPI document at /docs/json; scripts and styles from the package,
  // under its own content security policy.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // No call to swagger.io's online validator, nothing from other origins.
    uiConfig: { validatorUrl: null },
    staticCSP: true,
    // Swagger UI sets inline styles on its elements (scripts stay 'self' only).
    transformStaticCSP: (header) =>
      header
        .replace(/ validator\.swagger\.io/g, '')
        .replace(/ https:/g, '')
        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  });
  return app;
}
