/**
 * The shape of a CRM file (tags, rules, funnels, segments) as a TypeBox schema; the plain
 * `CrmFile` type comes from it. Meaning of each field, defaults and examples: docs/crm.md.
 */
import { type Static, Type } from '@sinclair/typebox';

const CRM_TAG_KINDS = ['basic', 'behaviour', 'value', 'predictive'] as const;
export type CrmTagKind = (typeof CRM_TAG_KINDS)[number];

/** Ids of tags, rules and funnels: they appear in NATS subjects (`bw.actions.<rule_id>`). */
const CRM_ID_PATTERN = '^[a-z0-9_-]{1,64}$';

/**
 * At most this many tags (a slot's tags are a 64-bit set), rules and funnels per file, and steps per
 * funnel (the funnel operator's limit too).
 */
export const MAX_TAGS = 64;
const MAX_RULES = 1000;
const MAX_FUNNELS = 100;
export const MAX_FUNNEL_STEPS = 32;

const Id = Type.String({ pattern: CRM_ID_PATTERN });
const Text = Type.String({ minLength: 1, maxLength: 2000 });
const Duration = Type.String({ minLength: 1, maxLength: 32 });
const EventName = Type.String({ minLength: 1, maxLength: 64 });

const CrmTagSchema = Type.Object(
  {
    id: Id,
    kind: Type.Unsafe<CrmTagKind>({ type: 'string', enum: [...CRM_TAG_KINDS] }),
    when: Text,
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

const CrmRuleSchema = Type.Object(
  {
    id: Id,
    on: Type.Optional(EventName),
    when: Type.Optional(Text),
    unless: Type.Optional(
      Type.Object({ type: EventName, within: Duration }, { additionalProperties: false }),
    ),
    max_age: Type.Optional(Duration),
    action: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

/** When a funnel's first step restarts a journey in progress (operators/analytics/funnels.ts). */
const CRM_FUNNEL_RESTARTS = ['when_idle', 'always'] as const;
export type CrmFunnelRestart = (typeof CRM_FUNNEL_RESTARTS)[number];

const CrmFunnelSchema = Type.Object(
  {
    id: Id,
    steps: Type.Array(EventName, { minItems: 2, maxItems: MAX_FUNNEL_STEPS }),
    max_gap: Duration,
    restart: Type.Optional(Type.Unsafe<CrmFunnelRestart>({ type: 'string', enum: [...CRM_FUNNEL_RESTARTS] })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

const RfmScore = Type.Integer({ minimum: 1, maximum: 5 });

const CrmSegmentsSchema = Type.Object(
  {
    new_days: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3650 })),
    dormant_days: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3650 })),
    at_risk_churn_risk: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    core: Type.Optional(
      Type.Object(
        { r_min: Type.Optional(RfmScore), f_min: Type.Optional(RfmScore), m_min: Type.Optional(RfmScore) },
        { additionalProperties: false },
      ),
    ),
    potential: Type.Optional(
      Type.Object(
        { r_min: Type.Optional(RfmScore), m_max: Type.Optional(RfmScore) },
        { additionalProperties: false },
      ),
    ),
    at_risk_rfm: Type.Optional(
      Type.Union([
        Type.Object({ r_max: RfmScore, fm_min: RfmScore }, { additionalProperties: false }),
        Type.Null(),
      ]),
    ),
  },
  { additionalProperties: false },
);

export const CrmFileSchema = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    tags: Type.Optional(Type.Array(CrmTagSchema, { maxItems: MAX_TAGS })),
    rules: Type.Optional(Type.Array(CrmRuleSchema, { maxItems: MAX_RULES })),
    funnels: Type.Optional(Type.Array(CrmFunnelSchema, { maxItems: MAX_FUNNELS })),
    segments: Type.Optional(CrmSegmentsSchema),
  },
  { additionalProperties: false },
);

export type CrmFile = Static<typeof CrmFileSchema>;

/** Segment settings with every default filled in. */
export interface CrmSegments {
  /** `new`: tenure_days < new_days. */
  readonly new_days: number;
  /** `dormant`: no purchase (or, never having bought, no event) for ≥ dormant_days. */
  readonly dormant_days: number;
  /** `at_risk`: churn.risk ≥ at_risk_churn_risk. */
  readonly at_risk_churn_risk: number;
  /** `core`: rfm.r ≥ r_min and rfm.f ≥ f_min and rfm.m ≥ m_min (RFM scores 1–5). */
  readonly core: { readonly r_min: number; readonly f_min: number; readonly m_min: number };
  /** `potential`: rfm.r ≥ r_min and rfm.m ≤ m_max (recent, low spend so far). */
  readonly potential: { readonly r_min: number; readonly m_max: number };
  /** Second `at_risk` rule, off when null: rfm.r ≤ r_max and (rfm.f ≥ fm_min or rfm.m ≥ fm_min). */
  readonly at_risk_rfm: { readonly r_max: number; readonly fm_min: number } | null;
}

export const DEFAULT_SEGMENTS: CrmSegments = Object.freeze({
  new_days: 30,
  dormant_days: 180,
  at_risk_churn_risk: 80,
  core: Object.freeze({ r_min: 4, f_min: 4, m_min: 4 }),
  potential: Object.freeze({ r_min: 4, m_max: 3 }),
  // The plans' "at risk": formerly valuable (F or M in the top two quintiles), recency slipping.
  at_risk_rfm: Object.freeze({ r_max: 2, fm_min: 4 }),
});

/** The built-in CRM file, used when no file is given (docs/crm.md). */
export const DEFAULT_CRM_FILE: CrmFile = {
  version: 1,
  tags: [
    {
      id: 'high_value',
      kind: 'value',
      when: 'spend_90d > 500',
      description: 'Spent more than 500 in 90 days',
    },
    {
      id: 'cart_abandoner',
      kind: 'behaviour',
      when: 'cart_adds_24h > 0 and purchases_7d == 0',
      description: 'Added to cart in the last 24 hours without a purchase in 7 days',
    },
    {
      id: 'churn_risk_high',
      kind: 'predictive',
      when: 'churn.risk >= 80',
      description: 'Churn risk at or above the alert threshold',
    },
    {
      id: 'email_engaged',
      kind: 'behaviour',
      when: 'email_clicks_30d > 0',
      description: 'Clicked an email in 30 days',
    },
    {
      id: 'new_customer',
      kind: 'basic',
      when: 'tenure_days < 30',
      description: 'First seen less than 30 days ago',
    },
  ],
  rules: [
    {
      id: 'welcome',
      on: 'signup',
      max_age: '2d',
      action: { channel: 'email', template: 'welcome' },
      description: 'Welcome message on sign-up',
    },
    {
      id: 'first_purchase_nudge',
      on: 'signup',
      max_age: '2d',
      unless: { type: 'purchase', within: '7d' },
      action: { channel: 'email', template: 'first_purchase_coupon' },
      description: 'New-customer coupon when a sign-up has not bought within 7 days',
    },
    {
      id: 'checkout_reminder',
      on: 'checkout_start',
      max_age: '2d',
      unless: { type: 'purchase', within: '10m' },
      action: { channel: 'email', template: 'checkout_reminder' },
      description: 'Reminder when a started checkout has no purchase within 10 minutes',
    },
    {
      id: 'churn_intervention',
      when: 'churn.risk >= 80',
      action: { channel: 'task', queue: 'account_managers' },
      description: 'Account-manager follow-up when churn risk reaches 80',
    },
    {
      id: 'win_back',
      when: "segment == 'at_risk'",
      action: { channel: 'email', template: 'win_back_offer' },
      description: 'Win-back offer when a customer enters the at_risk segment',
    },
  ],
  funnels: [
    {
      id: 'checkout',
      steps: ['page_view', 'add_to_cart', 'checkout_start', 'purchase'],
      max_gap: '1h',
      description: 'Browse to purchase, each step within an hour of the previous one',
    },
  ],
  segments: {
    new_days: DEFAULT_SEGMENTS.new_days,
    dormant_days: DEFAULT_SEGMENTS.dormant_days,
    at_risk_churn_risk: DEFAULT_SEGMENTS.at_risk_churn_risk,
    core: { ...DEFAULT_SEGMENTS.core },
    potential: { ...DEFAULT_SEGMENTS.potential },
    at_risk_rfm: DEFAULT_SEGMENTS.at_risk_rfm ? { ...DEFAULT_SEGMENTS.at_risk_rfm } : null,
  },
};
