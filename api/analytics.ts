/** CRM analytics routes: segments, funnels, paths, attribution, gathered from every worker. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { EVENT_TYPES } from '../contract/event-types.js';
import type { EngineView } from '../engine/view.js';
import { ATTRIBUTION_MODELS } from '../operators/analytics/attribution-report.js';
import { AttributionAnswer, FunnelAnswer, PathsAnswer, SegmentsAnswer } from './answer-schemas.js';
import { ErrorBody } from './schemas.js';

const FunnelParams = Type.Object({ id: Type.String({ pattern: '^[a-z0-9_-]{1,64}$' }) });
const PathsQuery = Type.Object(
  {
    from: Type.Optional(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);
const AssociationRulesQuery = Type.Object(
  {
    min_support: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, default: 0.01, description: 'Share of baskets holding both' }),
    ),
    min_confidence: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.1,
        description: 'Share of the antecedent baskets holding the consequent',
      }),
    ),
    level: Type.Optional(
      Type.Union([Type.Literal('category'), Type.Literal('sku')], { default: 'category' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
const AssociationRulesAnswer = Type.Object({
  level: Type.Union([Type.Literal('category'), Type.Literal('sku')]),
  baskets: Type.Integer({ description: 'Baskets counted over every partition' }),
  exact: Type.Boolean({ description: 'False once a Space-Saving summary evicted: counts are then bounds' }),
  rules: Type.Array(
    Type.Object({
      antecedent: Type.String(),
      consequent: Type.String(),
      count: Type.Number({ description: 'Baskets holding both (lower bound)' }),
      support: Type.Number(),
      confidence: Type.Number(),
      lift: Type.Number(),
    }),
  ),
});
const AttributionQuery = Type.Object(
  { model: Type.Optional(Type.Union(ATTRIBUTION_MODELS.map((m) => Type.Literal(m)))) },
  { additionalProperties: false },
);

export function analyticsRoutes(app: FastifyInstance, engine: EngineView): void {
  app.get(
    '/v1/segments',
    {
      schema: {
        summary: 'Customers per segment with average 90-day spend and churn risk',
        tags: ['crm'],
        response: { 200: SegmentsAnswer },
      },
    },
    async () => engine.segments(),
  );

  app.get<{ Params: Static<typeof FunnelParams> }>(
    '/v1/funnels/:id',
    {
      schema: {
        summary: 'Customers entering each step of a funnel, conversion and drop-off',
        tags: ['crm'],
        params: FunnelParams,
        response: { 200: FunnelAnswer, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const report = await engine.funnel(request.params.id);
      if (!report) {
        return reply
          .code(404)
          .send({ error: { code: 'BW_ERR_NOT_FOUND', message: `no funnel ${request.params.id}` } });
      }
      return report;
    },
  );

  app.get<{ Querystring: Static<typeof PathsQuery> }>(
    '/v1/paths',
    {
      schema: {
        summary: 'Next-event transitions from an event type, and the top paths to a purchase',
        tags: ['crm'],
        querystring: PathsQuery,
        response: { 200: PathsAnswer },
      },
    },
    async (request) => engine.paths(request.query.from, request.query.limit ?? 10),
  );

  app.get<{ Querystring: Static<typeof AssociationRulesQuery> }>(
    '/v1/association-rules',
    {
      schema: {
        summary:
          'Association rules A → B mined from the baskets of every partition, with support, confidence and lift',
        tags: ['crm'],
        querystring: AssociationRulesQuery,
        response: { 200: AssociationRulesAnswer },
      },
    },
    async (request) => {
      const q = request.query;
      return engine.associationRules(q.level ?? 'category', {
        minSupport: q.min_support ?? 0.01,
        minConfidence: q.min_confidence ?? 0.1,
        limit: q.limit ?? 100,
      });
    },
  );

  app.get<{ Querystring: Static<typeof AttributionQuery> }>(
    '/v1/attribution',
    {
      schema: {
        summary: 'Purchase credit per channel (30-day lookback): last_touch, linear, time_decay or shapley',
        tags: ['crm'],
        querystring: AttributionQuery,
        response: { 200: AttributionAnswer },
      },
    },
    async (request) => engine.attribution(request.query.model ?? 'last_touch'),
  );
}
