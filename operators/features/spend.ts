/** Sum of purchase `amount` over 7, 30 and 90 days (1-day UTC buckets, integer cents). */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const spend = windowedSum({
  name: 'spend',
  types: ['purchase'],
  value: 'amount',
  bucketMs: DAY_MS,
  buckets: 90,
  windows: [
    { feature: 'spend_7d', buckets: 7 },
    { feature: 'spend_30d', buckets: 30 },
    { feature: 'spend_90d', buckets: 90 },
  ],
});
