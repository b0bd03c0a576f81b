/**
 * Partition checkpoints in NATS: each write is an object in a JetStream object store
 * (BW_CHECKPOINTS, `p0012-e<epoch>-s<sequence>`), and a pointer per partition in a KV bucket
 * (BW_CHECKPOINT_INDEX, key `p.<p>` → {object, epoch, sequence, written_at, previous}) says which
 * object is the latest.
 *
 * Fencing: a new owner of a partition claims the pointer (a compare-and-set write of its lease
 * epoch, which moves the pointer's revision) before it reads the checkpoint. Every later pointer
 * write is a compare-and-set on the revision this store last wrote, so a stale owner's write
 * (its revision has moved, or the pointer carries a newer epoch) is refused with
 * BW_ERR_CHECKPOINT_FENCED and its object deleted. A claim with an older epoch than the
 * pointer's is refused the same way.
 *
 * The pointer keeps the previous object too, so a reader that read the pointer just before a new
 * write still finds its object; anything older is deleted once the pointer has moved past it.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import type { Logger } from '../log.js';
import {
  clusterJetStream,
  isRevisionConflict,
  openKvBucket,
  openObjectBucket,
  parseJson,
  type ReplicaOptions,
} from './buckets.js';
import { KeyedQueue, leaseKey } from './lease-value.js';

export const CHECKPOINTS_BUCKET = 'BW_CHECKPOINTS';
export const CHECKPOINT_INDEX_BUCKET = 'BW_CHECKPOINT_INDEX';

export interface CheckpointPointer {
  /** Name of the latest checkpoint object; null until the first write. */
  object: string | null;
  /** Epoch of the lease under which the pointer was last claimed or written. */
  epoch: number;
  /** Sequence (position in the partition's stream) the latest object was taken at. */
  sequence: number;
  /** Wall-clock time of the latest object's write; informational. */
  written_at: string | null;
  /** The object before the latest, kept for readers that read the pointer just before. */
  previous: string | null;
}

export interface CheckpointStoreOptions extends ReplicaOptions {
  log: Logger;
  /** For the logs: which instance writes. */
  instanceId?: string;
  objectBucket?: string;
  indexBucket?: string;
  /** Tries at reading an object the pointer names before BW_ERR_CHECKPOINT_MISSING; default 6. */
  readAttempts?: number;
}

interface Claim {
  epoch: number;
  /** Revision of the pointer this store last wrote: the next write is a CAS on it. */
  revision: number;
  pointer: CheckpointPointer;
}

export function checkpointObjectName(partition: number, epoch: number, sequence: number): string {
  return `${objectPrefix(partition)}e${epoch}-s${sequence}`;
}

function objectPrefix(partition: number): string {
  return `p${String(partition).padStart(4, '0')}-`;
}

function pointerOf(entry: KvEntry | null): CheckpointPointer | undefined {
  if (entry?.operation !== 'PUT') return undefined;
  const value = parseJson(entry.value) as Partial<CheckpointPointer> | undefined;
  if (typeof value !== 'object' || value === null || typeof value.epoch !== 'number') return undefined;
  return {
    object: typeof value.object === 'string' ? value.object : null,
    epoch: value.epoch,
    sequence: typeof value.sequence === 'number' ? value.sequence : 0,
    written_at: typeof value.written_at === 'string' ? value.written_at : null,
    previous: typeof value.previous === 'string' ? value.previous : null,
  };
}

function fenced(partition: number, epoch: number, detail: string, data: object = {}): BellwetherError {
  return new BellwetherError('BW_ERR_CHECKPOINT_FENCED', `partition ${partition} epoch ${epoch}: ${detail}`, {
    data: { partition, epoch, ...data },
  });
}

function storeError(what: string, cause: unknown): BellwetherError {
  return new BellwetherError('BW_ERR_CLUSTER_STORE', `${what}: ${String(cause)}`, { cause });
}

export class CheckpointStore {
  private readonly claims = new Map<number, Claim>();
  private readonly queue = new KeyedQueue<number>();
  private readonly log: Logger;

  private constructor(
    private readonly index: KV,
    private readonly objects: ObjectStore,
    private readonly opts: CheckpointStoreOptions,
  ) {
    this.log = opts.log.child({ component: 'cluster-checkpoints', instance: opts.instanceId });
  }

  static async open(nc: NatsConnection, opts: CheckpointStoreOptions): Promise<CheckpointStore> {
    const js = clusterJetStream(nc);
    const index = await openKvBucket(
      js,
      {
        name: opts.indexBucket ?? CHECKPOINT_INDEX_BUCKET,
        description: 'bellwether checkpoint pointers',
        replicas: opts.replicas,
      },
      opts.log,
    );
    const objects = await openObjectBucket(
      js,
      {
        name: opts.objectBucket ?? CHECKPOINTS_BUCKET,
        description: 'bellwether partition checkpoints',
        replicas: opts.replicas,
      },
      opts.log,
    );
    return new CheckpointStore(index, objects, opts);
  }

  /**
   * Claims the partition's pointer for `epoch` (the caller's new lease epoch): from now on writes
   * by any earlier claimer are refused. Returns the pointer as claimed (object null before the
   * first checkpoint). Refused with BW_ERR_CHECKPOINT_FENCED when the pointer has a newer epoch.
   */
  claim(partition: number, epoch: number): Promise<CheckpointPointer> {
    return this.queue.run(partition, () => this.claimNow(partition, epoch));
  }

  /**
   * Writes a checkpoint object, then moves the pointer to it by compare-and-set. Claims first when
   * this store has not claimed the partition for `epoch`. Refused (BW_ERR_CHECKPOINT_FENCED, the
   * object deleted) when another owner claimed the partition since.
   */
  put(
    partition: number,
    epoch: number,
    sequence: number,
    bytes: Uint8Array | Uint8Array[],
  ): Promise<CheckpointPointer> {
    return this.queue.run(partition, () => this.putNow(partition, epoch, sequence, bytes));
  }

  /** The bytes of the latest checkpoint of the partition, or undefined when there is none. */
  async get(partition: number): Promise<Uint8Array | undefined> {
    return (await this.latest(partition))?.bytes;
  }

  /** The latest checkpoint with the pointer that names it, or undefined when there is none. */
  async latest(partition: number): Promise<{ bytes: Uint8Array; pointer: CheckpointPointer } | undefined> {
    const attempts = this.opts.readAttempts ?? 6;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      const pointer = await this.pointer(partition);
      if (pointer?.object == null) return undefined;
      try {
        // Null when a replica has not caught up yet, or two writes moved past it since the read.
        const blob = await this.objects.getBlob(pointer.object);
        // A plain Uint8Array over the same memory (the client hands back a Buffer).
        if (blob) return { bytes: new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength), pointer };
      } catch (err) {
        lastError = err;
      }
      this.log.debug(
        { partition, object: pointer.object, attempt, err: String(lastError) },
        'checkpoint object not read yet',
      );
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
    throw new BellwetherError('BW_ERR_CHECKPOINT_MISSING', `partition ${partition}`, {
      cause: lastError,
      data: { partition },
    });
  }

  /** The partition's pointer as the index's stream leader has it. */
  async pointer(partition: number): Promise<CheckpointPointer | undefined> {
    return pointerOf(await this.readEntry(partition));
  }

  /**
   * Deletes the partition's objects the pointer names neither as latest nor previous (left by a
   * writer that died between writing an object and moving the pointer). Returns how many.
   */
  async prune(partition: number): Promise<number> {
    const pointer = await this.pointer(partition);
    const keep = new Set([pointer?.object, pointer?.previous]);
    const prefix = objectPrefix(partition);
    let infos: Awaited<ReturnType<ObjectStore['list']>>;
    try {
      infos = await this.objects.list();
    } catch (err) {
      throw storeError('list checkpoint objects', err);
    }
    const stale = infos.filter((i) => i.name.startsWith(prefix) && !i.deleted && !keep.has(i.name));
    for (const info of stale) await this.deleteObject(info.name);
    return stale.length;
  }

  private async readEntry(partition: number): Promise<KvEntry | null> {
    try {
      return await this.index.get(leaseKey(partition));
    } catch (err) {
      throw storeError(`read checkpoint pointer of partition ${partition}`, err);
    }
  }

  private async claimNow(partition: number, epoch: number): Promise<CheckpointPointer> {
    const key = leaseKey(partition);
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const entry = await this.readEntry(partition);
      const current = pointerOf(entry);
      if (current && current.epoch > epoch) {
        throw fenced(partition, epoch, 'the pointer has a newer epoch', { pointerEpoch: current.epoch });
      }
      const next: CheckpointPointer = current
        ? { ...current, epoch }
        : { object: null, epoch, sequence: 0, written_at: null, previous: null };
      try {
        const revision =
          entry?.operation === 'PUT'
            ? await this.index.update(key, JSON.stringify(next), entry.revision)
            : await this.index.create(key, JSON.stringify(next));
        this.claims.set(partition, { epoch, revision, pointer: next });
        this.log.info({ partition, epoch, object: next.object }, 'checkpoint pointer claimed');
        return next;
      } catch (err) {
        if (!isRevisionConflict(err))
          throw storeError(`claim checkpoint pointer of partition ${partition}`, err);
      }
    }
    throw storeError(`claim checkpoint pointer of partition ${partition}`, 'the pointer kept moving');
  }

  private async putNow(
    partition: number,
    epoch: number,
    sequence: number,
    bytes: Uint8Array | Uint8Array[],
  ): Promise<CheckpointPointer> {
    let claim = this.claims.get(partition);
    if (claim && claim.epoch > epoch) {
      throw fenced(partition, epoch, 'this store claimed a newer epoch', { claimed: claim.epoch });
    }
    if (claim?.epoch !== epoch) {
      await this.claimNow(partition, epoch);
      claim = this.claims.get(partition);
    }
    if (claim === undefined) throw fenced(partition, epoch, 'not claimed');
    const name = checkpointObjectName(partition, epoch, sequence);
    const chunks = Array.isArray(bytes) ? bytes : [bytes];
    try {
      await this.objects.put({ name }, streamOf(chunks));
    } catch (err) {
      throw storeError(`write checkpoint object ${name}`, err);
    }
    const before = claim.pointer;
    const next: CheckpointPointer = {
      object: name,
      epoch,
      sequence,
      written_at: new Date().toISOString(),
      previous: before.object === name ? before.previous : before.object,
    };
    let revision: number;
    try {
      revision = await this.index.update(leaseKey(partition), JSON.stringify(next), claim.revision);
    } catch (err) {
      revision = await this.afterFailedMove(partition, epoch, name, next, err);
    }
    this.claims.set(partition, { epoch, revision, pointer: next });
    const dropped = [before.object, before.previous].filter(
      (n): n is string => n !== null && n !== next.object && n !== next.previous,
    );
    for (const old of dropped) await this.deleteObject(old);
    this.log.debug({ partition, epoch, sequence, object: name }, 'checkpoint written');
    return next;
  }

  /** The pointer write failed: refused (fenced), or landed with its answer lost, or unknown. */
  private async afterFailedMove(
    partition: number,
    epoch: number,
    name: string,
    next: CheckpointPointer,
    err: unknown,
  ): Promise<number> {
    const entry = await this.readEntry(partition).catch(() => null);
    const now = pointerOf(entry);
    if (entry && now?.object === next.object && now.epoch === epoch) return entry.revision;
    if (!isRevisionConflict(err)) throw storeError(`move checkpoint pointer of partition ${partition}`, err);
    this.claims.delete(partition);
    if (now?.object !== name && now?.previous !== name) await this.deleteObject(name);
    this.log.warn(
      { partition, epoch, pointerEpoch: now?.epoch },
      'checkpoint write refused: partition claimed since',
    );
    throw fenced(partition, epoch, 'another owner claimed the partition since', { pointerEpoch: now?.epoch });
  }

  private async deleteObject(name: string): Promise<void> {
    try {
      await this.objects.delete(name);
    } catch (err) {
      this.log.warn({ object: name, err: String(err) }, 'old checkpoint object not deleted');
    }
  }
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next];
      next += 1;
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
}
