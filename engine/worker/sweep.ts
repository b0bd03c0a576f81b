/**
 * The rescore sweep: every BW_RESCORE_SECONDS, every customer of the partitions that are caught up
 * is rescored, in chunks interleaved with event batches (one chunk per turn of the event loop), so
 * risk that rises only because time passes (a customer who stays silent) is seen and alerted on
 * within one interval. The sweep also forgets customers past BW_STATE_TTL_DAYS, sketches the RFM
 * inputs for the population quintiles, and fires absence timers that came due.
 */
import { DAY_MS } from '../../contract/time.js';
import { RfmSketches, type RfmSketchesJSON } from '../../operators/analytics/rfm.js';
import { distinctPromises } from '../nats/effect-publisher.js';
import type { PartitionState } from '../state/partition-state.js';
import { alertPublisher } from './alerts.js';
import type { BatchScorer } from './batch-scorer.js';
import type { WorkerContext } from './context.js';
import type { WorkerCrm } from './crm.js';

const SWEEP_CHUNK = 2048;

export interface SweepDeps {
  scorer(): BatchScorer;
  crm: WorkerCrm;
  /** Hands the worker's RFM sketches to the main thread. */
  sketches(json: RfmSketchesJSON): void;
  /** Scores (and perhaps slots) of the partition changed: cached answers of it are void. */
  rescored(partition: number): void;
}

export function rescoreSweep(ctx: WorkerContext, deps: SweepDeps): () => void {
  const { config, metrics, log, feeds } = ctx;
  const publishAlert = alertPublisher(ctx.effects);
  const states: PartitionState[] = [];
  const slots = new Int32Array(SWEEP_CHUNK);
  let running = false;

  return function start(): void {
    if (running || ctx.isStopping()) return;
    running = true;
    // A partition whose lease ran out (say this process was paused past it) is not rescored here: its
    // alerts and segment changes are the new owner's to publish.
    const now = Date.now();
    const targetFeeds = [...feeds.values()].filter((f) => f.caughtUp && ctx.leaseValid(f, now));
    const targets = targetFeeds.map((f) => f.state);
    ctx.flushPending();
    const ttlMs = config.stateTtlDays * DAY_MS;
    const sketches = new RfmSketches();
    for (const feed of targetFeeds) {
      const { state, rules, crm } = feed;
      const evicted = state.evictInactive(state.now(config.clock), ttlMs, (from, to) => {
        if (to === undefined) {
          rules.removeSlot(from);
          crm.removeSlot(from);
        } else {
          rules.moveSlot(from, to);
          crm.moveSlot(from, to);
        }
      });
      metrics.evicted.inc(evicted);
      if (evicted > 0) deps.rescored(state.partition);
      feed.crm.sketch(state.now(config.clock), sketches);
    }
    deps.sketches(sketches.toJSON());
    let t = 0;
    let slot = 0;
    const step = (): void => {
      if (ctx.isStopping()) {
        running = false;
        return;
      }
      let n = 0;
      const stepNow = Date.now();
      while (n < SWEEP_CHUNK && t < targets.length) {
        const state = targets[t]!;
        // A partition whose state was replaced since the sweep began (rebuilt from its stream, at a
        // consumer's re-creation) is left for the next sweep: its slots mean other customers now.
        const feed = feeds.get(state.partition);
        if (slot >= state.table.size || feed?.state !== state || !ctx.leaseValid(feed, stepNow)) {
          t++;
          slot = 0;
          continue;
        }
        states[n] = state;
        slots[n++] = slot++;
      }
      const publishes: Promise<unknown>[] = [];
      const scorer = deps.scorer();
      scorer.score(states, slots, n, 'sweep', publishAlert, publishes, ctx.replayUntil);
      const features = { buffer: scorer.features, offset: 0 };
      for (let i = 0; i < n; i++) {
        const state = states[i]!;
        const s = slots[i]!;
        const day = Math.floor(state.now(config.clock) / DAY_MS);
        features.offset = i * state.table.names.length;
        deps.crm.afterScore(
          feeds.get(state.partition)!,
          s,
          `${state.lastEventId[s] ?? ''}@${day}`,
          false,
          publishes,
          features,
        );
      }
      if (t >= targets.length) for (const feed of targetFeeds) deps.crm.advanceTimers(feed, publishes);
      metrics.rescored.inc(n);
      let last = -1;
      for (let i = 0; i < n; i++) {
        const p = states[i]!.partition;
        if (p === last) continue;
        deps.rescored((last = p));
        const feed = feeds.get(p);
        if (feed) feed.sweptSinceCheckpoint = true;
      }
      ctx.effects.commit();
      if (publishes.length > 0) {
        Promise.allSettled(distinctPromises(publishes)).then((results) => {
          if (results.some((r) => r.status === 'rejected')) log.warn('rescore publish failed');
        });
      }
      if (t < targets.length) setImmediate(step);
      else running = false;
    };
    setImmediate(step);
  };
}
