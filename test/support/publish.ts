/** Helpers to publish events and read streams in integration tests. */
import { type ConsumerInfo, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { eventSubject, partitionOfCustomer } from '../../contract/subjects.js';
import { JUMP_QUORUM } from '../../engine/state/event-clock.js';
import { isDurableOf } from '../../engine/worker/consumers.js';
import { openDeadLetterBody } from '../../security/pii-cipher.js';
import { loadKeyring } from '../../security/pii-keyring.js';

export interface TestEvent {
  event_id: string;
  customer_id: string;
  type: string;
  ts: string | number;
  amount?: number;
  [field: string]: unknown;
}

/**
 * JUMP_QUORUM `login`s at `at` for a customer of each partition: with the event-time clock this
 * pins every partition's watermark (its "now") to `at`, also when `at` is further ahead of it than
 * one event may move it (engine/state/event-clock.ts).
 */
export function anchorEvents(partitions: number, at: number): TestEvent[] {
  const out: TestEvent[] = [];
  for (let p = 0, i = 0; p < partitions; i++) {
    const id = `anchor-${i}`;
    if (partitionOfCustomer(id, partitions) === p) {
      for (let k = 0; k < JUMP_QUORUM; k++)
        out.push({
          event_id: k === 0 ? `anchor-${at}-${p}` : `anchor-${at}-${p}-${k}`,
          customer_id: id,
          type: 'login',
          ts: new Date(at).toISOString(),
        });
      p++;
    }
  }
  return out;
}

/**
 * `count` purchases of `customer`, ids `<customer>-<from>` on, the i-th at `end − (from + i) · stepMs`.
 */
export function purchaseRun(
  customer: string,
  from: number,
  count: number,
  opts: { end: number; stepMs: number; amount: number },
): TestEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    event_id: `${customer}-${from + i}`,
    customer_id: customer,
    type: 'purchase',
    ts: new Date(opts.end - (from + i) * opts.stepMs).toISOString(),
    amount: opts.amount,
  }));
}

/** Core-publishes events (no JetStream dedupe header), as a fire-and-forget producer would. */
export async function publishCore(nc: NatsConnection, events: TestEvent[]): Promise<void> {
  for (const e of events) nc.publish(eventSubject(e.type, e.customer_id), JSON.stringify(e));
  await nc.flush();
}

export interface StoredMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  json<T>(): T;
}

/** Every message currently in a stream, read with an ordered consumer. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  if (total === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream);
  const out: StoredMessage[] = [];
  const messages = await consumer.consume();
  for await (const m of messages) {
    const headers: Record<string, string> = {};
    if (m.headers) for (const [k, v] of m.headers) headers[k] = v[0] ?? '';
    const data = m.data;
    out.push({
      subject: m.subject,
      data,
      headers,
      json: <T>() => JSON.parse(new TextDecoder().decode(data)) as T,
    });
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

/** The original body of a dead letter, opened with the engine's generated PII key in `dataDir`. */
export async function openDeadLetter(letter: StoredMessage, dataDir: string): Promise<string> {
  const { keyring } = await loadKeyring({ cipher: 'aes-256-gcm', dataDir });
  const sealed = new TextDecoder().decode(letter.data);
  return openDeadLetterBody(
    keyring,
    sealed,
    Number(letter.headers['Bw-Stream-Seq']),
    letter.headers['Bw-Stream'],
  ).toString('utf8');
}

/**
 * The engine's durable consumer on a partition's stream: `bw-p<p>`, or `bw-p<p>-e<epoch>` under a
 * partition lease (an external NATS); the newest when there are several.
 */
export async function partitionConsumer(
  jsm: JetStreamManager,
  stream: string,
  partition: number,
): Promise<ConsumerInfo> {
  let newest: ConsumerInfo | undefined;
  for await (const info of await jsm.consumers.list(stream)) {
    if (!isDurableOf(info.name, partition)) continue;
    if (!newest || Date.parse(info.created) > Date.parse(newest.created)) newest = info;
  }
  if (!newest) throw new Error(`no consumer of partition ${partition} on ${stream}`);
  return newest;
}
