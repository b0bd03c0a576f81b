/**
 * A new model version (or CLV parameter version) on disk is picked up without a restart: a debounced
 * watch of the registry's directories. They are watched one by one, not recursively: Node 20's
 * recursive watch on Linux can throw when a watched subdirectory vanishes (a version written to a
 * temporary directory and renamed into place).
 */
import { watch } from 'node:fs';
import path from 'node:path';
import type { ShutdownSteps } from '../lib/shutdown-steps.js';
import { CLV_PARAMS_DIRNAME } from '../models/clv/params.js';
import { MODEL_NAMES } from '../models/registry.js';
import type { Logger } from './log.js';

/** Runs `onChange` one second after the last change under `modelsDir`. */
export function watchModelDirs(
  modelsDir: string,
  onChange: () => void,
  log: Logger,
  cleanups: ShutdownSteps,
): void {
  let debounce: NodeJS.Timeout | undefined;
  const changed = (): void => {
    clearTimeout(debounce);
    debounce = setTimeout(onChange, 1000);
  };
  for (const dir of [
    modelsDir,
    ...[...MODEL_NAMES, CLV_PARAMS_DIRNAME].map((n) => path.join(modelsDir, n)),
  ]) {
    try {
      const watcher = watch(dir, changed);
      watcher.on('error', (err) =>
        log.warn({ component: 'models', dir, err }, 'model directory watch failed'),
      );
      cleanups.push('model-watch', async () => {
        clearTimeout(debounce);
        watcher.close();
      });
    } catch (err) {
      log.debug({ component: 'models', dir, err }, 'model directory not watched');
    }
  }
}
