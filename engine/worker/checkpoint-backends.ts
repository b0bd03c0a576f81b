/**
 * Where a worker's partition checkpoints live (engine/state/checkpoint.ts holds the format):
 * - `file`: `<data dir>/checkpoints/p<partition>.ckpt`, for the embedded single-node default;
 * - `nats`: the cluster's object store (engine/cluster/checkpoint-store.ts), whenever the engine uses
 *   an external NATS, so the instance that takes a partition over resumes from its last checkpoint.
 *   A read claims the partition's checkpoint pointer for the reader's lease epoch first, so a later
 *   write by the partition's previous owner is refused (BW_ERR_CHECKPOINT_FENCED).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../lib/private-files.js';
import { CheckpointStore } from '../cluster/checkpoint-store.js';
import {
  checkpointBytes,
  checkpointFile,
  decodeCheckpoint,
  encodeCheckpoint,
  type PartitionSnapshot,
  readCheckpoint,
  writeCheckpoint,
} from '../state/checkpoint.js';
import type { WorkerContext } from './context.js';

export interface CheckpointBackend {
  /** For logs: where checkpoints go. */
  readonly where: string;
  /** The partition's latest checkpoint (claimed for `epoch` first where that applies). */
  read(partition: number, epoch: number): Promise<PartitionSnapshot | undefined>;
  /** Writes the snapshot under `epoch`; resolves with the bytes of state written. */
  write(snap: PartitionSnapshot, epoch: number): Promise<number>;
  /** Keeps an unusable checkpoint aside for an operator; resolves with where, if anywhere. */
  setAside(partition: number): Promise<string | undefined>;
}

function staleName(file: string): string {
  return `${file}.stale-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

export function fileCheckpoints(dir: string): CheckpointBackend {
  return {
    where: dir,
    read: (partition) => readCheckpoint(dir, partition),
    write: (snap) => writeCheckpoint(dir, snap),
    async setAside(partition) {
      const file = checkpointFile(dir, partition);
      const aside = staleName(file);
      try {
        await rename(file, aside);
        return aside;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}

/**
 * `migrateFrom`: the data directory's checkpoint files of a version that kept them locally with an
 * external NATS: a partition with no checkpoint in the store resumes from its file (once; its next
 * checkpoint goes to the store).
 */
export function natsCheckpoints(
  ctx: WorkerContext,
  opts: { replicas: number; instanceId: string; log: Logger; migrateFrom: string },
): CheckpointBackend {
  const files = fileCheckpoints(opts.migrateFrom);
  // One object at a time per worker: several large reads at once over one connection stalled for
  // ~30 s each (measured: 16 checkpoints of 18 MB owned at once), one after the other take ~0.5 s each.
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(step: () => Promise<T>): Promise<T> => {
    const run = queue.then(step, step);
    queue = run.catch(() => undefined);
    return run;
  };
  let store: Promise<CheckpointStore> | undefined;
  const open = (): Promise<CheckpointStore> => {
    store ??= CheckpointStore.open(ctx.nc(), opts).catch((err: unknown) => {
      store = undefined;
      throw err;
    });
    return store;
  };
  return {
    where: 'nats object store BW_CHECKPOINTS',
    read: (partition, epoch) =>
      inTurn(async () => {
        const s = await open();
        await s.claim(partition, epoch);
        const latest = await s.latest(partition);
        if (!latest) return files.read(partition, epoch);
        return decodeCheckpoint(latest.bytes, partition, `BW_CHECKPOINTS/${latest.pointer.object}`);
      }),
    write: (snap, epoch) =>
      inTurn(async () => {
        const chunks = encodeCheckpoint(snap);
        await (await open()).put(snap.partition, epoch, snap.sequence, chunks);
        return checkpointBytes(chunks);
      }),
    // A copy goes to the data directory as `.stale-<time>` for an operator (the object stays in the
    // store until the rebuilt partition's first checkpoint replaces it); a local file it may have
    // come from is set aside too.
    async setAside(partition) {
      const fromFile = await files.setAside(partition);
      const latest = await (await open()).latest(partition);
      if (!latest) return fromFile;
      await mkdir(opts.migrateFrom, { recursive: true, mode: PRIVATE_DIR_MODE });
      const aside = staleName(checkpointFile(opts.migrateFrom, partition));
      await writeFile(aside, latest.bytes, { mode: PRIVATE_FILE_MODE });
      return aside;
    },
  };
}
