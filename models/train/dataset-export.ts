/**
 * Writes point-in-time rows (dataset.ts) as NDJSON or CSV: `customer_id, cutoff (ISO), <every
 * feature>, churn, intent`. Missing features (NaN) are `null` in NDJSON and empty in CSV.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { type DatasetRow, datasetFeatureNames } from './dataset.js';

export type DatasetFileFormat = 'ndjson' | 'csv';

/** CSV when the name ends in `.csv`, NDJSON otherwise. */
function datasetFileFormat(file: string): DatasetFileFormat {
  return file.toLowerCase().endsWith('.csv') ? 'csv' : 'ndjson';
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One output line (with its newline) of `row`. */
function formatDatasetRow(row: DatasetRow, format: DatasetFileFormat): string {
  const names = datasetFeatureNames();
  const cutoff = new Date(row.cutoff).toISOString();
  if (format === 'csv') {
    const values = Array.from(row.features, (v) => (Number.isNaN(v) ? '' : String(v)));
    return `${[csvField(row.customer_id), cutoff, ...values, row.churn, row.intent].join(',')}\n`;
  }
  const record: Record<string, string | number | null> = { customer_id: row.customer_id, cutoff };
  names.forEach((name, i) => {
    const v = row.features[i]!;
    record[name] = Number.isNaN(v) ? null : v;
  });
  record['churn'] = row.churn;
  record['intent'] = row.intent;
  return `${JSON.stringify(record)}\n`;
}

async function writeAll(
  out: Writable,
  rows: readonly DatasetRow[],
  format: DatasetFileFormat,
): Promise<void> {
  if (format === 'csv') {
    out.write(`${['customer_id', 'cutoff', ...datasetFeatureNames(), 'churn', 'intent'].join(',')}\n`);
  }
  for (const row of rows) {
    if (!out.write(formatDatasetRow(row, format))) await once(out, 'drain');
  }
}

/** Writes `rows` to `file` (`-` = stdout) in the format its name implies. */
export async function writeDataset(file: string, rows: readonly DatasetRow[]): Promise<DatasetFileFormat> {
  if (file === '-') {
    await writeAll(process.stdout, rows, 'ndjson');
    return 'ndjson';
  }
  const format = datasetFileFormat(file);
  const out = createWriteStream(file, { mode: 0o600 }); // customers' features: the owner's only
  try {
    await writeAll(out, rows, format);
  } finally {
    out.end();
  }
  await once(out, 'close');
  return format;
}
