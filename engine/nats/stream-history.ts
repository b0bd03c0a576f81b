/**
 * The events the engine admitted, read back from the events streams' history (BW_EVENTS_<p>, kept
 * BW_EVENTS_MAX_AGE_DAYS): what `bellwether train --from-stream`, `bellwether clv fit
 * --from-stream` and the engine's scheduled CLV fit learn from.
 *
 * Each partition's stream is read with an ordered consumer from its first message up to its last
 * sequence at the start of the read, and every message goes through the same steps as the live
 * ingest (engine/worker/ingest.ts), in stream order: parsed (contract/event-parse.ts; a reject
 * is skipped, as the engine dead-letters it), cleansed with a cleanser of the partition's own
 * (operators/cleansing/, BW_CLEANSING_FILE's rules: a quarantined event is skipped unless it was
 * re-published reviewed), deduplicated on `event_id`, and then kept. Events carrying only an
 * `anonymous_id` are skipped (the engine folds them into anonymous profiles, which have no
 * purchases to learn from until they are linked; `stats.anonymous` counts them). The result is
 * sorted by event time (stable: stream order among equal times, so per customer the live order).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../../contract/errors.js';
import { type EventRoute, parseEvent } from '../../contract/event-parse.js';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { EventCleanser, newCleansingCounts, VERDICT_ACCEPT } from '../../operators/cleansing/cleanser.js';
import { type CleansingRules, defaultCleansingRules } from '../../operators/cleansing/rules.js';
import { REVIEWED_HEADER } from './dead-letters.js';
import { EVENTS_STREAM, EVENTS_STREAM_PREFIX } from './streams.js';

/** An admitted event, as the dataset builder and the CLV fit read it. */
interface HistoryEvent {
  customer_id: string;
  type: string;
  ts: number;
  amount: number;
}

export interface StreamHistoryStats {
  /** Messages read from the streams. */
  messages: number;
  /** Events kept. */
  events: number;
  /** Messages the parser rejects, by reason (the engine dead-letters them). */
  rejected: Record<string, number>;
  /** Valid events a cleansing rule quarantines. */
  quarantined: number;
  /** Events whose event_id was already kept. */
  duplicates: number;
  /** Events with only an anonymous_id. */
  anonymous: number;
  /** Event time of the first and the last event kept (epoch ms; NaN without events). */
  first_ts: number;
  last_ts: number;
}

export interface StreamHistory {
  events: HistoryEvent[];
  partitions: number;
  streams: string[];
  stats: StreamHistoryStats;
}

export interface StreamHistoryOptions {
  /** The cleansing rules (default: the built-in ones). */
  cleansing?: CleansingRules;
  /** Wall-clock ms for the parser's future-time check (default Date.now()). */
  now?: number;
  /** Progress lines (one per stream read). */
  log?: (line: string) => void;
}

/** The partition count recorded in an events stream's description. */
function partitionsOf(description: string | undefined): number {
  const match = /partitions=(\d+)/.exec(description ?? '');
  return match ? Number(match[1]) : Number.NaN;
}

/** The events streams to read and the partition count: BW_EVENTS_<p>, or the single BW_EVENTS. */
async function eventsStreams(nc: NatsConnection): Promise<{ names: string[]; partitions: number }> {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const name of jsm.streams.names()) if (name.startsWith(EVENTS_STREAM_PREFIX)) names.push(name);
  const single = names.includes(EVENTS_STREAM);
  const chosen = single
    ? [EVENTS_STREAM]
    : names
        .filter((n) => /^BW_EVENTS_\d+$/.test(n))
        .sort((a, b) => Number(a.slice(10)) - Number(b.slice(10)));
  if (chosen.length === 0) {
    throw new BellwetherError(
      'BW_ERR_STREAM_HISTORY',
      'no events stream (BW_EVENTS_<p>) on this server: start the engine once (bellwether run) and publish events',
    );
  }
  const partitions = partitionsOf((await jsm.streams.info(chosen[0]!)).config.description);
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new BellwetherError('BW_ERR_STREAM_HISTORY', `${chosen[0]} records no partition count`);
  }
  return { names: chosen, partitions };
}

/** `bw.part.<p>.<type>` (or `bw.part.<p>.<type>.<token>` as stored before 2026-11-23), as the ingest reads it. */
function subjectParts(subject: string, partitions: number): { type: string; route: EventRoute } | undefined {
  const parts = subject.split('.');
  if (parts.length < 4 || parts[0] !== 'bw' || parts[1] !== 'part') return undefined;
  const partition = Number(parts[2]);
  if (parts.length === 5) return { type: parts[3]!, route: parts[4]! };
  return { type: parts[3]!, route: { partition, partitions } };
}

function emptyStats(): StreamHistoryStats {
  return {
    messages: 0,
    events: 0,
    rejected: {},
    quarantined: 0,
    duplicates: 0,
    anonymous: 0,
    first_ts: Number.NaN,
    last_ts: Number.NaN,
  };
}

/** Reads one stream to its last sequence at the start, admitting events as the live ingest does. */
async function readStream(
  nc: NatsConnection,
  stream: string,
  partitions: number,
  rules: CleansingRules,
  now: number,
  stats: StreamHistoryStats,
  out: HistoryEvent[],
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return;
  const last = state.last_seq;
  // A single-layout stream holds every partition: one cleanser and one dedupe set per partition.
  const cleansers = new Map<string, EventCleanser>();
  const seen = new Map<string, Set<string>>();
  const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: state.first_seq });
  const messages = await consumer.consume({ max_messages: 2000 });
  for await (const m of messages) {
    const seq = m.seq;
    stats.messages++;
    const parts = subjectParts(m.subject, partitions);
    const parsed = parts
      ? parseEvent(m.data, parts.type, parts.route, now)
      : { ok: false as const, reason: 'subject_mismatch', detail: '' };
    if (!parsed.ok) {
      stats.rejected[parsed.reason] = (stats.rejected[parsed.reason] ?? 0) + 1;
    } else {
      const key = m.subject.split('.', 3)[2]!;
      let cleanser = cleansers.get(key);
      if (!cleanser) cleansers.set(key, (cleanser = new EventCleanser(rules, newCleansingCounts())));
      let ids = seen.get(key);
      if (!ids) seen.set(key, (ids = new Set()));
      const event = parsed.event;
      const verdict = cleanser.judge(event);
      if (verdict !== VERDICT_ACCEPT && !m.headers?.has(REVIEWED_HEADER)) stats.quarantined++;
      else if (ids.has(event.body.event_id)) stats.duplicates++;
      else if (event.anonymous) {
        ids.add(event.body.event_id);
        stats.anonymous++;
      } else {
        ids.add(event.body.event_id);
        cleanser.learn(event, verdict);
        out.push({
          customer_id: event.body.customer_id,
          type: EVENT_TYPES[event.typeIndex]!,
          ts: event.ts,
          amount: event.amount,
        });
      }
    }
    // The last sequence at the start, or nothing left (its message aged out meanwhile).
    if (seq >= last || m.info.pending === 0) break;
  }
}

/** Every admitted event of the events streams, sorted by event time (see the file comment). */
export async function readStreamHistory(
  nc: NatsConnection,
  options: StreamHistoryOptions = {},
): Promise<StreamHistory> {
  const { names, partitions } = await eventsStreams(nc);
  const rules = options.cleansing ?? defaultCleansingRules();
  const now = options.now ?? Date.now();
  const stats = emptyStats();
  const events: HistoryEvent[] = [];
  const started = Date.now();
  for (const name of names) {
    const before = stats.messages;
    await readStream(nc, name, partitions, rules, now, stats, events);
    options.log?.(`${name}: ${stats.messages - before} messages (${Date.now() - started} ms so far)`);
  }
  events.sort((a, b) => a.ts - b.ts);
  stats.events = events.length;
  stats.first_ts = events[0]?.ts ?? Number.NaN;
  stats.last_ts = events.at(-1)?.ts ?? Number.NaN;
  return { events, partitions, streams: names, stats };
}
