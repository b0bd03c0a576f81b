/**
 * How a command line tool (`tail`, `replay`, `dlq read`) reaches NATS. With BW_NATS_URL set, or
 * with credentials configured (BW_NATS_CREDS, BW_NATS_NKEY_SEED_FILE, BW_NATS_USER/_PASSWORD):
 * those settings, as the engine uses them. Otherwise the tool talks to the embedded nats-server of
 * the data directory (BW_DATA_DIR, default `./.bellwether`) at `127.0.0.1:BW_NATS_PORT` (or the
 * tool's `--nats-url`) as one of its generated users, whose seed file the engine wrote there on
 * its first start (engine/nats/embedded-users.ts). A `--nats-url` with no such seed file in the
 * data directory connects without credentials, as before.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BellwetherError } from '../contract/errors.js';
import type { Config } from '../engine/config.js';
import { type EmbeddedUser, embeddedSeedFile, TAIL_INBOX_PREFIX } from '../engine/nats/embedded-users.js';
import type { NatsClientOptions } from '../lib/nats-connect.js';
import { type NatsConnectSettings, natsSettingsOf } from '../lib/nats-connect-options.js';

export interface ToolNats {
  settings: NatsConnectSettings;
  /** Client options the user needs: the `tail` user's own inbox prefix. */
  client: NatsClientOptions;
  /** Which embedded user the tool connects as; undefined for configured settings. */
  user?: EmbeddedUser;
}

/** The connection of a tool that acts as `user` on the embedded server; `urlFlag` is its `--nats-url`. */
export function toolNatsSettings(config: Config, user: EmbeddedUser, urlFlag?: string): ToolNats {
  const natsUrl = urlFlag ?? config.natsUrl ?? `nats://127.0.0.1:${config.natsPort}`;
  const settings = natsSettingsOf(config, natsUrl);
  const configured = settings.natsCreds || settings.natsNkeySeedFile || settings.natsUser;
  if (config.natsUrl !== undefined || configured) return { settings, client: {} };
  const file = embeddedSeedFile(path.join(config.dataDir, 'nats'), user);
  // A server named with --nats-url and no embedded server's seed here: that server, as configured.
  if (!existsSync(file) && urlFlag !== undefined) return { settings, client: {} };
  if (!existsSync(file)) {
    throw new BellwetherError(
      'BW_ERR_NATS_SETTINGS',
      `${file} does not exist: the embedded nats-server of BW_DATA_DIR ${config.dataDir} writes it on its first start (bellwether run); for another server set BW_NATS_URL and its credentials`,
    );
  }
  return {
    settings: { ...settings, natsNkeySeedFile: file },
    client: user === 'tail' ? { inboxPrefix: TAIL_INBOX_PREFIX } : {},
    user,
  };
}
