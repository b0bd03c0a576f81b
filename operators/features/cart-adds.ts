/** `add_to_cart` counts over the last 24 hours (1-hour buckets) and 7 days (1-day UTC buckets). */
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const cartAddsHourly = windowedSum({
  name: 'cart_adds_h',
  types: ['add_to_cart'],
  value: 'count',
  bucketMs: HOUR_MS,
  buckets: 24,
  windows: [{ feature: 'cart_adds_24h', buckets: 24 }],
});

export const cartAddsDaily = windowedSum({
  name: 'cart_adds_d',
  types: ['add_to_cart'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 7,
  windows: [{ feature: 'cart_adds_7d', buckets: 7 }],
});
