/**
 * One entry for the offline tools: a file in one of the input formats → its purchase/refund events
 * sorted by time, with the reader's counts.
 */
import { BellwetherError } from '../../contract/errors.js';
import { type CdnowStats, emptyCdnowStats, readCdnow } from './cdnow.js';
import { emptyNdjsonStats, type NdjsonStats, readNdjsonPurchases } from './ndjson.js';
import { emptyReaderStats, type ReaderStats, type RetailEvent, readOnlineRetail } from './online-retail.js';

const INPUT_FORMATS = ['online-retail', 'cdnow', 'ndjson'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

type LoadStats =
  | { format: 'online-retail'; stats: ReaderStats }
  | { format: 'cdnow'; stats: CdnowStats }
  | { format: 'ndjson'; stats: NdjsonStats };

export type LoadedEvents = LoadStats & { file: string; events: RetailEvent[] };

/**
 * The event types each input format's reader can yield: what a model trained on it was trained on
 * (its semantics, models/semantics.ts). Online Retail invoices are purchases or, cancelled (`C…`),
 * refunds; CDNOW lists purchases only; the NDJSON reader keeps purchases and refunds.
 */
export const FORMAT_EVENT_TYPES: Readonly<Record<InputFormat, readonly string[]>> = {
  'online-retail': ['purchase', 'refund'],
  cdnow: ['purchase'],
  ndjson: ['purchase', 'refund'],
};

/** `--format`, or a guess from the file name when it is not given (`.csv[.gz]`, `.txt[.gz]`, `.ndjson`/`.jsonl`). */
export function inputFormat(format: string | undefined, file: string): InputFormat {
  if (format !== undefined) {
    if ((INPUT_FORMATS as readonly string[]).includes(format)) return format as InputFormat;
    throw new BellwetherError('BW_ERR_CLI_USAGE', `unknown --format ${format} (${INPUT_FORMATS.join('|')})`);
  }
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv')) return 'online-retail';
  if (name.endsWith('.txt')) return 'cdnow';
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) return 'ndjson';
  throw new BellwetherError('BW_ERR_CLI_USAGE', `cannot tell the format of ${file}: pass --format`);
}

async function collect(source: AsyncIterable<RetailEvent>): Promise<RetailEvent[]> {
  const events: RetailEvent[] = [];
  for await (const e of source) events.push(e);
  return events.sort((a, b) => a.ts - b.ts);
}

/** All purchase/refund events of `file`, sorted by ts (stable); `onBytes` sees each chunk read (progress). */
export async function loadEvents(
  file: string,
  format: InputFormat,
  onBytes?: (bytes: number) => void,
): Promise<LoadedEvents> {
  switch (format) {
    case 'online-retail': {
      const stats = emptyReaderStats();
      return { format, file, stats, events: await collect(readOnlineRetail(file, stats, onBytes)) };
    }
    case 'cdnow': {
      const stats = emptyCdnowStats();
      return { format, file, stats, events: await collect(readCdnow(file, stats, onBytes)) };
    }
    case 'ndjson': {
      const stats = emptyNdjsonStats();
      return { format, file, stats, events: await collect(readNdjsonPurchases(file, stats, onBytes)) };
    }
  }
}
