/** `support_ticket` counts over 30 days (1-day UTC buckets). */
import { DAY_MS } from '../../contract/time.js';
import { windowedSum } from './windowed-sum.js';

export const supportTickets = windowedSum({
  name: 'support_tickets',
  types: ['support_ticket'],
  value: 'count',
  bucketMs: DAY_MS,
  buckets: 30,
  windows: [{ feature: 'support_tickets_30d', buckets: 30 }],
});
