/**
 * The JetStream buckets the cluster pieces keep their state in, opened (created when absent) with
 * the deployment's replica count (BW_REPLICAS: 1 on a single server, 3 on a 3-node cluster).
 *
 * KV buckets read through the stream leader (allow_direct off): a lease or checkpoint pointer read
 * from a lagging follower could show an older revision, and compare-and-set decisions are made
 * on what is read.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ObjectStore, Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import type { Logger } from '../log.js';

export interface ReplicaOptions {
  /** Copies of each bucket in the cluster (BW_REPLICAS); default 1. */
  replicas?: number;
}

/** Milliseconds a JetStream request waits for its answer, unless a piece says otherwise. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 5_000;

export function clusterJetStream(
  nc: NatsConnection,
  timeoutMs = CLUSTER_REQUEST_TIMEOUT_MS,
): JetStreamClient {
  return jetstream(nc, { timeout: timeoutMs });
}

function replicasOf(opts: ReplicaOptions): number {
  const replicas = opts.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new BellwetherError('BW_ERR_CONFIG_INVALID', `replicas must be an integer 1..5, got ${replicas}`);
  }
  return replicas;
}

export interface KvBucketSpec extends ReplicaOptions {
  name: string;
  description: string;
  /** Milliseconds after which the server removes a value (max_age); 0 keeps values. */
  ttlMs?: number;
}

/**
 * Runs `open` up to `attempts` times with a doubling pause (250 ms first): right after a cluster
 * starts, a node restarts or a stream was deleted, JetStream answers with timeouts, "temporarily
 * unavailable" or a stream that is not there yet for a few seconds.
 */
async function withRetries<T>(what: string, log: Logger, open: () => Promise<T>, attempts = 6): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    try {
      return await open();
    } catch (err) {
      last = err;
      log.warn(
        { component: 'cluster', bucket: what, attempt, err: String(err) },
        'bucket not opened yet; retrying',
      );
      if (attempt + 1 < attempts) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
  throw new BellwetherError('BW_ERR_CLUSTER_STORE', `${what}: ${String(last)}`, { cause: last });
}

function warnOnReplicas(log: Logger, bucket: string, replicas: number, wanted: number): void {
  if (replicas === wanted) return;
  log.warn(
    { component: 'cluster', bucket, replicas, wanted },
    'existing bucket has another replica count; kept as it is',
  );
}

/** Opens a KV bucket, creating it when absent. An existing bucket keeps its configuration. */
export function openKvBucket(js: JetStreamClient, spec: KvBucketSpec, log: Logger): Promise<KV> {
  const replicas = replicasOf(spec);
  return withRetries(`KV bucket ${spec.name}`, log, async () => {
    const kv = await new Kvm(js).create(spec.name, {
      replicas,
      history: 1,
      ttl: spec.ttlMs ?? 0,
      description: spec.description,
      allow_direct: false,
    });
    warnOnReplicas(log, spec.name, (await kv.status()).replicas, replicas);
    return kv;
  });
}

export interface ObjectBucketSpec extends ReplicaOptions {
  name: string;
  description: string;
}

/** Opens an object store bucket, creating it when absent. */
export function openObjectBucket(
  js: JetStreamClient,
  spec: ObjectBucketSpec,
  log: Logger,
): Promise<ObjectStore> {
  const replicas = replicasOf(spec);
  return withRetries(`object bucket ${spec.name}`, log, async () => {
    const store = await new Objm(js).create(spec.name, { replicas, description: spec.description });
    warnOnReplicas(log, spec.name, (await store.status()).replicas, replicas);
    return store;
  });
}

/** True when a compare-and-set write failed because the key's revision had moved on. */
export function isRevisionConflict(err: unknown): boolean {
  if (err instanceof JetStreamApiError) {
    return (
      err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    );
  }
  return /wrong last sequence/i.test(String(err));
}

/** Parses a JSON value, or undefined when it is not JSON (an empty delete marker, a foreign write). */
export function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
