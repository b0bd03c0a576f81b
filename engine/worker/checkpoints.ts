/**
 * Writing and loading a worker's partition checkpoints (engine/state/checkpoint.ts holds the format):
 * the partition state plus its CRM counters and rule timers, written between two batches.
 */

import { rename } from 'node:fs/promises';
import type { RfmCuts } from '../../operators/analytics/rfm.js';
import { RuleEngine, type RuleEngineSnapshot } from '../../operators/crm/rule-engine.js';
import {
  checkpointFile,
  readCheckpoint,
  restorePartition,
  snapshotPartition,
  writeCheckpoint,
} from '../state/checkpoint.js';
import { type CrmSnapshot, PartitionCrm } from '../state/partition-crm.js';
import { PartitionState } from '../state/partition-state.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import type { WorkerCrm } from './crm.js';

interface Extra {
  crm?: CrmSnapshot;
  rules?: RuleEngineSnapshot;
  /**
   * The RFM cuts the partition's segments were last classified with: restored at start, so a
   * restart classifies against them until the first sweep brings new ones (without them every
   * customer's RFM read 0 until then and the segments flapped, republishing segment changes).
   */
  cuts?: RfmCuts;
}

export class WorkerCheckpoints {
  readonly #ctx: WorkerContext;
  readonly #dir: string;
  #writing: Promise<void> | undefined;
  /** When the checkpoint whose cuts were restored was written. */
  #cutsAt: string | undefined;

  readonly #crm: WorkerCrm;

  constructor(ctx: WorkerContext, dir: string, crm: WorkerCrm) {
    this.#ctx = ctx;
    this.#dir = dir;
    this.#crm = crm;
  }

  /** Checkpoints every partition whose state moved since its last checkpoint, one at a time. */
  writeAll(): Promise<void> {
    const { feeds, metrics, log } = this.#ctx;
    this.#writing ??= (async () => {
      try {
        for (const feed of feeds.values()) {
          const state = feed.state;
          if (state.lastSequence === feed.checkpointed && !feed.sweptSinceCheckpoint) continue;
          feed.sweptSinceCheckpoint = false;
          this.#ctx.flushPending();
          const cuts = this.#crm.cuts;
          const extra: Extra = {
            crm: feed.crm.snapshot(),
            rules: feed.rules.snapshot(),
            ...(cuts ? { cuts } : {}),
          };
          // The stream its sequences count in: the loaded checkpoint's until the consumer is attached.
          const snap = snapshotPartition(state, feed.checkpointOrigin ?? { stream: feed.stream }, extra);
          const started = performance.now();
          const bytes = await writeCheckpoint(this.#dir, snap);
          if (feed.state !== state) {
            // Discarded while it was written (discard()): that file must not be resumed from.
            await this.#setAside(state.partition);
            continue;
          }
          feed.checkpointed = snap.sequence;
          metrics.checkpointSeconds.observe((performance.now() - started) / 1000);
          metrics.checkpointBytes.labels(String(state.partition)).set(bytes);
        }
      } catch (err) {
        log.error({ err }, 'checkpoint failed');
      } finally {
        this.#writing = undefined;
      }
    })();
    return this.#writing;
  }

  /** Resolves when the checkpoint being written (if any) is done. */
  async settled(): Promise<void> {
    await this.#writing;
  }

  /**
   * Loads a partition's checkpoint into its (fresh) feed. A corrupt checkpoint is logged and
   * ignored: the partition starts empty and is rebuilt from the stream.
   */
  async load(feed: PartitionFeed, crm: WorkerCrm): Promise<void> {
    const { log } = this.#ctx;
    const p = feed.state.partition;
    try {
      const snap = await readCheckpoint(this.#dir, p);
      if (!snap) return;
      restorePartition(feed.state, snap);
      const extra = snap.extra as Extra | undefined;
      if (extra?.crm) feed.crm.restore(extra.crm);
      if (extra?.rules) feed.rules.restore(extra.rules);
      // The newest cuts of the worker's checkpoints (they are the population's, whichever holds them).
      if (extra?.cuts && (!crm.cuts || (snap.writtenAt ?? '') > (this.#cutsAt ?? ''))) {
        crm.cuts = extra.cuts;
        this.#cutsAt = snap.writtenAt;
      }
      feed.checkpointed = snap.sequence;
      feed.checkpointOrigin = snap.origin;
      log.info({ partition: p, sequence: snap.sequence, customers: snap.ids.length }, 'checkpoint loaded');
    } catch (err) {
      log.error({ partition: p, err }, 'checkpoint unreadable, rebuilding partition from the stream');
      this.discard(feed, crm);
    }
  }

  /**
   * Forgets a partition's state (and where it came from): it is rebuilt from its stream. With
   * `keepFile`, its checkpoint file is kept beside as `.stale-<time>` for an operator to recover.
   */
  discard(feed: PartitionFeed, crm: WorkerCrm, keepFile = false): void {
    const p = feed.state.partition;
    feed.state = new PartitionState(p, this.#ctx.config.dedupeIdsPerPartition);
    feed.crm = new PartitionCrm(feed.state, crm.config, this.#ctx.sealer);
    feed.rules = new RuleEngine(crm.config.rules);
    feed.checkpointed = 0;
    feed.checkpointOrigin = undefined;
    if (keepFile) void this.#setAside(p);
  }

  /** Renames a partition's checkpoint to `<file>.stale-<time>` (nothing when there is none). */
  async #setAside(partition: number): Promise<void> {
    const file = checkpointFile(this.#dir, partition);
    const aside = `${file}.stale-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      await rename(file, aside);
      this.#ctx.log.error(
        { partition, file: aside },
        'checkpoint set aside: the partition is rebuilt from its stream',
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.#ctx.log.error({ partition, err }, 'could not set the checkpoint aside');
    }
  }
}
