/** Answers built from a partition's state: one customer's view, and the riskiest customers. */
import type { ClvParams } from '../../models/clv/predict.js';
import { predictCustomer } from '../../models/clv/predict.js';
import type { Reason } from '../../models/scorer.js';
import type { TagEvaluator } from '../../operators/crm/tags.js';
import type { FeatureTable } from '../../operators/features/feature-table.js';
import { lastEventAt } from '../../operators/features/recency.js';
import type { CustomerAnswer, CustomerSummary, ScoreView } from '../pool/thread-messages.js';
import type { PartitionCrm } from '../state/partition-crm.js';
import type { PartitionState } from '../state/partition-state.js';
import { riskOf } from './alerts.js';

export interface ModelVersions {
  churn: string;
  intent: string;
  clv?: { version: string; params: ClvParams; status: string } | undefined;
}

type ClvScores = Pick<
  CustomerAnswer['scores'],
  'p_alive' | 'expected_purchases_90d' | 'clv_365d' | 'clv_status'
>;

/**
 * Customer-base figures from the live BG/NBD and Gamma-Gamma fit: frequency x = repeat purchase
 * days, recency t_x and age T measured from the first purchase, in the fit's unit; monetary value is
 * the customer's mean purchase amount. Null without a fit, before the first purchase, and for a
 * degenerate fit (models/clv/fit-status.ts); `clv_status` says which (docs/models.md, "Serving").
 */
function clvScores(features: Record<string, number | null>, clv: ModelVersions['clv']): ClvScores {
  const none = (status: string): ClvScores => ({
    p_alive: null,
    expected_purchases_90d: null,
    clv_365d: null,
    clv_status: status,
  });
  if (!clv) return none('no_fit');
  if (clv.status !== 'ok') return none(clv.status);
  const days = features['purchase_days_lifetime'] ?? 0;
  const age = features['days_since_first_purchase'];
  const recency = features['days_since_last_purchase'];
  if (days < 1 || age === null || age === undefined || recency === null || recency === undefined) {
    return none('no_purchase');
  }
  const unitDays = clv.params.unit === 'weeks' ? 7 : 1;
  const purchases = features['purchases_lifetime'] ?? 0;
  const prediction = predictCustomer(clv.params, {
    x: days - 1,
    t_x: Math.max(0, age - recency) / unitDays,
    T: Math.max(age, 0) / unitDays,
    monetary: purchases > 0 ? Math.max(0, features['spend_lifetime'] ?? 0) / purchases : 0,
  });
  const round = (v: number, k: number) => (Number.isFinite(v) ? Math.round(v * 10 ** k) / 10 ** k : null);
  return {
    p_alive: round(prediction.p_alive, 6),
    expected_purchases_90d: round(prediction.expected_purchases, 4),
    clv_365d: round(prediction.clv, 2),
    clv_status: 'ok',
  };
}

function scoreView(prob: number, version: string, at: number): ScoreView | null {
  if (!Number.isFinite(prob) || !Number.isFinite(at)) return null;
  return {
    probability: Math.round(prob * 1e6) / 1e6,
    risk: riskOf(prob),
    model_version: version,
    scored_at: new Date(at).toISOString(),
  };
}

function iso(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** A partition as the answers see it: its state and its CRM view. */
export interface PartitionView {
  state: PartitionState;
  crm: PartitionCrm;
}

function customerSummary(
  view: PartitionView,
  slot: number,
  versions: ModelVersions,
  tags: TagEvaluator,
): CustomerSummary {
  const { state, crm } = view;
  const at = state.scoredAt.data[slot]!;
  return {
    customer_id: state.table.idOf(slot),
    segment: crm.segmentOf(slot),
    tags: crm.tagsOf(tags, slot),
    scores: {
      churn: scoreView(state.churn.data[slot]!, versions.churn, at),
      purchase_intent: scoreView(state.intent.data[slot]!, versions.intent, at),
    },
    last_event_at: iso(lastEventAt(state.table.store, slot)),
  };
}

/** The top reasons behind each model's score for one feature vector (null outside its population). */
export type Explainer = (
  table: FeatureTable,
  slot: number,
  now: number,
  churnProbability: number,
  intentProbability: number,
) => { churn: Reason[] | null; intent: Reason[] | null };

export function customerAnswer(
  view: PartitionView,
  slot: number,
  versions: ModelVersions,
  clock: 'wall' | 'event',
  explain: Explainer,
  tags: TagEvaluator,
): CustomerAnswer {
  const { state, crm } = view;
  const {
    customer_id,
    segment,
    tags: tagNames,
    scores,
    last_event_at,
  } = customerSummary(view, slot, versions, tags);
  const vector = new Float64Array(state.table.names.length);
  state.table.features(slot, state.now(clock), vector);
  const features = state.table.recordOf(vector);
  const reasons = explain(
    state.table,
    slot,
    state.now(clock),
    state.churn.data[slot]!,
    state.intent.data[slot]!,
  );
  if (scores.churn && reasons.churn) scores.churn.reasons = reasons.churn;
  if (scores.purchase_intent && reasons.intent) scores.purchase_intent.reasons = reasons.intent;
  const rfm = crm.rfmOf(slot);
  const sealed = crm.pii.sealed(slot);
  const link = state.identity.linkOf(customer_id);
  return {
    customer_id,
    partition: state.partition,
    segment,
    rfm: rfm.r === 0 ? null : rfm,
    tags: tagNames,
    features,
    scores: { ...scores, ...clvScores(features, versions.clv), clv_version: versions.clv?.version ?? null },
    last_event_at,
    recommendations: crm.baskets.recommend(slot, state.now(clock)),
    identities: [...state.identity.identitiesOf(customer_id)],
    ...(state.identity.isAnonymous(customer_id) ? { anonymous: true as const } : {}),
    ...(link ? { linked_to: link.customerId } : {}),
    ...(sealed ? { sealed_pii: typeof sealed === 'string' ? sealed : { ...sealed } } : {}),
  };
}

export interface CustomerFilter {
  minChurnRisk: number;
  tag?: string | undefined;
  segment?: string | undefined;
}

/** Customers matching `filter` (churn risk ≥ min, tag, segment), highest churn risk first, at most `limit`. */
export function riskiest(
  views: Iterable<PartitionView>,
  filter: CustomerFilter,
  limit: number,
  versions: ModelVersions,
  tags: TagEvaluator,
): CustomerSummary[] {
  const hits: { view: PartitionView; slot: number; prob: number }[] = [];
  const tagIndex = filter.tag === undefined ? -1 : tags.indexOf(filter.tag);
  if (filter.tag !== undefined && tagIndex < 0) return [];
  for (const view of views) {
    const { state, crm } = view;
    const churn = state.churn.data;
    const tagBits = crm.tags.data as Uint32Array;
    for (let slot = 0; slot < state.table.size; slot++) {
      const prob = churn[slot]!;
      if (filter.minChurnRisk > 0 && !(riskOf(prob) >= filter.minChurnRisk)) continue;
      if (tagIndex >= 0 && ((tagBits[slot * 2 + (tagIndex >>> 5)]! >>> (tagIndex & 31)) & 1) === 0) continue;
      if (filter.segment !== undefined && crm.segmentOf(slot) !== filter.segment) continue;
      hits.push({ view, slot, prob: Number.isNaN(prob) ? -1 : prob });
    }
  }
  hits.sort((x, y) => y.prob - x.prob);
  return hits.slice(0, limit).map((h) => customerSummary(h.view, h.slot, versions, tags));
}
