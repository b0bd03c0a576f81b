/**
 * Dead-letter commands of the CLI:
 * - `bellwether dlq read [--limit N] [--nats-url URL]`: the dead letters stored when it starts, as JSON
 *   lines with bodies opened; it does not wait for more
 * - `bellwether dlq replay --reason R [--limit N] [--dry-run] [--keep] [--nats-url URL]`: re-publishes
 *   reviewed dead letters of one reason (`outlier`, `near_duplicate`, …) to their producer subject
 *   `bw.events.<type>.<customer>` with the header `Bw-Reviewed: <reason>`, so the engine admits them
 *   even when a cleansing rule would quarantine them again (docs/cleansing.md). Each is published
 *   with `Nats-Msg-Id: replay-<stream>-<seq>` (a second replay within the stream's duplicate window
 *   is stored once) and, once the events stream stored it, deleted from BW_DLQ unless `--keep`.
 */
import { parseArgs } from 'node:util';
import { type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';
import { eventSubject } from '../contract/subjects.js';
import { type Config, loadConfig } from '../engine/config.js';
import { REVIEWED_HEADER } from '../engine/nats/dead-letters.js';
import { DLQ_STREAM } from '../engine/nats/streams.js';
import { connectNats } from '../lib/nats-connect.js';
import { openDeadLetterBody } from '../security/pii-cipher.js';
import { loadKeyring, type PiiKeyring } from '../security/pii-keyring.js';
import { toolNatsSettings } from './tool-nats-settings.js';

const USAGE = 'dlq read [--limit N] | dlq replay --reason R [--limit N] [--dry-run] [--keep]';
const REASON = /^[a-z_]{1,32}$/;

interface Letter {
  seq: number;
  subject: string;
  stream: string | null;
  streamSeq: number;
  reason: string | null;
  error: string | null;
  /** The original body, opened; undefined when it does not open (`opened` then says why). */
  body: Buffer | undefined;
  opened: string | undefined;
}

function letterOf(m: JsMsg, keyring: PiiKeyring): Letter {
  const h = (name: string) => m.headers?.get(name) || null;
  const streamSeq = Number(h('Bw-Stream-Seq'));
  const letter: Letter = {
    seq: m.seq,
    subject: m.subject,
    stream: h('Bw-Stream'),
    streamSeq,
    reason: h('Bw-Reason'),
    error: h('Bw-Error'),
    body: undefined,
    opened: undefined,
  };
  try {
    letter.body = h('Bw-Sealed')
      ? openDeadLetterBody(keyring, m.string(), streamSeq, letter.stream)
      : Buffer.from(m.data);
  } catch (err) {
    letter.opened = `<sealed: ${(err as Error).message}>`;
  }
  return letter;
}

async function connect(config: Config, url: string | undefined): Promise<NatsConnection> {
  // Against the embedded server: its `engine` user (reading and deleting dead letters, publishing
  // reviewed events back, need the JetStream API).
  const nats = toolNatsSettings(config, 'engine', url);
  return connectNats(nats.settings, { ...nats.client, name: 'bellwether-dlq' });
}

function limitOf(text: string | undefined): number {
  if (text === undefined) return Number.POSITIVE_INFINITY;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new BellwetherError('BW_ERR_CLI_USAGE', `--limit must be a positive integer, got ${text}`);
  return n;
}

/**
 * The letters stored when it starts (at most `limit`), read in batches, then stops: it reads up to
 * the stream's last sequence at its start and does not wait for letters stored after.
 */
async function read(nc: NatsConnection, keyring: PiiKeyring, limit: number): Promise<void> {
  const js = jetstream(nc);
  const { state } = await (await js.streams.get(DLQ_STREAM)).info();
  const lastSeq = state.last_seq;
  const consumer = await js.consumers.get(DLQ_STREAM);
  let n = 0;
  let done = state.messages === 0;
  while (!done && n < limit) {
    const batch = await consumer.fetch({ max_messages: Math.min(limit - n, 512), expires: 2000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      n++;
      const l = letterOf(m, keyring);
      const body = l.body === undefined ? l.opened : l.body.toString('utf8');
      process.stdout.write(
        `${JSON.stringify({ seq: l.seq, subject: l.subject, stream: l.stream, stream_seq: l.streamSeq, reason: l.reason, error: l.error, body })}\n`,
      );
      if (m.seq >= lastSeq || m.info.pending === 0 || n >= limit) {
        done = true;
        batch.stop();
        break;
      }
    }
    if (got === 0) done = true;
  }
}

/** The producer subject of an event body, or why it has none. */
function subjectOf(body: Buffer): { subject: string; eventId: string } | string {
  let event: unknown;
  try {
    event = JSON.parse(body.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  const e = event as { type?: unknown; customer_id?: unknown; event_id?: unknown };
  if (typeof e.type !== 'string' || typeof e.customer_id !== 'string' || e.customer_id === '')
    return 'body has no type or customer_id';
  return { subject: eventSubject(e.type, e.customer_id), eventId: String(e.event_id ?? '') };
}

interface ReplayOptions {
  reason: string;
  limit: number;
  dryRun: boolean;
  keep: boolean;
}

async function replay(nc: NatsConnection, keyring: PiiKeyring, opts: ReplayOptions): Promise<void> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const consumer = await js.consumers.get(DLQ_STREAM, {
    // One subject as a string: a single filter_subject, which nats-server before 2.10 understands.
    filter_subjects: `bw.dlq.${opts.reason}`,
  });
  let replayed = 0;
  let skipped = 0;
  while (replayed + skipped < opts.limit) {
    const m = await consumer.next({ expires: 1000 });
    if (!m) break;
    const l = letterOf(m, keyring);
    const target = l.body === undefined ? (l.opened ?? 'body does not open') : subjectOf(l.body);
    const line = { seq: l.seq, reason: l.reason, stream: l.stream, stream_seq: l.streamSeq };
    if (typeof target === 'string') {
      skipped++;
      process.stdout.write(`${JSON.stringify({ ...line, skipped: target })}\n`);
      continue;
    }
    if (!opts.dryRun) {
      const h = headers();
      h.set(REVIEWED_HEADER, opts.reason);
      h.set('Bw-Replayed-From', `${DLQ_STREAM}:${l.seq}`);
      await js.publish(target.subject, l.body!, { headers: h, msgID: `replay-${l.stream}-${l.streamSeq}` });
      if (!opts.keep) await jsm.streams.deleteMessage(DLQ_STREAM, l.seq);
    }
    replayed++;
    process.stdout.write(
      `${JSON.stringify({ ...line, event_id: target.eventId, subject: target.subject, replayed: !opts.dryRun })}\n`,
    );
  }
  process.stderr.write(
    `dlq replay: ${replayed} ${opts.dryRun ? 'to replay (dry run)' : 'replayed'}, ${skipped} skipped (reason ${opts.reason})\n`,
  );
}

export async function dlqCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      limit: { type: 'string' },
      'nats-url': { type: 'string' },
      reason: { type: 'string' },
      'dry-run': { type: 'boolean' },
      keep: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const sub = positionals[0];
  if ((sub !== 'read' && sub !== 'replay') || positionals.length > 1)
    throw new BellwetherError('BW_ERR_CLI_USAGE', USAGE);
  if (sub === 'replay' && (values.reason === undefined || !REASON.test(values.reason)))
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `dlq replay needs --reason (outlier, near_duplicate, …): ${USAGE}`,
    );
  const limit = limitOf(values.limit);
  const config = loadConfig(process.env);
  const { keyring } = await loadKeyring({
    cipher: config.piiCipher,
    key: config.piiKey,
    keyFile: config.piiKeyFile,
    dataDir: config.dataDir,
  });
  const nc = await connect(config, values['nats-url']);
  try {
    if (sub === 'read') await read(nc, keyring, limit);
    else
      await replay(nc, keyring, {
        reason: values.reason!,
        limit,
        dryRun: values['dry-run'] === true,
        keep: values.keep === true,
      });
  } finally {
    await nc.close();
  }
}
