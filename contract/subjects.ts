/**
 * Subject names and the customer → partition mapping. The partition of a customer is
 * FNV-1a-32(customer_token) mod partitions, exactly what nats-server's `{{partition(n,k)}}`
 * subject mapping computes, so the server routes events and the engine finds answers with
 * the same function.
 */
import type { EventType } from './event-types.js';

const EVENTS_PREFIX = 'bw.events';
const PARTITIONED_PREFIX = 'bw.part';
export const DLQ_PREFIX = 'bw.dlq';
export const ALERTS_PREFIX = 'bw.alerts';
/** Security alerts: export limits, failed authentications, streams deleted or altered. */
export const SECURITY_ALERTS_SUBJECT = `${ALERTS_PREFIX}.security`;
/** Model-monitor breaches: input drift and calibration (docs/models.md, Monitoring). */
export const MODEL_ALERTS_SUBJECT = `${ALERTS_PREFIX}.model`;

const PLAIN_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
/** Marks an encoded token; `~` cannot occur in a plain token. */
const ENCODED_MARK = '~';

/** A lone surrogate: a `u` regex matches only unpaired UTF-16 surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Whether an id is well-formed UTF-16 (no lone surrogate, which has no UTF-8 form: every one would
 * encode as U+FFFD, so ids that differ only there would share a token). The engine rejects events
 * whose ids are not (`bad_id`).
 */
export function isWellFormedId(id: string): boolean {
  return !LONE_SURROGATE.test(id);
}

/**
 * The subject token for a customer id: the id itself when it matches `[A-Za-z0-9_-]{1,64}`,
 * otherwise `~` followed by the unpadded base64url of its UTF-8 bytes (reversible). An id that is
 * not well-formed UTF-16 gets `~~` and the base64url of its UTF-16LE code units, so that no two ids
 * share a token (the engine dead-letters its events as `bad_id`).
 */
export function customerToken(customerId: string): string {
  if (PLAIN_TOKEN.test(customerId)) return customerId;
  if (!isWellFormedId(customerId))
    return ENCODED_MARK + ENCODED_MARK + Buffer.from(customerId, 'utf16le').toString('base64url');
  return ENCODED_MARK + Buffer.from(customerId, 'utf8').toString('base64url');
}

/** Inverse of {@link customerToken}; undefined when the token is neither plain nor validly encoded. */
export function customerIdFromToken(token: string): string | undefined {
  if (PLAIN_TOKEN.test(token)) return token;
  if (!token.startsWith(ENCODED_MARK)) return undefined;
  const utf16 = token.startsWith(ENCODED_MARK + ENCODED_MARK);
  const body = token.slice(utf16 ? 2 : 1);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  const id = Buffer.from(body, 'base64url').toString(utf16 ? 'utf16le' : 'utf8');
  return customerToken(id) === token ? id : undefined;
}

/** Subject a producer publishes an event to: `bw.events.<type>.<customer_token>`. */
export function eventSubject(type: EventType | string, customerId: string): string {
  return `${EVENTS_PREFIX}.${type}.${customerToken(customerId)}`;
}

/** FNV-1a 32-bit over the UTF-8 bytes of a string, as nats-server hashes for `partition()`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      hash = Math.imul(hash ^ code, 0x01000193);
      continue;
    }
    // Non-ASCII: hash the UTF-8 bytes.
    const bytes = Buffer.from(text.slice(i), 'utf8');
    for (code of bytes) hash = Math.imul(hash ^ code, 0x01000193);
    break;
  }
  return hash >>> 0;
}

function partitionOfToken(token: string, partitions: number): number {
  return fnv1a32(token) % partitions;
}

export function partitionOfCustomer(customerId: string, partitions: number): number {
  return partitionOfToken(customerToken(customerId), partitions);
}

/**
 * The server-side mapping that turns producer subjects into partitioned ones:
 * `bw.events.<type>.<token>` → `bw.part.<p>.<type>`. The customer token picks the partition and
 * is then dropped: the body carries the customer id, and a stream whose subjects carry one token
 * per customer makes nats-server 2.9 match every consumer filter against every one of them
 * whenever it counts a consumer's pending messages (each consumer creation and info request) and
 * costs more to look up the next message of a partition. Stored subjects of before 2026-11-23
 * (`bw.part.<p>.<type>.<token>`) are still read.
 */
export function partitionMapping(partitions: number): { from: string; to: string } {
  return {
    from: `${EVENTS_PREFIX}.*.*`,
    to: `${PARTITIONED_PREFIX}.{{partition(${partitions},2)}}.{{wildcard(1)}}`,
  };
}

/** Filter subject of one partition's consumer. */
export function partitionFilter(partition: number): string {
  return `${PARTITIONED_PREFIX}.${partition}.>`;
}

/**
 * Splits a stored subject, `bw.part.<p>.<type>` (token undefined) or the earlier
 * `bw.part.<p>.<type>.<token>`; undefined when the subject has another shape.
 */
export function parsePartitionedSubject(
  subject: string,
): { partition: number; type: string; token: string | undefined } | undefined {
  const parts = subject.split('.');
  if ((parts.length !== 4 && parts.length !== 5) || parts[0] !== 'bw' || parts[1] !== 'part')
    return undefined;
  return { partition: Number(parts[2]), type: parts[3] ?? '', token: parts[4] };
}
