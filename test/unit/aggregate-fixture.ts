/**
 * Partitions of known customers for the aggregate tests: real PartitionState and PartitionCrm,
 * events folded as the worker folds them (features, then the CRM with its daily cube), segments
 * and tags set as a sweep would.
 */
import { type ParsedEvent, parseEventJson } from '../../contract/event-parse.js';
import { PartitionCrm } from '../../engine/state/partition-crm.js';
import { PartitionState } from '../../engine/state/partition-state.js';
import { aggregatePartial } from '../../engine/worker/aggregate.js';
import type { AggregatePartialJSON } from '../../operators/analytics/aggregate.js';
import type { AggregateSpec } from '../../operators/analytics/aggregate-spec.js';
import { SEGMENTS } from '../../operators/analytics/rfm.js';
import { compileCrmConfig } from '../../operators/crm/config.js';
import { TagEvaluator } from '../../operators/crm/tags.js';
import { PiiKeyring } from '../../security/pii-keyring.js';
import { ProfilePolicy } from '../../security/pii-policy.js';
import { PiiSealer } from '../../security/pii-sealer.js';

/** 2026-10-01T00:00Z: "now" of every partition (the event-time clock's watermark). */
export const T = Date.UTC(2026, 9, 1);
export const DAY = 86_400_000;

const sealer = new PiiSealer(PiiKeyring.parse(`k1:${'a1'.repeat(32)}`, 'aes-256-gcm', 'test'));

const CRM = compileCrmConfig({ tags: [{ id: 'big', kind: 'value', when: 'spend_lifetime >= 100' }] });
export const TAGS = new TagEvaluator(CRM.tags);

let eventSeq = 0;

export interface EventText {
  customer: string;
  type: string;
  at: number;
  amount?: number;
  channel?: string;
  props?: Record<string, unknown>;
}

function parsed(e: EventText): ParsedEvent {
  const body = {
    event_id: `e${++eventSeq}`,
    customer_id: e.customer,
    type: e.type,
    ts: new Date(e.at).toISOString(),
    ...(e.amount !== undefined ? { amount: e.amount } : {}),
    ...(e.channel !== undefined ? { channel: e.channel } : {}),
    ...(e.props !== undefined ? { props: e.props } : {}),
  };
  const result = parseEventJson(
    Buffer.from(JSON.stringify(body)),
    e.type,
    { partition: 0, partitions: 1 },
    T,
  );
  if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
  return result.event;
}

export interface Partition {
  state: PartitionState;
  crm: PartitionCrm;
}

export function partition(index: number): Partition {
  const state = new PartitionState(index, 0);
  return { state, crm: new PartitionCrm(state, CRM, () => sealer, new ProfilePolicy()) };
}

/** Folds events as the worker does, then sets "now" to T and each customer's tags. */
export function fold(p: Partition, events: readonly EventText[]): void {
  for (const e of events) {
    const event = parsed(e);
    const slot = p.state.table.slotFor(e.customer);
    p.state.table.fold(slot, event);
    p.crm.onEvent(slot, event);
  }
  p.state.watermark = T;
  for (let slot = 0; slot < p.state.table.size; slot++) {
    p.crm.prepare(slot, T);
    p.crm.updateTags(TAGS);
  }
}

export function setSegment(p: Partition, customer: string, segment: (typeof SEGMENTS)[number]): void {
  p.crm.segment.data[p.state.table.slotOf(customer)!] = SEGMENTS.indexOf(segment);
}

/**
 * Five customers in two partitions, as of T:
 *
 * | customer | partition | purchases (days before T: amount) | other | segment | spend_lifetime | lifecycle |
 * |---|---|---|---|---|---|---|
 * | a | 0 | 10: 100, 5: 50 | | core | 150 | new |
 * | b | 0 | 100: 20 | page_view 1 | dormant | 20 | lapsed |
 * | c | 0 | | page_view 2 | (none) | 0 | prospect |
 * | d | 1 | 60: 10, 40: 10, 20: 10 | | regular | 30 | active |
 * | e | 1 | 3: 200 | profile country fr, email | core | 200 | new |
 */
export function population(): Partition[] {
  const p0 = partition(0);
  const p1 = partition(1);
  fold(p0, [
    { customer: 'a', type: 'purchase', at: T - 10 * DAY, amount: 100 },
    { customer: 'a', type: 'purchase', at: T - 5 * DAY, amount: 50 },
    { customer: 'b', type: 'purchase', at: T - 100 * DAY, amount: 20 },
    { customer: 'b', type: 'page_view', at: T - 1 * DAY },
    { customer: 'c', type: 'page_view', at: T - 2 * DAY },
  ]);
  fold(p1, [
    { customer: 'd', type: 'purchase', at: T - 60 * DAY, amount: 10 },
    { customer: 'd', type: 'purchase', at: T - 40 * DAY, amount: 10 },
    { customer: 'd', type: 'purchase', at: T - 20 * DAY, amount: 10 },
    { customer: 'e', type: 'profile', at: T - 4 * DAY, props: { country: 'fr', email: 'e@example.com' } },
    { customer: 'e', type: 'purchase', at: T - 3 * DAY, amount: 200 },
  ]);
  setSegment(p0, 'a', 'core');
  setSegment(p0, 'b', 'dormant');
  setSegment(p1, 'd', 'regular');
  setSegment(p1, 'e', 'core');
  return [p0, p1];
}

/** Each partition's partial, as two workers would answer. */
export function partials(
  spec: AggregateSpec,
  parts: readonly Partition[],
  deadline = Date.now() + 60_000,
): AggregatePartialJSON[] {
  return parts.map((p) => aggregatePartial(spec, [p], TAGS, 'event', deadline));
}
