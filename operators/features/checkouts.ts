/** `checkout_start` and `search` counts over 7 days (1-day UTC buckets): purchase-intent signals. */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const checkouts = windowedSum({
  name: 'checkouts',
  types: ['checkout_start'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 7,
  windows: [{ feature: 'checkout_starts_7d', buckets: 7 }],
});

export const searches = windowedSum({
  name: 'searches',
  types: ['search'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 7,
  windows: [{ feature: 'searches_7d', buckets: 7 }],
});
