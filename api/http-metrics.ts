/**
 * HTTP request latency, by method, route pattern and status: `bellwether_http_request_duration_seconds`.
 * Kept in the API's own registry and appended to the engine's text at /metrics. The route is the
 * pattern (`/v1/customers/:id`), never the URL, so customer ids do not become label values.
 */
import type { FastifyInstance } from 'fastify';
import { Histogram, Registry } from 'prom-client';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HttpMetrics {
  /** The API's series in the Prometheus text format. */
  text(): Promise<string>;
}

export function installHttpMetrics(app: FastifyInstance): HttpMetrics {
  const registry = new Registry();
  const duration = new Histogram({
    name: 'bellwether_http_request_duration_seconds',
    help: 'HTTP request time from arrival to the response sent, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      {
        method: request.method,
        // Requests no route matched (404s, refused URLs) share one label value.
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
  return { text: () => registry.metrics() };
}
