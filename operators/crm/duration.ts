/** Durations in CRM files: one or more `<integer><unit>` groups, `30m`, `24h`, `7d`, `1d12h`. */
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: MINUTE_MS,
  h: HOUR_MS,
  d: DAY_MS,
  w: 7 * DAY_MS,
};

const GROUP = /(\d+)(ms|s|m|h|d|w)/y;

/** Milliseconds of `text`, or null when it is not a duration or is zero. */
export function parseDuration(text: string): number | null {
  if (text.length === 0 || text.length > 32) return null;
  let total = 0;
  GROUP.lastIndex = 0;
  while (GROUP.lastIndex < text.length) {
    const m = GROUP.exec(text);
    if (m === null) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total > 0 && Number.isSafeInteger(total) ? total : null;
}

/** `ms` in the largest whole unit up to days (`604800000` → `7d`, `5400000` → `90m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
