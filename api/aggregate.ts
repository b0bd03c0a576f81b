/**
 * Aggregate routes (docs/analytics.md): `GET /v1/aggregate` groups every customer's current state
 * (segment, lifecycle, RFM, a tag, a non-personal profile field, a bucketed feature) with counts,
 * sums, averages, extremes and sketch quantiles; `GET /v1/aggregate/daily` reads the per-day cube
 * (events, distinct customers, amount by day × segment × event type × channel). Both need the
 * `aggregate` permission (analyst, admin, service) and are audited like every read of customer data.
 * No personal field can be grouped, filtered on or returned (security/masking.ts says which are).
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import type { DailySpec, EngineView } from '../engine/view.js';
import { AGGREGATE_DEADLINE_MS, MAX_GROUPS } from '../operators/analytics/aggregate.js';
import { parseAggregateQuery } from '../operators/analytics/aggregate-spec.js';
import {
  DAILY_DIMENSIONS,
  DAILY_METRICS,
  type DailyDimension,
  type DailyMetric,
  dayName,
  dayOf,
  MAX_DAYS,
} from '../operators/analytics/daily-cube.js';
import { personalKind } from '../security/masking.js';
import { ErrorBody } from './schemas.js';

/**
 * The one place the aggregates ask whether a profile field is personal: any spelling of a personal
 * kind (`Phone`, `email`, `idNumber`...; masking.ts). Fields not declared plain are sealed in the
 * workers anyway (BW_PROFILE_PLAIN_FIELDS), so grouping by one gives a single null group.
 */
const isPersonal = (field: string): boolean => personalKind(field) !== undefined;

const AggregateQuery = Type.Object(
  {
    group_by: Type.Optional(
      Type.String({
        maxLength: 1000,
        description:
          'Up to 4 of: segment, lifecycle, rfm.r, rfm.f, rfm.m, tag:<id>, profile.<field> (not personal), bucket(<feature or score>, e0, e1, ...); comma-separated. None: one group of everyone.',
      }),
    ),
    metrics: Type.Optional(
      Type.String({
        maxLength: 1000,
        description:
          'count (always answered) and up to 16 of sum|avg|min|max|p50|p90|p99:<feature, churn.risk, intent.risk, rfm.r|f|m or profile.<field>>; comma-separated',
      }),
    ),
    filter: Type.Optional(
      Type.String({ maxLength: 2000, description: 'A CRM expression (docs/crm.md), e.g. spend_90d > 100' }),
    ),
  },
  { additionalProperties: false },
);

const KeyValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

const AggregateAnswerSchema = Type.Object({
  groups: Type.Array(
    Type.Object(
      { key: Type.Record(Type.String(), KeyValue), count: Type.Integer() },
      {
        additionalProperties: Type.Union([Type.Number(), Type.Null()]),
        description:
          'One group: its key by dimension, its customers, and each metric by name (null: no value)',
      },
    ),
  ),
  customers: Type.Integer({ description: 'Customers that passed the filter' }),
  took_ms: Type.Number(),
});

const DailyQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({
        pattern: '^\\d{4}-\\d{2}-\\d{2}$',
        description: 'First UTC day (default: 29 days before `to`)',
      }),
    ),
    to: Type.Optional(
      Type.String({
        pattern: '^\\d{4}-\\d{2}-\\d{2}$',
        description: 'Last UTC day, inclusive (default: today)',
      }),
    ),
    group_by: Type.Optional(
      Type.String({ maxLength: 200, description: `Of ${DAILY_DIMENSIONS.join(', ')}; default day` }),
    ),
    metrics: Type.Optional(
      Type.String({ maxLength: 200, description: `Of ${DAILY_METRICS.join(', ')}; default all three` }),
    ),
  },
  { additionalProperties: false },
);

const DailyAnswerSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  groups: Type.Array(
    Type.Object({
      key: Type.Record(Type.String(), Type.String()),
      events: Type.Optional(Type.Integer()),
      customers: Type.Optional(Type.Integer({ description: 'Distinct customers (sketch: exact up to 64)' })),
      amount: Type.Optional(Type.Number({ description: 'Σ amount, exact to the cent' })),
    }),
  ),
  dropped_events: Type.Integer({
    description: `Events whose day was ${MAX_DAYS} days or more before the newest day`,
  }),
  took_ms: Type.Number(),
});

function listOf<T extends string>(
  text: string | undefined,
  allowed: readonly T[],
  fallback: T[],
  what: string,
): T[] {
  if (text === undefined || text.trim() === '') return fallback;
  const items = text.split(',').map((s) => s.trim());
  for (const item of items)
    if (!(allowed as readonly string[]).includes(item))
      throw new BellwetherError(
        'BW_ERR_AGGREGATE_QUERY',
        `${what}: unknown '${item}'; allowed: ${allowed.join(', ')}`,
      );
  if (new Set(items).size !== items.length)
    throw new BellwetherError('BW_ERR_AGGREGATE_QUERY', `${what}: a name is given twice`);
  return items as T[];
}

function dailySpecOf(query: Static<typeof DailyQuery>): DailySpec {
  const to = query.to === undefined ? Math.floor(Date.now() / 86_400_000) : dayOf(query.to);
  const from = query.from === undefined ? to - 29 : dayOf(query.from);
  if (Number.isNaN(to) || Number.isNaN(from))
    throw new BellwetherError('BW_ERR_AGGREGATE_QUERY', 'from and to must be calendar days YYYY-MM-DD');
  if (from > to) throw new BellwetherError('BW_ERR_AGGREGATE_QUERY', 'from is after to');
  if (to - from + 1 > MAX_DAYS)
    throw new BellwetherError('BW_ERR_AGGREGATE_QUERY', `at most ${MAX_DAYS} days from from to to`);
  return {
    from,
    to,
    group_by: listOf<DailyDimension>(query.group_by, DAILY_DIMENSIONS, ['day'], 'group_by'),
    metrics: listOf<DailyMetric>(query.metrics, DAILY_METRICS, [...DAILY_METRICS], 'metrics'),
  };
}

/** Audit detail of a query: its parameters as given (never values of personal fields: they are refused). */
function detailOf(query: Record<string, string | undefined>): string {
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return parts.join('; ').slice(0, 500);
}

export function aggregateRoutes(app: FastifyInstance, engine: EngineView): void {
  app.get<{ Querystring: Static<typeof AggregateQuery> }>(
    '/v1/aggregate',
    {
      config: { permission: 'aggregate', audit: true },
      schema: {
        summary: `Groups of every customer's current state with counts, sums, averages and quantiles (at most ${MAX_GROUPS} groups, ${AGGREGATE_DEADLINE_MS / 1000} s)`,
        tags: ['analytics'],
        querystring: AggregateQuery,
        response: {
          200: AggregateAnswerSchema,
          400: ErrorBody,
          403: ErrorBody,
          422: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request) => {
      const started = performance.now();
      request.auditInfo = { customers: 0, fields: [], pii: 'none', detail: detailOf(request.query) };
      const spec = parseAggregateQuery(request.query, isPersonal);
      const answer = await engine.aggregate(spec, Date.now() + AGGREGATE_DEADLINE_MS);
      request.auditInfo.customers = answer.customers;
      request.auditInfo.fields = [
        ...spec.group_by.map((d) => d.name),
        'count',
        ...spec.metrics.map((m) => m.name),
      ];
      return { ...answer, took_ms: Math.round((performance.now() - started) * 10) / 10 };
    },
  );

  app.get<{ Querystring: Static<typeof DailyQuery> }>(
    '/v1/aggregate/daily',
    {
      config: { permission: 'aggregate', audit: true },
      schema: {
        summary:
          'Per-day events, distinct customers and amount by segment, event type and channel (event time, UTC days)',
        tags: ['analytics'],
        querystring: DailyQuery,
        response: { 200: DailyAnswerSchema, 400: ErrorBody, 403: ErrorBody, 422: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const started = performance.now();
      request.auditInfo = { customers: 0, fields: [], pii: 'none', detail: detailOf(request.query) };
      const spec = dailySpecOf(request.query);
      const answer = await engine.daily(spec);
      request.auditInfo.fields = [...spec.group_by, ...spec.metrics];
      return {
        from: dayName(spec.from),
        to: dayName(spec.to),
        groups: answer.groups,
        dropped_events: answer.dropped,
        took_ms: Math.round((performance.now() - started) * 10) / 10,
      };
    },
  );
}
