/**
 * Gauges read from the worker's state when Prometheus scrapes (prom-client `collect`), for the
 * dashboards and alert rules in deploy/: how long each owned partition's state has gone without a
 * checkpoint, how many customers each segment holds, and which model versions score. Nothing here
 * runs on the hot path.
 */
import { Gauge } from 'prom-client';
import { SEGMENTS } from '../../operators/analytics/rfm.js';
import type { WorkerContext } from './context.js';

/** Segment of an unsegmented slot (partition-crm.ts NO_SEGMENT): any index past SEGMENTS. */
const SEGMENT_COUNT = SEGMENTS.length;

export function registerStateMetrics(ctx: WorkerContext, modelVersions: () => Record<string, string>): void {
  const registers = [ctx.metrics.registry];
  new Gauge({
    name: 'bellwether_checkpoint_age_seconds',
    help: "Seconds since each owned partition's state last matched a checkpoint (written, or found current); grows while checkpoints fail",
    labelNames: ['partition'],
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const [partition, feed] of ctx.feeds)
        this.set({ partition: String(partition) }, Math.max(0, (now - feed.checkpointedAt) / 1000));
    },
  });
  const counts = new Float64Array(SEGMENT_COUNT);
  new Gauge({
    name: 'bellwether_segment_customers',
    help: 'Customers in each RFM segment, over the partitions this instance owns',
    labelNames: ['segment'],
    registers,
    collect() {
      counts.fill(0);
      for (const feed of ctx.feeds.values()) {
        const column = feed.crm.segment.data;
        const size = feed.state.table.size;
        for (let slot = 0; slot < size; slot++) {
          const index = column[slot]!;
          if (index < SEGMENT_COUNT) counts[index]!++;
        }
      }
      for (let s = 0; s < SEGMENT_COUNT; s++) this.set({ segment: SEGMENTS[s]! }, counts[s]!);
    },
  });
  new Gauge({
    name: 'bellwether_model_info',
    help: 'Model versions the workers score with: 1 per model and version (shadow models as <model>_shadow)',
    labelNames: ['model', 'version'],
    // Every worker holds the same versions: the aggregated series stays 1 instead of the worker count.
    aggregator: 'max',
    registers,
    collect() {
      this.reset();
      let versions: Record<string, string>;
      try {
        versions = modelVersions();
      } catch {
        return; // models not loaded yet
      }
      for (const [model, version] of Object.entries(versions)) this.set({ model, version }, 1);
    },
  });
}
