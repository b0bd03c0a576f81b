/** `session_start` counts over 7 and 30 days (1-day UTC buckets). */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const sessions = windowedSum({
  name: 'sessions',
  types: ['session_start'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [
    { feature: 'sessions_7d', buckets: 7 },
    { feature: 'sessions_30d', buckets: 30 },
  ],
});
