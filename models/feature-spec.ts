/**
 * The feature spec stored beside a model (`features.json`): which features the model reads, in
 * which order, and how each is turned into a model input (fill for missing, log1p or not, then
 * standardised with the training mean and standard deviation).
 */
import { type Static, Type } from '@sinclair/typebox';
import { BellwetherError } from '../contract/errors.js';

const FeatureInputSchema = Type.Object({
  name: Type.String(),
  transform: Type.Union([Type.Literal('identity'), Type.Literal('log1p')]),
  /** Value used when the feature is missing (NaN), before the transform. */
  fill: Type.Number(),
  /** Inputs are clipped to [min, max] before the transform. */
  min: Type.Number(),
  max: Type.Number(),
  mean: Type.Number(),
  std: Type.Number({ exclusiveMinimum: 0 }),
});

/**
 * The customers a model was trained on: rows whose `feature` is below `min` are outside it and get
 * no score (e.g. churn is defined for customers with at least one purchase).
 */
const PopulationSchema = Type.Object({ feature: Type.String(), min: Type.Number() });

/**
 * What the training data meant (models/semantics.ts): the event types it held, and for each feature
 * the model reads (inputs and population) the event types that feature counted. The engine feeds the
 * model features over exactly these types, or refuses it (BW_ERR_MODEL_SEMANTICS).
 */
const ModelSemanticsSchema = Type.Object({
  event_types: Type.Array(Type.String(), { minItems: 1 }),
  features: Type.Record(Type.String(), Type.Array(Type.String())),
});

export const FeatureSpecSchema = Type.Object({
  model: Type.String(),
  /** The version the trainer wrote; the registry folder's name is the version in use (registry.ts). */
  version: Type.String(),
  label: Type.String(),
  inputs: Type.Array(FeatureInputSchema, { minItems: 1 }),
  population: Type.Optional(PopulationSchema),
  semantics: Type.Optional(ModelSemanticsSchema),
});

export type ModelSemantics = Static<typeof ModelSemanticsSchema>;

export type FeatureInput = Static<typeof FeatureInputSchema>;
export type FeatureSpec = Static<typeof FeatureSpecSchema>;

/** Maps one feature value to the model input of `input`. */
export function transformValue(input: FeatureInput, value: number): number {
  let v = Number.isNaN(value) ? input.fill : value;
  if (v < input.min) v = input.min;
  else if (v > input.max) v = input.max;
  if (input.transform === 'log1p') v = Math.sign(v) * Math.log1p(Math.abs(v));
  return (v - input.mean) / input.std;
}

/** Positions of the spec's inputs in a full feature vector named by `names`. */
export function inputIndexes(spec: FeatureSpec, names: readonly string[]): Int32Array {
  const index = new Map(names.map((n, i) => [n, i]));
  return Int32Array.from(spec.inputs, (input) => {
    const at = index.get(input.name);
    if (at === undefined)
      throw new BellwetherError(
        'BW_ERR_MODEL_SHAPE',
        `model ${spec.model} ${spec.version}: input ${input.name} is not one of the ${names.length} features computed here`,
      );
    return at;
  });
}
