/**
 * What the cleansing rules are called and which event types the built-in rules look at: shared by
 * the rules (operators/cleansing/), the metric `bellwether_events_cleansed_total{rule}` and the
 * simulated feed's injected faults (feeds/simulator-faults.ts), whose truth labels are these names.
 */
import type { EventType } from './event-types.js';

/** Rule names, in the order of the cleanser's count array: the `rule` label of the metric. */
export const CLEANSING_RULES = [
  'missing_currency',
  'missing_channel',
  'currency_code',
  'channel_name',
  'category_text',
  'outlier_amount',
  'outlier_quantity',
  'near_duplicate',
] as const;
export type CleansingRule = (typeof CLEANSING_RULES)[number];

/** Types that come from a customer's device or a shop: a missing channel there is `unknown` (default `missing.channel_types`). */
export const CHANNEL_EVENT_TYPES: readonly EventType[] = [
  'signup',
  'login',
  'session_start',
  'page_view',
  'search',
  'add_to_cart',
  'remove_from_cart',
  'checkout_start',
  'purchase',
  'support_ticket',
  'complaint',
];

/** Types whose `amount` is judged for outliers by default (`outliers.amount.types`). */
export const AMOUNT_OUTLIER_TYPES: readonly EventType[] = [
  'add_to_cart',
  'remove_from_cart',
  'checkout_start',
  'purchase',
  'refund',
];

/** Types whose `quantity` is judged for outliers by default (`outliers.quantity.types`). */
export const QUANTITY_OUTLIER_TYPES: readonly EventType[] = [
  'add_to_cart',
  'remove_from_cart',
  'checkout_start',
  'purchase',
];

/** Types checked for near-duplicates by default (`near_duplicates.types`). */
export const NEAR_DUPLICATE_TYPES: readonly EventType[] = ['purchase', 'refund'];
