/**
 * Route schemas (TypeBox): they validate requests, shape responses and generate /docs. Shapes used
 * by more than one answer are shared schemas (SHARED_SCHEMAS, added to the server once): a route
 * names them by reference, and /docs/json lists them under components/schemas.
 */
import { type Static, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';

/** A reference to a shared schema, typed as the schema it names. */
function refTo<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  if (schema.$id === undefined) throw new Error('refTo: the schema has no $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      violations: Type.Optional(
        Type.Array(Type.String(), {
          description: 'BW_ERR_CRM_CONFIG: every violation, each `<file>:<section>.<id>.<field>: …`',
        }),
      ),
    }),
  },
  { $id: 'ErrorBody', description: 'A refusal or failure: a BW_ERR_… code (docs/errors.md) and its message' },
);

export const ErrorBody = refTo(ErrorBodySchema);

const ScoreSchema = Type.Union(
  [
    Type.Object({
      probability: Type.Number({ minimum: 0, maximum: 1 }),
      risk: Type.Integer({ minimum: 0, maximum: 100 }),
      model_version: Type.String(),
      scored_at: Type.String({ format: 'date-time' }),
      reasons: Type.Optional(
        Type.Array(
          Type.Object({
            feature: Type.String(),
            value: Type.Union([Type.Number(), Type.Null()]),
            direction: Type.Union([Type.Literal('raises'), Type.Literal('lowers')]),
            impact: Type.Number(),
          }),
        ),
      ),
    }),
    Type.Null(),
  ],
  { $id: 'Score', description: 'A model score, null before the customer is scored' },
);

const Score = refTo(ScoreSchema);

const Scores = Type.Object({ churn: Score, purchase_intent: Score });

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

const Rfm = Type.Union([
  Type.Object({ r: Type.Integer(), f: Type.Integer(), m: Type.Integer() }),
  Type.Null(),
]);

/** A customer's next-best categories (docs/analytics.md#next-best-category). */
const RecommendationSchema = Type.Object({
  next_best_category: Type.Union([Type.String(), Type.Null()]),
  tag: Type.Union([Type.String(), Type.Null()], {
    description: '`likely_to_buy:<category>`, the predictive tag; rules read the category as `likely_to_buy`',
  }),
  categories: Type.Array(Type.Object({ category: Type.String(), score: Type.Number() }), {
    description: 'Best-scoring categories, best first (the ones just bought left out)',
  }),
  skus: Type.Array(Type.Object({ sku: Type.String(), category: Type.String(), baskets: Type.Number() }), {
    description: 'The skus most often bought in those categories',
  }),
  recent: Type.Array(Type.Object({ category: Type.String(), weight: Type.Number() }), {
    description: "The customer's category interest (views 1, cart adds 3, purchases 5; 14-day half-life)",
  }),
  just_bought: Type.Array(Type.String()),
  baskets: Type.Integer({ description: 'Baskets of the partition the rules were mined from' }),
});

/** GET /v1/customers/:id/recommendations */
export const RecommendationAnswer = Type.Composite([
  Type.Object({ customer_id: Type.String() }),
  RecommendationSchema,
]);

const RecommendationsSchema = Type.Object(RecommendationSchema.properties, { $id: 'Recommendations' });

const CustomerAnswerSchema = Type.Object(
  {
    customer_id: Type.String(),
    partition: Type.Integer(),
    segment: Type.Union([Type.String(), Type.Null()]),
    rfm: Rfm,
    tags: Type.Array(Type.String()),
    features: Type.Record(Type.String(), NullableNumber),
    scores: Type.Object({
      churn: Score,
      purchase_intent: Score,
      p_alive: NullableNumber,
      expected_purchases_90d: NullableNumber,
      clv_365d: NullableNumber,
      clv_version: Type.Union([Type.String(), Type.Null()]),
      clv_status: Type.String({
        description:
          'ok | no_fit | no_purchase | degenerate_fit: <reasons> (p_alive, expected_purchases_90d and clv_365d are null unless ok; docs/models.md)',
      }),
    }),
    last_event_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    recommendations: refTo(RecommendationsSchema),
    identities: Type.Array(Type.String(), {
      description: 'Anonymous ids (devices, cookies) linked to this customer (docs/events.md, Identity)',
    }),
    anonymous: Type.Optional(
      Type.Boolean({
        description: 'true for an anonymous profile: events that carried only this anonymous_id',
      }),
    ),
    pii: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Personal fields: masked for analysts, plain for admins asking ?pii=plain; absent for viewers and services',
      }),
    ),
  },
  { $id: 'CustomerAnswer' },
);

/** GET /v1/customers/:id, and each line of GET /v1/export/customers. */
export const CustomerAnswerBody = refTo(CustomerAnswerSchema);

/** The 308 answer for a linked anonymous id (its Location header names the customer's answer). */
export const LinkedAnswer = Type.Object({
  customer_id: Type.String({ description: 'The customer the anonymous id is linked to' }),
});

export const PiiQuery = Type.Union([Type.Literal('none'), Type.Literal('masked'), Type.Literal('plain')], {
  description: 'Personal fields: none, masked (analyst, admin) or plain (admin only; audited)',
});

export const CustomerQuery = Type.Object({ pii: Type.Optional(PiiQuery) }, { additionalProperties: false });

const CustomerSummarySchema = Type.Object(
  {
    customer_id: Type.String(),
    segment: Type.Union([Type.String(), Type.Null()]),
    tags: Type.Array(Type.String()),
    scores: Scores,
    last_event_at: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'CustomerSummary' },
);

export const CustomerParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });

const Segment = Type.Union(
  ['new', 'dormant', 'at_risk', 'core', 'potential', 'regular'].map((s) => Type.Literal(s)),
);

export const CustomerListQuery = Type.Object(
  {
    min_churn_risk: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    tag: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,64}$' })),
    segment: Type.Optional(Segment),
  },
  { additionalProperties: false },
);

export const ExportQuery = Type.Object(
  {
    min_churn_risk: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 })),
    tag: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,64}$' })),
    segment: Type.Optional(Segment),
    pii: Type.Optional(PiiQuery),
  },
  { additionalProperties: false },
);

export const CustomerList = Type.Object({
  customers: Type.Array(refTo(CustomerSummarySchema)),
  count: Type.Integer(),
});

/** A model name → version map (live versions, or the ones a worker scores with). */
const ModelVersionsSchema = Type.Record(Type.String(), Type.String(), {
  $id: 'ModelVersions',
  description: 'Model name → version',
});

export const ModelVersions = refTo(ModelVersionsSchema);

/** Schemas routes name by reference; buildServer adds them before any route. */
export const SHARED_SCHEMAS: readonly TSchema[] = [
  ErrorBodySchema,
  ScoreSchema,
  RecommendationsSchema,
  CustomerAnswerSchema,
  CustomerSummarySchema,
  ModelVersionsSchema,
];
