/**
 * The UCI "Online Retail" CSV (gzip) line by line, as basket lines: one per row of a sale
 * (InvoiceNo not starting with `C`) with a CustomerID, a stock code that is goods
 * (retail-categories.ts `isGoods`) and a positive quantity. InvoiceNo is the basket (order) key,
 * StockCode the sku, and the category comes from the description by the keyword table of
 * retail-categories.ts. `ts` is InvoiceDate read as UTC, like online-retail.ts.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parseInvoiceDate, splitCsvLine } from './online-retail.js';
import { categoryOf, isGoods } from './retail-categories.js';

export interface RetailLine {
  invoice: string;
  customer: string;
  ts: number;
  sku: string;
  category: string;
}

export interface LineStats {
  rows: number;
  lines: number;
  /** Rows left out: no customer, a cancellation, not goods, quantity ≤ 0, or malformed. */
  skipped: number;
}

export async function readRetailLines(file: string, stats?: LineStats): Promise<RetailLine[]> {
  const counts = stats ?? { rows: 0, lines: 0, skipped: 0 };
  const input = createReadStream(file).pipe(createGunzip());
  const rows = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const out: RetailLine[] = [];
  const categories = new Map<string, string>();
  let header = true;
  try {
    for await (const raw of rows) {
      if (header) {
        header = false;
        continue;
      }
      if (raw.length === 0) continue;
      counts.rows++;
      const f = splitCsvLine(raw);
      const invoice = f[0]?.trim() ?? '';
      const sku = f[1]?.trim() ?? '';
      const customerText = f[6]?.trim() ?? '';
      const ts = parseInvoiceDate(f[4] ?? '');
      if (
        f.length !== 8 ||
        !invoice ||
        invoice.startsWith('C') ||
        !customerText ||
        !isGoods(sku) ||
        !(Number(f[3]) > 0) ||
        Number.isNaN(ts)
      ) {
        counts.skipped++;
        continue;
      }
      const customerNumber = Number(customerText);
      const customer = Number.isInteger(customerNumber) ? String(customerNumber) : customerText;
      // A stock code keeps the category of its first description (a few codes change wording).
      let category = categories.get(sku);
      if (category === undefined) categories.set(sku, (category = categoryOf(f[2] ?? '')));
      out.push({ invoice, customer, ts, sku, category });
      counts.lines++;
    }
  } finally {
    rows.close();
    input.destroy();
  }
  return out;
}
