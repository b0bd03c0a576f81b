/**
 * `GET /v1/customers/:id/events`: the customer's newest events (the Customer 360 timeline), read
 * from its partition's stream (engine/customer-events.ts), each with the feature windows it still
 * counts in at the customer's "now" (operators/features/window-membership.ts). Guarded as the
 * customer's answer is: the `read` role, the key's customer budget and the enumeration detector
 * (the same readCustomer), the audit log; personal properties (every property not declared plain
 * by BW_PROFILE_PLAIN_FIELDS) are shown to each role exactly as the profile's fields are: none,
 * masked, or plain for an admin asking `?pii=plain`.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CustomerAnswer, EngineView, StoredCustomerEvent } from '../engine/view.js';
import { FEATURE_WINDOWS, windowsCounting } from '../operators/features/window-membership.js';
import type { EngineSecurity } from '../security/engine-security.js';
import { demand } from './auth.js';
import { type PiiView, piiViewFor } from './pii-view.js';
import { CustomerParams, ErrorBody, LinkedAnswer, PiiQuery } from './schemas.js';

const MAX_LIMIT = 200;

const EventsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 50 })),
    pii: Type.Optional(PiiQuery),
  },
  { additionalProperties: false },
);

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Window = Type.Union(FEATURE_WINDOWS.map((w) => Type.Literal(w.window)));

const TimelineEvent = Type.Object({
  event_id: Type.String(),
  type: Type.String({ description: 'Event type (docs/events.md)' }),
  ts: Type.String({ format: 'date-time', description: 'Event time' }),
  amount: Type.Union([Type.Number(), Type.Null()]),
  currency: Nullable(Type.String()),
  channel: Nullable(Type.String()),
  category: Nullable(Type.String()),
  sku: Nullable(Type.String()),
  props: Type.Record(Type.String(), Type.Unknown(), {
    description: 'Properties declared non-personal (BW_PROFILE_PLAIN_FIELDS)',
  }),
  pii: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description:
        'Every other property, masked (or plain for an admin asking ?pii=plain); absent for viewer and service',
    }),
  ),
  windows: Type.Array(Window, {
    description:
      'The feature windows the event still counts in at `now` (docs/features.md, Time and windows)',
  }),
  stored_at: Type.String({ format: 'date-time', description: 'When the events stream stored it' }),
});

const TimelineAnswer = Type.Object({
  customer_id: Type.String(),
  partition: Type.Integer({ minimum: 0 }),
  now: Nullable(
    Type.String({
      format: 'date-time',
      description:
        "The customer's now: the wall clock (BW_CLOCK=wall), the partition's event clock, or its last event time when another instance runs the partition",
    }),
  ),
  events: Type.Array(TimelineEvent, { description: 'The newest stored events, latest event time first' }),
  scanned: Type.Integer({ minimum: 0, description: "Messages of the partition's stream read" }),
  complete: Type.Boolean({
    description: "Whether the read reached the stream's first message (false: older events may exist)",
  }),
});

type ReadCustomer = (request: FastifyRequest, id: string) => Promise<CustomerAnswer>;

function presented(event: StoredCustomerEvent, view: PiiView, security: EngineSecurity, now: number | null) {
  const { personal, seq: _seq, ts, ...rest } = event;
  const pii =
    view === 'none' ? undefined : view === 'plain' ? { ...personal } : security.masker.maskAll(personal);
  return {
    ...rest,
    ts: new Date(ts).toISOString(),
    ...(pii === undefined ? {} : { pii }),
    windows: now === null ? [] : windowsCounting(ts, now),
  };
}

export function customerEventsRoute(
  app: FastifyInstance,
  engine: EngineView,
  security: EngineSecurity,
  readCustomer: ReadCustomer,
): void {
  app.get<{ Params: Static<typeof CustomerParams>; Querystring: Static<typeof EventsQuery> }>(
    '/v1/customers/:id/events',
    {
      config: { permission: 'read', audit: true },
      schema: {
        summary:
          "A customer's newest events (its behaviour trail) with the feature windows each still counts in; personal properties by role",
        tags: ['customers'],
        params: CustomerParams,
        querystring: EventsQuery,
        response: { 200: TimelineAnswer, 308: LinkedAnswer, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const view = piiViewFor(demand(request, 'read'), request.query.pii);
      const id = request.params.id;
      request.auditInfo = { customers: 0, fields: [], pii: view, customer_id: id };
      const answer = await readCustomer(request, id);
      if (answer.linked_to !== undefined) {
        const query = request.query.pii === undefined ? '' : `?pii=${request.query.pii}`;
        const location = `/v1/customers/${encodeURIComponent(answer.linked_to)}/events${query}`;
        return reply.code(308).header('location', location).send({ customer_id: answer.linked_to });
      }
      const read = await engine.customerEvents(id, request.query.limit ?? 50);
      const lastEvent = answer.last_event_at === null ? Number.NaN : Date.parse(answer.last_event_at);
      const now = read.now ?? (Number.isFinite(lastEvent) ? lastEvent : null);
      const events = read.events
        .map((e) => presented(e, view, security, now))
        .sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0));
      const fields = new Set(['events']);
      for (const e of events) for (const field of Object.keys(e.pii ?? {})) fields.add(`pii.${field}`);
      request.auditInfo = { ...request.auditInfo, customers: 1, fields: [...fields] };
      return {
        customer_id: answer.customer_id,
        partition: read.partition,
        now: now === null ? null : new Date(now).toISOString(),
        events,
        scanned: read.scanned,
        complete: read.complete,
      };
    },
  );
}
