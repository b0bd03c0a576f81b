/** Marketing engagement over 30 days (1-day UTC buckets): email opens, clicks and campaign touches. */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const emailOpens = windowedSum({
  name: 'email_opens',
  types: ['email_open'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [{ feature: 'email_opens_30d', buckets: 30 }],
});

export const emailClicks = windowedSum({
  name: 'email_clicks',
  types: ['email_click'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [{ feature: 'email_clicks_30d', buckets: 30 }],
});

export const campaignTouches = windowedSum({
  name: 'campaign_touches',
  types: ['campaign_touch'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [{ feature: 'campaign_touches_30d', buckets: 30 }],
});
