/** Page views over the last 24 hours (1-hour buckets) and 7 days (1-day UTC buckets). */
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const pageViewsHourly = windowedSum({
  name: 'page_views_h',
  types: ['page_view'],
  value: 'count',
  bucketMs: HOUR_MS,
  buckets: 24,
  windows: [{ feature: 'page_views_24h', buckets: 24 }],
});

export const pageViewsDaily = windowedSum({
  name: 'page_views_d',
  types: ['page_view'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 7,
  windows: [{ feature: 'page_views_7d', buckets: 7 }],
});
