import { fileLines } from '../../lib/file-lines.js';
import type { RetailEvent } from './online-retail.js';

export interface CdnowStats {
  /** Non-blank lines read. */
  rows: number;
  /** Lines that could not be parsed. */
  malformed: number;
  /** Purchases emitted. */
  events: number;
}

export function emptyCdnowStats(): CdnowStats {
  return { rows: 0, malformed: 0, events: 0 };
}

export interface CdnowLine {
  customer: string;
  /** The date as written, YYYYMMDD. */
  date: string;
  ts: number;
  quantity: number;
  amount: number;
}

/** `YYYYMMDD` → UTC midnight (epoch ms); NaN unless a real calendar date. */
export function parseCdnowDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (!m) return Number.NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ts = Date.UTC(y, mo - 1, d);
  const back = new Date(ts);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d
    ? ts
    : Number.NaN;
}

/** One line of the 4- or 5-column layout; undefined when it does not parse. */
export function parseCdnowLine(line: string): CdnowLine | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length !== 4 && f.length !== 5) return undefined;
  const [id, date, quantityText, amountText] = f.length === 4 ? f : [f[0], f[2], f[3], f[4]];
  if (!id || !date || quantityText === undefined || amountText === undefined) return undefined;
  const ts = parseCdnowDate(date);
  const quantity = Number(quantityText);
  const amount = Number(amountText);
  if (Number.isNaN(ts) || !(quantity >= 0) || !Number.isFinite(quantity)) return undefined;
  if (!(amount >= 0) || !Number.isFinite(amount)) return undefined;
  const customer = /^\d+$/.test(id) ? String(Number(id)) : id;
  return { customer, date, ts, quantity, amount: Math.round(amount * 100) / 100 };
}

export async function* readCdnow(
  file: string,
  stats?: CdnowStats,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<RetailEvent> {
  const counts = stats ?? emptyCdnowStats();
  const lines = fileLines(file, onBytes);
  let lineNo = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      if (raw.trim() === '') continue;
      counts.rows++;
      const line = parseCdnowLine(raw);
      if (!line) {
        counts.malformed++;
        continue;
      }
      counts.events++;
      yield {
        event_id: `cd-${line.customer}-${line.date}-${lineNo}`,
        customer_id: line.customer,
        type: 'purchase',
        ts: line.ts,
        amount: line.amount,
        quantity: line.quantity,
      };
    }
  } finally {
    lines.close();
  }
}

/** All purchases of the file sorted by `ts` (stable: file order among equal days). */
export async function readCdnowSorted(file: string, stats?: CdnowStats): Promise<RetailEvent[]> {
  const events: RetailEvent[] = [];
  for await (const e of readCdnow(file, stats)) events.push(e);
  return events.sort((a, b) => a.ts - b.ts);
}
