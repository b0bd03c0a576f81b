/**
 * The input file of `dataset`, `train`, `eval` and `clv fit`, read with a progress bar over its bytes
 * (lib/progress.ts) and a summary line on stderr.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { startProgress } from '../lib/progress.js';
import { type InputFormat, type LoadedEvents, loadEvents } from '../models/datasets/load.js';

const MB = 1024 * 1024;

export async function loadInput(file: string, format: InputFormat): Promise<LoadedEvents> {
  const started = Date.now();
  const progress = startProgress({
    label: `read 读取 ${path.basename(file)}`,
    unit: 'MB',
    scale: MB,
    total: statSync(file).size,
  });
  let read = 0;
  const loaded = await loadEvents(file, format, (bytes) => {
    read += bytes;
    progress.update(read);
  });
  progress.stop(`${loaded.events.length} events`);
  process.stderr.write(
    `read ${path.basename(file)} (${loaded.format}): ${JSON.stringify(loaded.stats)} → ${loaded.events.length} events in ${Date.now() - started} ms\n`,
  );
  return loaded;
}
