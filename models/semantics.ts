/**
 * A model's feature semantics: the event types its training data held, and for each feature it reads
 * the event types that feature counted (operators/features/semantics.ts). Recorded in features.json
 * and card.json at training time ({@link datasetSemantics}); checked at load ({@link checkSemantics}):
 * the engine then feeds the model features over exactly those event types (a FeatureTable view), or
 * refuses it with BW_ERR_MODEL_SEMANTICS saying what is missing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BellwetherError } from '../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../contract/event-types.js';
import { countedEventTypes, normalEventTypes, viewKey } from '../operators/features/semantics.js';
import type { FeatureSpec, ModelSemantics } from './feature-spec.js';
import { listVersions, MODEL_NAMES } from './registry.js';

/** The features a spec reads: its inputs, then its population feature. */
export function specFeatures(spec: Pick<FeatureSpec, 'inputs' | 'population'>): string[] {
  const names = spec.inputs.map((i) => i.name);
  if (spec.population && !names.includes(spec.population.feature)) names.push(spec.population.feature);
  return names;
}

/** The semantics of features `features` computed from events of `eventTypes` only. */
export function modelSemantics(eventTypes: readonly string[], features: readonly string[]): ModelSemantics {
  const counted = countedEventTypes(eventTypes);
  const out: Record<string, string[]> = {};
  for (const name of features) {
    const types = counted[name];
    if (!types)
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `feature ${name} is not one of the engine's features: it has no semantics`,
      );
    out[name] = types;
  }
  return { event_types: normalEventTypes(eventTypes), features: out };
}

/**
 * The semantics to record for a model trained on rows of `buildDataset(events, cutoffs, options)`:
 * the rows fold only `options.eventTypes` (every type when absent), so those are the types the
 * training data held. Every trainer (train, train --from-stream) writes this into features.json and
 * card.json as `semantics`.
 */
export function datasetSemantics(
  options: { eventTypes?: readonly string[] },
  spec: Pick<FeatureSpec, 'inputs' | 'population'>,
): ModelSemantics {
  return modelSemantics(options.eventTypes ?? EVENT_TYPES, specFeatures(spec));
}

const list = (types: readonly string[]) => (types.length === 0 ? 'no event type' : types.join(', '));

/**
 * Checks that the engine's operators compute every feature `spec` reads with the semantics recorded
 * at training; returns the event types the model's features must be computed over. `version` is the
 * registry folder's (the version in use). Throws BW_ERR_MODEL_SEMANTICS naming what is missing.
 */
export function checkSemantics(spec: FeatureSpec, version: string): string[] {
  const who = `model ${spec.model} version ${version}`;
  const semantics = spec.semantics;
  if (!semantics)
    throw new BellwetherError(
      'BW_ERR_MODEL_SEMANTICS',
      `${who}: features.json records no semantics (the event types its training data held and what each input counted); retrain it, or add them as docs/models.md "Feature semantics" describes`,
      { data: { model: spec.model, version, missing: ['semantics'] } },
    );
  const unknown = semantics.event_types.filter((t) => eventTypeIndex(t) < 0);
  if (unknown.length > 0)
    throw new BellwetherError(
      'BW_ERR_MODEL_SEMANTICS',
      `${who}: trained on event types this engine does not know: ${unknown.join(', ')}`,
      { data: { model: spec.model, version, missing: unknown } },
    );
  const counted = countedEventTypes(semantics.event_types);
  const problems: string[] = [];
  for (const name of specFeatures(spec)) {
    const trained = semantics.features[name];
    const live = counted[name];
    if (trained === undefined) problems.push(`${name}: no recorded semantics`);
    else if (live === undefined) problems.push(`${name}: not computed by this engine`);
    else if (viewKey(trained) !== viewKey(live))
      problems.push(`${name}: trained counting ${list(trained)}, computed here counting ${list(live)}`);
  }
  if (problems.length > 0)
    throw new BellwetherError(
      'BW_ERR_MODEL_SEMANTICS',
      `${who} (trained on ${list(semantics.event_types)}): ${problems.join('; ')}`,
      { data: { model: spec.model, version, missing: problems } },
    );
  return normalEventTypes(semantics.event_types);
}

/**
 * The event-type sets the registry's models were trained on (every version of every model), each
 * in EVENT_TYPES order: the feature views a worker keeps so any of them can go live without a
 * restart. A version without readable semantics adds none (it is refused when loaded).
 */
export async function registryEventTypeSets(modelsDir: string): Promise<string[][]> {
  const sets = new Map<string, string[]>();
  for (const name of MODEL_NAMES)
    for (const version of await listVersions(modelsDir, name)) {
      try {
        const spec = JSON.parse(
          await readFile(path.join(modelsDir, name, version, 'features.json'), 'utf8'),
        ) as Partial<FeatureSpec>;
        const types = spec.semantics?.event_types;
        if (Array.isArray(types) && types.every((t) => eventTypeIndex(t) >= 0))
          sets.set(viewKey(types), normalEventTypes(types));
      } catch {
        // unreadable: loading it says why
      }
    }
  return [...sets.values()];
}
