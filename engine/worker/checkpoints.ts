/**
 * Writing and loading a worker's partition checkpoints (engine/state/checkpoint.ts holds the format,
 * checkpoint-backends.ts where they live): the partition state plus its CRM counters, rule timers
 * and RFM cuts, written between two batches, under the partition's lease epoch.
 */
import type { RfmCuts } from '../../operators/analytics/rfm.js';
import { type CleanserSnapshot, EventCleanser } from '../../operators/cleansing/cleanser.js';
import { RuleEngine, type RuleEngineSnapshot } from '../../operators/crm/rule-engine.js';
import { restorePartition, snapshotPartition } from '../state/checkpoint.js';
import { type CrmSnapshot, PartitionCrm } from '../state/partition-crm.js';
import type { IdentitySnapshot } from '../state/partition-identity.js';
import type { PartitionMonitorJSON } from '../state/partition-monitor.js';
import { PartitionState } from '../state/partition-state.js';
import type { CheckpointBackend } from './checkpoint-backends.js';
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
  /** Anonymous histories, links and merge positions (partition-identity.ts). */
  identity?: IdentitySnapshot;
  /** The cleansing state that decides quarantine (distributions, near-duplicate memory). */
  cleansing?: CleanserSnapshot;
  /** The model monitor's snapshots, labels and drift counts (partition-monitor.ts). */
  monitor?: PartitionMonitorJSON;
}

export class WorkerCheckpoints {
  readonly #ctx: WorkerContext;
  readonly #backend: CheckpointBackend;
  #writing: Promise<void> | undefined;
  /** When the checkpoint whose cuts were restored was written. */
  #cutsAt: string | undefined;

  readonly #crm: WorkerCrm;

  constructor(ctx: WorkerContext, backend: CheckpointBackend, crm: WorkerCrm) {
    this.#ctx = ctx;
    this.#backend = backend;
    this.#crm = crm;
  }

  /** Checkpoints every partition whose state moved since its last checkpoint, one at a time. */
  writeAll(): Promise<void> {
    this.#writing ??= (async () => {
      try {
        for (const feed of [...this.#ctx.feeds.values()]) await this.#write(feed);
      } finally {
        this.#writing = undefined;
      }
    })();
    return this.#writing;
  }

  /** Checkpoints one partition (after the writes under way): its handoff to another instance. */
  async writeOne(feed: PartitionFeed): Promise<void> {
    await this.settled();
    await this.#write(feed);
  }

  async #write(feed: PartitionFeed): Promise<void> {
    const { metrics, log } = this.#ctx;
    const state = feed.state;
    if (feed.fenced) return;
    if (state.lastSequence === feed.checkpointed && !feed.sweptSinceCheckpoint) {
      feed.checkpointedAt = Date.now();
      return;
    }
    feed.sweptSinceCheckpoint = false;
    this.#ctx.flushPending();
    const cuts = this.#crm.cuts;
    const extra: Extra = {
      crm: feed.crm.snapshot(),
      rules: feed.rules.snapshot(),
      identity: state.identity.snapshot(),
      cleansing: feed.cleanser.snapshot(),
      monitor: state.monitor.toJSON(state.table),
      ...(cuts ? { cuts } : {}),
    };
    // The stream its sequences count in: the loaded checkpoint's until the consumer is attached.
    const snap = snapshotPartition(state, feed.checkpointOrigin ?? { stream: feed.stream }, extra);
    const started = performance.now();
    try {
      const bytes = await this.#backend.write(snap, feed.epoch);
      if (feed.state !== state) {
        // Discarded while it was written (discard()): that checkpoint must not be resumed from.
        await this.#setAside(state.partition);
        return;
      }
      feed.checkpointed = snap.sequence;
      feed.checkpointedAt = Date.now();
      metrics.checkpointSeconds.observe((performance.now() - started) / 1000);
      metrics.checkpointBytes.labels(String(state.partition)).set(bytes);
    } catch (err) {
      feed.sweptSinceCheckpoint = true;
      log.error({ partition: state.partition, epoch: feed.epoch, err }, 'checkpoint failed');
    }
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
      const snap = await this.#backend.read(p, feed.epoch);
      if (!snap) return;
      restorePartition(feed.state, snap);
      // A feature view the checkpoint does not hold (a model's event types new to this partition,
      // or a checkpoint from before views) starts empty for the customers restored here.
      const missing = feed.state.table.views.filter(
        (view) => snap.ids.length > 0 && !snap.columns.some((c) => c.name.includes(`scope:${view}:`)),
      );
      if (missing.length > 0)
        log.warn(
          { partition: p, views: missing, customers: snap.ids.length },
          'feature views not in the checkpoint start empty for its customers: their features count events from now on',
        );
      const extra = snap.extra as Extra | undefined;
      const migrated = extra?.crm ? feed.crm.restore(extra.crm) : 0;
      if (migrated > 0) {
        // Sealed now; the next checkpoint replaces the file that held them in the clear.
        feed.sweptSinceCheckpoint = true;
        this.#ctx.metrics.piiMigrated.inc(migrated);
        log.warn(
          { partition: p, fields: migrated },
          'profile fields held in the clear by an older checkpoint sealed',
        );
      }
      if (extra?.rules) feed.rules.restore(extra.rules);
      if (extra?.identity) feed.state.identity.restore(extra.identity);
      if (extra?.cleansing) feed.cleanser.restore(extra.cleansing);
      if (extra?.monitor) feed.state.monitor.restore(extra.monitor, feed.state.table);
      // The newest cuts of the worker's checkpoints (they are the population's, whichever holds them).
      if (extra?.cuts && (!crm.cuts || (snap.writtenAt ?? '') > (this.#cutsAt ?? ''))) {
        crm.cuts = extra.cuts;
        this.#cutsAt = snap.writtenAt;
      }
      feed.checkpointed = snap.sequence;
      feed.checkpointOrigin = snap.origin;
      log.info({ partition: p, sequence: snap.sequence, customers: snap.ids.length }, 'checkpoint loaded');
    } catch (err) {
      // Another owner's newer claim, or the store not reachable: not this worker's partition to run.
      const code = (err as { code?: string }).code;
      if (code === 'BW_ERR_CHECKPOINT_FENCED' || code === 'BW_ERR_CLUSTER_STORE') throw err;
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
    feed.state = new PartitionState(
      p,
      this.#ctx.config.dedupeIdsPerPartition,
      this.#ctx.config.watermarkMaxJumpSeconds * 1000,
      this.#ctx.featureViews,
    );
    feed.crm = new PartitionCrm(feed.state, crm.config, this.#ctx.sealer, this.#ctx.profilePolicy);
    feed.rules = new RuleEngine(crm.config.rules);
    feed.cleanser = new EventCleanser(this.#ctx.cleansing(), this.#ctx.metrics.cleansed);
    feed.checkpointed = 0;
    feed.checkpointOrigin = undefined;
    if (keepFile) void this.#setAside(p);
  }

  /** Keeps a partition's unusable checkpoint aside (a file renamed `.stale-<time>`). */
  async #setAside(partition: number): Promise<void> {
    try {
      const aside = await this.#backend.setAside(partition);
      if (aside)
        this.#ctx.log.error(
          { partition, file: aside },
          'checkpoint set aside: the partition is rebuilt from its stream',
        );
    } catch (err) {
      this.#ctx.log.error({ partition, err }, 'could not set the checkpoint aside');
    }
  }
}
