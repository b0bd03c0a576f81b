/**
 * Which of the feature windows an event still counts in at a given "now" (docs/features.md, Time and
 * windows): a window of N buckets covers the bucket holding now and the N − 1 before it, its edges
 * aligned to bucket boundaries (5 minutes for 1 h, 1 hour for 24 h, 1 UTC day for 7, 30 and 90 days).
 * An event in a bucket after now's counts once now reaches it, so in none yet. Pure: the Customer
 * 360 timeline labels each event with it.
 */
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';

/** The windows of the feature families, shortest first, with their bucket size and length. */
export const FEATURE_WINDOWS = [
  { window: '1h', bucketMs: 5 * MINUTE_MS, buckets: 12 },
  { window: '24h', bucketMs: HOUR_MS, buckets: 24 },
  { window: '7d', bucketMs: DAY_MS, buckets: 7 },
  { window: '30d', bucketMs: DAY_MS, buckets: 30 },
  { window: '90d', bucketMs: DAY_MS, buckets: 90 },
] as const;

export type FeatureWindow = (typeof FEATURE_WINDOWS)[number]['window'];

/** The windows (of FEATURE_WINDOWS) in which an event at `eventMs` counts at `nowMs`, shortest first. */
export function windowsCounting(eventMs: number, nowMs: number): FeatureWindow[] {
  const out: FeatureWindow[] = [];
  for (const w of FEATURE_WINDOWS) {
    const age = Math.floor(nowMs / w.bucketMs) - Math.floor(eventMs / w.bucketMs);
    if (age >= 0 && age < w.buckets) out.push(w.window);
  }
  return out;
}
