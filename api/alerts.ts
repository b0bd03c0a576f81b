/**
 * Alerts for people: `GET /v1/alerts` (the recent ones, from the alerts stream) and
 * `GET /v1/alerts/stream` (server-sent events: each alert and rule action as it is published, for
 * the console's live feed). Alerts carry customer ids, risks and reasons, no personal fields; both
 * routes are audited like other reads (the stream once, when it ends, with how many it carried).
 */
import { PassThrough } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AlertRecord, EngineView } from '../engine/view.js';
import { textAnswer } from './answer-schemas.js';
import { ErrorBody } from './schemas.js';

/** A comment line that keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

const AlertsQuery = Type.Object(
  {
    kind: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9_-]{1,64}$',
        description: 'churn, intent, security, ... (default: all)',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

const AlertRecordSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('alert'), Type.Literal('action')]),
    kind: Type.String(),
    subject: Type.String(),
    body: Type.Unknown({ description: 'The published JSON body (docs/events.md, "Alerts")' }),
    received_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'AlertRecord' },
);

/** The customer an alert or action names, if any. */
const customerOf = (record: AlertRecord): unknown =>
  (record.body as { customer_id?: unknown } | null)?.customer_id;

const customersIn = (records: readonly AlertRecord[]): number =>
  new Set(records.map(customerOf).filter((id) => id !== undefined)).size;

export function alertRoutes(app: FastifyInstance, engine: EngineView): void {
  // Open streams never finish on their own: the server's close ends them, or it would wait for every
  // watching client to leave.
  const open = new Set<{ destroy(): void }>();
  app.addHook('preClose', (done) => {
    for (const response of open) response.destroy();
    done();
  });
  app.get<{ Querystring: Static<typeof AlertsQuery> }>(
    '/v1/alerts',
    {
      config: { permission: 'read', audit: true },
      schema: {
        summary: 'The most recent alerts from the alerts stream (bw.alerts.<kind>), oldest first',
        tags: ['alerts'],
        querystring: AlertsQuery,
        response: { 200: Type.Object({ alerts: Type.Array(AlertRecordSchema) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const alerts = await engine.alerts.recent(request.query.kind, request.query.limit ?? 100);
      request.auditInfo = { customers: customersIn(alerts), fields: ['alerts'], pii: 'none' };
      return { alerts };
    },
  );

  app.get(
    '/v1/alerts/stream',
    {
      config: { permission: 'read', audit: true, stream: true },
      schema: {
        summary:
          'Server-sent events: `event: alert` or `event: action` with an AlertRecord as data, for each alert and rule action published from now on',
        tags: ['alerts'],
        produces: ['text/event-stream'],
        response: {
          200: textAnswer('text/event-stream', 'Server-sent events, each an AlertRecord as JSON data'),
        },
      },
    },
    async (request, reply) => {
      const stream = new PassThrough();
      // The audit record is written when the client closes the stream: it counts what was sent.
      const customers = new Set<unknown>();
      let records = 0;
      const audit = (): void => {
        request.auditInfo = {
          customers: customers.size,
          fields: ['alerts'],
          pii: 'none',
          detail: `stream of ${records} alerts and actions`,
        };
      };
      audit();
      const unwatch = engine.alerts.watch((record) => {
        records++;
        const id = customerOf(record);
        if (id !== undefined && customers.size < 100_000) customers.add(id);
        audit();
        stream.write(`event: ${record.type}\ndata: ${JSON.stringify(record)}\n\n`);
      });
      const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      // The response's close: the client went away (a request's own close comes once its body is read).
      const socket = request.socket;
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      reply.raw.once('close', () => {
        clearInterval(heartbeat);
        unwatch();
        stream.destroy();
        // The connection carried only this stream (`connection: close`): not left half-open.
        socket.destroy();
      });
      stream.write(': bellwether alerts\n\n');
      return (
        reply
          .type('text/event-stream; charset=utf-8')
          .header('cache-control', 'no-store')
          .header('x-accel-buffering', 'no')
          // One stream per connection: closed with the stream, never kept alive for reuse.
          .header('connection', 'close')
          .send(stream)
      );
    },
  );
}
