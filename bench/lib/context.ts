/** What every bench phase shares: options, progress display, the bench's nats-server and a connection. */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BenchNats } from './nats-proc.js';
import type { Progress } from './progress.js';

export interface BenchOptions {
  quick: boolean;
  /** Engine under --cpu-prof during ingest; profiles summarised into the results. */
  profile: boolean;
  events: number;
  customers: number;
  partitions: number;
  workers: number;
  freshnessSeconds: number;
  probes: number;
  httpSeconds: number;
  httpConnections: number;
  memoryCustomers: number;
  /** Customers added before the restart measured at scale. */
  restartCustomers: number;
  /** Seconds of aggregate queries on the engine with that customer base, while ingesting. */
  aggregateSeconds: number;
  scoringSeconds: number;
  scoringRounds: number;
  /** BW_LEASE_SECONDS of the cluster phase's engines: takeover after a kill -9 waits for it. */
  clusterLeaseSeconds: number;
  /** Kills timed in the failover phase, and the live load meanwhile (events/s). */
  failoverKills: number;
  failoverRate: number;
}

export interface BenchContext {
  opts: BenchOptions;
  progress: Progress;
  nats: BenchNats;
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Temporary directory for files passed between processes. */
  tmp: string;
}

export function benchOptions(quick: boolean, profile: boolean): BenchOptions {
  return quick
    ? {
        quick,
        profile,
        events: 30_000,
        customers: 10_000,
        partitions: 16,
        workers: 2,
        freshnessSeconds: 4,
        probes: 120,
        httpSeconds: 3,
        httpConnections: 10,
        memoryCustomers: 100_000,
        restartCustomers: 100_000,
        aggregateSeconds: 5,
        scoringSeconds: 0.25,
        scoringRounds: 1,
        clusterLeaseSeconds: 5,
        failoverKills: 2,
        failoverRate: 1000,
      }
    : {
        quick,
        profile,
        events: 300_000,
        customers: 100_000,
        partitions: 16,
        workers: 2,
        freshnessSeconds: 10,
        probes: 400,
        httpSeconds: 10,
        httpConnections: 10,
        memoryCustomers: 1_000_000,
        restartCustomers: 1_000_000,
        aggregateSeconds: 20,
        scoringSeconds: 1,
        scoringRounds: 3,
        clusterLeaseSeconds: 5,
        failoverKills: 5,
        failoverRate: 1000,
      };
}
