/**
 * Before the engine starts anything: the settings only the start can check (a personal name
 * declared plain), and the data directory made the engine's own (docs/security.md#file-permissions).
 */
import { privateDir, tightenEntries } from '../lib/private-files.js';
import { ProfilePolicy } from '../security/pii-policy.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

/**
 * What the engine writes in its data directory (tightened to 0700/0600 on start): checkpoints,
 * the embedded nats-server's files and store, the audit log's default place, the generated PII key.
 * Anything else there is the user's and is left alone.
 */
const DATA_DIR_ENTRIES = ['checkpoints', 'nats', 'audit', 'pii.key'] as const;

export async function prepareDataDir(config: Config, log: Logger): Promise<void> {
  // A personal name declared plain (BW_PROFILE_PLAIN_FIELDS=phone) stops the start here, not in a worker.
  new ProfilePolicy(config.profilePlainFields);
  // The data directory is the engine's own: 0700 (unless it is a shared one such as /tmp), and
  // what an earlier version left readable by others among the entries the engine writes there
  // (0755 directories, 0644 checkpoints) is taken back before anything is written.
  if (!(await privateDir(config.dataDir)))
    log.warn(
      { dir: config.dataDir },
      'data directory is shared or not this user’s: its mode is left as it is',
    );
  const tightened = await tightenEntries(config.dataDir, DATA_DIR_ENTRIES);
  if (tightened > 0)
    log.warn(
      { dir: config.dataDir, entries: tightened },
      'data directory permissions tightened to 0700/0600',
    );
}
