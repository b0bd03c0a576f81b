/**
 * What CRM state changes publish: rule actions to `bw.actions.<rule_id>` and segment changes to
 * `bw.segments.changed`, each with a `Nats-Msg-Id` derived from what caused it, so a replay or a
 * restart publishes the same id and JetStream keeps one.
 */
import { hash } from 'node:crypto';
import type { Segment } from '../../operators/analytics/rfm.js';
import type { Firing } from '../../operators/crm/rule-engine.js';

export const ACTIONS_PREFIX = 'bw.actions';
export const SEGMENT_CHANGES_SUBJECT = 'bw.segments.changed';

export interface ActionBody {
  action_id: string;
  rule_id: string;
  kind: Firing['kind'];
  customer_id: string;
  reason: string;
  cause: string;
  /** Event time of the trigger (event rules), the due time (absence rules), or the clock (conditions). */
  at: string;
  emitted_at: string;
  action: Readonly<Record<string, unknown>>;
}

export interface SegmentChangeBody {
  change_id: string;
  customer_id: string;
  from: Segment | null;
  to: Segment;
  at: string;
  rfm: { r: number; f: number; m: number };
}

function digest(...parts: string[]): string {
  return hash('sha256', parts.join('\n'), 'hex').slice(0, 32);
}

export function actionBody(
  firing: Firing,
  action: Readonly<Record<string, unknown>>,
  now: number,
): ActionBody {
  return {
    action_id: digest('action', firing.rule_id, firing.customer_id, firing.cause),
    rule_id: firing.rule_id,
    kind: firing.kind,
    customer_id: firing.customer_id,
    reason: firing.reason,
    cause: firing.cause,
    at: new Date(firing.at).toISOString(),
    emitted_at: new Date(now).toISOString(),
    action,
  };
}

/** `cause` names what moved the customer: the latest event id (or the clock's day for a sweep). */
export function segmentChangeBody(
  customerId: string,
  from: Segment | null,
  to: Segment,
  at: number,
  cause: string,
  rfm: { r: number; f: number; m: number },
): SegmentChangeBody {
  return {
    change_id: digest('segment', customerId, String(from), to, cause),
    customer_id: customerId,
    from,
    to,
    at: new Date(at).toISOString(),
    rfm,
  };
}
