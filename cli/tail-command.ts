/**
 * `bellwether tail SUBJECT [--limit N] [--nats-url URL]`: prints the messages published on a
 * subject from now on (alerts `bw.alerts.>`, rule actions `bw.actions.>`, segment changes
 * `bw.segments.>`, dead letters `bw.dlq.>`), one JSON line per message, `{"subject", "data"}` with
 * the body decoded (`text` instead when it is not JSON; `headers` when it has any), until Ctrl-C
 * or N messages. Against the embedded server it connects as the `tail` user of the data directory
 * (tool-nats-settings.ts), which may subscribe to those subjects only; otherwise with BW_NATS_URL
 * and the configured credentials. A line on stderr says when it listens.
 */
import type { Msg } from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';
import { loadConfig } from '../engine/config.js';
import { TAIL_PERMISSIONS } from '../engine/nats/embedded-users.js';
import { connectNats } from '../lib/nats-connect.js';
import { parseCommandFlags } from './command-flags.js';
import { toolNatsSettings } from './tool-nats-settings.js';

const TAIL_FLAGS = { limit: { type: 'string' }, 'nats-url': { type: 'string' } } as const;

/** One message as its output line. */
function tailLine(m: Msg): string {
  const line: Record<string, unknown> = { subject: m.subject };
  if (m.headers) {
    const headers: Record<string, string> = {};
    for (const [name, values] of m.headers) headers[name] = values.join(', ');
    line['headers'] = headers;
  }
  const text = m.string();
  try {
    line['data'] = JSON.parse(text);
  } catch {
    line['text'] = text;
  }
  return `${JSON.stringify(line)}\n`;
}

export async function tailCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandFlags(
    { command: 'tail', options: TAIL_FLAGS, allowPositionals: true, code: 'BW_ERR_CLI_USAGE' },
    args,
  );
  const subject = positionals[0];
  if (subject === undefined || positionals.length > 1) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', 'tail SUBJECT [--limit N] [--nats-url URL]');
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', '--limit must be a whole number ≥ 1');
  }
  const config = loadConfig(process.env);
  const nats = toolNatsSettings(config, 'tail', values['nats-url']);
  const nc = await connectNats(nats.settings, { ...nats.client, name: 'bellwether-tail' });
  const sub = nc.subscribe(subject, limit === undefined ? {} : { max: limit });
  const stop = (): void => sub.unsubscribe();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    // After the round trip the server holds the subscription, or has refused it.
    await nc.flush();
    if (!sub.isClosed()) {
      const as = nats.user ? ` as the embedded server's ${nats.user} user` : '';
      process.stderr.write(`bellwether tail: listening on ${subject} at ${nats.settings.natsUrl}${as}\n`);
    }
    for await (const m of sub) process.stdout.write(tailLine(m));
  } catch (err) {
    if ((err as Error).name !== 'PermissionViolationError') throw err;
    const allowed =
      nats.user === 'tail'
        ? ` (the tail user may read ${TAIL_PERMISSIONS.subscribe.slice(0, -1).join(', ')})`
        : '';
    throw new BellwetherError(
      'BW_ERR_NATS_AUTH',
      `${nats.settings.natsUrl}: not allowed to subscribe to ${subject}${allowed}`,
      { cause: err },
    );
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await nc.close();
  }
}
