/**
 * A partition's identity state (docs/events.md, Identity), on both sides of a link:
 * - as the anonymous id's partition: the stream sequences of each anonymous profile's events (its
 *   history, the last ANONYMOUS_HISTORY of them), the links learned from the BW_IDENTITY bucket,
 *   and per linked anonymous id the sequences still to forward to its customer, in stream order;
 * - as the customer's partition: the links it still has to write (pending), the anonymous ids
 *   linked to each customer (`identities`), and per merged anonymous id the highest origin
 *   sequence folded here (a forwarded event at or below it is a repeat and is dropped).
 * Plain maps keyed by id (slots move on eviction), checkpointed whole as JSON with the partition.
 */

/** Stream sequences of an anonymous profile kept for its merge (older ones are not merged). */
export const ANONYMOUS_HISTORY = 1000;

/** A link an identifying event asked for, not yet written to the bucket. */
export interface PendingLink {
  anonymousId: string;
  customerId: string;
  /** Stream sequence of the identifying event (its dead letter's id on a conflict). */
  seq: number;
}

/** A link as the anonymous id's partition knows it. */
export interface LearnedLink {
  customerId: string;
  /** When the link was written (epoch ms, the writer's clock): merge latency counts from it. */
  at: number;
  /** Whether the history known at the link was forwarded whole (the merge is done). */
  merged: boolean;
}

export interface IdentitySnapshot {
  history: [string, number[]][];
  links: [string, LearnedLink][];
  pending: PendingLink[];
  identities: [string, string[]][];
  mergedUpTo: [string, number][];
}

export class PartitionIdentity {
  /** Anonymous id → sequences: its history before the link, the ones to forward after. */
  readonly #sequences = new Map<string, number[]>();
  readonly #links = new Map<string, LearnedLink>();
  readonly #pending = new Map<string, PendingLink>();
  readonly #identities = new Map<string, string[]>();
  readonly #mergedUpTo = new Map<string, number>();

  /** The customer an anonymous id is linked to, if this partition learned it. */
  linkOf(anonymousId: string): LearnedLink | undefined {
    return this.#links.get(anonymousId);
  }

  /** Whether `id` is an anonymous profile here not linked yet. */
  isAnonymous(id: string): boolean {
    return this.#sequences.has(id) && !this.#links.has(id);
  }

  /**
   * An anonymous-only event of `anonymousId` at `seq`: true when it is folded into the anonymous
   * profile (remembered in its history), false when the id is linked (queued for forwarding).
   */
  anonymousEvent(anonymousId: string, seq: number): boolean {
    let seqs = this.#sequences.get(anonymousId);
    if (seqs === undefined) this.#sequences.set(anonymousId, (seqs = []));
    const linked = this.#links.has(anonymousId);
    if (seqs.length > 0 && seqs[seqs.length - 1]! >= seq) return !linked; // a replay of what is known
    seqs.push(seq);
    if (!linked && seqs.length > ANONYMOUS_HISTORY) seqs.shift();
    return !linked;
  }

  /**
   * A link read from the bucket: remembered, and the anonymous history becomes the queue to
   * forward. Returns false when it was already known.
   */
  learn(anonymousId: string, customerId: string, at: number): boolean {
    if (this.#links.has(anonymousId)) return false;
    const seqs = this.#sequences.get(anonymousId);
    this.#links.set(anonymousId, { customerId, at, merged: seqs === undefined || seqs.length === 0 });
    return true;
  }

  /** Linked anonymous ids with sequences still to forward. */
  *toForward(): Generator<[string, LearnedLink, readonly number[]]> {
    for (const [id, link] of this.#links) {
      const seqs = this.#sequences.get(id);
      if (seqs !== undefined && seqs.length > 0) yield [id, link, seqs];
    }
  }

  /**
   * The first queued sequence of `anonymousId` was forwarded. Returns true when that ended the
   * merge of the history known at the link (counted once).
   */
  forwarded(anonymousId: string, seq: number): boolean {
    const seqs = this.#sequences.get(anonymousId);
    if (seqs?.[0] === seq) seqs.shift();
    const link = this.#links.get(anonymousId);
    if (link === undefined || link.merged || (seqs !== undefined && seqs.length > 0)) return false;
    link.merged = true;
    return true;
  }

  /** An identifying event asks for a link; false when it is known or already asked for. */
  requestLink(customerId: string, anonymousId: string, seq: number): boolean {
    if (this.#identities.get(customerId)?.includes(anonymousId)) return false;
    const key = `${customerId}\u0000${anonymousId}`;
    if (this.#pending.has(key)) return false;
    this.#pending.set(key, { anonymousId, customerId, seq });
    return true;
  }

  pendingLinks(): PendingLink[] {
    return [...this.#pending.values()];
  }

  /** A pending link was settled: written (`linked`), or refused (another customer has it). */
  settle(link: PendingLink, linked: boolean): void {
    this.#pending.delete(`${link.customerId}\u0000${link.anonymousId}`);
    if (!linked) return;
    const ids = this.#identities.get(link.customerId);
    if (ids === undefined) this.#identities.set(link.customerId, [link.anonymousId]);
    else if (!ids.includes(link.anonymousId)) ids.push(link.anonymousId);
  }

  /** The anonymous ids linked to a customer (empty when none). */
  identitiesOf(customerId: string): readonly string[] {
    return this.#identities.get(customerId) ?? [];
  }

  /**
   * A forwarded event of `anonymousId` read from `originSeq` of its stream: true when it is new
   * (and then remembered), false at or below the highest origin sequence folded here.
   */
  admitForwarded(anonymousId: string, originSeq: number): boolean {
    if (originSeq <= (this.#mergedUpTo.get(anonymousId) ?? 0)) return false;
    this.#mergedUpTo.set(anonymousId, originSeq);
    return true;
  }

  /** Forgets an evicted anonymous profile that is not linked (its history is of no use any more). */
  forget(id: string): void {
    if (!this.#links.has(id)) this.#sequences.delete(id);
  }

  snapshot(): IdentitySnapshot {
    return {
      history: [...this.#sequences].map(([id, seqs]) => [id, [...seqs]]),
      links: [...this.#links].map(([id, link]) => [id, { ...link }]),
      pending: [...this.#pending.values()].map((p) => ({ ...p })),
      identities: [...this.#identities].map(([id, ids]) => [id, [...ids]]),
      mergedUpTo: [...this.#mergedUpTo],
    };
  }

  restore(snap: IdentitySnapshot): void {
    for (const [id, seqs] of snap.history) this.#sequences.set(id, [...seqs]);
    for (const [id, link] of snap.links) this.#links.set(id, { ...link });
    for (const p of snap.pending) this.#pending.set(`${p.customerId}\u0000${p.anonymousId}`, { ...p });
    for (const [id, ids] of snap.identities) this.#identities.set(id, [...ids]);
    for (const [id, seq] of snap.mergedUpTo) this.#mergedUpTo.set(id, seq);
  }
}
