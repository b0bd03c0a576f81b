/**
 * Identity resolution in a partition worker (docs/events.md, Identity; the state is
 * engine/state/partition-identity.ts, the link table engine/cluster/identity-links.ts).
 *
 * On the hot path (`admit`, synchronous): an anonymous-only event folds into its anonymous profile,
 * or, once its id is linked, is queued for forwarding instead; a forwarded event is folded unless
 * its origin sequence is at or below the highest one of its anonymous id folded here; an
 * identifying event (`signup` or `login` with both ids) asks for a link.
 *
 * Off the hot path, one task at a time:
 * - links asked for are created in BW_IDENTITY (first link wins); an anonymous id another customer
 *   holds dead-letters the identifying event on `bw.dlq.identity_conflict`;
 * - each owned partition watches its keys (`<p>.>`): a link learned turns its anonymous history into
 *   the queue to forward;
 * - queued sequences are forwarded in stream order, each awaited before the next, to the
 *   customer's subject with customer_id set, msgID `fwd-<stream>-<seq>` and headers naming the
 *   origin. In order and one at a time, so the customer's partition receives an anonymous id's
 *   forwards in increasing origin sequence and can drop repeats by the highest one alone.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { headers as natsHeaders, type QueuedIterator } from '@nats-io/transport-node';
import type { ParsedEvent } from '../../contract/event-parse.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import { eventSubject } from '../../contract/subjects.js';
import { isRevisionConflict } from '../cluster/buckets.js';
import {
  anonymousIdOfKey,
  IDENTITY_BUCKET,
  type LinkValue,
  linkFilter,
  linkKey,
  ORIGIN_SEQ_HEADER,
  ORIGIN_STREAM_HEADER,
  parseLink,
} from '../cluster/identity-links.js';
import { deadLetter } from '../nats/dead-letters.js';
import { bumpCustomer } from '../pool/answer-versions.js';
import type { PendingLink } from '../state/partition-identity.js';
import type { PartitionState } from '../state/partition-state.js';
import type { PartitionFeed, WorkerContext } from './context.js';

/** Event types that link an anonymous id to a customer when they carry both ids. */
const IDENTIFYING = new Set([eventTypeIndex('signup'), eventTypeIndex('login')]);

/** Pause before work that failed (the bucket or the stream not reachable) is tried again. */
const RETRY_MS = 1000;

const decoder = new TextDecoder();

export class WorkerIdentity {
  readonly #ctx: WorkerContext;
  #kv: KV | undefined;
  readonly #watches = new Map<number, QueuedIterator<unknown>>();
  /**
   * Bodies of live events queued for forwarding, per partition state and sequence (saves reading
   * them back); forgotten with the state when the partition is disowned or rebuilt.
   */
  readonly #bodies = new WeakMap<PartitionState, Map<number, Uint8Array>>();
  #scheduled = false;
  #running = false;
  #retry: NodeJS.Timeout | undefined;
  /** Test hook (BW_TEST_KILL_AFTER_FORWARDS): forwards left before the process kills itself. */
  #killAfter: number;

  constructor(ctx: WorkerContext, killAfterForwards?: number) {
    this.#ctx = ctx;
    this.#killAfter = killAfterForwards ?? Number.POSITIVE_INFINITY;
  }

  /** Opens the link bucket (the main thread created it). */
  async open(): Promise<void> {
    this.#kv = await new Kvm(this.#ctx.js()).open(IDENTITY_BUCKET);
  }

  /**
   * The hot path's part: true when the event is folded into `body.customer_id`'s state as usual,
   * false when it is not folded here (forwarded to its customer, or a forwarded repeat).
   */
  admit(feed: PartitionFeed, msg: JsMsg, event: ParsedEvent, seq: number): boolean {
    const identity = feed.state.identity;
    const body = event.body;
    if (event.anonymous) {
      if (identity.anonymousEvent(body.customer_id, seq)) return true;
      let bodies = this.#bodies.get(feed.state);
      if (bodies === undefined) this.#bodies.set(feed.state, (bodies = new Map()));
      bodies.set(seq, msg.data);
      this.#schedule();
      return false;
    }
    const anonymousId = body.anonymous_id;
    if (anonymousId === undefined) return true;
    const origin = msg.headers?.get(ORIGIN_SEQ_HEADER);
    if (origin) {
      if (identity.admitForwarded(anonymousId, Number(origin))) return true;
      this.#ctx.metrics.duplicates.inc();
      return false;
    }
    if (IDENTIFYING.has(event.typeIndex) && identity.requestLink(body.customer_id, anonymousId, seq))
      this.#schedule();
    return true;
  }

  /** Starts watching a partition's links (after its checkpoint is loaded). */
  async watch(feed: PartitionFeed): Promise<void> {
    const kv = this.#kv;
    if (!kv) return;
    const p = feed.state.partition;
    this.unwatch(p);
    const watch = await kv.watch({ key: linkFilter(p), ignoreDeletes: true });
    this.#watches.set(p, watch);
    void (async () => {
      for await (const entry of watch) {
        const anonymousId = anonymousIdOfKey(entry.key);
        const link = parseLink(entry.value);
        if (anonymousId !== undefined && link !== undefined) this.#learn(p, anonymousId, link);
      }
    })().catch((err: unknown) => this.#ctx.log.warn({ partition: p, err }, 'identity link watch ended'));
    this.#schedule();
  }

  /** Stops watching a partition's links (it is disowned). */
  unwatch(partition: number): void {
    this.#watches.get(partition)?.stop();
    this.#watches.delete(partition);
  }

  #learn(partition: number, anonymousId: string, link: LinkValue): void {
    const feed = this.#ctx.feeds.get(partition);
    if (!feed || feed.fenced) return;
    if (!feed.state.identity.learn(anonymousId, link.customer_id, link.at)) return;
    feed.sweptSinceCheckpoint = true;
    bumpCustomer(this.#ctx.versions, anonymousId);
    this.#schedule();
  }

  /** Runs the off-path work soon (once, whatever asks). */
  #schedule(): void {
    if (this.#scheduled || this.#ctx.isStopping()) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#scheduled = true; // picked up when the run under way ends
      return;
    }
    this.#running = true;
    let failed = false;
    try {
      for (const feed of [...this.#ctx.feeds.values()]) {
        if (!this.#current(feed)) continue;
        failed = !(await this.#link(feed)) || failed;
        failed = !(await this.#forward(feed)) || failed;
      }
    } finally {
      this.#running = false;
    }
    if (this.#scheduled) {
      this.#scheduled = false;
      this.#schedule();
    } else if (failed && this.#retry === undefined && !this.#ctx.isStopping()) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#schedule();
      }, RETRY_MS);
      this.#retry.unref();
    }
  }

  #current(feed: PartitionFeed): boolean {
    return this.#ctx.feeds.get(feed.state.partition) === feed && this.#ctx.leaseValid(feed);
  }

  /** Writes the partition's pending links; false when one must be tried again. */
  async #link(feed: PartitionFeed): Promise<boolean> {
    const kv = this.#kv;
    const state = feed.state;
    const pending = state.identity.pendingLinks();
    if (!kv || pending.length === 0) return true;
    const { metrics, log, config } = this.#ctx;
    for (const link of pending) {
      const key = linkKey(link.anonymousId, config.partitions);
      const value: LinkValue = {
        customer_id: link.customerId,
        at: Date.now(),
        stream: feed.stream,
        seq: link.seq,
      };
      let linked: boolean;
      try {
        try {
          await kv.create(key, JSON.stringify(value));
          metrics.identityLinks.inc();
          linked = true;
        } catch (err) {
          if (!isRevisionConflict(err) && !/exists/i.test(String(err))) throw err;
          const entry = await kv.get(key);
          const held = entry ? parseLink(entry.value) : undefined;
          if (!held) throw err;
          linked = held.customer_id === link.customerId;
          if (!linked) await this.#conflict(feed, link);
        }
      } catch (err) {
        log.warn({ partition: state.partition, err }, 'identity link not written yet; retrying');
        return false;
      }
      if (feed.state !== state || !this.#current(feed)) return true;
      state.identity.settle(link, linked);
      feed.sweptSinceCheckpoint = true;
      bumpCustomer(this.#ctx.versions, link.customerId);
    }
    return true;
  }

  /** Dead-letters the identifying event whose anonymous id another customer holds. */
  async #conflict(feed: PartitionFeed, link: PendingLink): Promise<void> {
    const ctx = this.#ctx;
    const jsm = await ctx.js().jetstreamManager();
    const stored = await jsm.streams.getMessage(feed.stream, { seq: link.seq }).catch(() => null);
    const letter = deadLetter(
      { subject: stored?.subject ?? '', seq: link.seq, data: stored?.data ?? new Uint8Array(0) },
      'identity_conflict',
      'anonymous_id is already linked to another customer; the event counts for its customer_id',
      ctx.sealer().keyring,
      feed.stream,
    );
    await ctx.js().publish(letter.subject, letter.body, { msgID: letter.msgID, headers: letter.headers });
    ctx.metrics.rejected.labels('identity_conflict').inc();
    ctx.log.warn(
      { partition: feed.state.partition, seq: link.seq },
      'identity link refused: another customer holds it',
    );
  }

  /** Forwards the partition's queued sequences of linked anonymous ids; false on a failure. */
  async #forward(feed: PartitionFeed): Promise<boolean> {
    const ctx = this.#ctx;
    const state = feed.state;
    for (const [anonymousId, link, seqs] of state.identity.toForward()) {
      while (seqs.length > 0) {
        const seq = seqs[0]!;
        try {
          let data = this.#bodies.get(state)?.get(seq);
          if (data === undefined) {
            const jsm = await ctx.js().jetstreamManager();
            data = (await jsm.streams.getMessage(feed.stream, { seq }).catch(notFound))?.data;
          }
          if (feed.state !== state || !this.#current(feed)) return true;
          if (data !== undefined)
            await this.#publishForward(feed.stream, seq, data, anonymousId, link.customerId);
          if (--this.#killAfter <= 0) {
            ctx.log.error({ partition: state.partition, seq }, 'test hook: killing the engine process');
            process.kill(process.pid, 'SIGKILL');
          }
        } catch (err) {
          ctx.log.warn(
            { partition: state.partition, seq, err },
            'anonymous event not forwarded yet; retrying',
          );
          return false;
        }
        if (feed.state !== state) return true;
        this.#bodies.get(state)?.delete(seq);
        feed.sweptSinceCheckpoint = true;
        if (state.identity.forwarded(anonymousId, seq)) {
          ctx.metrics.identityMerges.inc();
          ctx.metrics.identityMergeSeconds.observe(Math.max(0, Date.now() - link.at) / 1000);
          ctx.log.debug({ partition: state.partition }, 'anonymous history merged');
        }
        if (seqs[0] === seq) break; // not taken off the queue: never loop on it
      }
    }
    return true;
  }

  async #publishForward(
    stream: string,
    seq: number,
    data: Uint8Array,
    anonymousId: string,
    customerId: string,
  ): Promise<void> {
    const body = JSON.parse(decoder.decode(data)) as Record<string, unknown>;
    body['customer_id'] = customerId;
    body['anonymous_id'] = anonymousId;
    const h = natsHeaders();
    h.set(ORIGIN_STREAM_HEADER, stream);
    h.set(ORIGIN_SEQ_HEADER, String(seq));
    await this.#ctx.js().publish(eventSubject(String(body['type']), customerId), JSON.stringify(body), {
      msgID: `fwd-${stream}-${seq}`,
      headers: h,
    });
  }
}

/** A message gone from the stream (its age ran out) is not forwarded; other errors are retried. */
function notFound(err: unknown): null {
  if (/no message found|not found/i.test(String(err))) return null;
  throw err;
}
