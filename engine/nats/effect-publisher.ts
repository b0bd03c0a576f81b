/**
 * Publishing a batch's effects (alerts, rule actions, segment changes, dead letters) with one
 * JetStream round trip per stream instead of one per message.
 *
 * Effects are queued during a batch and sent by `commit()`: per stream, every message but the last
 * as a plain (core) publish carrying its `Nats-Msg-Id` header, then the last one as a JetStream
 * publish, whose acknowledgement is awaited. The server handles one connection's messages in the
 * order they were sent, and a stream stores what it receives in that order, so the ack of the last
 * message means the stream has taken every earlier one of the batch (stored, or dropped as a
 * duplicate by its `Nats-Msg-Id`). If a group fails, it is sent again (same ids, so repeats are
 * dropped) with growing pauses, and the batch is acked only once its effects are stored.
 *
 * Every effect queued between two commits gets the same promise: it resolves when every group of
 * that commit is stored and rejects if one is given up. So a stream that keeps refusing (say
 * BW_DLQ at a storage limit) holds back the acks of every partition in the batch, not only of
 * those with a dead letter; segment changes and alerts already did. Acks are cumulative: the next
 * batch that stores its effects acks what came before. (A promise, two closures and an
 * `allSettled` entry per effect, then copied into each partition's wait list, were ~5% of a
 * worker's allocated bytes.)
 *
 * Measured reason: each JetStream publish is a request (a reply inbox entry, a timer, and in
 * @nats-io/nats-core 3.4 an Error object built with its stack when the request completes); with a
 * few effects per customer these requests were the largest cost of a worker after parsing.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';

interface Queued {
  subject: string;
  data: Uint8Array | string;
  msgID: string;
  headers: MsgHdrs | undefined;
}

/** What the effects of one commit wait on together. */
interface Outcome {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Groups of the commit not yet stored. */
  groups: number;
  failed: boolean;
}

function outcome(): Outcome {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers await it (the partition's ack, the sweep); never an unhandled rejection on its own.
  promise.catch(() => {});
  return { promise, resolve, reject, groups: 0, failed: false };
}

/** Attempts at sending a group before its effects are given up (about 16 s of pauses). */
const RETRIES = 7;

/** The stream a subject is stored in (one group per stream: the ordering argument is per stream). */
function streamOf(subject: string): string {
  const dot = subject.indexOf('.', 3);
  return dot < 0 ? subject : subject.slice(0, dot);
}

export class EffectPublisher {
  readonly #nc: () => NatsConnection;
  readonly #js: () => JetStreamClient;
  #queued: Queued[] = [];
  #open: Outcome | undefined;

  constructor(nc: () => NatsConnection, js: () => JetStreamClient) {
    this.#nc = nc;
    this.#js = js;
  }

  get pending(): number {
    return this.#queued.length;
  }

  /**
   * Queues one effect; the promise (shared by every effect of the next commit) settles when that
   * `commit()` knows they are all stored.
   */
  publish(subject: string, data: Uint8Array | string, msgID: string, headers?: MsgHdrs): Promise<void> {
    this.#queued.push({ subject, data, msgID, headers });
    this.#open ??= outcome();
    return this.#open.promise;
  }

  /** Sends everything queued (see the module comment). */
  commit(): void {
    if (this.#queued.length === 0) return;
    const queued = this.#queued;
    const done = this.#open!;
    this.#queued = [];
    this.#open = undefined;
    const groups = new Map<string, Queued[]>();
    for (const q of queued) {
      const key = streamOf(q.subject);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = []));
      group.push(q);
    }
    done.groups = groups.size;
    for (const group of groups.values()) this.#send(group, 0, done);
  }

  /**
   * Sends one stream's group; on a failure (connection down, a timeout) sends the whole group again
   * after a growing pause — the ids make repeats harmless — and gives up, rejecting the commit's
   * promise, only after RETRIES attempts. (Giving up loses the batch's effects: its messages are
   * already folded, so a redelivery would not produce them again.)
   */
  #send(group: Queued[], attempt: number, done: Outcome): void {
    const retry = (err: unknown): void => {
      if (attempt + 1 >= RETRIES) {
        done.failed = true;
        done.reject(err);
        return;
      }
      setTimeout(() => this.#send(group, attempt + 1, done), 250 * 2 ** attempt);
    };
    const last = group[group.length - 1]!;
    try {
      const nc = this.#nc();
      for (let i = 0; i < group.length - 1; i++) {
        const q = group[i]!;
        const h = q.headers ?? natsHeaders();
        h.set('Nats-Msg-Id', q.msgID);
        nc.publish(q.subject, q.data, { headers: h });
      }
    } catch (err) {
      retry(err);
      return;
    }
    const opts = last.headers ? { msgID: last.msgID, headers: last.headers } : { msgID: last.msgID };
    this.#js()
      .publish(last.subject, last.data, opts)
      .then(() => {
        if (--done.groups === 0 && !done.failed) done.resolve();
      }, retry);
  }
}

/** The distinct promises of some lists (effects of one commit share one, so these are few). */
export function distinctPromises(...lists: readonly (readonly Promise<unknown>[])[]): Promise<unknown>[] {
  const out: Promise<unknown>[] = [];
  for (const list of lists) for (const p of list) if (!out.includes(p)) out.push(p);
  return out;
}
