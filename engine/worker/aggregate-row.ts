/**
 * The row an aggregate query's pass reads for each customer slot of a partition (engine/worker/
 * aggregate.ts): the CRM's expression names (operators/crm/expression.ts), `lifecycle`, and tags.
 * Each name is resolved once per partition into a reader of the current slot, so a pass over
 * tens of thousands of customers does not look a name up in the feature index, or through the
 * CRM lookup's switch, for every read; features come from one vector per slot, computed on the
 * first read with the plan the pass set (a filter's features, then the rest).
 */
import type { AggregateRow } from '../../operators/analytics/aggregate.js';
import { lifecycleStage } from '../../operators/analytics/lifecycle.js';
import type { ExpressionValue } from '../../operators/crm/expression.js';
import type { TagEvaluator } from '../../operators/crm/tags.js';
import type { FeaturePlan } from '../../operators/features/feature-table.js';
import type { PartitionCrm } from '../state/partition-crm.js';
import type { PartitionState } from '../state/partition-state.js';

type Reader = () => ExpressionValue;

/** Where a partition's pass is: the slot being read, and the plan its features are computed with. */
export interface PassCursor {
  slot: number;
  plan: FeaturePlan;
}

const num = (v: ExpressionValue): number | null => (typeof v === 'number' ? v : null);

/** The row of `cursor.slot` of one partition, at `now`. */
export function partitionRow(
  state: PartitionState,
  crm: PartitionCrm,
  tags: TagEvaluator,
  now: number,
  cursor: PassCursor,
): AggregateRow & { reader(name: string): Reader } {
  const table = state.table;
  const index = new Map(table.names.map((n, i) => [n, i]));
  const vector = new Float64Array(table.names.length);
  // The slot and plan the vector holds (a filter's plan computes fewer features than the full one).
  let vectorSlot = -1;
  let vectorPlan: FeaturePlan | undefined;
  const readers = new Map<string, Reader>();

  const resolve = (name: string): Reader => {
    const at = index.get(name);
    if (at !== undefined)
      return () => {
        if (vectorSlot !== cursor.slot || vectorPlan !== cursor.plan) {
          table.planned(cursor.plan, cursor.slot, now, vector);
          vectorSlot = cursor.slot;
          vectorPlan = cursor.plan;
        }
        const v = vector[at]!;
        return Number.isNaN(v) ? null : v;
      };
    if (name === 'lifecycle') {
      const purchases = reader('purchases_lifetime');
      const first = reader('days_since_first_purchase');
      const last = reader('days_since_last_purchase');
      return () => lifecycleStage(num(purchases()), num(first()), num(last()));
    }
    if (name === 'segment') return () => crm.segmentOf(cursor.slot);
    // Scores, RFM, profile fields, likely_to_buy: the CRM's own lookup (features are never read there).
    return () => {
      crm.preparePlanned(cursor.slot, now, cursor.plan);
      return crm.lookup(name);
    };
  };

  const reader = (name: string): Reader => {
    let r = readers.get(name);
    if (r === undefined) {
      r = resolve(name);
      readers.set(name, r);
    }
    return r;
  };

  return {
    reader,
    lookup: (name) => reader(name)(),
    hasTag: (id) => {
      const i = tags.indexOf(id);
      const bits = crm.tags.data as Uint32Array;
      return ((bits[cursor.slot * 2 + (i >>> 5)]! >>> (i & 31)) & 1) === 1;
    },
  };
}
