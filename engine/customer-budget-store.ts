/**
 * The customer budget (security/customer-budget.ts) kept in NATS, so that neither a restart nor
 * another instance starts a key's hour afresh. Bucket `BW_BUDGET`, one entry per API key, minute
 * and part: key `<key token>.<minute>.<part>` (minute = charge time in ms / 60,000), value the
 * JSON object `{customer id: charged at (ms)}` of the customers charged to that key in that
 * minute, by any instance. Entries expire with the bucket's max_age (65 minutes: nats-server 2.9
 * has no per-key TTL), so nothing older than the budget's hour is kept.
 *
 * The read path never waits for NATS: the window answers from memory, and every FLUSH_MS the
 * store writes the new charges, merging them into the entry with a compare-and-set update (read,
 * union, update at the revision read; a conflict reads again). A part grows to PART_BYTES, then
 * the next part is started. Every instance watches the bucket and merges what the others wrote;
 * at start the whole bucket is read before the engine answers. While NATS is away the charges
 * wait in memory and each instance enforces the limit alone.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import { HOUR_MS, MINUTE_MS } from '../contract/time.js';
import type { BudgetCharge, CustomerBudget } from '../security/customer-budget.js';
import { BucketWatch, readBucket } from './cluster/bucket-watch.js';
import { clusterJetStream, isRevisionConflict, openKvBucket, parseJson } from './cluster/buckets.js';
import type { Logger } from './log.js';

const BUDGET_BUCKET = 'BW_BUDGET';
const SLICE_MS = MINUTE_MS;
const FLUSH_MS = 250;
/** Largest value of one entry; well under nats-server's default 1 MB payload limit. */
const PART_BYTES = 256 * 1024;
const PLAIN_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The KV key token of an API key's name: the name itself when plain, else `=` + base64url. */
export function keyToken(name: string): string {
  return PLAIN_NAME.test(name) ? name : `=${Buffer.from(name, 'utf8').toString('base64url')}`;
}

/** Inverse of {@link keyToken}. */
export function keyName(token: string): string {
  return token.startsWith('=') ? Buffer.from(token.slice(1), 'base64url').toString('utf8') : token;
}

/** The customers of an entry's value (charged at, ms); empty for anything else. */
function chargesOf(value: Uint8Array): Map<string, number> {
  const parsed = parseJson(value);
  const out = new Map<string, number>();
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return out;
  for (const [customer, at] of Object.entries(parsed)) if (typeof at === 'number') out.set(customer, at);
  return out;
}

/** Bytes a customer adds to an entry's JSON, about. */
const costOf = (customer: string): number => customer.length * 3 + 20;

export interface BudgetStoreOptions {
  replicas: number;
  log: Logger;
  registry: Registry;
}

export class CustomerBudgetStore {
  readonly #kv: KV;
  readonly #budget: CustomerBudget;
  readonly #log: Logger;
  readonly #watch: BucketWatch;
  readonly #synced: Counter<'direction'>;
  readonly #errors: Counter;
  /** `<token>.<minute>` → the highest part seen. */
  readonly #parts = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  private constructor(kv: KV, budget: CustomerBudget, opts: BudgetStoreOptions) {
    this.#kv = kv;
    this.#budget = budget;
    this.#log = opts.log;
    this.#watch = new BucketWatch({
      kv,
      log: opts.log,
      onEntry: (entry: KvWatchEntry) => {
        if (entry.operation === 'PUT') this.#apply(entry.key, entry.value);
      },
    });
    this.#synced = new Counter({
      name: 'bellwether_customer_budget_synced_total',
      help: 'Customer budget charges written to NATS (out) and charges read from NATS that were new to this instance (in: other instances, or before a restart)',
      labelNames: ['direction'],
      registers: [opts.registry],
    });
    this.#errors = new Counter({
      name: 'bellwether_customer_budget_sync_errors_total',
      help: 'Customer budget writes to NATS that failed (the charges are kept and written again)',
      registers: [opts.registry],
    });
  }

  /** Opens the bucket, loads the last hour's charges into `budget`, then keeps both in step. */
  static async start(
    nc: NatsConnection,
    budget: CustomerBudget,
    opts: BudgetStoreOptions,
  ): Promise<CustomerBudgetStore> {
    const kv = await openKvBucket(
      clusterJetStream(nc),
      {
        name: BUDGET_BUCKET,
        description: 'bellwether customers read per API key and minute (BW_EXPORT_LIMIT)',
        ttlMs: HOUR_MS + 5 * SLICE_MS,
        replicas: opts.replicas,
      },
      opts.log,
    );
    const store = new CustomerBudgetStore(kv, budget, opts);
    const entries = await readBucket(kv);
    for (const entry of entries) store.#apply(entry.key, entry.value);
    budget.track();
    store.#watch.start();
    store.#timer = setInterval(() => void store.flush(), FLUSH_MS);
    store.#timer.unref();
    opts.log.info(
      { component: 'security', bucket: BUDGET_BUCKET, entries: entries.length },
      'customer budget loaded from NATS',
    );
    return store;
  }

  #apply(key: string, value: Uint8Array): void {
    const [token, minute, part] = key.split('.');
    if (token === undefined || minute === undefined || part === undefined) return;
    const group = `${token}.${minute}`;
    const p = Number(part);
    if (Number.isInteger(p) && p > (this.#parts.get(group) ?? -1)) this.#parts.set(group, p);
    const name = keyName(token);
    const now = Date.now();
    let fresh = 0;
    // Oldest first: the window keeps its charges in time order, and appending is cheapest.
    const charges = [...chargesOf(value)].sort((x, y) => x[1] - y[1]);
    for (const [customer, at] of charges) if (this.#budget.merge(name, customer, at, now)) fresh++;
    if (fresh > 0) this.#synced.inc({ direction: 'in' }, fresh);
  }

  /** Writes the charges made since the last flush (one flush at a time). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushNow().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushNow(): Promise<void> {
    const charges = this.#budget.drain();
    if (charges.length === 0) return;
    const groups = new Map<string, { charges: BudgetCharge[]; customers: Map<string, number> }>();
    for (const c of charges) {
      const group = `${keyToken(c.key)}.${Math.floor(c.at / SLICE_MS)}`;
      let g = groups.get(group);
      if (!g) groups.set(group, (g = { charges: [], customers: new Map() }));
      g.charges.push(c);
      const known = g.customers.get(c.customer);
      if (known === undefined || c.at < known) g.customers.set(c.customer, c.at);
    }
    const failed: BudgetCharge[] = [];
    for (const [group, g] of groups) {
      try {
        await this.#write(group, g.customers);
      } catch (err) {
        this.#errors.inc();
        this.#log.warn(
          { component: 'security', bucket: BUDGET_BUCKET, charges: g.charges.length, err: String(err) },
          'customer budget not written to NATS; kept for the next try',
        );
        failed.push(...g.charges);
      }
    }
    this.#budget.requeue(failed);
  }

  /** Merges `pending` into the group's entries: compare-and-set, part after part. */
  async #write(group: string, pending: Map<string, number>): Promise<void> {
    let part = this.#parts.get(group) ?? 0;
    let left = pending;
    for (let attempt = 0; left.size > 0; attempt++) {
      if (attempt > 50) throw new Error(`${group}: too many conflicting writes`);
      const key = `${group}.${part}`;
      const entry = await this.#kv.get(key);
      const live = entry !== null && entry.operation === 'PUT';
      const merged = live ? chargesOf(entry.value) : new Map<string, number>();
      let bytes = live ? entry.value.length : 2;
      const rest = new Map<string, number>();
      let added = 0;
      for (const [customer, at] of left) {
        const known = merged.get(customer);
        if (known !== undefined && known <= at) continue;
        const cost = known === undefined ? costOf(customer) : 0;
        if (merged.size > 0 && bytes + cost > PART_BYTES) {
          rest.set(customer, at);
          continue;
        }
        merged.set(customer, at);
        bytes += cost;
        added++;
      }
      if (added > 0) {
        const body = JSON.stringify(Object.fromEntries(merged));
        try {
          if (live) await this.#kv.update(key, body, entry.revision);
          else await this.#kv.create(key, body);
        } catch (err) {
          if (isRevisionConflict(err)) continue;
          throw err;
        }
        this.#synced.inc({ direction: 'out' }, added);
      }
      left = rest;
      if (rest.size > 0) part++;
      if (part > (this.#parts.get(group) ?? -1)) this.#parts.set(group, part);
    }
  }

  /** Writes what is left and stops watching. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    await this.flush();
    await this.#watch.stop();
  }
}
