/**
 * The engine's checkpoints when it runs against an external NATS: objects of the `BW_CHECKPOINTS`
 * object store named by the `BW_CHECKPOINT_INDEX` KV bucket (engine/cluster/checkpoint-store.ts).
 * Their size (the latest object of each partition), and their removal before a cold start.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { CHECKPOINT_INDEX_BUCKET, CHECKPOINTS_BUCKET } from '../../engine/cluster/checkpoint-store.js';

/** Bytes of the latest checkpoint of every partition. */
export async function checkpointStoreBytes(nc: NatsConnection): Promise<number> {
  const index = await new Kvm(nc).open(CHECKPOINT_INDEX_BUCKET);
  const objects = await new Objm(nc).open(CHECKPOINTS_BUCKET);
  let bytes = 0;
  for await (const key of await index.keys()) {
    const entry = await index.get(key);
    const pointer = entry?.value.length ? (entry.json<{ object: string | null }>() ?? null) : null;
    if (!pointer?.object) continue;
    bytes += (await objects.info(pointer.object))?.size ?? 0;
  }
  return bytes;
}

/** Deletes the engine's cluster buckets (checkpoints, their index, leases, members): a cold start. */
export async function deleteClusterBuckets(jsm: JetStreamManager): Promise<void> {
  for (const stream of ['KV_BW_CHECKPOINT_INDEX', 'OBJ_BW_CHECKPOINTS', 'KV_BW_LEASES', 'KV_BW_MEMBERS']) {
    try {
      await jsm.streams.delete(stream);
    } catch {
      // not there
    }
  }
}
