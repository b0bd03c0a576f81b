/** Refund counts over 90 days (1-day UTC buckets). */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const refunds = windowedSum({
  name: 'refunds',
  types: ['refund'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 90,
  windows: [
    { feature: 'refunds_30d', buckets: 30 },
    { feature: 'refunds_90d', buckets: 90 },
  ],
});
