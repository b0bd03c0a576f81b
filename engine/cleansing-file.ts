/**
 * The cleansing rules of the engine (BW_CLEANSING_FILE, YAML or JSON; docs/cleansing.md), laid over
 * the built-in rules. Validated once in the main thread at start (every violation at once,
 * BW_ERR_CLEANSING_CONFIG: the engine does not start); workers compile the same plain definition.
 * The file is watched: a valid edit is sent to every worker, an invalid one logged and ignored.
 */
import { watch } from 'node:fs';
import path from 'node:path';
import type { ShutdownSteps } from '../lib/shutdown-steps.js';
import { type CleansingDefinition, loadCleansingRules } from '../operators/cleansing/rules.js';
import type { Logger } from './log.js';

export interface CleansingDefinitionSource {
  definition: CleansingDefinition;
  source: string;
}

/** Loads and validates the rules file (the built-in rules without one). */
export async function loadCleansingDefinition(file: string | undefined): Promise<CleansingDefinitionSource> {
  const rules = await loadCleansingRules(file);
  return { definition: rules.definition, source: rules.source };
}

/** Watches the rules file (its directory: editors replace files by renaming); `apply` gets each valid edit. */
export function watchCleansingFile(
  file: string | undefined,
  apply: (next: CleansingDefinitionSource) => Promise<void>,
  log: Logger,
  cleanups: ShutdownSteps,
): void {
  if (file === undefined) return;
  let debounce: NodeJS.Timeout | undefined;
  try {
    const watcher = watch(path.dirname(file), (_event, name) => {
      if (name !== path.basename(file)) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        loadCleansingDefinition(file)
          .then(apply)
          .then(() => log.info({ component: 'cleansing', file }, 'cleansing rules reloaded'))
          .catch((err: unknown) =>
            log.error(
              { component: 'cleansing', file, err },
              'cleansing rules rejected; keeping the previous ones',
            ),
          );
      }, 300);
    });
    watcher.on('error', (err) =>
      log.warn({ component: 'cleansing', file, err }, 'cleansing file watch failed'),
    );
    cleanups.push('cleansing-watch', async () => {
      clearTimeout(debounce);
      watcher.close();
    });
  } catch (err) {
    log.warn({ component: 'cleansing', file, err }, 'cannot watch the cleansing file');
  }
}
