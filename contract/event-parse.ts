/**
 * Turns the bytes of one message into a validated event, or into a reject reason. Bodies of the
 * common shape are read by the byte scanner (event-scan.ts); the others, and every reject, by
 * JSON.parse and the schema validator. Both end in the same time and routing checks.
 */
import { Ajv } from 'ajv';
import { fieldsOfBody, NUMBER_FIELDS } from './event-fields.js';
import { scanEvent } from './event-scan.js';
import {
  type EventBody,
  type EventFields,
  EventSchema,
  MAX_AMOUNT,
  MAX_EVENT_BYTES,
  MAX_FUTURE_MS,
  MAX_PAST_MS,
  MAX_QUANTITY,
  type RejectReason,
} from './event-schema.js';
import { parseEventTime } from './event-time.js';
import { type EventType, eventTypeIndex } from './event-types.js';
import { customerToken, isWellFormedId, partitionOfCustomer } from './subjects.js';

/**
 * Where an event was read from, for the routing check: the customer token of its subject (the
 * producer subject `bw.events.<type>.<token>`, or a stored subject of before 2026-11-23, which
 * kept the token), or the partition of a stored subject `bw.part.<p>.<type>`, which does not.
 */
export type EventRoute = string | { readonly partition: number; readonly partitions: number };

const ajv = new Ajv({ allErrors: false, strict: false });
const validateBody = ajv.compile<EventBody>(EventSchema);
const decoder = new TextDecoder('utf-8', { fatal: false });

export { parseEventTime };

/** The ids an event carries, each well-formed UTF-16 or the event is `bad_id`. */
const ID_FIELDS = ['customer_id', 'anonymous_id', 'event_id'] as const;

export interface ParsedEvent {
  /** The fields the engine reads (the others are validated and dropped). */
  body: EventFields;
  typeIndex: number;
  /** Event time, epoch ms. */
  ts: number;
  /** `amount` or 0. */
  amount: number;
  /**
   * The body has no customer_id: `body.customer_id` is its anonymous_id, and the event belongs to
   * that anonymous profile (or, once the anonymous id is linked, to its customer: docs/events.md).
   */
  anonymous: boolean;
}

export type ParseResult =
  | { ok: true; event: ParsedEvent }
  | { ok: false; reason: RejectReason; detail: string };

function reject(reason: RejectReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/**
 * @param data message bytes
 * @param subjectType the `<type>` token of the subject
 * @param route the subject's customer token, or the partition it was stored in (EventRoute)
 * @param clockNow wall-clock ms, for the future-time check
 */
export function parseEvent(
  data: Uint8Array,
  subjectType: string,
  route: EventRoute,
  clockNow: number,
): ParseResult {
  // An oversized body skips the scanner: parseEventJson rejects it.
  const typeIndex = data.length > MAX_EVENT_BYTES ? -1 : eventTypeIndex(subjectType);
  const scanned = typeIndex >= 0 ? scanEvent(data, subjectType as EventType) : undefined;
  if (scanned !== undefined)
    return checked(scanned.body, typeIndex, scanned.ts, subjectType, route, clockNow);
  return parseEventJson(data, subjectType, route, clockNow);
}

/** The general path: JSON.parse and the schema validator (also what names a reject's reason). */
export function parseEventJson(
  data: Uint8Array,
  subjectType: string,
  route: EventRoute,
  clockNow: number,
): ParseResult {
  if (data.length > MAX_EVENT_BYTES) return reject('oversized', `${data.length} bytes > ${MAX_EVENT_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    return reject('not_json', 'body is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return reject('not_json', 'body is not a JSON object');
  if (!validateBody(raw)) {
    const err = validateBody.errors?.[0];
    const path = err?.instancePath ?? '';
    if (err?.keyword === 'required')
      return reject('missing_field', `missing ${String(err.params['missingProperty'])}`);
    if (path === '/type') {
      const t = (raw as { type?: unknown }).type;
      // The value is echoed only when it looks like a type name (headers must not carry data).
      return typeof t === 'string'
        ? reject('unknown_type', /^[a-z_]{1,32}$/.test(t) ? `unknown type ${t}` : 'unknown type')
        : reject('invalid_field', 'type');
    }
    if (path.startsWith('/ts')) return reject('bad_time', 'ts must be an ISO-8601 string or epoch ms');
    if (path === '/amount') return reject('bad_amount', 'amount must be a finite number');
    if (path === '/quantity') return reject('bad_quantity', 'quantity must be a finite number');
    return reject('invalid_field', `${path || '/'} ${err?.message ?? ''}`.trim());
  }
  const body = raw;
  for (const name of NUMBER_FIELDS) {
    const value = body[name as keyof EventBody];
    if (value !== undefined && !Number.isFinite(value))
      return name === 'amount'
        ? reject('bad_amount', 'amount is not finite')
        : name === 'quantity'
          ? reject('bad_quantity', 'quantity is not finite')
          : reject('invalid_field', `/${name} not finite`);
  }
  // The scanner keeps ASCII ids only; escapes (`\ud800`) can spell a lone surrogate here.
  for (const name of ID_FIELDS) {
    const id = body[name];
    if (id !== undefined && !isWellFormedId(id)) return reject('bad_id', `${name} is not well-formed UTF-16`);
  }
  // The same fields, in the same order, as the scanner's: one object shape downstream.
  const fields = fieldsOfBody(body);
  return checked(fields, eventTypeIndex(body.type), parseEventTime(body.ts), subjectType, route, clockNow);
}

const PURCHASE = eventTypeIndex('purchase');

/**
 * The bounds of `amount` and `quantity` (docs/events.md): finite (both paths check that), at most
 * MAX_AMOUNT and MAX_QUANTITY in magnitude, and not negative on a purchase (a refund is its own
 * type). Undefined when they hold.
 */
function boundsReject(body: EventFields, typeIndex: number): ParseResult | undefined {
  const { amount, quantity } = body;
  if (amount !== undefined) {
    if (!(Math.abs(amount) <= MAX_AMOUNT)) return reject('bad_amount', `|amount| is over ${MAX_AMOUNT}`);
    if (amount < 0 && typeIndex === PURCHASE)
      return reject('bad_amount', 'a purchase amount is negative (a refund is its own type)');
  }
  if (quantity !== undefined) {
    if (!(Math.abs(quantity) <= MAX_QUANTITY))
      return reject('bad_quantity', `|quantity| is over ${MAX_QUANTITY}`);
    if (quantity < 0 && typeIndex === PURCHASE)
      return reject('bad_quantity', 'a purchase quantity is negative (a refund is its own type)');
  }
  return undefined;
}

/**
 * The checks both paths end in: the numeric bounds, the event time, and the subject's type and
 * partition against the body.
 */
function checked(
  body: EventFields,
  typeIndex: number,
  ts: number,
  subjectType: string,
  route: EventRoute,
  clockNow: number,
): ParseResult {
  const bounds = boundsReject(body, typeIndex);
  if (bounds !== undefined) return bounds;
  if (!Number.isFinite(ts)) return reject('bad_time', 'ts is not a valid time');
  // -0 is no producer's time (a sign bug, or a zero date): it would be stored as 1970-01-01.
  if (Object.is(ts, -0)) return reject('bad_time', 'ts is negative zero');
  if (ts > clockNow + MAX_FUTURE_MS) return reject('future_time', 'ts is more than 1 day in the future');
  if (ts < clockNow - MAX_PAST_MS) return reject('bad_time', 'ts is more than 60 years in the past');
  // The routing key: the customer id, or the anonymous id of an event without one.
  const anonymous = (body.customer_id as string | undefined) === undefined;
  if (anonymous) {
    if (body.anonymous_id === undefined)
      return reject('missing_field', 'missing customer_id or anonymous_id');
    body.customer_id = body.anonymous_id;
  }
  if (
    body.type !== subjectType ||
    (typeof route === 'string'
      ? customerToken(body.customer_id) !== route
      : partitionOfCustomer(body.customer_id, route.partitions) !== route.partition)
  ) {
    return reject('subject_mismatch', 'subject type or customer partition differs from the body');
  }
  return { ok: true, event: { body, typeIndex, ts, amount: body.amount ?? 0, anonymous } };
}
