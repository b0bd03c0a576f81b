/**
 * The data of a training run: the cutoffs checked against each other and the data, the
 * point-in-time rows (dataset.ts) split by cutoff into training, validation and test, the inputs
 * chosen on the training rows, and the three matrices of model inputs and labels.
 */
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS } from '../../contract/time.js';
import type { FeatureInput } from '../feature-spec.js';
import {
  buildDataset,
  CHURN_DAYS,
  chooseInputs,
  type DatasetEvent,
  type DatasetRow,
  datasetFeatureNames,
  INTENT_DAYS,
  type Matrix,
  toMatrix,
} from './dataset.js';

export interface SplitOptions {
  model: 'churn' | 'intent';
  /** Sorted by ts. */
  events: readonly DatasetEvent[];
  trainCutoffs: readonly number[];
  validationCutoff: number;
  testCutoff: number;
  /** The event types folded into the features (dataset.ts `eventTypes`; default every type). */
  eventTypes?: readonly string[];
}

export interface TrainingSplits {
  /** The training cutoffs, ascending. */
  trainCutoffs: number[];
  /** Time of the last event (-Infinity without events). */
  lastTs: number;
  /** Every feature of a row, in vector order, and each one's position. */
  names: readonly string[];
  index: Map<string, number>;
  inputs: FeatureInput[];
  testRows: DatasetRow[];
  /** The validation cutoff's rows (reference models with other inputs are scored on them). */
  valRows: DatasetRow[];
  train: Matrix;
  val: Matrix;
  test: Matrix;
}

const iso = (t: number) => new Date(t).toISOString();

/** Throws BW_ERR_CLI_USAGE when the cutoffs do not fit each other or the data. */
export function trainingSplits(o: SplitOptions, log: (line: string) => void): TrainingSplits {
  const horizonMs = (o.model === 'churn' ? CHURN_DAYS : INTENT_DAYS) * DAY_MS;
  const trainCutoffs = [...o.trainCutoffs].sort((a, b) => a - b);
  const lastTrain = trainCutoffs.at(-1);
  if (lastTrain === undefined)
    throw new BellwetherError('BW_ERR_CLI_USAGE', 'at least one training cutoff is needed');
  if (!(lastTrain < o.validationCutoff && o.validationCutoff < o.testCutoff)) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `cutoffs must be ordered train < validation < test, got last train ${iso(lastTrain)}, validation ${iso(o.validationCutoff)}, test ${iso(o.testCutoff)}`,
    );
  }
  const lastTs = o.events.at(-1)?.ts ?? Number.NEGATIVE_INFINITY;
  if (o.testCutoff + horizonMs > lastTs) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `the test cutoff ${iso(o.testCutoff)}: its label window must end by the last event ${Number.isFinite(lastTs) ? iso(lastTs) : '(none)'}, so the test cutoff must be at most ${Math.round(horizonMs / DAY_MS)} days before it`,
    );
  }

  log(`${o.model}: building point-in-time rows for ${trainCutoffs.length + 2} cutoffs`);
  const rows = buildDataset(
    o.events,
    [...trainCutoffs, o.validationCutoff, o.testCutoff],
    o.eventTypes ? { eventTypes: o.eventTypes } : {},
  );
  const names = datasetFeatureNames();
  const trainRows = rows.filter((r) => r.cutoff <= lastTrain);
  const valRows = rows.filter((r) => r.cutoff === o.validationCutoff);
  const testRows = rows.filter((r) => r.cutoff === o.testCutoff);
  if (trainRows.length === 0 || valRows.length === 0 || testRows.length === 0) {
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `every split needs customers with a purchase before its cutoff, got rows train ${trainRows.length}, validation ${valRows.length}, test ${testRows.length}`,
    );
  }

  const inputs = chooseInputs(trainRows, names);
  if (inputs.length === 0)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      'no feature varies in the training rows: the training cutoffs need more data',
    );
  const index = new Map(names.map((n, i) => [n, i]));
  const at = Int32Array.from(inputs, (i) => index.get(i.name)!);
  const train = toMatrix(trainRows, inputs, at, o.model);
  const val = toMatrix(valRows, inputs, at, o.model);
  const test = toMatrix(testRows, inputs, at, o.model);
  log(`${o.model}: ${inputs.length} inputs; rows train ${train.n}, validation ${val.n}, test ${test.n}`);
  return { trainCutoffs, lastTs, names, index, inputs, testRows, valRows, train, val, test };
}
