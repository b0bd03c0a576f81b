/** The event body schema, shared by the engine's validator, the docs and producers. */
import { type Static, Type } from '@sinclair/typebox';
import { EVENT_TYPES, type EventType } from './event-types.js';
import { DAY_MS } from './time.js';

export const MAX_EVENT_BYTES = 64 * 1024;
/**
 * Events stamped more than this far before the clock are rejected as `bad_time`: a zero date
 * (year 1 or 1900) is a producer's bug, and the sparse windows compare buckets of a customer by
 * their 24-bit difference (operators/bucket-log.ts), exact up to 79 years of 5-minute buckets.
 */
export const MAX_PAST_MS = 60 * 365.25 * DAY_MS;

/** Events stamped more than this far ahead of the clock are rejected as `future_time`. */
export const MAX_FUTURE_MS = DAY_MS;

/**
 * Largest |`amount`| of one event, in currency units (`bad_amount` beyond): a billion is above
 * any realistic single order, and keeps every sum the engine holds finite and exact to the cent.
 */
export const MAX_AMOUNT = 1e9;

/** Largest |`quantity`| of one event (`bad_quantity` beyond). */
export const MAX_QUANTITY = 1e6;

export const EventSchema = Type.Object(
  {
    event_id: Type.String({ minLength: 1, maxLength: 256, description: 'Dedupe key' }),
    // At least one of customer_id and anonymous_id (checked after the schema, event-parse.ts).
    customer_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'Authoritative customer id' }),
    ),
    anonymous_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Device or cookie id (docs/events.md, Identity)',
      }),
    ),
    // An `enum`, not a union of literals: ajv checks a union branch by branch and builds an error
    // object (with its message string) for every branch that fails, ~10 per event on the hot path.
    type: Type.Unsafe<EventType>({ type: 'string', enum: [...EVENT_TYPES], description: 'Event type' }),
    ts: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Number()], {
      description: 'Event time: ISO-8601 string or epoch milliseconds',
    }),
    amount: Type.Optional(
      Type.Number({ description: 'Amount in currency units, |amount| ≤ 1e9; ≥ 0 on a purchase' }),
    ),
    currency: Type.Optional(Type.String({ maxLength: 8 })),
    quantity: Type.Optional(Type.Number({ description: '|quantity| ≤ 1e6; ≥ 0 on a purchase' })),
    sku: Type.Optional(Type.String({ maxLength: 256 })),
    category: Type.Optional(Type.String({ maxLength: 256 })),
    channel: Type.Optional(Type.String({ maxLength: 128 })),
    session_id: Type.Optional(Type.String({ maxLength: 256 })),
    campaign: Type.Optional(Type.String({ maxLength: 256 })),
    props: Type.Optional(
      Type.Unsafe<Record<string, unknown>>(Type.Object({}, { additionalProperties: true })),
    ),
  },
  { additionalProperties: true, $id: 'Event' },
);

export type EventBody = Static<typeof EventSchema>;

/**
 * The fields of a valid event that the engine reads, in the order of an {@link EventFields}
 * object (one object shape whichever parse path built it); the others are checked and dropped.
 * The byte scanner (event-fields.ts) derives its field table from the schema and this list.
 */
export const KEPT_FIELDS = [
  'event_id',
  'customer_id',
  'anonymous_id',
  'type',
  'amount',
  'currency',
  'quantity',
  'sku',
  'category',
  'channel',
  'session_id',
  'campaign',
  'props',
] as const satisfies readonly (keyof EventBody)[];

type KeptField = (typeof KEPT_FIELDS)[number];

/**
 * The fields of a valid event that the engine reads (KEPT_FIELDS). `customer_id` is the profile the
 * event folds into: the body's customer_id, or its anonymous_id when it has none (the parse fills
 * it in; ParsedEvent.anonymous says which).
 */
export type EventFields = Omit<Pick<EventBody, KeptField>, 'customer_id'> & { customer_id: string };

/** Reasons an event is dead-lettered; each is the last token of `bw.dlq.<reason>`. */
const REJECT_REASONS = [
  'oversized',
  'not_json',
  'missing_field',
  'invalid_field',
  'unknown_type',
  'bad_time',
  'future_time',
  'bad_amount',
  'bad_quantity',
  'bad_id',
  'subject_mismatch',
  'processing_error',
  'poison',
  'outlier',
  'near_duplicate',
  'identity_conflict',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];
