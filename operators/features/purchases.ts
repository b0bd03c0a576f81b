/** Purchase counts over 7, 30 and 90 days (1-day UTC buckets, 90-day ring). */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const purchases = windowedSum({
  name: 'purchases',
  types: ['purchase'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 90,
  windows: [
    { feature: 'purchases_7d', buckets: 7 },
    { feature: 'purchases_30d', buckets: 30 },
    { feature: 'purchases_90d', buckets: 90 },
  ],
});
