/**
 * Multi-touch attribution of one partition (docs/analytics.md).
 *
 * Touches are `campaign_touch` and `email_click` events; their channel is the event's `channel`
 * when present, else its `campaign` (a touch with neither is ignored). Channel names are interned
 * to small ids per partition, at most `maxChannels` (64) of them: once maxChannels − 1 names are
 * taken, every new name goes to the `other` bucket. Per customer, the last `touches` (8) touches
 * by arrival live in a ring of typed columns (channel id u8, event time f64, head u8).
 *
 * On a purchase at time P with amount A, the touches with P − lookback ≤ t ≤ P (30 days; a touch
 * after the purchase does not count even if it arrived before) are credited, one conversion and A
 * of revenue split as:
 * - last_touch: all to the touch with the latest time (ties: the later arrival);
 * - linear: 1/k to each of the k touches (a channel touched twice gets 2/k);
 * - time_decay: w_j = 2^(−(P − t_j)/half-life) (7 days), touch j gets w_j / Σ w;
 * - shapley: the journey's set of distinct channels is counted (conversions and revenue) in a map
 *   keyed by the set; Shapley values are computed when asked (attribution-report.ts).
 * A purchase without a touch in the lookback counts as unattributed. Touches are not consumed: a
 * touch is credited by every purchase within its lookback. Credits accumulate in Float64Arrays
 * indexed by channel id; {@link AttributionTracker.snapshot} names them for the merge.
 */
import { BellwetherError } from '../../contract/errors.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import type { Column, ColumnStore } from '../state/column-store.js';
import type { AttributionSnapshot, ModelCredit } from './attribution-report.js';

const OTHER_CHANNEL = 'other';
const PURCHASE = eventTypeIndex('purchase');
const CAMPAIGN_TOUCH = eventTypeIndex('campaign_touch');
const EMAIL_CLICK = eventTypeIndex('email_click');
const NONE = 255;

export interface AttributionOptions {
  /** Touches older than this before a purchase are not credited (default 30). */
  readonly lookbackDays?: number;
  /** Half-life of the time-decay model (default 7). */
  readonly halfLifeDays?: number;
  /** Touches remembered per customer (default 8, at most 32). */
  readonly touches?: number;
  /** Distinct channel ids per partition, `other` included (default 64, at most 254). */
  readonly maxChannels?: number;
  /** Distinct journey channel sets kept for Shapley (default 4,096); beyond, credit goes to shapley_overflow. */
  readonly maxJourneySets?: number;
}

class Credit {
  readonly conversions: Float64Array;
  readonly revenue: Float64Array;

  constructor(channels: number) {
    this.conversions = new Float64Array(channels);
    this.revenue = new Float64Array(channels);
  }

  plain(n: number): ModelCredit {
    return {
      conversions: Array.from(this.conversions.subarray(0, n)),
      revenue: Array.from(this.revenue.subarray(0, n)),
    };
  }

  load(from: ModelCredit): void {
    this.conversions.set(from.conversions.slice(0, this.conversions.length));
    this.revenue.set(from.revenue.slice(0, this.revenue.length));
  }
}

export class AttributionTracker {
  readonly lookbackDays: number;
  readonly halfLifeDays: number;
  readonly touches: number;
  readonly maxChannels: number;
  readonly maxJourneySets: number;
  readonly #lookbackMs: number;
  readonly #halfLifeMs: number;
  readonly #base: number;
  readonly #channelCol: Column;
  readonly #timeCol: Column;
  readonly #headCol: Column;
  readonly #names: string[] = [];
  readonly #ids = new Map<string, number>();
  readonly #last: Credit;
  readonly #linear: Credit;
  readonly #decay: Credit;
  readonly #overflow: Credit;
  /** Journey set code → [conversions, revenue]. */
  readonly #journeys = new Map<number, Float64Array>();
  #conversions = 0;
  #revenue = 0;
  #unattributed = 0;
  #unattributedRevenue = 0;
  // Scratch for one purchase.
  readonly #ids8: Uint8Array;
  readonly #times8: Float64Array;
  readonly #set8: Uint8Array;

  constructor(store: ColumnStore, options: AttributionOptions = {}) {
    this.lookbackDays = options.lookbackDays ?? 30;
    this.halfLifeDays = options.halfLifeDays ?? 7;
    this.touches = options.touches ?? 8;
    this.maxChannels = options.maxChannels ?? 64;
    this.maxJourneySets = options.maxJourneySets ?? 4096;
    if (!(this.lookbackDays > 0) || !(this.halfLifeDays > 0))
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `attribution lookbackDays and halfLifeDays must be > 0, got ${this.lookbackDays} and ${this.halfLifeDays}`,
      );
    if (!Number.isInteger(this.touches) || this.touches < 1 || this.touches > 32) {
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `attribution touches must be an integer in [1, 32], got ${this.touches}`,
      );
    }
    if (!Number.isInteger(this.maxChannels) || this.maxChannels < 2 || this.maxChannels > 254) {
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `attribution maxChannels must be an integer in [2, 254], got ${this.maxChannels}`,
      );
    }
    this.#base = this.maxChannels + 1;
    // A journey set is coded exactly in a double: Σ (id + 1)·base^p over its ≤ `touches` sorted ids.
    if (this.#base ** Math.min(this.touches, this.maxChannels) > Number.MAX_SAFE_INTEGER) {
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `attribution (maxChannels + 1)^touches must stay below 2^53, got (${this.maxChannels} + 1)^${this.touches}`,
      );
    }
    this.#lookbackMs = this.lookbackDays * DAY_MS;
    this.#halfLifeMs = this.halfLifeDays * DAY_MS;
    const n = this.touches;
    this.#channelCol = store.column({
      name: `analytics.attribution.channel${n}`,
      kind: 'u8',
      width: n,
      initial: NONE,
    });
    this.#timeCol = store.column({ name: `analytics.attribution.time${n}`, kind: 'f64', width: n });
    this.#headCol = store.column({ name: `analytics.attribution.head${n}`, kind: 'u8', width: 1 });
    this.#last = new Credit(this.maxChannels);
    this.#linear = new Credit(this.maxChannels);
    this.#decay = new Credit(this.maxChannels);
    this.#overflow = new Credit(this.maxChannels);
    this.#ids8 = new Uint8Array(n);
    this.#times8 = new Float64Array(n);
    this.#set8 = new Uint8Array(n);
  }

  /** Channel names by id. */
  get channels(): readonly string[] {
    return this.#names;
  }

  /**
   * Folds one event: a purchase is attributed, a campaign_touch / email_click with a channel (or
   * else a campaign) is remembered; other events are ignored.
   */
  onEvent(
    slot: number,
    typeIndex: number,
    ts: number,
    amount: number,
    channel?: string | null,
    campaign?: string | null,
  ): void {
    if (typeIndex === PURCHASE) {
      this.onPurchase(slot, ts, amount);
    } else if (typeIndex === CAMPAIGN_TOUCH || typeIndex === EMAIL_CLICK) {
      const key = channel ? channel : campaign;
      if (key) this.onTouch(slot, ts, key);
    }
  }

  /** The id of a channel name, interned on first sight (`other` once the table is full). */
  channelId(name: string): number {
    const id = this.#ids.get(name);
    if (id !== undefined) return id;
    if (this.#names.length < this.maxChannels - 1 || name === OTHER_CHANNEL) return this.#intern(name);
    return this.#ids.get(OTHER_CHANNEL) ?? this.#intern(OTHER_CHANNEL);
  }

  onTouch(slot: number, ts: number, channel: string): void {
    const n = this.touches;
    const heads = this.#headCol.data;
    const head = heads[slot]!;
    this.#channelCol.data[slot * n + head] = this.channelId(channel);
    this.#timeCol.data[slot * n + head] = ts;
    heads[slot] = head + 1 === n ? 0 : head + 1;
  }

  onPurchase(slot: number, ts: number, amount: number): void {
    if (!Number.isFinite(amount)) amount = 0;
    this.#conversions++;
    this.#revenue += amount;
    const n = this.touches;
    const base = slot * n;
    const head = this.#headCol.data[slot]!;
    const chs = this.#channelCol.data;
    const times = this.#timeCol.data;
    const ids = this.#ids8;
    const tss = this.#times8;
    let k = 0;
    let lastK = 0;
    for (let i = 0; i < n; i++) {
      const j = base + ((head + i) % n); // oldest arrival first
      const ch = chs[j]!;
      if (ch === NONE) continue;
      const t = times[j]!;
      if (t > ts || ts - t > this.#lookbackMs) continue;
      ids[k] = ch;
      tss[k] = t;
      if (k === 0 || t >= tss[lastK]!) lastK = k;
      k++;
    }
    if (k === 0) {
      this.#unattributed++;
      this.#unattributedRevenue += amount;
      return;
    }
    const last = ids[lastK]!;
    this.#last.conversions[last]! += 1;
    this.#last.revenue[last]! += amount;
    let wsum = 0;
    for (let i = 0; i < k; i++) {
      const id = ids[i]!;
      this.#linear.conversions[id]! += 1 / k;
      this.#linear.revenue[id]! += amount / k;
      tss[i] = 2 ** (-(ts - tss[i]!) / this.#halfLifeMs); // from here on: the decay weight
      wsum += tss[i]!;
    }
    for (let i = 0; i < k; i++) {
      const share = tss[i]! / wsum;
      this.#decay.conversions[ids[i]!]! += share;
      this.#decay.revenue[ids[i]!]! += amount * share;
    }
    this.#countJourney(k, amount);
  }

  /** Counts the set of distinct channels among the first k scratch ids. */
  #countJourney(k: number, amount: number): void {
    const ids = this.#ids8;
    const set = this.#set8;
    let m = 0;
    for (let i = 0; i < k; i++) {
      const id = ids[i]!;
      let p = m;
      while (p > 0 && set[p - 1]! > id) p--;
      if (p > 0 && set[p - 1] === id) continue;
      set.copyWithin(p + 1, p, m);
      set[p] = id;
      m++;
    }
    let code = 0;
    for (let i = 0; i < m; i++) code = code * this.#base + set[i]! + 1;
    let counts = this.#journeys.get(code);
    if (counts === undefined && this.#journeys.size < this.maxJourneySets) {
      counts = new Float64Array(2);
      this.#journeys.set(code, counts);
    }
    if (counts !== undefined) {
      counts[0]! += 1;
      counts[1]! += amount;
      return;
    }
    for (let i = 0; i < m; i++) {
      this.#overflow.conversions[set[i]!]! += 1 / m;
      this.#overflow.revenue[set[i]!]! += amount / m;
    }
  }

  /** A customer's remembered touches, oldest arrival first (for answers and tests). */
  touchesOf(slot: number): { channel: string; ts: number }[] {
    const n = this.touches;
    const head = this.#headCol.data[slot]!;
    const out: { channel: string; ts: number }[] = [];
    for (let i = 0; i < n; i++) {
      const j = slot * n + ((head + i) % n);
      const ch = this.#channelCol.data[j]!;
      if (ch !== NONE) out.push({ channel: this.#names[ch]!, ts: this.#timeCol.data[j]! });
    }
    return out;
  }

  /** Plain, name-keyed results (merge with mergeAttribution); channels[i] is the name of id i. */
  snapshot(): AttributionSnapshot {
    const n = this.#names.length;
    const journeys = [...this.#journeys].map(([code, counts]) => ({
      channels: this.#decode(code).sort(),
      conversions: counts[0]!,
      revenue: counts[1]!,
    }));
    return {
      lookback_days: this.lookbackDays,
      half_life_days: this.halfLifeDays,
      channels: [...this.#names],
      last_touch: this.#last.plain(n),
      linear: this.#linear.plain(n),
      time_decay: this.#decay.plain(n),
      journeys,
      shapley_overflow: this.#overflow.plain(n),
      conversions: this.#conversions,
      revenue: this.#revenue,
      unattributed: { conversions: this.#unattributed, revenue: this.#unattributedRevenue },
    };
  }

  /**
   * Restores a snapshot of this partition (checkpoints) into a fresh tracker: channel names are
   * interned in the snapshot's order, so the channel ids kept in the customers' columns stay valid.
   */
  restore(snapshot: AttributionSnapshot): void {
    if (this.#names.length > 0 || this.#conversions > 0)
      throw new BellwetherError(
        'BW_ERR_INTERNAL',
        'attribution restore needs a fresh tracker, this one has been used',
      );
    if (snapshot.lookback_days !== this.lookbackDays || snapshot.half_life_days !== this.halfLifeDays) {
      throw new BellwetherError(
        'BW_ERR_STATE_MISMATCH',
        `attribution snapshot of lookback ${snapshot.lookback_days} d / half-life ${snapshot.half_life_days} d restores only under the same settings, these are ${this.lookbackDays} d / ${this.halfLifeDays} d`,
      );
    }
    if (snapshot.channels.length > this.maxChannels)
      throw new BellwetherError(
        'BW_ERR_STATE_MISMATCH',
        `attribution snapshot names ${snapshot.channels.length} channels, this tracker holds at most ${this.maxChannels}`,
      );
    for (const name of snapshot.channels) this.#intern(name);
    this.#last.load(snapshot.last_touch);
    this.#linear.load(snapshot.linear);
    this.#decay.load(snapshot.time_decay);
    this.#overflow.load(snapshot.shapley_overflow);
    for (const j of snapshot.journeys) {
      const sorted = j.channels.map((name) => this.channelId(name)).sort((a, b) => a - b);
      let code = 0;
      for (const id of sorted) code = code * this.#base + id + 1;
      this.#journeys.set(code, Float64Array.of(j.conversions, j.revenue));
    }
    this.#conversions = snapshot.conversions;
    this.#revenue = snapshot.revenue;
    this.#unattributed = snapshot.unattributed.conversions;
    this.#unattributedRevenue = snapshot.unattributed.revenue;
  }

  #intern(name: string): number {
    const id = this.#names.length;
    this.#names.push(name);
    this.#ids.set(name, id);
    return id;
  }

  #decode(code: number): string[] {
    const out: string[] = [];
    while (code > 0) {
      out.push(this.#names[(code % this.#base) - 1]!);
      code = Math.floor(code / this.#base);
    }
    return out;
  }
}
