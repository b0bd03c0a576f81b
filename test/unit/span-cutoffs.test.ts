import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import { cutoffsFromSpan } from '../../models/train/span-cutoffs.js';

const at = (text: string) => Date.parse(text);
const iso = (t: number) => new Date(t).toISOString().slice(0, 10);

describe('cutoffs from the event-time span', () => {
  it('puts every training and validation label window before the test cutoff', () => {
    const first = at('2010-12-01T08:26:00Z');
    const last = at('2011-12-09T12:50:00Z');
    const c = cutoffsFromSpan(90, first, last);
    expect(iso(c.test)).toBe('2011-09-10');
    expect(iso(c.validation)).toBe('2011-06-12');
    expect(c.train.map(iso)).toEqual([
      '2011-01-09',
      '2011-01-23',
      '2011-02-06',
      '2011-02-20',
      '2011-03-06',
      '2011-03-20',
      '2011-04-03',
      '2011-04-17',
      '2011-05-01',
      '2011-05-15',
      '2011-05-29',
    ]);
    expect(c.test + 90 * DAY_MS).toBeLessThanOrEqual(last);
    for (const t of [...c.train, c.validation]) expect(t + 90 * DAY_MS).toBeLessThanOrEqual(c.test);
    expect(c.train[0]!).toBeGreaterThanOrEqual(Date.UTC(2010, 11, 1) + 30 * DAY_MS);
  });

  it('takes at most 12 training cutoffs, and refuses too short a history', () => {
    const c = cutoffsFromSpan(14, at('2009-01-01T00:00:00Z'), at('2012-01-01T00:00:00Z'));
    expect(c.train).toHaveLength(12);
    expect(iso(c.test)).toBe('2011-12-18');
    expect(() => cutoffsFromSpan(90, at('2011-06-01T00:00:00Z'), at('2011-12-01T00:00:00Z'))).toThrow(
      /BW_ERR_STREAM_HISTORY|needs at least 224 days/,
    );
    expect(() => cutoffsFromSpan(14, Number.NaN, Number.NaN)).toThrow(/needs at least/);
  });
});
