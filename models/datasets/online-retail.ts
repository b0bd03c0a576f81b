/**
 * Streams the UCI "Online Retail" CSV (gzip) as Bellwether events: one event per invoice.
 *
 * - Rows of one invoice (same InvoiceNo) become ONE event. The file keeps an invoice's rows together
 *   except in rare cases (one invoice in the whole file is split by two rows of another invoice), so
 *   an invoice stays open for the next few invoices and late rows of it are merged into it.
 * - InvoiceNo starting with `C` is a cancellation → `refund`, everything else → `purchase`.
 * - `amount` = Σ quantity × unit price rounded to cents; refunds report the positive magnitude.
 *   `quantity` = Σ |quantity|.
 * - `ts` = the earliest InvoiceDate of the invoice's rows. InvoiceDate is UK local time without a
 *   zone; it is read AS UTC (so summer dates are one hour late in absolute time). Features use
 *   1-day UTC buckets, so this only moves events between days around midnight.
 * - Rows without CustomerID are skipped (counted in `stats.skippedNoCustomer`).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { BellwetherError } from '../../contract/errors.js';

export interface RetailEvent {
  event_id: string;
  customer_id: string;
  type: 'purchase' | 'refund';
  /** Epoch ms (InvoiceDate read as UTC). */
  ts: number;
  /** Positive magnitude, to the cent. */
  amount: number;
  quantity: number;
}

export interface ReaderStats {
  /** Data rows read (header excluded). */
  rows: number;
  /** Rows skipped because CustomerID is empty. */
  skippedNoCustomer: number;
  /** Rows that could not be parsed (wrong field count, bad number or date). */
  malformed: number;
  /** Events emitted (one per invoice with a customer). */
  invoices: number;
  /** Rows merged into an invoice that had already been interrupted by another invoice. */
  lateRows: number;
}

export function emptyReaderStats(): ReaderStats {
  return { rows: 0, skippedNoCustomer: 0, malformed: 0, invoices: 0, lateRows: 0 };
}

/** How many other invoices may start before an open invoice is closed and emitted. */
const OPEN_INVOICES = 8;

const HEADER = [
  'InvoiceNo',
  'StockCode',
  'Description',
  'Quantity',
  'InvoiceDate',
  'UnitPrice',
  'CustomerID',
  'Country',
];

/** Splits one CSV line (RFC 4180 quoting: `"a,b"`, `""` inside quotes is one `"`). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line.charCodeAt(i) === 34 /* " */) {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          value += line.slice(i);
          i = n;
          break;
        }
        value += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 34) {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const comma = line.indexOf(',', i);
      // Characters between the closing quote and the comma are kept (lenient).
      value += comma < 0 ? line.slice(i) : line.slice(i, comma);
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

/** `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DDTHH:MM[:SS]`) read as UTC; NaN when malformed. */
export function parseInvoiceDate(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  if (!m) return Number.NaN;
  return Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
}

interface OpenInvoice {
  invoice: string;
  customer: string;
  ts: number;
  amount: number;
  quantity: number;
}

function toEvent(open: OpenInvoice, id: string): RetailEvent {
  const refund = open.invoice.startsWith('C');
  const cents = Math.round(open.amount * 100);
  return {
    event_id: id,
    customer_id: open.customer,
    type: refund ? 'refund' : 'purchase',
    ts: open.ts,
    amount: Math.abs(cents) / 100,
    quantity: open.quantity,
  };
}

export async function* readOnlineRetail(
  file: string,
  stats?: ReaderStats,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<RetailEvent> {
  const counts = stats ?? emptyReaderStats();
  const raw = createReadStream(file);
  if (onBytes) raw.on('data', (chunk) => onBytes(chunk.length));
  const input = raw.pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const open = new Map<string, OpenInvoice>();
  const emitted = new Map<string, number>();
  let current = '';
  let header = true;

  const close = (key: string): RetailEvent => {
    const inv = open.get(key)!;
    open.delete(key);
    const seen = emitted.get(inv.invoice) ?? 0;
    emitted.set(inv.invoice, seen + 1);
    counts.invoices++;
    return toEvent(inv, seen === 0 ? `or-${inv.invoice}` : `or-${inv.invoice}-${seen + 1}`);
  };

  try {
    for await (const raw of lines) {
      if (header) {
        header = false;
        const names = splitCsvLine(raw.replace(/^\uFEFF/, ''));
        if (names.join(',') !== HEADER.join(','))
          throw new BellwetherError(
            'BW_ERR_INPUT_FORMAT',
            `${file}: the header must be ${HEADER.join(',')}, got ${raw.slice(0, 200)}`,
          );
        continue;
      }
      if (raw.length === 0) continue;
      counts.rows++;
      const f = splitCsvLine(raw);
      if (f.length !== HEADER.length) {
        counts.malformed++;
        continue;
      }
      const customerText = f[6]!.trim();
      if (customerText === '') {
        counts.skippedNoCustomer++;
        continue;
      }
      const invoice = f[0]!.trim();
      const quantity = Number(f[3]);
      const price = Number(f[5]);
      const ts = parseInvoiceDate(f[4]!);
      const customerNumber = Number(customerText);
      if (!invoice || !Number.isFinite(quantity) || !Number.isFinite(price) || Number.isNaN(ts)) {
        counts.malformed++;
        continue;
      }
      // CustomerID may be written as a float ("17850.0"): normalise integers.
      const customer = Number.isInteger(customerNumber) ? String(customerNumber) : customerText;
      const key = `${invoice}\u0000${customer}`;
      let inv = open.get(key);
      if (inv === undefined) {
        inv = { invoice, customer, ts, amount: 0, quantity: 0 };
        open.set(key, inv);
        while (open.size > OPEN_INVOICES) yield close(open.keys().next().value!);
      } else if (key !== current) {
        counts.lateRows++;
      }
      current = key;
      if (ts < inv.ts) inv.ts = ts;
      inv.amount += quantity * price;
      inv.quantity += Math.abs(quantity);
    }
    while (open.size > 0) yield close(open.keys().next().value!);
  } finally {
    lines.close();
    input.destroy();
  }
}

/** All events of the file, sorted by `ts` (stable: file order among equal timestamps). */
export async function readAllSorted(file: string, stats?: ReaderStats): Promise<RetailEvent[]> {
  const events: RetailEvent[] = [];
  for await (const e of readOnlineRetail(file, stats)) events.push(e);
  return events.sort((a, b) => a.ts - b.ts);
}
