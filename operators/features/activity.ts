/**
 * All events of a customer, whatever the type: over 1 hour (5-minute buckets), 24 hours (1-hour
 * buckets), 7 and 30 days (1-day UTC buckets). Feeds the activity trend.
 */
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const activityRecent = windowedSum({
  name: 'events_5m',
  types: [],
  value: 'count',
  bucketMs: 5 * MINUTE_MS,
  buckets: 12,
  windows: [{ feature: 'events_1h', buckets: 12 }],
});

export const activityHourly = windowedSum({
  name: 'events_h',
  types: [],
  value: 'count',
  bucketMs: HOUR_MS,
  buckets: 24,
  windows: [{ feature: 'events_24h', buckets: 24 }],
});

export const activityDaily = windowedSum({
  name: 'events_d',
  types: [],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [
    { feature: 'events_7d', buckets: 7 },
    { feature: 'events_30d', buckets: 30 },
  ],
});
