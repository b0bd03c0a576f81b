/**
 * A customer's recent events (the Customer 360 timeline, `GET /v1/customers/:id/events`), read
 * from its partition's events stream: any instance can read any stream, so no forwarding to the
 * partition's owner. Stored subjects no longer carry the customer (`bw.part.<p>.<type>`,
 * contract/subjects.ts), so the stream is read backwards in chunks of {@link CHUNK} messages, each
 * with an ordered consumer from the chunk's first sequence, and the bodies of this customer kept,
 * newest first, until `limit` are found or a bound is reached: {@link MAX_SCANNED} messages,
 * {@link MAX_BYTES} bytes, {@link DEADLINE_MS}. The answer says how far it looked (`scanned`,
 * `complete`). A body the engine would reject (schema, time) is not shown; a redelivered duplicate
 * (same event_id) is shown once.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { type ParsedEvent, parseEvent } from '../contract/event-parse.js';
import { parsePartitionedSubject, partitionFilter } from '../contract/subjects.js';
import { type ProfilePolicy, personalText } from '../security/pii-policy.js';
import { type EventsLayout, eventsStreamOf } from './nats/streams.js';

/** Messages read per ordered consumer (one chunk of the stream's tail). */
const CHUNK = 2_000;
/** At most this many of the partition's newest messages are read for one answer. */
const MAX_SCANNED = 50_000;
/** At most this many bytes of message bodies are read for one answer. */
const MAX_BYTES = 64 * 1024 * 1024;
/** No further chunk is started after this long. */
const DEADLINE_MS = 3_000;

/** One event of the timeline, as read from the stream, personal properties apart. */
export interface StoredCustomerEvent {
  event_id: string;
  type: string;
  /** Event time, epoch ms. */
  ts: number;
  amount: number | null;
  currency: string | null;
  channel: string | null;
  category: string | null;
  sku: string | null;
  /** Properties declared non-personal (BW_PROFILE_PLAIN_FIELDS). */
  props: Record<string, unknown>;
  /** Every other property, as the text it would be sealed as: for the API to mask by role. */
  personal: Record<string, string>;
  /** The stream's sequence and when the stream stored it (ISO-8601). */
  seq: number;
  stored_at: string;
}

export interface StoredCustomerEvents {
  events: StoredCustomerEvent[];
  /** Messages of the partition's stream read. */
  scanned: number;
  /** Whether the read reached the stream's first message (no older event of the customer exists). */
  complete: boolean;
}

export interface CustomerEventsSource {
  jsm: JetStreamManager;
  js: JetStreamClient;
  layout: EventsLayout;
  partitions: number;
  policy: ProfilePolicy;
}

function belongsTo(event: ParsedEvent, id: string): boolean {
  return event.body.customer_id === id;
}

function timelineEvent(
  event: ParsedEvent,
  policy: ProfilePolicy,
  seq: number,
  at: Date,
): StoredCustomerEvent {
  const b = event.body;
  const props: Record<string, unknown> = {};
  const personal: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(b.props ?? {})) {
    if (policy.isPlain(name)) props[name] = value;
    else {
      const text = personalText(value);
      if (text !== undefined) personal[name] = text;
    }
  }
  return {
    event_id: b.event_id,
    type: b.type,
    ts: event.ts,
    amount: b.amount ?? null,
    currency: b.currency ?? null,
    channel: b.channel ?? null,
    category: b.category ?? null,
    sku: b.sku ?? null,
    props,
    personal,
    seq,
    stored_at: at.toISOString(),
  };
}

/** Reads one chunk [from, to] of the stream in order; calls `keep` with each message of the partition. */
async function readChunk(
  source: CustomerEventsSource,
  stream: string,
  partition: number,
  from: number,
  to: number,
  keep: (subject: string, data: Uint8Array, seq: number, at: Date) => void,
): Promise<{ read: number; bytes: number }> {
  const consumer = await source.js.consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
    filter_subjects: partitionFilter(partition),
  });
  let read = 0;
  let bytes = 0;
  for (let done = false; !done; ) {
    const batch = await consumer.fetch({ max_messages: Math.min(500, to - from + 1), expires: 1000 });
    done = true;
    for await (const m of batch) {
      if (m.seq > to) break;
      read++;
      bytes += m.data.length;
      keep(m.subject, m.data, m.seq, new Date(m.info.timestampNanos / 1e6));
      done = m.seq >= to || m.info.pending === 0;
      if (done) break;
    }
  }
  return { read, bytes };
}

/**
 * The newest `limit` events of customer `id` in `partition`'s stream, newest first. `now` is the
 * wall clock (ms), for the same future-time check the engine makes.
 */
export async function readCustomerEvents(
  source: CustomerEventsSource,
  id: string,
  partition: number,
  limit: number,
  now: number,
): Promise<StoredCustomerEvents> {
  const stream = eventsStreamOf(partition, source.layout);
  const { state } = await source.jsm.streams.info(stream);
  const started = Date.now();
  const route = { partition, partitions: source.partitions };
  // A plain id appears in its body as this exact JSON string: other bodies are skipped unparsed.
  const needle = /^[A-Za-z0-9_-]+$/.test(id) ? Buffer.from(JSON.stringify(id)) : undefined;
  const found: StoredCustomerEvent[] = [];
  const seen = new Set<string>();
  let scanned = 0;
  let bytes = 0;
  let to = state.last_seq;
  while (to >= state.first_seq && state.messages > 0 && found.length < limit) {
    if (scanned >= MAX_SCANNED || bytes >= MAX_BYTES || Date.now() - started > DEADLINE_MS) break;
    const from = Math.max(state.first_seq, to - CHUNK + 1);
    const chunk: StoredCustomerEvent[] = [];
    const read = await readChunk(source, stream, partition, from, to, (subject, data, seq, at) => {
      if (needle !== undefined && Buffer.from(data.buffer, data.byteOffset, data.length).indexOf(needle) < 0)
        return;
      const parts = parsePartitionedSubject(subject);
      if (!parts) return;
      const parsed = parseEvent(data, parts.type, parts.token ?? route, now);
      if (parsed.ok && belongsTo(parsed.event, id))
        chunk.push(timelineEvent(parsed.event, source.policy, seq, at));
    });
    scanned += read.read;
    bytes += read.bytes;
    // Newest first: this chunk's events follow every later chunk's.
    for (let i = chunk.length - 1; i >= 0 && found.length < limit; i--) {
      const event = chunk[i]!;
      if (seen.has(event.event_id)) continue;
      seen.add(event.event_id);
      found.push(event);
    }
    to = from - 1;
  }
  return { events: found, scanned, complete: to < state.first_seq || state.messages === 0 };
}
