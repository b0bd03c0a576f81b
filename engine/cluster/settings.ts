/** Settings shared by the cluster pieces: instance ids and lease timings, checked once. */
import { BellwetherError } from '../../contract/errors.js';

/**
 * 30 s. A holder stays valid for lease − margin (24 s) after its last renewal, and a node of a
 * 3-node nats-server 2.9.10 cluster killed in test/integration/cluster-replicated.test.ts left
 * renewals without an answer for 4-8 s (one stream leader election; the server's election
 * timeout is several seconds); with a renewal up to lease/3 (10 s) before the kill, the longest
 * gap between successful renewals seen was 12.7 s. 30 s leaves room for a second election
 * round. It is also how long a killed instance's partitions wait before another instance takes
 * them; a graceful stop hands them over at once.
 */
export const DEFAULT_LEASE_SECONDS = 30;

/** Instance ids are KV keys: letters, digits and `-_=`, dot-separated tokens. */
export function checkInstanceId(id: string): void {
  if (!/^[-\w=]+(\.[-\w=]+)*$/.test(id)) {
    throw new BellwetherError(
      'BW_ERR_CONFIG_INVALID',
      `instance id ${JSON.stringify(id)} is not a valid key`,
    );
  }
}

export interface LeaseTimings {
  leaseMs: number;
  /** How long before an observer could take over the holder stops counting its lease valid. */
  marginMs: number;
  /** How often a holder (or member) writes again: a third of the lease. */
  renewMs: number;
}

/** Lease timings in ms; the margin defaults to a fifth of the lease and must leave room to renew. */
export function leaseTimings(leaseSeconds = DEFAULT_LEASE_SECONDS, marginSeconds?: number): LeaseTimings {
  if (!Number.isFinite(leaseSeconds) || leaseSeconds < 0.3) {
    throw new BellwetherError('BW_ERR_CONFIG_INVALID', `lease must be at least 0.3 s, got ${leaseSeconds}`);
  }
  const margin = marginSeconds ?? leaseSeconds / 5;
  // Valid for lease − margin after each renewal, renewed every lease/3: margin < 2/3 lease.
  if (!(Number.isFinite(margin) && margin > 0 && margin < (leaseSeconds * 2) / 3)) {
    throw new BellwetherError(
      'BW_ERR_CONFIG_INVALID',
      `lease safety margin must be above 0 and below 2/3 of the lease, got ${margin} s`,
    );
  }
  return { leaseMs: leaseSeconds * 1000, marginMs: margin * 1000, renewMs: (leaseSeconds * 1000) / 3 };
}
