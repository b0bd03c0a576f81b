/**
 * Summarises the .cpuprofile files of a directory (e.g. bench/results/profile-<timestamp>/ from
 * `npm run bench -- --profile`): self time per function and per module, per thread.
 *
 *   node dist/bench/profile-summary.js DIR [--top 20]
 */
import { parseArgs } from 'node:util';
import { formatProfiles, summariseDir } from './lib/profile.js';
import { numberArg, runMain } from './lib/report.js';

runMain(async () => {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: profile-summary.js DIR [--top N]');
  const top = numberArg(values.top, 'top', 15);
  process.stdout.write(`${formatProfiles(await summariseDir(dir, top), top)}\n`);
});
