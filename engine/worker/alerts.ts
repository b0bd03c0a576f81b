/**
 * Risk alerts: a crossing of the threshold upward fires once, then the alert re-arms only after the
 * risk falls 10 points below the threshold. The alert id is derived from the crossing (kind,
 * customer, and which of the customer's crossings it is, counted in checkpointed state), so a
 * replay of the same events after a crash yields the same `Nats-Msg-Id` whatever the batch
 * boundaries, and JetStream drops the duplicate.
 */
import { hash } from 'node:crypto';
import { ALERTS_PREFIX } from '../../contract/subjects.js';
import type { Reason } from '../../models/scorer.js';
import type { EffectPublisher } from '../nats/effect-publisher.js';

const REARM_GAP = 10;
export type AlertKind = 'churn' | 'intent';

export interface AlertBody {
  alert_id: string;
  /** 1 for the customer's first alert of this kind, 2 for the next (after a re-arm)... */
  crossing: number;
  kind: AlertKind;
  customer_id: string;
  risk: number;
  previous_risk: number | null;
  threshold: number;
  model_version: string;
  event_time: string;
  emitted_at: string;
  reasons: Reason[];
}

/** Arm state transition: returns [fire, armedAfter]. */
export function crossing(armed: boolean, risk: number, threshold: number): [boolean, boolean] {
  if (armed && risk >= threshold) return [true, false];
  if (!armed && risk < threshold - REARM_GAP) return [false, true];
  return [false, armed];
}

export function alertId(kind: AlertKind, customerId: string, crossing: number): string {
  return hash('sha256', `${kind}\n${customerId}\n${crossing}`, 'hex').slice(0, 32);
}

export function riskOf(probability: number): number {
  const r = Math.round(probability * 100);
  return r < 0 ? 0 : Math.min(r, 100);
}

/** Publishes one alert on `bw.alerts.<kind>` with `Nats-Msg-Id` = alert_id (queued until the batch's commit). */
export function alertPublisher(effects: EffectPublisher): (body: AlertBody) => Promise<unknown> {
  return (body) => effects.publish(`${ALERTS_PREFIX}.${body.kind}`, JSON.stringify(body), body.alert_id);
}
