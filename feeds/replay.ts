import { jetstream } from '@nats-io/jetstream';
import { BellwetherError } from '../contract/errors.js';
import { parseEventTime } from '../contract/event-parse.js';
import { eventSubject } from '../contract/subjects.js';
import { fileLines } from '../lib/file-lines.js';
import { connectNats } from '../lib/nats-connect.js';
import type { NatsConnectSettings } from '../lib/nats-connect-options.js';
import { type CdnowStats, emptyCdnowStats, readCdnowSorted } from '../models/datasets/cdnow.js';
import {
  emptyReaderStats,
  type ReaderStats,
  type RetailEvent,
  readAllSorted,
} from '../models/datasets/online-retail.js';

/** `natsUrl` and, for a secured server, the credential and TLS settings (lib/nats-connect-options.ts). */
export interface ReplayOptions extends NatsConnectSettings {
  file: string;
  format: string;
  /** Events per second; 0 = unlimited. */
  rate: number;
  /** Replay event-time gaps divided by this factor; 0 or absent = no event-time pacing. */
  speedup?: number;
  quiet?: boolean;
  /** Inbox prefix of the connection (the embedded server's `tail` user has its own). */
  inboxPrefix?: string;
}

export interface ReplayableEvent {
  event_id: string;
  /** The customer; an ndjson line may carry only an `anonymous_id` instead (docs/events.md, Identity). */
  customer_id: string;
  type: string;
  ts: string | number;
  [field: string]: unknown;
}

/** What a replay source knows before publishing: the events, and for whole-file formats their count. */
export interface ReplaySource {
  events: AsyncIterable<ReplayableEvent>;
  /** Number of events, when the whole file was read up front. */
  total?: number;
  /** The reader's counts (rows skipped, malformed …) for the data-set formats. */
  stats?: ReaderStats | CdnowStats;
}

const REPLAY_FORMATS = ['ndjson', 'online-retail', 'cdnow'] as const;

const CURRENCY = { 'online-retail': 'GBP', cdnow: 'USD' } as const;

async function* readNdjson(file: string): AsyncGenerator<ReplayableEvent> {
  const lines = fileLines(file);
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
    if (typeof event.type !== 'string' || typeof routingId(event) !== 'string') {
      throw new BellwetherError(
        'BW_ERR_INPUT_FORMAT',
        `${file}:${n} lacks type, or customer_id and anonymous_id`,
      );
    }
    yield event;
  }
}

/** The id an event is routed by: its customer_id, or its anonymous_id when it has none. */
function routingId(event: ReplayableEvent): string {
  return (event.customer_id as string | undefined) ?? (event['anonymous_id'] as string);
}

/** The event body of a data-set event: ISO `ts`, amount, quantity and the data set's currency. */
function toReplayEvent(e: RetailEvent, currency?: string): ReplayableEvent {
  return {
    event_id: e.event_id,
    customer_id: e.customer_id,
    type: e.type,
    ts: new Date(e.ts).toISOString(),
    amount: e.amount,
    quantity: e.quantity,
    ...(currency ? { currency } : {}),
  };
}

async function* fromArray(events: readonly RetailEvent[], currency: string): AsyncGenerator<ReplayableEvent> {
  for (const e of events) yield toReplayEvent(e, currency);
}

export async function openReplaySource(file: string, format: string): Promise<ReplaySource> {
  switch (format) {
    case 'ndjson':
      return { events: readNdjson(file) };
    case 'online-retail': {
      const stats = emptyReaderStats();
      const events = await readAllSorted(file, stats);
      return { events: fromArray(events, CURRENCY[format]), total: events.length, stats };
    }
    case 'cdnow': {
      const stats = emptyCdnowStats();
      const events = await readCdnowSorted(file, stats);
      return { events: fromArray(events, CURRENCY[format]), total: events.length, stats };
    }
    default:
      throw new BellwetherError(
        'BW_ERR_CLI_USAGE',
        `unknown --format ${format} (${REPLAY_FORMATS.join('|')})`,
      );
  }
}

export async function readEvents(file: string, format: string): Promise<AsyncIterable<ReplayableEvent>> {
  return (await openReplaySource(file, format)).events;
}

export interface PacerOptions {
  /** Events per second; 0 = unlimited. */
  rate: number;
  /** Event-time speed-up factor; 0 or absent = none. */
  speedup?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A pacer: await `pace(eventTs)` before publishing each event. Deadlines are absolute (from the
 * first call), so short waits that are skipped (≤ 5 ms) do not accumulate drift. Event time never
 * moves the schedule backwards: an out-of-order event goes out at once.
 */
export function createPacer(opts: PacerOptions): (eventTs: number) => Promise<void> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const speedup = opts.speedup ?? 0;
  let started = Number.NaN;
  let firstTs = Number.NaN;
  let maxTs = Number.NEGATIVE_INFINITY;
  let count = 0;
  return async (eventTs: number) => {
    if (Number.isNaN(started)) started = now();
    let due = started;
    if (opts.rate > 0) due = Math.max(due, started + (count / opts.rate) * 1000);
    count++;
    if (speedup > 0 && Number.isFinite(eventTs)) {
      if (Number.isNaN(firstTs)) firstTs = eventTs;
      maxTs = Math.max(maxTs, eventTs);
      due = Math.max(due, started + (maxTs - firstTs) / speedup);
    }
    const wait = due - now();
    if (wait > 5) await sleep(wait);
  };
}

function progressLine(
  published: number,
  total: number | undefined,
  started: number,
  eventTs: number,
): string {
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  const rate = `${Math.round(published / secs)}/s`;
  const at = Number.isFinite(eventTs) ? `, event time ${new Date(eventTs).toISOString().slice(0, 16)}` : '';
  if (total === undefined || total === 0) return `replay: ${published} events, ${rate}${at}`;
  const width = 24;
  const done = Math.min(width, Math.floor((published / total) * width));
  const bar = `${'#'.repeat(done)}${'-'.repeat(width - done)}`;
  const pct = Math.floor((published / total) * 100);
  return `replay [${bar}] ${String(pct).padStart(3)}% ${published}/${total} events, ${rate}${at}`;
}

function describeStats(format: string, stats: ReaderStats | CdnowStats | undefined): string | undefined {
  if (!stats) return undefined;
  if ('skippedNoCustomer' in stats) {
    return `${format}: ${stats.rows} rows → ${stats.invoices} invoices; ${stats.skippedNoCustomer} rows without CustomerID skipped, ${stats.malformed} malformed`;
  }
  return `${format}: ${stats.rows} lines → ${stats.events} purchases; ${stats.malformed} malformed lines skipped`;
}

export async function replayFile(
  opts: ReplayOptions,
): Promise<{ published: number; stats?: ReaderStats | CdnowStats }> {
  const speedup = opts.speedup ?? 0;
  if (!(Number.isFinite(speedup) && speedup >= 0)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', '--speedup must be a number ≥ 0');
  }
  const source = await openReplaySource(opts.file, opts.format);
  const summary = describeStats(opts.format, source.stats);
  if (!opts.quiet && summary) process.stderr.write(`${summary}\n`);
  const pace = createPacer({ rate: opts.rate, speedup });
  const nc = await connectNats(opts, {
    name: 'bellwether-replay',
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
  });
  const js = jetstream(nc);
  const started = Date.now();
  let published = 0;
  let inflight: Promise<unknown>[] = [];
  let lastProgress = 0;
  let eventTs = Number.NaN;
  try {
    for await (const event of source.events) {
      eventTs = parseEventTime(event.ts);
      if (opts.rate > 0 || speedup > 0) await pace(eventTs);
      inflight.push(
        js.publish(eventSubject(event.type, routingId(event)), JSON.stringify(event), {
          msgID: event.event_id,
        }),
      );
      published++;
      if (inflight.length >= 256) {
        await Promise.all(inflight);
        inflight = [];
      }
      if (!opts.quiet && Date.now() - lastProgress > 500) {
        lastProgress = Date.now();
        process.stderr.write(`\r${progressLine(published, source.total, started, eventTs)}   `);
      }
    }
    await Promise.all(inflight);
  } finally {
    await nc.drain();
  }
  if (!opts.quiet) {
    process.stderr.write(
      `\r${progressLine(published, source.total, started, eventTs)}   \nreplay: ${published} events published in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
  return source.stats ? { published, stats: source.stats } : { published };
}
