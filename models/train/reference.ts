/**
 * The reference distribution of a model's inputs (card.json `reference_distribution`, docs/models.md
 * "Monitoring"): over exactly the model's training rows (the card's training cutoffs, the inputs of
 * its features.json), as the model sees them. `train` writes it into new cards; `referenceForCard`
 * recomputes it for a model directory trained before it existed (cli/reference-command.ts).
 */
import { BellwetherError } from '../../contract/errors.js';
import type { FeatureSpec } from '../feature-spec.js';
import { type ReferenceBins, referenceDistribution } from '../monitor-metrics.js';
import { buildDataset, type DatasetEvent, datasetFeatureNames, type Matrix, toMatrix } from './dataset.js';

/** The reference distribution of the inputs of a matrix of model inputs (row-major, `inputs` wide). */
export function matrixReference(m: Matrix, inputs: readonly string[]): Record<string, ReferenceBins> {
  return referenceDistribution(m.x, m.n, inputs);
}

/**
 * The training matrix of a model from its card's training cutoffs and its spec; throws
 * BW_ERR_INVALID_ARGUMENT when the row count differs from the card's `rows.train.n` (other data).
 */
export function trainingMatrix(
  events: readonly DatasetEvent[],
  spec: FeatureSpec,
  trainCutoffs: readonly number[],
  expectedRows: number | undefined,
): Matrix {
  // Over the event types the model was trained on (its semantics), as its training rows were.
  const eventTypes = spec.semantics?.event_types;
  const rows = buildDataset(events, trainCutoffs, eventTypes ? { eventTypes } : {});
  const names = datasetFeatureNames();
  const at = Int32Array.from(spec.inputs, (i) => names.indexOf(i.name));
  const label = spec.model === 'churn' ? 'churn' : 'intent';
  const m = toMatrix(rows, spec.inputs, at, label);
  if (expectedRows !== undefined && m.n !== expectedRows)
    throw new BellwetherError(
      'BW_ERR_INVALID_ARGUMENT',
      `the card's training cutoffs give ${m.n} rows on this data, the card says ${expectedRows}: not the data the model was trained on`,
    );
  return m;
}
