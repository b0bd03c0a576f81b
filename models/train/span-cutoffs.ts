/**
 * Cutoffs chosen from the event-time span of the data (`bellwether train --from-stream` without
 * cutoff flags), under the strict out-of-time protocol: every training and validation label window
 * ends by the test cutoff.
 *
 * - test = the UTC midnight of the last event's day − horizon (its label window ends by the last event);
 * - validation = test − horizon (its label window ends at the test cutoff);
 * - training = validation − k × 14 days, k = 1 … 12, kept while at least 30 days after the first
 *   event's day (customers need some history); each one's label window ends 14 k days before the
 *   test cutoff.
 */
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS } from '../../contract/time.js';

export interface SpanCutoffs {
  train: number[];
  validation: number;
  test: number;
}

const SPAN_STEP_DAYS = 14;
const SPAN_MAX_TRAIN_CUTOFFS = 12;
const SPAN_WARMUP_DAYS = 30;

const iso = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The cutoffs for a label horizon of `horizonDays` over events from `firstTs` to `lastTs`. */
export function cutoffsFromSpan(horizonDays: number, firstTs: number, lastTs: number): SpanCutoffs {
  const horizon = horizonDays * DAY_MS;
  const firstDay = Math.floor(firstTs / DAY_MS) * DAY_MS;
  const test = Math.floor(lastTs / DAY_MS) * DAY_MS - horizon;
  const validation = test - horizon;
  const train: number[] = [];
  for (let k = SPAN_MAX_TRAIN_CUTOFFS; k >= 1; k--) {
    const cutoff = validation - k * SPAN_STEP_DAYS * DAY_MS;
    if (cutoff >= firstDay + SPAN_WARMUP_DAYS * DAY_MS) train.push(cutoff);
  }
  if (train.length === 0 || !Number.isFinite(firstTs) || !Number.isFinite(lastTs)) {
    const need = 2 * horizonDays + SPAN_STEP_DAYS + SPAN_WARMUP_DAYS;
    throw new BellwetherError(
      'BW_ERR_STREAM_HISTORY',
      `events from ${Number.isFinite(firstTs) ? iso(firstTs) : '—'} to ${Number.isFinite(lastTs) ? iso(lastTs) : '—'}: a ${horizonDays}-day label needs at least ${need} days of history (or pass --cutoffs, --validation-cutoff and --test-cutoff)`,
    );
  }
  return { train, validation, test };
}
