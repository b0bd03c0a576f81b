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

describe('EventSimulator live arrivals', () => {
  it('keeps newcomers arriving after the present at the start population rate, never stamped later than the present', () => {
    const customers = 40;
    const sim = new EventSimulator({ customers, seed: 11, startMs: START });
    // The present lies past the start's own sign-up period (90 days), as with the quickstart's 180 days.
    const cut = START + 120 * DAY_MS;
    const liveDays = 400;
    const signups = new Map<string, number>();
    let liveEvents = 0;
    let arrivalsEvents = 0;
    while (sim.simTime < cut + liveDays * DAY_MS) {
      const e = sim.next(cut);
      expect(e.ts).toBeLessThanOrEqual(cut + 300_000);
      const body = String(e.body);
      const id = /"customer_id":"c(\d+)"/.exec(body)?.[1];
      if (sim.simTime <= cut) continue;
      liveEvents++;
      if (id !== undefined && Number(id) >= customers) arrivalsEvents++;
      if (body.includes('"type":"signup"') && id !== undefined) signups.set(id, sim.simTime);
    }
    const arrived = [...signups.keys()].filter((id) => Number(id) >= customers);
    // Only newcomers who arrived after the start sign up in the live phase (the start's own did by day 90)...
    expect(arrived.length).toBe(signups.size);
    // ...at about the start's rate: 40 × 10.8% newcomers per 90 days, ~19 over 400 days.
    expect(arrived.length).toBeGreaterThanOrEqual(8);
    expect(arrived.length).toBeLessThanOrEqual(35);
    // They go on to act like customers (logins, sessions, purchases), not just sign up.
    expect(arrivalsEvents).toBeGreaterThan(arrived.length * 3);
    expect(liveEvents).toBeGreaterThan(arrivalsEvents);
    // Each arrival is a known newcomer.
    for (const id of arrived) expect(sim.archetypeOf(`c${id}`)).toBe('newcomer');
  });
});
