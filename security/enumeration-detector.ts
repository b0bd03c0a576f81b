/**
 * Signs that an API key walks the customer ids instead of reading the customers its job needs:
 *
 * - sequential ids: of the last SEQUENTIAL_WINDOW distinct customers a key asked for one at a
 *   time, SEQUENTIAL_ALERT or more have a numeric neighbour among them (the same id with its
 *   trailing number one more or one less: `c000041` next to `c000040`). A scan, in order or in
 *   the jumbled order of hundreds of concurrent connections, has almost every id next to
 *   another; customers picked by need have few (256 picked at random out of 2,000 ids: about a
 *   quarter). A key reading most of a small population one by one looks like a scan, and is one;
 * - many misses: MISS_ALERT distinct ids with no customer asked by one key within MISS_WINDOW_MS.
 *
 * Each raises at most one alert per key and kind per ALERT_EVERY_MS. Everything is synchronous
 * and small: it runs on every single read.
 */

export const SEQUENTIAL_WINDOW = 256;
const SEQUENTIAL_ALERT = 160;
export const MISS_ALERT = 50;
const MISS_WINDOW_MS = 10 * 60_000;
const ALERT_EVERY_MS = 10 * 60_000;

/**
 * The id with its trailing number moved by `delta`, keeping a zero-padded width (`c000100` →
 * `c000099`, `c10` → `c9`); undefined without a trailing number, or below 0. Works on the
 * characters (no number parsing): it runs twice on every single read.
 */
export function neighbourId(id: string, delta: 1 | -1): string | undefined {
  const end = id.length;
  let start = end;
  while (start > 0) {
    const c = id.charCodeAt(start - 1);
    if (c < 48 || c > 57) break;
    start--;
  }
  const digits = end - start;
  if (digits === 0) return undefined;
  // The last digit that does not carry ('9' going up, '0' going down), and the carried ones after it.
  const carries = delta === 1 ? 57 : 48;
  let i = end - 1;
  while (i >= start && id.charCodeAt(i) === carries) i--;
  if (i < start) return delta === 1 ? `${id.slice(0, start)}1${'0'.repeat(digits)}` : undefined;
  const digit = String.fromCharCode(id.charCodeAt(i) + delta);
  const tail = (delta === 1 ? '0' : '9').repeat(end - 1 - i);
  // `10` → `9`, not `09`: a number written without padding loses its leading digit.
  if (i === start && digit === '0' && digits > 1 && id.charCodeAt(start) !== 48)
    return id.slice(0, start) + tail;
  return id.slice(0, i) + digit + tail;
}

class KeyReads {
  /** Customers in the window → how many of their two neighbours are in it too. */
  readonly recent = new Map<string, number>();
  readonly ring: string[] = [];
  readonly ups: (string | undefined)[] = [];
  readonly downs: (string | undefined)[] = [];
  next = 0;
  /** Customers in the window with a neighbour in it. */
  paired = 0;
  sequentialAlert = Number.NEGATIVE_INFINITY;
  missWindow = Number.NEGATIVE_INFINITY;
  readonly misses = new Set<string>();
  missAlert = Number.NEGATIVE_INFINITY;

  /** Adds `by` to a customer's neighbour count, keeping `paired`. */
  link(id: string | undefined, by: 1 | -1): boolean {
    if (id === undefined) return false;
    const count = this.recent.get(id);
    if (count === undefined) return false;
    this.recent.set(id, count + by);
    if (count === 0 && by === 1) this.paired++;
    else if (count === 1 && by === -1) this.paired--;
    return true;
  }
}

export class EnumerationDetector {
  readonly #keys = new Map<string, KeyReads>();

  #reads(key: string): KeyReads {
    let r = this.#keys.get(key);
    if (!r) this.#keys.set(key, (r = new KeyReads()));
    return r;
  }

  /** A single read of `customer` asked by `key`; the alert's detail when this read tips the pattern. */
  read(key: string, customer: string, now: number = Date.now()): string | undefined {
    const r = this.#reads(key);
    if (r.recent.has(customer)) return undefined;
    const slot = r.next;
    if (r.ring.length === SEQUENTIAL_WINDOW) {
      const gone = r.ring[slot]!;
      if (r.recent.get(gone)! > 0) r.paired--;
      r.recent.delete(gone);
      r.link(r.ups[slot], -1);
      r.link(r.downs[slot], -1);
    }
    const up = neighbourId(customer, 1);
    const down = neighbourId(customer, -1);
    const neighbours = (r.link(up, 1) ? 1 : 0) + (r.link(down, 1) ? 1 : 0);
    r.recent.set(customer, neighbours);
    if (neighbours > 0) r.paired++;
    r.ring[slot] = customer;
    r.ups[slot] = up;
    r.downs[slot] = down;
    r.next = (slot + 1) % SEQUENTIAL_WINDOW;
    if (
      r.ring.length < SEQUENTIAL_WINDOW ||
      r.paired < SEQUENTIAL_ALERT ||
      now - r.sequentialAlert < ALERT_EVERY_MS
    ) {
      return undefined;
    }
    r.sequentialAlert = now;
    return `sequential ids: ${r.paired} of the last ${SEQUENTIAL_WINDOW} distinct customers read have a numeric neighbour among them`;
  }

  /** A read of `customer` by `key` found no customer; the alert's detail when the misses add up. */
  miss(key: string, customer: string, now: number = Date.now()): string | undefined {
    const r = this.#reads(key);
    if (now - r.missWindow >= MISS_WINDOW_MS) {
      r.missWindow = now;
      r.misses.clear();
    }
    if (r.misses.size < MISS_ALERT) r.misses.add(customer);
    if (r.misses.size < MISS_ALERT || now - r.missAlert < ALERT_EVERY_MS) return undefined;
    r.missAlert = now;
    const minutes = MISS_WINDOW_MS / 60_000;
    return `distinct misses: ${r.misses.size} customers that do not exist asked within ${minutes} minutes`;
  }
}
