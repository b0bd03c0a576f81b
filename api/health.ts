/** Liveness, readiness and engine information. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { EngineView } from '../engine/view.js';
import { InfoAnswer, textAnswer } from './answer-schemas.js';
import type { HttpMetrics } from './http-metrics.js';

const Readiness = Type.Object({
  ready: Type.Boolean(),
  nats_connected: Type.Boolean(),
  partitions: Type.Integer(),
  attached: Type.Integer(),
  caught_up: Type.Integer(),
  /** Partitions assigned to this instance that it does not run yet (a cluster member waiting for a lease). */
  awaited: Type.Integer(),
  pending: Type.Integer(),
});

export function healthRoutes(app: FastifyInstance, engine: EngineView, httpMetrics: HttpMetrics): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        summary: 'The process is alive',
        tags: ['ops'],
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
    },
    async () => ({ ok: true }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        summary:
          'Ready when NATS is connected and every partition this instance should run is run here, attached and caught up',
        tags: ['ops'],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const statuses = await engine.status();
      const parts = statuses.flatMap((s) => s.partitions);
      const attached = parts.filter((p) => p.attached).length;
      const caughtUp = parts.filter((p) => p.caught_up).length;
      const natsConnected = engine.natsConnected();
      // In a cluster: every partition the assignment gives this instance is run here already.
      const waiting = engine.partitionsAwaited();
      const ready =
        natsConnected &&
        waiting === 0 &&
        attached === parts.length &&
        caughtUp === parts.length &&
        parts.length > 0;
      const body = {
        ready,
        nats_connected: natsConnected,
        partitions: parts.length,
        attached,
        caught_up: caughtUp,
        awaited: waiting,
        pending: parts.reduce((sum, p) => sum + p.pending, 0),
      };
      return reply.code(ready ? 200 : 503).send(body);
    },
  );

  app.get(
    '/v1/info',
    {
      schema: {
        summary:
          'Version, partitions, workers, TF.js backend and model versions; the NATS connection (`nats`) for the admin role only',
        tags: ['ops'],
        response: { 200: InfoAnswer },
      },
    },
    async (request) => {
      const [{ nats, ...info }, statuses] = await Promise.all([engine.info(), engine.status()]);
      // Where NATS is tells a caller where to knock: admin only (without API keys, every local caller is admin).
      const admin = request.principal?.role === 'admin';
      return {
        ...info,
        ...(admin ? { nats } : {}),
        worker_status: statuses.map((s) => ({ index: s.index, models: s.models, tensors: s.tensors })),
        partition_status: statuses.flatMap((s) => s.partitions).sort((a, b) => a.partition - b.partition),
      };
    },
  );

  app.get(
    '/metrics',
    {
      config: { permission: 'metrics' },
      schema: {
        summary: 'Prometheus metrics, aggregated across workers',
        tags: ['ops'],
        produces: ['text/plain'],
        response: { 200: textAnswer('text/plain', 'Prometheus text exposition format 0.0.4') },
      },
    },
    async (_request, reply) => {
      const [text, http] = await Promise.all([engine.metricsText(), httpMetrics.text()]);
      return reply.type(engine.metricsContentType).send(`${text}\n${http}`);
    },
  );
}
