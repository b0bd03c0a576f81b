import path from 'node:path';
import { BellwetherError } from '../contract/errors.js';
import { parseEventTime } from '../contract/event-parse.js';
import { eventSubject } from '../contract/subjects.js';
import { fileLines } from '../lib/file-lines.js';
import { connectNats } from '../lib/nats-connect.js';
import type { NatsConnectSettings } from '../lib/nats-connect-options.js';
import { startProgress } from '../lib/progress.js';
import { type CdnowStats, emptyCdnowStats, readCdnowSorted } from '../models/datasets/cdnow.js';
import {
  emptyReaderStats,
  type ReaderStats,
  type RetailEvent,
  readAllSorted,
} from '../models/datasets/online-retail.js';
import { PipelinedPublisher } from './pipelined-publisher.js';
import { ReplayOffset } from './replay-offset.js';

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
  /**
   * Where the resume offset is kept (replay-offset.ts; the CLI's is `<BW_DATA_DIR>/replay`);
   * absent: no resume.
   */
  offsetDir?: string;
  /** Ignore a recorded offset and publish from the first event (`--from-start`). */
  fromStart?: boolean;
  /** Publishes in flight at most (pipelined-publisher.ts). */
  window?: number;
}

export interface ReplayResult {
  /** Events published by this run (after the skipped ones). */
  published: number;
  /** Events skipped at the start: confirmed by an interrupted run. */
  skipped: number;
  /** Of the published, newly stored, and already in the stream (same Nats-Msg-Id). */
  stored: number;
  duplicates: number;
  /** Stopped by SIGINT or SIGTERM (the offset records where). */
  interrupted: boolean;
  stats?: ReaderStats | CdnowStats;
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
  /** The bytes to publish for the event just read, when the source has them as read (ndjson lines). */
  bodyOf?: (event: ReplayableEvent) => string | undefined;
}

const REPLAY_FORMATS = ['ndjson', 'online-retail', 'cdnow'] as const;

const CURRENCY = { 'online-retail': 'GBP', cdnow: 'USD' } as const;

/** Events read before they are published in one go (one socket write). */
const CHUNK = 512;

/** An ndjson file's events; `last` holds the line of the event last yielded (published as is). */
async function* readNdjson(
  file: string,
  last: { event?: ReplayableEvent; line?: string },
): AsyncGenerator<ReplayableEvent> {
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
    last.event = event;
    last.line = line;
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
    case 'ndjson': {
      const last: { event?: ReplayableEvent; line?: string } = {};
      return { events: readNdjson(file, last), bodyOf: (e) => (e === last.event ? last.line : undefined) };
    }
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

function describeStats(format: string, stats: ReaderStats | CdnowStats | undefined): string | undefined {
  if (!stats) return undefined;
  if ('skippedNoCustomer' in stats) {
    return `${format}: ${stats.rows} rows → ${stats.invoices} invoices; ${stats.skippedNoCustomer} rows without CustomerID skipped, ${stats.malformed} malformed`;
  }
  return `${format}: ${stats.rows} lines → ${stats.events} purchases; ${stats.malformed} malformed lines skipped`;
}

export async function replayFile(opts: ReplayOptions): Promise<ReplayResult> {
  const speedup = opts.speedup ?? 0;
  if (!(Number.isFinite(speedup) && speedup >= 0)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', '--speedup must be a number ≥ 0');
  }
  const offset =
    opts.offsetDir === undefined ? undefined : new ReplayOffset(opts.offsetDir, opts.file, opts.format);
  const resumeAt = offset === undefined ? 0 : await offset.read();
  const skip = opts.fromStart ? 0 : resumeAt;
  const source = await openReplaySource(opts.file, opts.format);
  const summary = describeStats(opts.format, source.stats);
  if (!opts.quiet && summary) process.stderr.write(`${summary}\n`);
  if (!opts.quiet && skip > 0)
    process.stderr.write(`replay: resuming after ${skip} events already confirmed (${offset?.path})\n`);
  const pace = createPacer({ rate: opts.rate, speedup });
  const nc = await connectNats(opts, {
    name: 'bellwether-replay',
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
  });
  const publisher = new PipelinedPublisher(nc, {
    ...(opts.window === undefined ? {} : { window: opts.window }),
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
  });
  const progress = startProgress({
    label: 'replay 回放',
    unit: 'events',
    ...(source.total === undefined ? {} : { total: Math.max(0, source.total - skip) }),
    quiet: opts.quiet === true,
  });
  // SIGINT / SIGTERM: stop reading, wait for what is in flight, record the offset, exit 130.
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const started = Date.now();
  let index = 0;
  let published = 0;
  let eventTs = Number.NaN;
  let savedAt = started;
  const eventTime = () =>
    Number.isFinite(eventTs) ? `event time 事件时间 ${new Date(eventTs).toISOString().slice(0, 16)}` : '';
  // Events are read in chunks and published in one go each: one socket write per chunk.
  const chunk: { subject: string; body: string; msgId: string }[] = [];
  const paced = opts.rate > 0 || speedup > 0;
  const publishChunk = async () => {
    for (const m of chunk) {
      while (!publisher.tryPublish(m.subject, m.body, m.msgId)) await publisher.room();
      published++;
    }
    chunk.length = 0;
    if (offset !== undefined && Date.now() - savedAt > 1000) {
      savedAt = Date.now();
      void offset.save(skip + publisher.confirmed);
    }
    progress.update(published, eventTime());
  };
  try {
    for await (const event of source.events) {
      if (interrupted) break;
      if (index++ < skip) continue;
      eventTs = parseEventTime(event.ts);
      const msgId =
        typeof event.event_id === 'string' && event.event_id !== ''
          ? event.event_id
          : `${path.basename(opts.file)}:${index}`;
      const body = source.bodyOf?.(event) ?? JSON.stringify(event);
      chunk.push({ subject: eventSubject(event.type, routingId(event)), body, msgId });
      if (paced) await pace(eventTs);
      if (paced || chunk.length >= CHUNK) await publishChunk();
    }
    await publishChunk();
    await publisher.drain();
  } catch (err) {
    if (offset !== undefined) await offset.save(skip + publisher.confirmed);
    throw err;
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    publisher.close();
    await nc.drain();
  }
  const secs = (Date.now() - started) / 1000;
  const rate = Math.round(published / Math.max(secs, 0.001));
  const counts = `${publisher.stored} stored, ${publisher.duplicates} already in the stream`;
  if (interrupted) {
    if (offset !== undefined) await offset.save(skip + publisher.confirmed);
    progress.stop();
    if (!opts.quiet)
      process.stderr.write(
        `replay: interrupted after ${skip + published} events (${counts}); the same command resumes${offset ? ` (${offset.path})` : ''}\n`,
      );
    process.exitCode = 130;
  } else {
    await offset?.clear();
    progress.stop();
    if (!opts.quiet)
      process.stderr.write(
        `replay: ${published} events published in ${secs.toFixed(1)} s, ${rate}/s (${counts})\n`,
      );
  }
  const result: ReplayResult = {
    published,
    skipped: skip,
    stored: publisher.stored,
    duplicates: publisher.duplicates,
    interrupted,
  };
  if (source.stats) result.stats = source.stats;
  return result;
}
