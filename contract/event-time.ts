/**
 * Event times: the general reading of a `ts` value (`parseEventTime`), and the scanner's reader of
 * the common ISO-8601 form straight from its digits, which gives the same milliseconds as
 * `Date.parse` without decoding the string.
 */

const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const COLON = 0x3a;

/** Event time in epoch ms, or NaN when unparseable. Numbers are epoch ms; strings are ISO-8601. */
export function parseEventTime(ts: string | number): number {
  if (typeof ts === 'number') return Number.isFinite(ts) ? ts : Number.NaN;
  if (!/^\d{4}-\d{2}-\d{2}/.test(ts)) return Number.NaN;
  return Date.parse(ts);
}

function digit2(data: Uint8Array, i: number): number {
  const a = data[i]! - ZERO;
  const b = data[i + 1]! - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ` between `s` and `e` in epoch ms (what
 * `Date.parse` gives for it), or NaN for any other form (the caller then asks `Date.parse`).
 */
export function isoTime(data: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n !== 20 && n !== 24) return Number.NaN;
  if (data[s + 4] !== MINUS || data[s + 7] !== MINUS || data[s + 10] !== 0x54) return Number.NaN;
  if (data[s + 13] !== COLON || data[s + 16] !== COLON || data[e - 1] !== 0x5a) return Number.NaN;
  const hi = digit2(data, s);
  const lo = digit2(data, s + 2);
  const month = digit2(data, s + 5);
  const day = digit2(data, s + 8);
  const hour = digit2(data, s + 11);
  const minute = digit2(data, s + 14);
  const second = digit2(data, s + 17);
  let ms = 0;
  if (n === 24) {
    if (data[s + 19] !== DOT) return Number.NaN;
    const a = digit2(data, s + 20);
    const c = data[s + 22]! - ZERO;
    if (a < 0 || c < 0 || c > 9) return Number.NaN;
    ms = a * 10 + c;
  }
  if (hi < 0 || lo < 0 || month < 1 || month > 12 || day < 1 || day > 31) return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return Number.NaN;
  return (daysFromCivil(hi * 100 + lo, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + ms;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil); a day
 * past the month's end runs into the next month, as with Date.UTC and Date.parse.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
