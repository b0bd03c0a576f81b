import { BellwetherError } from '../../contract/errors.js';
import { parseEventTime } from '../../contract/event-parse.js';
import { fileLines } from '../../lib/file-lines.js';
import type { RetailEvent } from './online-retail.js';

export interface NdjsonStats {
  /** Non-blank lines read. */
  rows: number;
  /** Events of other types, skipped. */
  otherTypes: number;
  /** Purchases/refunds without customer_id or with a bad ts. */
  malformed: number;
  /** Purchases and refunds emitted. */
  events: number;
}

export function emptyNdjsonStats(): NdjsonStats {
  return { rows: 0, otherTypes: 0, malformed: 0, events: 0 };
}

export async function* readNdjsonPurchases(
  file: string,
  stats?: NdjsonStats,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<RetailEvent> {
  const counts = stats ?? emptyNdjsonStats();
  const lines = fileLines(file, onBytes);
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      counts.rows++;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new BellwetherError('BW_ERR_INPUT_FORMAT', `${file}:${lineNo} is not JSON`);
      }
      if (typeof e !== 'object' || e === null) {
        throw new BellwetherError('BW_ERR_INPUT_FORMAT', `${file}:${lineNo} is not a JSON object`);
      }
      if (e['type'] !== 'purchase' && e['type'] !== 'refund') {
        counts.otherTypes++;
        continue;
      }
      const customer = e['customer_id'];
      const ts =
        typeof e['ts'] === 'string' || typeof e['ts'] === 'number' ? parseEventTime(e['ts']) : Number.NaN;
      if (typeof customer !== 'string' || customer === '' || Number.isNaN(ts)) {
        counts.malformed++;
        continue;
      }
      const amount = Number(e['amount'] ?? 0);
      const quantity = Number(e['quantity'] ?? 0);
      counts.events++;
      yield {
        event_id: typeof e['event_id'] === 'string' ? e['event_id'] : `nd-${lineNo}`,
        customer_id: customer,
        type: e['type'],
        ts,
        amount: Number.isFinite(amount) ? Math.abs(amount) : 0,
        quantity: Number.isFinite(quantity) ? Math.abs(quantity) : 0,
      };
    }
  } finally {
    lines.close();
  }
}
