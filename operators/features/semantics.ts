/**
 * Feature semantics: which event types each feature counts when only some event types are folded
 * (a model trained on purchase-only data saw `events_24h` count purchases and refunds, not page
 * views). The live engine keeps a view of the features over such a subset (feature-table.ts), and
 * a model card records the result of {@link countedEventTypes} for its inputs (models/semantics.ts).
 */
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { DERIVED_FEATURES, FEATURE_OPERATORS } from './registry.js';
import type { DerivedFeature, Operator } from './types.js';

/** Event types in EVENT_TYPES order, each once; throws BW_ERR_FEATURE_DEFINITION on an unknown type. */
export function normalEventTypes(types: Iterable<string>): string[] {
  const wanted = new Set(types);
  for (const t of wanted)
    if (eventTypeIndex(t) < 0)
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `unknown event type ${t}: types must be among the ${EVENT_TYPES.length} of docs/events.md`,
      );
  return EVENT_TYPES.filter((t) => wanted.has(t));
}

/** Whether `types` holds every event type (features over them are the engine's full features). */
export function coversAllTypes(types: readonly string[]): boolean {
  return normalEventTypes(types).length === EVENT_TYPES.length;
}

/** The name of a view over `types`: the types in EVENT_TYPES order joined by `+`. */
export function viewKey(types: readonly string[]): string {
  return normalEventTypes(types).join('+');
}

/** The event types an operator steps on (its `types`, or every type when empty). */
export function operatorTypes(op: Operator): readonly string[] {
  return op.types.length === 0 ? EVENT_TYPES : op.types;
}

/**
 * Feature name → the event types it counts when only `eventTypes` are folded, in EVENT_TYPES order
 * (an empty list: the feature counts none of them and stays at its empty value). A derived feature
 * counts what its inputs count.
 */
export function countedEventTypes(
  eventTypes: readonly string[],
  operators: readonly Operator[] = FEATURE_OPERATORS,
  derived: readonly DerivedFeature[] = DERIVED_FEATURES,
): Record<string, string[]> {
  const folded = new Set(normalEventTypes(eventTypes));
  const out: Record<string, string[]> = {};
  for (const op of operators)
    for (const feature of op.features) {
      const types = op.featureTypes?.[feature] ?? operatorTypes(op);
      out[feature] = normalEventTypes(types.filter((t) => folded.has(t)));
    }
  for (const d of derived) out[d.name] = normalEventTypes(d.inputs.flatMap((name) => out[name] ?? []));
  return out;
}
