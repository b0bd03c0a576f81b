/**
 * An operator is a small pure state transition over typed columns: `step` folds one event into a
 * customer's slot, `emit` writes the operator's features for that slot as of `now`. Neither does
 * I/O, allocates, or reads the clock: event time and `now` are passed in by the engine, which owns
 * windowing, lateness and watermarks. The same operators serve live traffic and build training data.
 */
import type { ColumnStore } from '../state/column-store.js';

/** What an operator sees of one event: plain numbers, no objects. */
export interface FoldInput {
  /** Index into EVENT_TYPES. */
  typeIndex: number;
  /** Event time, epoch ms. */
  ts: number;
  /** `amount`, 0 when absent. */
  amount: number;
}

export interface BoundOperator {
  step(slot: number, input: FoldInput): void;
  /** Writes this operator's features at `out[offset..]` in the order of `features`. */
  emit(slot: number, now: number, out: Float64Array, offset: number): void;
}

export interface Operator {
  readonly name: string;
  /** Feature names, in emit order. */
  readonly features: readonly string[];
  /** Event types whose events `step` wants; empty = every type. */
  readonly types: readonly string[];
  /**
   * The event types a feature counts when narrower than `types` (e.g. `purchases_lifetime` of an
   * operator that steps on every event): what a model card records of the feature (semantics.ts).
   */
  readonly featureTypes?: Readonly<Record<string, readonly string[]>>;
  bind(store: ColumnStore): BoundOperator;
}

/** A feature computed from other features' values (trends, ratios). */
export interface DerivedFeature {
  readonly name: string;
  readonly inputs: readonly string[];
  compute(inputs: Float64Array): number;
}
