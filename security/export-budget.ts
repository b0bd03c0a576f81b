/**
 * How many customers each API key has taken out through list and export routes in the last hour
 * (BW_EXPORT_LIMIT). An answer that would take a key over the limit is refused whole.
 */
import { HOUR_MS } from '../contract/time.js';

export class ExportBudget {
  readonly limit: number;
  readonly #taken = new Map<string, { at: number; customers: number }[]>();

  constructor(limitPerHour: number) {
    this.limit = limitPerHour;
  }

  /** Customers `key` took in the hour before `now`. */
  used(key: string, now: number = Date.now()): number {
    const entries = this.#taken.get(key);
    if (!entries) return 0;
    while (entries.length > 0 && entries[0]!.at <= now - HOUR_MS) entries.shift();
    let sum = 0;
    for (const e of entries) sum += e.customers;
    return sum;
  }

  /** Takes `customers` for `key` if the hour's total stays within the limit; false (nothing taken) otherwise. */
  take(key: string, customers: number, now: number = Date.now()): boolean {
    if (this.used(key, now) + customers > this.limit) return false;
    if (customers === 0) return true;
    let entries = this.#taken.get(key);
    if (!entries) this.#taken.set(key, (entries = []));
    entries.push({ at: now, customers });
    return true;
  }
}
