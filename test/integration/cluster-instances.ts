/**
 * Engine-like instances for the cluster tests: each has its own NATS connection, membership,
 * leases, checkpoint store and coordinator, and records what happened to it on the monotonic
 * clock all instances in the test process share. `started` claims the checkpoint pointer and reads
 * the checkpoint (as the engine will); `stopping` writes a last checkpoint before a release.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CheckpointStore } from '../../engine/cluster/checkpoint-store.js';
import { PartitionCoordinator } from '../../engine/cluster/coordinator.js';
import { monotonicNow } from '../../engine/cluster/freshness.js';
import type { LeaseEvent } from '../../engine/cluster/lease-value.js';
import { PartitionLeases } from '../../engine/cluster/leases.js';
import { Membership, type MembershipEvent } from '../../engine/cluster/membership.js';
import { createLogger } from '../../engine/log.js';
import { waitFor } from '../support/engine-process.js';

export const log = createLogger(process.env['BW_TEST_LOG'] ?? 'silent', { test: 'cluster' });

export interface InstanceOptions {
  servers: string | string[];
  id: string;
  partitions: number;
  leaseSeconds: number;
  replicas?: number;
}

export interface Recorded<E> {
  at: number;
  event: E;
}

export interface Instance {
  id: string;
  nc: NatsConnection;
  membership: Membership;
  leases: PartitionLeases;
  store: CheckpointStore;
  coordinator: PartitionCoordinator;
  leaseEvents: Recorded<LeaseEvent>[];
  memberEvents: Recorded<MembershipEvent>[];
  /** Checkpoint bytes each started partition read at its start. */
  readAtStart: Map<number, Uint8Array | undefined>;
  /** Starts membership, leases and the coordinator. */
  start(): Promise<void>;
  /** As if the process died: timers and watches stop, nothing is released or deleted. */
  halt(): void;
  /** Graceful stop: partitions released, membership left, connection closed. */
  stop(): Promise<void>;
  /** Closes the connection only (after halt). */
  close(): Promise<void>;
}

export async function openInstance(opts: InstanceOptions): Promise<Instance> {
  const nc = await connect({
    servers: opts.servers,
    name: opts.id,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const common = { instanceId: opts.id, leaseSeconds: opts.leaseSeconds, replicas: opts.replicas, log };
  const membership = await Membership.open(nc, common);
  const leases = await PartitionLeases.open(nc, common);
  const store = await CheckpointStore.open(nc, { replicas: opts.replicas, log, instanceId: opts.id });
  const readAtStart = new Map<number, Uint8Array | undefined>();
  const coordinator = new PartitionCoordinator({
    partitions: opts.partitions,
    membership,
    leases,
    log,
    hooks: {
      started: async (p, epoch) => {
        const pointer = await store.claim(p, epoch);
        readAtStart.set(p, pointer.object === null ? undefined : await store.get(p));
      },
      stopping: async (p, epoch) => {
        await store.put(p, epoch, 1000 + epoch, new TextEncoder().encode(`${opts.id} p${p} e${epoch} last`));
      },
    },
  });
  const leaseEvents: Recorded<LeaseEvent>[] = [];
  const memberEvents: Recorded<MembershipEvent>[] = [];
  leases.on((event) => leaseEvents.push({ at: monotonicNow(), event }));
  membership.on((event) => memberEvents.push({ at: monotonicNow(), event }));
  return {
    id: opts.id,
    nc,
    membership,
    leases,
    store,
    coordinator,
    leaseEvents,
    memberEvents,
    readAtStart,
    start: async () => {
      await membership.start();
      await leases.start();
      coordinator.start();
    },
    halt: () => {
      coordinator.halt();
      leases.halt();
      membership.halt();
    },
    stop: async () => {
      await coordinator.stop();
      await leases.close();
      await membership.leave();
      await nc.close();
    },
    close: () => nc.close(),
  };
}

/** Waits until the instances hold every partition between them, none twice, balanced, for 3 checks in a row. */
export async function waitForBalanced(
  instances: Instance[],
  partitions: number,
  timeoutMs = 60_000,
): Promise<void> {
  let steady = 0;
  await waitFor(
    async () => {
      const held = instances.map((i) => i.leases.held());
      const all = held.flat().sort((a, b) => a - b);
      const floor = Math.floor(partitions / instances.length);
      const ok =
        all.length === partitions &&
        all.every((p, i) => p === i) &&
        held.every((h) => h.length === floor || h.length === floor + 1);
      steady = ok ? steady + 1 : 0;
      if (steady < 3) {
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      }
      return true;
    },
    timeoutMs,
    'a balanced split of the partitions',
  );
}

/** The first recorded lease event matching `match`, waiting for it. */
export function leaseEvent(
  instance: Instance,
  match: (event: LeaseEvent) => boolean,
  timeoutMs = 60_000,
): Promise<Recorded<LeaseEvent>> {
  return waitFor(
    async () => instance.leaseEvents.find((r) => match(r.event)),
    timeoutMs,
    `lease event on ${instance.id}`,
  );
}
