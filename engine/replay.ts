/**
 * `bellwether replay`: publishes a file of events to `bw.events.<type>.<token>` with JetStream
 * publish (the event_id as Nats-Msg-Id), optionally rate-limited, with a progress line.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BellwetherError } from './errors.js';
import { eventSubject } from './subjects.js';

export interface ReplayOptions {
  file: string;
  format: string;
  natsUrl: string;
  /** Events per second; 0 = unlimited. */
  rate: number;
  quiet?: boolean;
}

export interface ReplayableEvent {
  event_id: string;
  customer_id: string;
  type: string;
  ts: string | number;
  [field: string]: unknown;
}

async function* readNdjson(file: string): AsyncGenerator<ReplayableEvent> {
  const input = createReadStream(file);
  const lines = createInterface({
    input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input,
    crlfDelay: Infinity,
  });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let event: ReplayableEvent;
    try {
      event = JSON.parse(line) as ReplayableEvent;
    } catch {
      throw new BellwetherError('BW_ERR_INPUT_FORMAT', `${file}:${n} is not JSON`);
    }
    if (typeof event.type !== 'string' || typeof event.customer_id !== 'string') {
      throw new BellwetherError('BW_ERR_INPUT_FORMAT', `${file}:${n} lacks type or customer_id`);
    }
    yield event;
  }
}

export async function readEvents(file: string, format: string): Promise<AsyncIterable<ReplayableEvent>> {
  if (format === 'ndjson') return readNdjson(file);
  throw new BellwetherError('BW_ERR_CLI_USAGE', `unknown --format ${format}`);
}

export async function replayFile(opts: ReplayOptions): Promise<{ published: number }> {
  const events = await readEvents(opts.file, opts.format);
  const nc = await connect({ servers: opts.natsUrl, name: 'bellwether-replay' });
  const js = jetstream(nc);
  const started = Date.now();
  let published = 0;
  let inflight: Promise<unknown>[] = [];
  let lastProgress = 0;
  try {
    for await (const event of events) {
      inflight.push(
        js.publish(eventSubject(event.type, event.customer_id), JSON.stringify(event), {
          msgID: event.event_id,
        }),
      );
      published++;
      if (inflight.length >= 256) {
        await Promise.all(inflight);
        inflight = [];
      }
      if (opts.rate > 0) {
        const due = started + (published / opts.rate) * 1000;
        const wait = due - Date.now();
        if (wait > 5) await new Promise((r) => setTimeout(r, wait));
      }
      if (!opts.quiet && Date.now() - lastProgress > 500) {
        lastProgress = Date.now();
        const secs = (lastProgress - started) / 1000;
        process.stderr.write(
          `\rreplay: ${published} events, ${Math.round(published / Math.max(secs, 0.001))}/s   `,
        );
      }
    }
    await Promise.all(inflight);
  } finally {
    await nc.drain();
  }
  if (!opts.quiet)
    process.stderr.write(
      `\rreplay: ${published} events published in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  return { published };
}
