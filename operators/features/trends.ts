/**
 * Features derived from other features: activity and purchase trends, average order value,
 * refund rate. A ratio whose denominator is 0 is 0.
 */
import type { DerivedFeature } from './types.js';

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

export const trends: readonly DerivedFeature[] = [
  {
    // Daily event rate of the last 7 days against that of the last 30: > 1 rising, < 1 fading.
    name: 'activity_trend_7d_30d',
    inputs: ['events_7d', 'events_30d'],
    compute: (v) => ratio(v[0]! / 7, v[1]! / 30),
  },
  {
    // Monthly purchase rate of the last 30 days against that of the last 90.
    name: 'purchase_trend_30d_90d',
    inputs: ['purchases_30d', 'purchases_90d'],
    compute: (v) => ratio(v[0]!, v[1]! / 3),
  },
  {
    name: 'avg_order_value_90d',
    inputs: ['spend_90d', 'purchases_90d'],
    compute: (v) => ratio(v[0]!, v[1]!),
  },
  {
    // Mean days between distinct purchase days; 0 before the second purchase day.
    name: 'purchase_cycle_days',
    inputs: ['days_since_first_purchase', 'days_since_last_purchase', 'purchase_days_lifetime'],
    compute: (v) => (v[2]! >= 2 ? (v[0]! - v[1]!) / (v[2]! - 1) : 0),
  },
  {
    // How overdue the next purchase is: days since the last purchase over the customer's own cycle.
    name: 'purchase_overdue_ratio',
    inputs: ['days_since_first_purchase', 'days_since_last_purchase', 'purchase_days_lifetime'],
    compute: (v) => (v[2]! >= 2 && v[0]! > v[1]! ? v[1]! / ((v[0]! - v[1]!) / (v[2]! - 1)) : 0),
  },
  {
    name: 'refund_rate_90d',
    inputs: ['refunds_90d', 'purchases_90d'],
    compute: (v) => ratio(v[0]!, v[1]!),
  },
];
