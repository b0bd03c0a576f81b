/**
 * When this observer last saw each key's revision change, on its own monotonic clock.
 *
 * Liveness in the cluster is judged from these ages, never by comparing wall-clock times written
 * by other hosts: a holder that keeps writing moves its key's revision, and an observer that has
 * seen no change for longer than the lease knows the holder has been silent at least that long,
 * whatever the clocks of the two hosts say. The age is an underestimate (the write happened
 * before this observer saw it), which errs on the side of waiting longer.
 */

/** Monotonic milliseconds (performance.now by default); injectable for tests. */
export type MonotonicClock = () => number;

export const monotonicNow: MonotonicClock = () => performance.now();

export interface Observation<V> {
  revision: number;
  value: V;
  /** Local monotonic time at which this revision was first seen. */
  seenAt: number;
}

/** What an observation did to the table. */
export type ObserveResult = 'new' | 'changed' | 'same' | 'older';

export class FreshnessTable<V> {
  private readonly seen = new Map<string, Observation<V>>();

  constructor(private readonly now: MonotonicClock = monotonicNow) {}

  /**
   * Records `revision` of `key`. A higher revision than the one known restarts the key's age; the
   * same one leaves it; a lower one (a late read or a replayed watch entry) is ignored.
   */
  observe(key: string, revision: number, value: V): ObserveResult {
    const known = this.seen.get(key);
    if (known === undefined) {
      this.seen.set(key, { revision, value, seenAt: this.now() });
      return 'new';
    }
    if (revision > known.revision) {
      this.seen.set(key, { revision, value, seenAt: this.now() });
      return 'changed';
    }
    return revision === known.revision ? 'same' : 'older';
  }

  /** Drops a key (it was deleted or purged). */
  forget(key: string): boolean {
    return this.seen.delete(key);
  }

  get(key: string): Observation<V> | undefined {
    return this.seen.get(key);
  }

  /** Milliseconds since the key's revision last changed here (Infinity when never seen). */
  ageMs(key: string): number {
    const known = this.seen.get(key);
    return known === undefined ? Number.POSITIVE_INFINITY : this.now() - known.seenAt;
  }

  keys(): IterableIterator<string> {
    return this.seen.keys();
  }

  entries(): IterableIterator<[string, Observation<V>]> {
    return this.seen.entries();
  }
}
