/**
 * Per-customer feature state: a customer id → slot map over one ColumnStore, the bound operators,
 * and a dispatch table from event type to the operators that step on it. The live engine and the
 * offline dataset builder both use this class, so training and serving compute the same features.
 */
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { ColumnStore } from '../state/column-store.js';
import { DERIVED_FEATURES, FEATURE_OPERATORS } from './registry.js';
import { coversAllTypes, normalEventTypes, operatorTypes, viewKey } from './semantics.js';
import type { BoundOperator, DerivedFeature, FoldInput, Operator } from './types.js';

/** The operators and derived features some features need ({@link FeatureTable.plan}). */
export interface FeaturePlan {
  readonly ops: Int32Array;
  readonly derived: readonly unknown[];
}

interface BoundDerived {
  readonly feature: DerivedFeature;
  readonly inputs: Int32Array;
  readonly at: number;
}

export class FeatureTable {
  readonly store: ColumnStore;
  readonly names: readonly string[];
  readonly #slots = new Map<string, number>();
  readonly #ids: string[] = [];
  readonly #bound: BoundOperator[];
  /** Bound operators of each view (0 = every event type): an operator a view leaves alone is the root's. */
  readonly #boundBy: BoundOperator[][];
  readonly #viewKeys: string[] = [''];
  readonly #offsets: number[];
  readonly #dispatch: BoundOperator[][];
  readonly #derived: BoundDerived[];
  readonly #scratch: Float64Array;

  /**
   * @param views event-type subsets to keep features over as well (a model trained on such a subset
   *   reads them, {@link viewOf}): each view re-binds, in a scope of the same store, the operators
   *   that step on a type outside its subset, and folds into them only the subset's events. Operators
   *   whose types all lie inside the subset see the same events either way and are shared.
   */
  constructor(
    operators: readonly Operator[] = FEATURE_OPERATORS,
    derived: readonly DerivedFeature[] = DERIVED_FEATURES,
    initialCapacity = 1024,
    views: readonly (readonly string[])[] = [],
  ) {
    this.store = new ColumnStore(initialCapacity);
    this.#bound = operators.map((op) => op.bind(this.store));
    this.#boundBy = [this.#bound];
    const names: string[] = [];
    this.#offsets = [];
    for (const op of operators) {
      this.#offsets.push(names.length);
      names.push(...op.features);
    }
    this.#dispatch = EVENT_TYPES.map(() => []);
    operators.forEach((op, i) => {
      const bound = this.#bound[i]!;
      const types = op.types.length === 0 ? EVENT_TYPES : op.types;
      for (const t of types) this.#dispatch[eventTypeIndex(t)]!.push(bound);
    });
    for (const view of views) {
      if (coversAllTypes(view)) continue;
      const key = viewKey(view);
      if (this.#viewKeys.includes(key)) continue;
      const subset = new Set(normalEventTypes(view));
      const scope = this.store.scoped(key);
      this.#viewKeys.push(key);
      this.#boundBy.push(
        operators.map((op, i) => {
          const types = operatorTypes(op);
          if (types.every((t) => subset.has(t))) return this.#bound[i]!;
          const bound = op.bind(scope);
          for (const t of types) if (subset.has(t)) this.#dispatch[eventTypeIndex(t)]!.push(bound);
          return bound;
        }),
      );
    }
    const index = new Map(names.map((n, i) => [n, i]));
    this.#derived = derived.map((feature, k) => {
      const inputs = Int32Array.from(feature.inputs, (name) => {
        const at = index.get(name);
        if (at === undefined)
          throw new BellwetherError(
            'BW_ERR_FEATURE_DEFINITION',
            `derived feature ${feature.name} reads ${name}: inputs must be features of the operators`,
          );
        return at;
      });
      return { feature, inputs, at: names.length + k };
    });
    for (const d of derived) names.push(d.name);
    const twice = names.filter((n, i) => names.indexOf(n) !== i);
    if (twice.length > 0)
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `feature names must be unique: ${[...new Set(twice)].join(', ')} declared twice`,
      );
    this.names = names;
    this.#scratch = new Float64Array(Math.max(1, ...derived.map((d) => d.inputs.length)));
  }

  /** The views kept besides the full features, by name ({@link viewKey}). */
  get views(): readonly string[] {
    return this.#viewKeys.slice(1);
  }

  /**
   * The view whose features count exactly `types` (0: the full features, when `types` holds every
   * type), or -1 when this table keeps no such view.
   */
  viewOf(types: readonly string[]): number {
    if (coversAllTypes(types)) return 0;
    const at = this.#viewKeys.indexOf(viewKey(types));
    return at > 0 ? at : -1;
  }

  get size(): number {
    return this.#ids.length;
  }

  slotOf(customerId: string): number | undefined {
    return this.#slots.get(customerId);
  }

  /** The slot of a customer, allocated on first sight. */
  slotFor(customerId: string): number {
    let slot = this.#slots.get(customerId);
    if (slot === undefined) {
      slot = this.#ids.length;
      this.store.ensure(slot);
      this.#ids.push(customerId);
      this.#slots.set(customerId, slot);
    }
    return slot;
  }

  /** Customer ids in slot order (for checkpoints). */
  ids(): readonly string[] {
    return this.#ids;
  }

  /** Re-creates the id → slot map of a restored table; columns are restored by the caller. */
  restoreIds(ids: readonly string[]): void {
    if (this.#ids.length > 0)
      throw new BellwetherError(
        'BW_ERR_INTERNAL',
        `restoreIds needs an empty table, this one holds ${this.#ids.length} customers`,
      );
    if (ids.length > 0) this.store.ensure(ids.length - 1);
    for (const id of ids) {
      this.#slots.set(id, this.#ids.length);
      this.#ids.push(id);
    }
  }

  /**
   * Forgets the customer in `slot`: the last slot's customer moves into it (so slots stay dense)
   * and is returned with its old slot, or undefined when `slot` was the last one.
   */
  remove(slot: number): { moved: string; from: number } | undefined {
    const last = this.#ids.length - 1;
    const id = this.#ids[slot];
    if (id === undefined)
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `slot must be an integer in [0, ${this.#ids.length - 1}], got ${slot}`,
      );
    this.#slots.delete(id);
    let moved: { moved: string; from: number } | undefined;
    if (slot !== last) {
      const movedId = this.#ids[last]!;
      this.store.moveSlot(last, slot);
      this.#ids[slot] = movedId;
      this.#slots.set(movedId, slot);
      moved = { moved: movedId, from: last };
    }
    this.#ids.pop();
    this.store.clear(last);
    return moved;
  }

  idOf(slot: number): string {
    return this.#ids[slot]!;
  }

  fold(slot: number, input: FoldInput): void {
    const ops = this.#dispatch[input.typeIndex];
    if (!ops) return;
    for (let i = 0; i < ops.length; i++) ops[i]!.step(slot, input);
  }

  /**
   * Writes the full feature vector of `slot` at `now` into `out[offset .. offset + names.length)`,
   * over the events of view `view` ({@link viewOf}; 0, the default, is every event).
   */
  features(slot: number, now: number, out: Float64Array, offset = 0, view = 0): void {
    const bound = this.#boundBy[view]!;
    for (let i = 0; i < bound.length; i++) bound[i]!.emit(slot, now, out, offset + this.#offsets[i]!);
    const scratch = this.#scratch;
    for (const d of this.#derived) {
      for (let k = 0; k < d.inputs.length; k++) scratch[k] = out[offset + d.inputs[k]!]!;
      out[offset + d.at] = d.feature.compute(scratch);
    }
  }

  /**
   * What computing only the features `names` takes: their operators, and the derived features among
   * them with their inputs' operators. Unknown names are left out.
   */
  plan(names: Iterable<string>): FeaturePlan {
    const wanted = new Set(names);
    const ops = new Set<number>();
    const operatorOf = (at: number): number => {
      let op = 0;
      while (op + 1 < this.#offsets.length && this.#offsets[op + 1]! <= at) op++;
      return op;
    };
    const derived: BoundDerived[] = [];
    this.names.forEach((name, at) => {
      if (!wanted.has(name)) return;
      const d = this.#derived.find((x) => x.at === at);
      if (d) {
        derived.push(d);
        for (const input of d.inputs) ops.add(operatorOf(input));
      } else ops.add(operatorOf(at));
    });
    return { ops: Int32Array.from([...ops].sort((a, b) => a - b)), derived };
  }

  /** Like {@link features}, but only what `plan` names is written (the rest of `out` is left as is). */
  planned(plan: FeaturePlan, slot: number, now: number, out: Float64Array, view = 0): void {
    const ops = plan.ops;
    const bound = this.#boundBy[view]!;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      bound[op]!.emit(slot, now, out, this.#offsets[op]!);
    }
    const scratch = this.#scratch;
    for (const d of plan.derived as BoundDerived[]) {
      for (let k = 0; k < d.inputs.length; k++) scratch[k] = out[d.inputs[k]!]!;
      out[d.at] = d.feature.compute(scratch);
    }
  }

  /** Features of `slot` as a name → value record (NaN → null), for answers and tests. */
  featureRecord(slot: number, now: number): Record<string, number | null> {
    const out = new Float64Array(this.names.length);
    this.features(slot, now, out);
    return this.recordOf(out);
  }

  /**
   * A feature vector as a name → value record: a value that is not finite is null (NaN is "does not
   * exist"; an infinity cannot come from bounded events, and must never reach a JSON answer).
   */
  recordOf(vector: Float64Array): Record<string, number | null> {
    const record: Record<string, number | null> = {};
    this.names.forEach((name, i) => {
      const v = vector[i]!;
      record[name] = Number.isFinite(v) ? v : null;
    });
    return record;
  }
}
