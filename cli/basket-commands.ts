/**
 * `bellwether baskets eval [--input FILE] [--cutoff D] [--json]`: the next-best category against
 * popularity and bought-together on a time split of UCI Online Retail (models/baskets/evaluate.ts,
 * docs/analytics.md#evaluation). `--input` defaults to ../shared/data/online_retail.csv.gz beside
 * the package, `--cutoff` to 2011-09-01 (UTC). A table goes to stdout (JSON with --json).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BellwetherError } from '../contract/errors.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { BASKET_EVAL_METHODS, type BasketEvalReport, evaluateBaskets } from '../models/baskets/evaluate.js';
import { type LineStats, readRetailLines } from '../models/datasets/online-retail-lines.js';

const DEFAULT_INPUT = path.resolve(PACKAGE_ROOT, '../shared/data/online_retail.csv.gz');
const DEFAULT_CUTOFF = '2011-09-01';

function table(report: BasketEvalReport): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const rows = BASKET_EVAL_METHODS.map((m) => {
    const { all, novel } = report.methods[m];
    return `| ${m} | ${pct(all.hit_at_5)} | ${pct(all.hit_at_10)} | ${pct(novel.hit_at_5)} | ${pct(novel.hit_at_10)} |`;
  });
  const first = report.methods.next_best;
  return [
    `cutoff ${report.cutoff}: trained on ${report.train.lines} lines, ${report.train.baskets} baskets, ${report.train.customers} customers, ${report.categories} categories`,
    `evaluated: ${first.all.customers} customers (${first.novel.customers} with a category new to their last basket); ${report.target_categories_mean} categories per next basket`,
    '',
    '| method | hit@5 | hit@10 | hit@5 new | hit@10 new |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '| skus | hit@5 | hit@10 |',
    '|---|---|---|',
    ...(['next_best', 'popularity', 'bought_together'] as const).map(
      (m) => `| ${m} | ${pct(report.skus[m].hit_at_5)} | ${pct(report.skus[m].hit_at_10)} |`,
    ),
  ].join('\n');
}

export async function runBasketCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'eval')
    throw new BellwetherError('BW_ERR_CLI_USAGE', `baskets ${sub ?? ''}: only "baskets eval" exists`);
  let values: { input?: string; cutoff?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        input: { type: 'string' },
        cutoff: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', err instanceof Error ? err.message : String(err));
  }
  const file = values.input ? path.resolve(values.input) : DEFAULT_INPUT;
  if (!existsSync(file)) throw new BellwetherError('BW_ERR_CLI_USAGE', `--input ${file} does not exist`);
  const cutoffText = values.cutoff ?? DEFAULT_CUTOFF;
  const cutoff = Date.parse(`${cutoffText}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(cutoffText) || Number.isNaN(cutoff))
    throw new BellwetherError('BW_ERR_CLI_USAGE', `--cutoff ${cutoffText}: want YYYY-MM-DD`);
  const stats: LineStats = { rows: 0, lines: 0, skipped: 0 };
  const lines = await readRetailLines(file, stats);
  process.stderr.write(`read ${path.basename(file)}: ${JSON.stringify(stats)}\n`);
  const report = evaluateBaskets(lines, cutoff);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${table(report)}\n`);
}
