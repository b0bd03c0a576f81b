/**
 * What the customer budget and the enumeration detector cost a single read, in their own process:
 * CPU nanoseconds per call of what `GET /v1/customers/:id` runs (the detector's `read`, the budget's
 * `allows` and `take`) for a customer read again (the common case: a dashboard), for a new
 * customer each time (charged, and kept for the NATS store), and at the limit (refused). One JSON
 * result line on stdout.
 *
 *   customer-budget.js [--calls 1000000] [--limit 10000]
 */
import { parseArgs } from 'node:util';
import { CustomerBudget } from '../security/customer-budget.js';
import { EnumerationDetector } from '../security/enumeration-detector.js';
import { numberArg, report, runMain } from './lib/report.js';

const id = (n: number): string => `c${String(n).padStart(6, '0')}`;

/**
 * CPU ns per call of `read(i)` over `calls` calls, after a warm-up of a tenth of them: CPU time,
 * not wall time, so that a machine shared with other work shows what the calls cost, not how long
 * they waited for a core.
 */
function time(calls: number, read: (i: number) => void): number {
  for (let i = 0; i < calls / 10; i++) read(i);
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) read(i);
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / calls;
}

/** The route's synchronous part: detector, check before the engine is asked, charge after. */
function singleRead(
  budget: CustomerBudget,
  detector: EnumerationDetector,
  key: string,
  customer: string,
): void {
  const now = Date.now();
  detector.read(key, customer, now);
  if (budget.allows(key, customer, now)) budget.take(key, customer, now);
}

runMain(async () => {
  const { values } = parseArgs({ options: { calls: { type: 'string' }, limit: { type: 'string' } } });
  const calls = numberArg(values.calls, 'calls', 1_000_000);
  const limit = numberArg(values.limit, 'limit', 10_000);
  const ids = Array.from({ length: limit }, (_, i) => id(i + 1));

  // A key that re-reads the customers it was charged for, in random order.
  const warm = new CustomerBudget(limit);
  const warmDetector = new EnumerationDetector();
  for (const c of ids) warm.take('dashboard', c);
  const picks = Array.from({ length: 4096 }, () => ids[Math.floor(Math.random() * ids.length)]!);
  const repeat = time(calls, (i) => singleRead(warm, warmDetector, 'dashboard', picks[i & 4095]!));

  // A new customer every call (charged and queued for the store); a fresh budget every `limit` calls.
  let fresh = new CustomerBudget(limit);
  fresh.track();
  const freshDetector = new EnumerationDetector();
  const newCustomer = time(calls, (i) => {
    const n = i % limit;
    if (n === 0) {
      fresh = new CustomerBudget(limit);
      fresh.track();
    }
    singleRead(fresh, freshDetector, 'scanner', ids[n]!);
  });

  // A key at its limit asking for customers it was not charged for: refused before the engine.
  const full = new CustomerBudget(limit);
  for (const c of ids) full.take('over', c);
  const fullDetector = new EnumerationDetector();
  const others = Array.from({ length: 4096 }, (_, i) => id(limit + 1 + i));
  const refused = time(calls, (i) => singleRead(full, fullDetector, 'over', others[i & 4095]!));

  const round = (ns: number): number => Math.round(ns);
  report('result', {
    calls,
    limit,
    ns_per_read: { repeat: round(repeat), new_customer: round(newCustomer), refused: round(refused) },
  });
});
