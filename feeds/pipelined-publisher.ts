/**
 * Pipelined JetStream publishes for batch import (`bellwether replay`): each event is a core
 * publish with `Nats-Msg-Id` and a reply subject under one inbox of this publisher, so the stream
 * answers every message with its publish ack there, and up to `window` messages are in flight.
 * nats.js's `js.publish` builds a promise, a timer and a request per message and topped out at a
 * few thousand events/s here; one subscription and a ring of the in-flight messages do the same
 * work without them.
 *
 * Every message is confirmed: stored, or a duplicate the stream already holds (`Nats-Msg-Id`
 * inside its duplicate window). A message not confirmed within `resendMs` (an ack lost to a
 * reconnect, a stream leader moving) is published again with the same id, which the stream's
 * dedupe makes safe. A refusal (`{"error": …}`, or no stream for the subject) fails the import with
 * BW_ERR_REPLAY_PUBLISH. `confirmed` is how many messages, from the first, are all confirmed: what
 * a resumed import may skip.
 */
import {
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';

export interface PipelinedPublisherOptions {
  /** Messages in flight at most (default 8192). */
  window?: number;
  /** A message unconfirmed this long is published again (default 5000 ms). */
  resendMs?: number;
  /** The connection's inbox prefix (a user allowed only its own inboxes), default `_INBOX`. */
  inboxPrefix?: string;
}

interface InFlight {
  subject: string;
  body: string;
  msgId: string;
  sentAt: number;
}

export class PipelinedPublisher {
  /** Messages confirmed from the first on, in order: a resumed import may skip this many. */
  confirmed = 0;
  /** Confirmed as newly stored, and as duplicates the stream already held. */
  stored = 0;
  duplicates = 0;
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  readonly #sub: Subscription;
  readonly #window: number;
  readonly #resendMs: number;
  readonly #ring: (InFlight | undefined)[];
  readonly #acked: Uint8Array;
  /** Messages published so far (the next one's index). */
  #sent = 0;
  #failure: BellwetherError | undefined;
  #wake: (() => void) | undefined;
  readonly #decoder = new TextDecoder();
  /** One header set, rewritten per message (a publish encodes it at once). */
  readonly #headers: MsgHdrs = headers();

  constructor(nc: NatsConnection, opts: PipelinedPublisherOptions = {}) {
    this.#nc = nc;
    this.#window = opts.window ?? 8192;
    this.#resendMs = opts.resendMs ?? 5000;
    this.#ring = new Array<InFlight | undefined>(this.#window);
    this.#acked = new Uint8Array(this.#window);
    this.#inbox = createInbox(opts.inboxPrefix);
    this.#sub = nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => this.#onAck(err, msg) });
  }

  /** Messages published and not yet confirmed. */
  get inFlight(): number {
    return this.#sent - this.confirmed;
  }

  /** Waits until the window has room for one more message. */
  async room(): Promise<void> {
    while (this.#sent - this.confirmed >= this.#window) await this.#progress();
    this.#throwIfFailed();
  }

  /**
   * Publishes one message if the window has room (false otherwise): synchronous, so messages
   * published in one go leave in one socket write (the client flushes at the next microtask).
   */
  tryPublish(subject: string, body: string, msgId: string): boolean {
    this.#throwIfFailed();
    if (this.#sent - this.confirmed >= this.#window) return false;
    const index = this.#sent++;
    const entry = { subject, body, msgId, sentAt: Date.now() };
    this.#ring[index % this.#window] = entry;
    this.#acked[index % this.#window] = 0;
    this.#send(index, entry);
    return true;
  }

  /** Waits until every message published is confirmed. */
  async drain(): Promise<void> {
    while (this.confirmed < this.#sent) await this.#progress();
    this.#throwIfFailed();
  }

  /** Stops listening for acks (after drain, or when giving up). */
  close(): void {
    this.#sub.unsubscribe();
  }

  #send(index: number, entry: InFlight): void {
    this.#headers.set('Nats-Msg-Id', entry.msgId);
    this.#nc.publish(entry.subject, entry.body, { headers: this.#headers, reply: `${this.#inbox}.${index}` });
  }

  /** Resolves at the next ack, or after a while: then resends what waited too long. */
  async #progress(): Promise<void> {
    this.#throwIfFailed();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(1000, this.#resendMs));
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
    this.#resendStale();
  }

  #resendStale(): void {
    const now = Date.now();
    for (let i = this.confirmed; i < this.#sent; i++) {
      const slot = i % this.#window;
      const entry = this.#ring[slot];
      if (this.#acked[slot] === 1 || entry === undefined || now - entry.sentAt < this.#resendMs) continue;
      entry.sentAt = now;
      this.#send(i, entry);
    }
  }

  #onAck(err: Error | null, msg: Msg): void {
    if (err) {
      this.#fail(`the ack subscription failed: ${err.message}`);
      return;
    }
    const index = Number(msg.subject.slice(this.#inbox.length + 1));
    if (!(index >= this.confirmed && index < this.#sent)) return; // a late second ack of a resend
    const slot = index % this.#window;
    if (this.#acked[slot] === 1) return;
    // A PubAck is `{"stream":…,"seq":…}`, with `,"duplicate":true` for a duplicate; a refusal is
    // `{"error":{…}}`, or an empty status message (503: no stream for the subject).
    const data = msg.data;
    const n = data.length;
    if (n === 0 || data[2] === 0x65 /* {"e */) {
      const status = msg.headers?.code ? ` (status ${msg.headers.code})` : '';
      const text = n > 0 ? this.#decoder.decode(data) : 'no stream answers for the subject';
      this.#fail(`${this.#ring[slot]?.subject ?? 'a message'} was not stored${status}: ${text}`);
      return;
    }
    if (data[n - 2] === 0x65 /* true} */) this.duplicates++;
    else this.stored++;
    this.#acked[slot] = 1;
    this.#ring[slot] = undefined;
    while (this.confirmed < this.#sent && this.#acked[this.confirmed % this.#window] === 1) {
      this.#acked[this.confirmed % this.#window] = 0;
      this.confirmed++;
    }
    this.#wake?.();
  }

  #fail(message: string): void {
    this.#failure ??= new BellwetherError('BW_ERR_REPLAY_PUBLISH', message);
    this.#wake?.();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }
}
