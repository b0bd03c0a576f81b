/** Answers built from a partition's state: one customer's view, and the riskiest customers. */
import { lastEventAt } from '../operators/recency.js';
import { riskOf } from './alerts.js';
import type { PartitionState } from './partition-state.js';
import type { CustomerAnswer, CustomerSummary, ScoreView } from './thread-messages.js';

export interface ModelVersions {
  churn: string;
  intent: string;
}

export function scoreView(prob: number, version: string, at: number): ScoreView | null {
  if (Number.isNaN(prob)) return null;
  return {
    probability: Math.round(prob * 1e6) / 1e6,
    risk: riskOf(prob),
    model_version: version,
    scored_at: new Date(at).toISOString(),
  };
}

function iso(ms: number): string | null {
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function customerSummary(
  state: PartitionState,
  slot: number,
  versions: ModelVersions,
): CustomerSummary {
  const at = state.scoredAt.data[slot]!;
  return {
    customer_id: state.table.idOf(slot),
    scores: {
      churn: scoreView(state.churn.data[slot]!, versions.churn, at),
      purchase_intent: scoreView(state.intent.data[slot]!, versions.intent, at),
    },
    last_event_at: iso(lastEventAt(state.table.store, slot)),
  };
}

export function customerAnswer(
  state: PartitionState,
  slot: number,
  versions: ModelVersions,
  clock: 'wall' | 'event',
): CustomerAnswer {
  const { customer_id, scores, last_event_at } = customerSummary(state, slot, versions);
  return {
    customer_id,
    partition: state.partition,
    features: state.table.featureRecord(slot, state.now(clock)),
    scores,
    last_event_at,
  };
}

/** Customers of `states` whose churn risk is ≥ minRisk, highest first, at most `limit`. */
export function riskiest(
  states: Iterable<PartitionState>,
  minRisk: number,
  limit: number,
  versions: ModelVersions,
): CustomerSummary[] {
  const hits: { state: PartitionState; slot: number; prob: number }[] = [];
  for (const state of states) {
    const churn = state.churn.data;
    for (let slot = 0; slot < state.table.size; slot++) {
      const prob = churn[slot]!;
      if (riskOf(prob) >= minRisk) hits.push({ state, slot, prob });
    }
  }
  hits.sort((x, y) => y.prob - x.prob);
  return hits.slice(0, limit).map((h) => customerSummary(h.state, h.slot, versions));
}
