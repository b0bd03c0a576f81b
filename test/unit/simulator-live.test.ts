/**
 * EventSimulator.next(notAfter): the live phase of the simulated feed. The same customers' plans
 * play on in the same order; an event planned after `notAfter` is stamped `notAfter` (body and
 * `ts`), and simTime keeps the planned time.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import { EventSimulator } from '../../feeds/simulator.js';

const START = Date.UTC(2026, 0, 1);

function simulator(): EventSimulator {
  return new EventSimulator({ customers: 40, seed: 11, startMs: START, faultRate: 0.05 });
}

const idOf = (body: Uint8Array | string): string => /"event_id":"([^"]+)"/.exec(String(body))?.[1] ?? '';
const tsOf = (body: Uint8Array | string): string => /"ts":"([^"]+)"/.exec(String(body))?.[1] ?? '';

describe('EventSimulator live stamping', () => {
  it('stamps events planned after notAfter with notAfter, in the planned order, same events', () => {
    const planned = simulator();
    const live = simulator();
    const cut = START + 10 * DAY_MS;
    let stamped = 0;
    for (let i = 0; i < 5000; i++) {
      const a = planned.next();
      const b = live.next(cut);
      expect(b.subject).toBe(a.subject);
      expect(idOf(b.body)).toBe(idOf(a.body));
      expect(live.simTime).toBe(planned.simTime);
      expect(b.ts).toBe(Math.min(a.ts, cut));
      if (a.ts > cut) {
        stamped++;
        // The body says the stamped time too (a near-duplicate copy keeps its own later time).
        if (!idOf(b.body).includes('-retry')) expect(tsOf(b.body)).toBe(new Date(cut).toISOString());
      } else {
        expect(String(b.body)).toBe(String(a.body));
      }
    }
    // The 5,000 events reach past the cut: some were stamped.
    expect(planned.simTime).toBeGreaterThan(cut);
    expect(stamped).toBeGreaterThan(0);
  });

  it('without notAfter, events keep their planned times', () => {
    const sim = simulator();
    let last = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < 2000; i++) {
      const e = sim.next();
      expect(e.ts).toBeGreaterThanOrEqual(last);
      last = e.ts;
    }
  });
});
