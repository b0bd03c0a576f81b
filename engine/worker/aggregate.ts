/**
 * A worker's share of the population-wide aggregates (docs/analytics.md): `aggregate` walks every
 * customer slot of the worker's partitions (filter, group key, metrics read through a row of
 * readers resolved once per partition, aggregate-row.ts, so a feature vector is computed only for
 * customers whose filter, group or metrics read a feature) into one partial; `daily` collects its partitions' daily cubes. The main thread merges
 * the workers' partials (engine/pool/population.ts).
 */
import { BellwetherError } from '../../contract/errors.js';
import { AggregateAccumulator, type AggregatePartialJSON } from '../../operators/analytics/aggregate.js';
import type { AggregateSpec } from '../../operators/analytics/aggregate-spec.js';
import {
  DailyAccumulator,
  type DailyPartialJSON,
  type DailySpec,
} from '../../operators/analytics/daily-cube.js';
import { LIFECYCLE_INPUTS } from '../../operators/analytics/lifecycle.js';
import { compileExpression } from '../../operators/crm/expression.js';
import type { TagEvaluator } from '../../operators/crm/tags.js';
import type { PartitionCrm } from '../state/partition-crm.js';
import type { PartitionState } from '../state/partition-state.js';
import { type PassCursor, partitionRow } from './aggregate-row.js';

/** Slots between two looks at the clock. */
const DEADLINE_STRIDE = 1024;

interface PartitionView {
  state: PartitionState;
  crm: PartitionCrm;
}

/** `names` and, when lifecycle is one, the three features it reads. */
function withInputs(names: string[]): string[] {
  if (names.includes('lifecycle')) names.push(...LIFECYCLE_INPUTS);
  return names;
}

/** The names a query reads past its filter. */
function namesRead(spec: AggregateSpec): string[] {
  const names = spec.metrics.map((m) => m.source);
  for (const d of spec.group_by) {
    if (d.kind === 'bucket') names.push(d.source);
    else if (d.kind !== 'tag') names.push(d.name);
  }
  return withInputs(names);
}

/** A query's pass over partitions, one at a time ({@link aggregateWalk}). */
interface AggregateWalk {
  /** Adds one partition's customers; throws BW_ERR_AGGREGATE_GROUPS or BW_ERR_AGGREGATE_DEADLINE. */
  add(view: PartitionView): void;
  result(): AggregatePartialJSON;
}

/**
 * Starts this worker's partial of an aggregate query. Throws BW_ERR_AGGREGATE_QUERY for a tag the
 * CRM does not define; `add` throws BW_ERR_AGGREGATE_GROUPS past the group limit and
 * BW_ERR_AGGREGATE_DEADLINE past `deadline` (epoch ms).
 */
function aggregateWalk(
  spec: AggregateSpec,
  tags: TagEvaluator,
  clock: 'wall' | 'event',
  deadline: number,
): AggregateWalk {
  for (const d of spec.group_by) {
    if (d.kind === 'tag' && tags.indexOf(d.tag) < 0) {
      const known = tags.tags.map((t) => t.id);
      throw new BellwetherError(
        'BW_ERR_AGGREGATE_QUERY',
        `group_by: no tag '${d.tag}'; tags: ${known.length > 0 ? known.join(', ') : '(none defined)'}`,
      );
    }
  }
  const filter = spec.filter === null ? null : compileExpression(spec.filter, 'filter');
  const acc = new AggregateAccumulator(spec);
  const filterNames = withInputs([...(filter?.names ?? [])]);
  const names = [...filterNames, ...namesRead(spec)];
  return {
    add({ state, crm }) {
      const now = state.now(clock);
      // The filter's features first, for every customer; the rest only for those it lets through.
      const filterPlan = state.table.plan(filterNames);
      const plan = state.table.plan(names);
      const cursor: PassCursor = { slot: 0, plan };
      const row = partitionRow(state, crm, tags, now, cursor);
      for (let slot = 0; slot < state.table.size; slot++) {
        if (slot % DEADLINE_STRIDE === DEADLINE_STRIDE - 1 && Date.now() > deadline)
          throw new BellwetherError(
            'BW_ERR_AGGREGATE_DEADLINE',
            `partition ${state.partition} was not done by the deadline`,
          );
        cursor.slot = slot;
        if (filter) {
          cursor.plan = filterPlan;
          if (!filter.evaluate(row.lookup)) continue;
          cursor.plan = plan;
        }
        acc.add(row);
      }
    },
    result: () => acc.toJSON(),
  };
}

/** This worker's partial of an aggregate query over `views`, in one go ({@link aggregateWalk}). */
export function aggregatePartial(
  spec: AggregateSpec,
  views: Iterable<PartitionView>,
  tags: TagEvaluator,
  clock: 'wall' | 'event',
  deadline: number,
): AggregatePartialJSON {
  const walk = aggregateWalk(spec, tags, clock, deadline);
  for (const view of views) walk.add(view);
  return walk.result();
}

/** This worker's partial of a daily query. */
export function dailyPartial(spec: DailySpec, views: Iterable<PartitionView>): DailyPartialJSON {
  const acc = new DailyAccumulator(spec);
  for (const { crm } of views) crm.daily.collect(spec, acc);
  return acc.toJSON();
}

/** A request for a worker's share of a population-wide aggregate (engine/pool/population.ts). */
export type PopulationQuery =
  | { op: 'aggregate'; spec: AggregateSpec; deadline: number }
  | { op: 'daily'; spec: DailySpec };

/**
 * This worker's partial of `q` over its partitions as they are now, in one pass (the caller makes
 * sure the batch in progress is scored first: queries.ts). The aggregate's pass is timed into
 * `bellwether_aggregate_pass_seconds`.
 */
export function populationPartial(
  q: PopulationQuery,
  views: Iterable<PartitionView>,
  tags: TagEvaluator,
  clock: 'wall' | 'event',
  pass: { observe(seconds: number): void },
): AggregatePartialJSON | DailyPartialJSON {
  if (q.op === 'daily') return dailyPartial(q.spec, views);
  const t0 = performance.now();
  try {
    return aggregatePartial(q.spec, views, tags, clock, q.deadline);
  } finally {
    pass.observe((performance.now() - t0) / 1000);
  }
}
