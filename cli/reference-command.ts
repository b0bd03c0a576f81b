/**
 * Adds (or refreshes) `reference_distribution` in a model directory's card.json: the decile bins of
 * each model input and their shares over exactly the model's training rows (the card's training
 * cutoffs, features.json's inputs), for the drift monitor (docs/models.md, "Monitoring"). Models
 * trained since the monitor existed have it already (`train` writes it).
 *
 *   node dist/cli/reference-command.js --model models/churn/2 [--input ../shared/data/online_retail.csv.gz] [--format F]
 *
 * Only `reference_distribution` is written: every other field of the card is kept as it is.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BellwetherError } from '../contract/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { inputFormat, loadEvents } from '../models/datasets/load.js';
import type { FeatureSpec } from '../models/feature-spec.js';
import { matrixReference, trainingMatrix } from '../models/train/reference.js';

interface CardCutoffs {
  cutoffs?: { train?: string[] };
  rows?: { train?: { n?: number } };
}

export async function writeReference(modelDir: string, input: string, format?: string): Promise<string> {
  const cardFile = path.join(modelDir, 'card.json');
  const card = JSON.parse(await readFile(cardFile, 'utf8')) as Record<string, unknown> & CardCutoffs;
  const spec = JSON.parse(await readFile(path.join(modelDir, 'features.json'), 'utf8')) as FeatureSpec;
  const train = (card.cutoffs?.train ?? []).map((d) => Date.parse(d));
  if (train.length === 0 || train.some(Number.isNaN))
    throw new BellwetherError('BW_ERR_CLI_USAGE', `${cardFile}: no training cutoffs (cutoffs.train)`);
  const loaded = await loadEvents(input, inputFormat(format, input));
  const m = trainingMatrix(loaded.events, spec, train, card.rows?.train?.n);
  card['reference_distribution'] = matrixReference(
    m,
    spec.inputs.map((i) => i.name),
  );
  await writeFile(cardFile, `${JSON.stringify(card, null, 2)}\n`);
  return `${cardFile}: reference_distribution of ${spec.inputs.length} inputs over ${m.n} training rows`;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, input: { type: 'string' }, format: { type: 'string' } },
  });
  if (!values.model) throw new BellwetherError('BW_ERR_CLI_USAGE', '--model DIR is required');
  const input = values.input ?? path.resolve(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');
  process.stdout.write(`${await writeReference(path.resolve(values.model), input, values.format)}\n`);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof BellwetherError && err.code === 'BW_ERR_CLI_USAGE' ? 2 : 1);
  });
}
