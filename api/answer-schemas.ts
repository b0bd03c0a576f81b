/**
 * The 200 answers of the engine-information, model and CRM analytics routes. Fastify serialises an
 * answer with its schema and drops what the schema does not name, so every field the engine returns
 * is here (test/integration/api-answers.test.ts compares live answers with their documents); open
 * maps (model cards, cluster members' extra fields) say so with additionalProperties.
 */
import { Type } from '@sinclair/typebox';
import { EVENT_TYPES } from '../contract/event-types.js';
import { ATTRIBUTION_MODELS } from '../operators/analytics/attribution-report.js';
import { ModelVersions } from './schemas.js';

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

const PartitionStatus = Type.Object({
  partition: Type.Integer(),
  attached: Type.Boolean({ description: 'The worker consumes the partition' }),
  caught_up: Type.Boolean({ description: 'The partition consumer had no backlog at its last check' }),
  pending: Type.Integer({ description: 'Messages of the partition not yet delivered' }),
  ack_pending: Type.Integer({ description: 'Messages delivered and not yet acknowledged' }),
  customers: Type.Integer(),
  last_sequence: Type.Integer({ description: 'Stream sequence of the last event applied' }),
  watermark: NullableTimestamp,
  event_clock: Type.Union([Timestamp, Type.Null()], {
    description: "The partition's event-clock now (BW_CLOCK=event); null before the first event",
  }),
});

const ClusterMember = Type.Object(
  {
    instance_id: Type.String(),
    http_url: Type.Optional(Type.String()),
    started_at: Timestamp,
    lease_seconds: Type.Number(),
  },
  { additionalProperties: true },
);

/** GET /v1/info */
export const InfoAnswer = Type.Object({
  name: Type.Literal('bellwether'),
  version: Type.String(),
  partitions: Type.Integer(),
  workers: Type.Integer(),
  clock: Type.Union([Type.Literal('wall'), Type.Literal('event')]),
  tf_backend: Type.String(),
  models: ModelVersions,
  thresholds: Type.Object({ churn: Type.Number(), intent: Type.Number() }),
  cluster: Type.Object({
    instance_id: Type.String(),
    members: Type.Array(ClusterMember),
    partitions: Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
      description: 'Partition → the instance holding its lease (null while it moves)',
    }),
  }),
  nats: Type.Optional(
    Type.Object(
      { url: Type.String(), embedded: Type.Boolean() },
      { description: 'The NATS connection: admin role only' },
    ),
  ),
  worker_status: Type.Array(
    Type.Object({
      index: Type.Integer(),
      models: ModelVersions,
      tensors: Type.Integer({ description: 'TF.js tensors alive in the worker' }),
    }),
  ),
  partition_status: Type.Array(PartitionStatus),
});

/** GET /v1/models */
export const ModelsAnswer = Type.Object({
  models: Type.Array(
    Type.Object({
      name: Type.String(),
      live: Type.Union([Type.String(), Type.Null()]),
      shadow: Type.Union([Type.String(), Type.Null()]),
      versions: Type.Array(
        Type.Object({
          version: Type.String(),
          card: Type.Union(
            [
              Type.Object(
                {},
                {
                  additionalProperties: true,
                  description: 'The model card (docs/models.md): metrics, cutoffs, …',
                },
              ),
              Type.Null(),
            ],
            { description: 'null when the version has no readable card' },
          ),
        }),
      ),
    }),
  ),
  loaded: Type.Array(ModelVersions, { description: 'Per worker, the versions it scores with' }),
  shadow_comparison: Type.Array(
    Type.Object({
      model: Type.String(),
      live: Type.String(),
      shadow: Type.String(),
      scored: Type.Integer({ description: 'Customers both versions scored since the last reload' }),
      risk_diff_sum: Type.Number({ description: 'Sum of |shadow risk − live risk| (risk points)' }),
      live_alerting: Type.Integer(),
      shadow_alerting: Type.Integer(),
      both_alerting: Type.Integer(),
      mean_abs_risk_diff: Type.Union([Type.Number(), Type.Null()]),
      alert_agreement: Type.Union([Type.Number(), Type.Null()]),
    }),
    {
      description:
        'The challenger (SHADOW) beside the live model, merged over this instance’s workers (docs/models.md)',
    },
  ),
});

/** GET /v1/segments */
export const SegmentsAnswer = Type.Object({
  segments: Type.Array(
    Type.Object({
      segment: Type.String(),
      customers: Type.Integer(),
      share: Type.Number({ description: 'customers / all customers counted' }),
      avg_spend_90d: Type.Number(),
      avg_churn_risk: Type.Union([Type.Number(), Type.Null()], {
        description: 'Mean churn risk of the scored customers of the segment; null when none is scored',
      }),
    }),
  ),
});

/** GET /v1/funnels/:id */
export const FunnelAnswer = Type.Object({
  id: Type.String(),
  steps: Type.Array(Type.Object({ type: Type.String(), entered: Type.Integer() })),
  conversion: Type.Number({ description: 'entered[last] / entered[0] (0 when nobody entered)' }),
  drop_off: Type.Array(
    Type.Object({
      from: Type.String(),
      to: Type.String(),
      dropped: Type.Integer(),
      rate: Type.Number({ description: 'dropped / entered at `from`' }),
    }),
  ),
});

const EventType = Type.Union(
  EVENT_TYPES.map((t) => Type.Literal(t)),
  { description: 'An event type' },
);

/** GET /v1/paths */
export const PathsAnswer = Type.Object({
  transitions: Type.Optional(
    Type.Object(
      {
        from: EventType,
        total: Type.Integer({ description: 'Transitions out of `from`' }),
        next: Type.Array(Type.Object({ type: EventType, count: Type.Integer(), share: Type.Number() })),
      },
      { description: 'Only with ?from=' },
    ),
  ),
  top_paths_to_purchase: Type.Array(
    Type.Object({
      path: Type.Array(EventType, { description: 'Event types before the purchase, oldest first' }),
      count: Type.Integer({
        description: 'Purchases preceded by the path (an upper bound once `error` > 0)',
      }),
      error: Type.Integer(),
      share: Type.Number(),
    }),
  ),
});

const ConversionsAndRevenue = Type.Object({ conversions: Type.Number(), revenue: Type.Number() });

/** GET /v1/attribution */
export const AttributionAnswer = Type.Object({
  model: Type.Union(ATTRIBUTION_MODELS.map((m) => Type.Literal(m))),
  lookback_days: Type.Number(),
  half_life_days: Type.Number({ description: 'Half-life of time_decay' }),
  channels: Type.Array(
    Type.Object({
      channel: Type.String(),
      conversions: Type.Number({
        description: 'Credited conversions (fractional for linear, time_decay, shapley)',
      }),
      revenue: Type.Number(),
      share: Type.Number({ description: 'conversions / attributed conversions' }),
    }),
    { description: 'By conversions, most first; channels with no credit left out' },
  ),
  attributed: ConversionsAndRevenue,
  unattributed: Type.Object(ConversionsAndRevenue.properties, {
    description: 'Purchases without a touch in the lookback',
  }),
});

/** A 200 answer that is not JSON: its media type and what it holds. */
export function textAnswer(mediaType: string, description: string) {
  return { description, content: { [mediaType]: { schema: Type.String() } } };
}
