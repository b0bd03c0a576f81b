/** `complaint` counts over 90 days (1-day UTC buckets). */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const complaints = windowedSum({
  name: 'complaints',
  types: ['complaint'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 90,
  windows: [{ feature: 'complaints_90d', buckets: 90 }],
});
