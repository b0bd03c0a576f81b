import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/time.js';
import { conditionalExpectedPurchases, pAlive } from '../../models/clv/bgnbd.js';
import {
  type ClvEvent,
  type ClvFit,
  fitClv,
  summarizeBefore,
  summarizeCustomers,
} from '../../models/clv/fit.js';
import { expectedSpend } from '../../models/clv/gamma-gamma.js';
import { holdoutCheck } from '../../models/clv/holdout.js';
import { invert, minimize, numericHessian } from '../../models/clv/optimize.js';
import {
  clvParamsOf,
  clvParamsRecord,
  listClvParamVersions,
  liveClvParams,
  nextClvVersion,
  readClvParams,
  writeClvParams,
} from '../../models/clv/params.js';
import { predictCustomer } from '../../models/clv/predict.js';
import { betaVariate, gammaVariate, mulberry32 } from './clv-simulate.js';

const WEEK = 7 * DAY_MS;
const T0 = Date.UTC(2024, 0, 1);

function ev(customer_id: string, ts: number, amount = 10, type = 'purchase'): ClvEvent {
  return { customer_id, type, ts, amount };
}

describe('summarizeCustomers', () => {
  const end = T0 + 10 * WEEK;
  const events = [
    ev('a', T0 + 3600_000, 20),
    ev('a', T0 + 5 * 3600_000, 5), // same day: one purchase day of 25
    ev('a', T0 + 2 * WEEK + 12 * 3600_000, 30),
    ev('a', T0 + 4 * WEEK, 50),
    ev('a', T0 + 3 * WEEK, 99, 'refund'), // ignored
    ev('a', end + DAY_MS, 1000), // the day after the calibration end day: outside
    ev('b', T0 + 7 * WEEK + 23 * 3600_000, 12),
  ];

  it('counts repeat purchase days and measures t_x and T from the first purchase day', () => {
    const byId = new Map(summarizeCustomers(events, end, 'weeks').map((c) => [c.customer_id, c]));
    const a = byId.get('a')!;
    expect(a.x).toBe(2);
    expect(a.t_x).toBeCloseTo(4, 12);
    expect(a.T).toBeCloseTo(10, 12);
    expect(a.monetary).toBeCloseTo(40, 12); // (30 + 50) / 2, first day left out
    expect(a.first_spend).toBe(25);
    const b = byId.get('b')!;
    expect(b).toMatchObject({ x: 0, t_x: 0 });
    expect(b.T).toBeCloseTo(3, 12);
    expect(Number.isNaN(b.monetary)).toBe(true);
    const days = summarizeCustomers(events, end, 'days').find((c) => c.customer_id === 'a')!;
    expect(days.t_x).toBeCloseTo(28, 12);
    expect(days.T).toBeCloseTo(70, 12);
  });
});

describe('the calibration end day', () => {
  const D = Date.UTC(2024, 2, 10);
  const events = [ev('a', D - 20 * DAY_MS, 10), ev('a', D + 23 * 3600_000, 70), ev('a', D + DAY_MS, 500)];

  it('includes purchases made on day D, with T measured to the start of D (BTYD, lifetimes)', () => {
    const [a] = summarizeCustomers(events, D, 'days');
    expect(a).toMatchObject({ customer_id: 'a', x: 1, monetary: 70 });
    expect(a!.t_x).toBeCloseTo(20, 12);
    expect(a!.T).toBeCloseTo(20, 12);
    const fit = fitClv({
      events: [...events, ev('b', D, 5), ev('b', D - 3 * DAY_MS, 8)],
      calibrationEnd: D,
      unit: 'days',
    });
    expect(fit.customers).toBe(2);
    expect(fit.repeat_customers).toBe(2);
  });

  it('holds a purchase of the next day out, and the holdout starts on that day', () => {
    expect(summarizeCustomers(events, D - DAY_MS, 'days')[0]).toMatchObject({ x: 0 });
    const fit = fitClv({
      events: [...events, ev('b', D - 2 * DAY_MS, 5), ev('b', D - 9 * DAY_MS, 8)],
      calibrationEnd: D,
      unit: 'days',
      standardErrors: false,
    });
    const h = holdoutCheck(fit, events, D + 8 * DAY_MS);
    expect(h.length).toBeCloseTo(7, 12);
    expect(h.purchases.actual_total).toBe(1);
  });
});

describe('summarizeBefore', () => {
  it('keeps purchases before the cutoff only and measures T to the cutoff', () => {
    const D = Date.UTC(2024, 2, 10);
    const [a] = summarizeBefore([ev('a', D - 7 * DAY_MS), ev('a', D), ev('a', D - DAY_MS)], D, 'days');
    expect(a).toMatchObject({ x: 1 });
    expect(a!.T).toBeCloseTo(7, 12);
    expect(a!.t_x).toBeCloseTo(6, 12);
  });
});

describe('optimize', () => {
  it('minimises the Rosenbrock function and inverts its Hessian', () => {
    const f = (x: readonly number[]) => 100 * (x[1]! - x[0]! ** 2) ** 2 + (1 - x[0]!) ** 2;
    const r = minimize(f, [-1.2, 1]);
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
    const H = numericHessian(f, [1, 1], 1e-4);
    expect(H[0]![0]).toBeCloseTo(802, 2);
    expect(H[0]![1]).toBeCloseTo(-400, 2);
    const inv = invert(H)!;
    // H H⁻¹ = I
    expect(H[0]![0]! * inv[0]![0]! + H[0]![1]! * inv[1]![0]!).toBeCloseTo(1, 8);
    expect(H[1]![0]! * inv[0]![1]! + H[1]![1]! * inv[1]![1]!).toBeCloseTo(1, 8);
    expect(
      invert([
        [1, 2],
        [2, 4],
      ]),
    ).toBeUndefined();
  });
});

/**
 * Purchase logs from the individual-level models: first purchase in the first 12 weeks, then
 * BG/NBD repeat purchases (and drop-out) over 52 weeks, each worth Gamma(p, ν) with ν ~ Gamma(q, v).
 */
function simulateLog(n: number, seed: number): ClvEvent[] {
  const random = mulberry32(seed);
  const events: ClvEvent[] = [];
  for (let c = 0; c < n; c++) {
    const id = `c${c}`;
    const lambda = gammaVariate(random, 0.5) / 4; // per week
    const p = betaVariate(random, 1.2, 3);
    const nu = gammaVariate(random, 4) / 30;
    const spend = () => Math.round((gammaVariate(random, 2) / nu) * 100) / 100;
    let t = 12 * random();
    events.push(ev(id, T0 + Math.round(t * WEEK), spend()));
    for (;;) {
      t += -Math.log(1 - random()) / lambda;
      if (t > 52) break;
      events.push(ev(id, T0 + Math.round(t * WEEK), spend()));
      if (random() < p) break;
    }
  }
  return events.sort((a, b) => a.ts - b.ts);
}

describe('fitClv on a simulated purchase log', () => {
  const events = simulateLog(6000, 99);
  const calibrationEnd = T0 + 32 * WEEK;
  let fit: ClvFit;
  beforeAll(() => {
    fit = fitClv({ events, calibrationEnd, unit: 'weeks' });
  });

  it('recovers the generating parameters', () => {
    expect(fit.customers).toBe(6000);
    expect(fit.calibration_end).toBe(new Date(calibrationEnd).toISOString());
    expect(fit.bgnbd.r).toBeGreaterThan(0.5 * 0.75);
    expect(fit.bgnbd.r).toBeLessThan(0.5 * 1.25);
    expect(fit.bgnbd.r / fit.bgnbd.alpha).toBeCloseTo(0.5 / 4, 1);
    expect(fit.gamma_gamma.p).toBeGreaterThan(2 * 0.75);
    expect(fit.gamma_gamma.p).toBeLessThan(2 * 1.25);
    expect(fit.gamma_gamma.customers).toBe(fit.repeat_customers);
  });

  it('predicts the holdout period', () => {
    const h = holdoutCheck(fit, events, T0 + 52 * WEEK);
    // The holdout starts the day after the calibration end day: 20 weeks less that day.
    expect(h.length).toBeCloseTo(20 - 1 / 7, 12);
    expect(h.customers).toBe(6000);
    expect(h.purchases.predicted_total / h.purchases.actual_total).toBeGreaterThan(0.9);
    expect(h.purchases.predicted_total / h.purchases.actual_total).toBeLessThan(1.1);
    expect(h.purchases.buy_again_roc_auc).toBeGreaterThan(0.7);
    expect(h.by_frequency[0]!.x).toBe('0');
    expect(h.spend.predicted_mean / h.spend.actual_mean).toBeGreaterThan(0.85);
    expect(h.spend.predicted_mean / h.spend.actual_mean).toBeLessThan(1.15);
  });

  it('predicts per customer, with an undiscounted CLV = E[purchases in 365 d] × E[spend]', () => {
    const params = { unit: 'weeks' as const, bgnbd: fit.bgnbd, gamma_gamma: fit.gamma_gamma };
    const c = fit.summaries.find((s) => s.x >= 2)!;
    const out = predictCustomer(params, c);
    expect(out.p_alive).toBeCloseTo(pAlive(fit.bgnbd, c.x, c.t_x, c.T), 12);
    expect(out.expected_purchases).toBeCloseTo(
      conditionalExpectedPurchases(fit.bgnbd, c.x, c.t_x, c.T, 90 / 7),
      12,
    );
    expect(out.expected_spend).toBeCloseTo(expectedSpend(fit.gamma_gamma, c.x, c.monetary), 12);
    const year = conditionalExpectedPurchases(fit.bgnbd, c.x, c.t_x, c.T, 365 / 7);
    expect(out.clv).toBeCloseTo(year * out.expected_spend, 8);
    const discounted = predictCustomer(params, c, { annualDiscount: 0.1 });
    expect(discounted.clv).toBeLessThan(out.clv);
    expect(discounted.clv).toBeGreaterThan(out.clv / 1.1);
    // The same customer in days gives the same answers with day-unit parameters.
    const dayParams = {
      unit: 'days' as const,
      bgnbd: { ...fit.bgnbd, alpha: fit.bgnbd.alpha * 7 },
      gamma_gamma: fit.gamma_gamma,
    };
    const inDays = predictCustomer(dayParams, { ...c, t_x: c.t_x * 7, T: c.T * 7 });
    expect(inDays.clv).toBeCloseTo(out.clv, 8);
  });

  describe('versioned parameters', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'bw-clv-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('writes new versions, refuses to overwrite, reads the live one', async () => {
      expect(await nextClvVersion(dir)).toBe('1');
      expect(await liveClvParams(dir)).toBeUndefined();
      const file = await writeClvParams(
        dir,
        clvParamsRecord(fit, { version: '1', data: { format: 'test' } }),
      );
      expect(path.basename(file)).toBe('1.json');
      await expect(writeClvParams(dir, clvParamsRecord(fit, { version: '1' }))).rejects.toThrow(/exists/);
      await writeClvParams(dir, clvParamsRecord(fit, { version: await nextClvVersion(dir) }));
      expect(await listClvParamVersions(dir)).toEqual(['1', '2']);
      const live = await liveClvParams(dir);
      expect(live?.version).toBe('2');
      expect(clvParamsOf(live!)).toEqual({
        unit: 'weeks',
        bgnbd: { r: fit.bgnbd.r, alpha: fit.bgnbd.alpha, a: fit.bgnbd.a, b: fit.bgnbd.b },
        gamma_gamma: { p: fit.gamma_gamma.p, q: fit.gamma_gamma.q, v: fit.gamma_gamma.v },
      });
      expect('summaries' in live!).toBe(false);
      await writeFile(path.join(dir, 'LIVE'), '1\n');
      expect((await liveClvParams(dir))?.version).toBe('1');
      await writeFile(path.join(dir, 'bad.json'), '{"kind":"bellwether.clv-params"}');
      await expect(readClvParams(path.join(dir, 'bad.json'))).rejects.toMatchObject({
        code: 'BW_ERR_MODEL_LOAD',
      });
      await expect(writeClvParams(dir, clvParamsRecord(fit, { version: '../x' }))).rejects.toMatchObject({
        code: 'BW_ERR_CLI_USAGE',
      });
    });
  });

  it('refuses data without purchases', () => {
    expect(() =>
      fitClv({ events: [ev('a', T0, 1, 'refund')], calibrationEnd: T0 + DAY_MS, unit: 'days' }),
    ).toThrow(/no purchases/);
    expect(() =>
      fitClv({ events: [ev('a', T0), ev('b', T0)], calibrationEnd: T0 + DAY_MS, unit: 'days' }),
    ).toThrow(/repeat purchases/);
  });
});
