/**
 * A customer's lifecycle stage (the plans' 潜在客户 → 新客户 → 成熟客户 → 流失客户), from three
 * features as of "now" (docs/analytics.md):
 *
 * | stage | when |
 * |---|---|
 * | `prospect` | no purchase yet |
 * | `new` | first purchase at most {@link NEW_DAYS} days ago |
 * | `active` | last purchase at most {@link LAPSED_DAYS} days ago |
 * | `lapsed` | last purchase more than {@link LAPSED_DAYS} days ago |
 */
const LIFECYCLE_STAGES = ['prospect', 'new', 'active', 'lapsed'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

const NEW_DAYS = 30;
const LAPSED_DAYS = 90;

/** The names of the features the stage reads. */
export const LIFECYCLE_INPUTS = [
  'purchases_lifetime',
  'days_since_first_purchase',
  'days_since_last_purchase',
] as const;

/** The stage; null/NaN inputs read as "no purchase". */
export function lifecycleStage(
  purchasesLifetime: number | null,
  daysSinceFirstPurchase: number | null,
  daysSinceLastPurchase: number | null,
): LifecycleStage {
  if (!(purchasesLifetime !== null && purchasesLifetime > 0) || daysSinceLastPurchase === null)
    return 'prospect';
  if (daysSinceFirstPurchase !== null && daysSinceFirstPurchase <= NEW_DAYS) return 'new';
  return daysSinceLastPurchase <= LAPSED_DAYS ? 'active' : 'lapsed';
}
