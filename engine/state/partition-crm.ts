/**
 * The CRM analytics of one partition, over the partition's customer slots: funnels, paths,
 * attribution (their per-customer state lives in the partition's typed columns), RFM scores and
 * segments, tags, and the rule engine with its keyed absence timers. Pure state transitions; the
 * worker publishes what they return.
 */

import type { ParsedEvent } from '../../contract/event-parse.js';
import { eventTypeIndex } from '../../contract/event-types.js';
import { AttributionTracker } from '../../operators/analytics/attribution.js';
import type { AttributionSnapshot } from '../../operators/analytics/attribution-report.js';
import { DailyCube, type DailyCubeJSON } from '../../operators/analytics/daily-cube.js';
import { hashId } from '../../operators/analytics/distinct-sketch.js';
import { type FunnelCounts, FunnelTracker } from '../../operators/analytics/funnels.js';
import { type PathStatsJSON, PathTracker } from '../../operators/analytics/paths.js';
import {
  classifySegment,
  type RfmCuts,
  type RfmScore,
  type RfmSketches,
  SEGMENTS,
  type Segment,
  type SegmentStats,
  scoreRfm,
} from '../../operators/analytics/rfm.js';
import type { CrmConfig } from '../../operators/crm/config.js';
import type { ExpressionValue } from '../../operators/crm/expression.js';
import type { TagEvaluator } from '../../operators/crm/tags.js';
import type { FeaturePlan } from '../../operators/features/feature-table.js';
import type { Column } from '../../operators/state/column-store.js';
import type { ProfilePolicy } from '../../security/pii-policy.js';
import type { PiiSealer, SealedPii } from '../../security/pii-sealer.js';
import { type BasketsSnapshot, PartitionBaskets } from './partition-baskets.js';
import { PartitionPii, type ProfileOutcome } from './partition-pii.js';
import type { PartitionState } from './partition-state.js';

const NO_SEGMENT = 255;
/** 32-bit words of tag bits per customer (64 tags at most). */
const TAG_WORDS = 2;

export interface SegmentChange {
  customer_id: string;
  slot: number;
  from: Segment | null;
  to: Segment;
}

const PROFILE = eventTypeIndex('profile');

type ProfileValue = string | number | boolean;

export interface CrmSnapshot {
  funnels: FunnelCounts[];
  /**
   * [slot, fields] of customers with plain profile fields (the allow-listed ones). Checkpoints of
   * before the allow-list may hold personal fields here too: restore() seals them.
   */
  profiles?: [number, Record<string, ProfileValue>][];
  /** [slot, sealed record] of customers with personal fields (field → ciphertext in older checkpoints). */
  pii?: [number, SealedPii][];
  paths: PathStatsJSON;
  attribution: AttributionSnapshot;
  /** The daily cube (absent in checkpoints written before 2026-12-07: it starts empty). */
  daily?: DailyCubeJSON;
  /** Basket counts, open baskets, category names (absent in checkpoints before 2026-12-07). */
  baskets?: BasketsSnapshot;
}

export class PartitionCrm {
  config: CrmConfig;
  funnels: FunnelTracker;
  readonly paths: PathTracker;
  readonly attribution: AttributionTracker;
  /** Per-day counters by segment × event type × channel (daily-cube.ts). */
  readonly daily = new DailyCube();
  /** Baskets, association rules and next-best categories. */
  readonly baskets: PartitionBaskets;
  readonly segment: Column;
  readonly rfm: Column;
  readonly tags: Column;
  /** Personal fields, sealed. */
  readonly pii: PartitionPii;
  readonly #state: PartitionState;
  readonly #policy: ProfilePolicy;
  readonly #featureIndex: Map<string, number>;
  readonly #vector: Float64Array;
  readonly #score: RfmScore = { r: 0, f: 0, m: 0 };
  readonly #profiles: (Record<string, ProfileValue> | undefined)[] = [];
  #slot = 0;
  #now = 0;
  /** The vector is computed on the first feature lookup after {@link prepare}. */
  #stale = true;
  /** Only these features are computed on a lookup (an aggregate query's): {@link preparePlanned}. */
  #plan: FeaturePlan | undefined;

  constructor(state: PartitionState, config: CrmConfig, sealer: () => PiiSealer, policy: ProfilePolicy) {
    this.#state = state;
    this.#policy = policy;
    this.pii = new PartitionPii(sealer, policy);
    this.config = config;
    const store = state.table.store;
    this.funnels = new FunnelTracker(config.funnels, store);
    this.paths = new PathTracker(store);
    this.attribution = new AttributionTracker(store);
    this.baskets = new PartitionBaskets(store);
    this.segment = store.column({ name: 'crm.segment', kind: 'u8', width: 1, initial: NO_SEGMENT });
    this.rfm = store.column({ name: 'crm.rfm', kind: 'u8', width: 3 });
    this.tags = store.column({ name: 'crm.tags', kind: 'u32', width: TAG_WORDS });
    this.#featureIndex = new Map(state.table.names.map((n, i) => [n, i]));
    this.#vector = new Float64Array(state.table.names.length);
  }

  /**
   * Folds one valid event into the analytics (after the feature operators). Returns what a profile
   * event did to the customer's personal fields (partition-pii.ts), undefined for other events.
   */
  onEvent(slot: number, event: ParsedEvent): ProfileOutcome | undefined {
    let outcome: ProfileOutcome | undefined;
    if (event.typeIndex === PROFILE && event.body.props) {
      this.#profile(slot, event.body.props);
      outcome = this.pii.onProfile(slot, event.body.customer_id, event.body.props);
    }
    // An anonymous profile's events enter funnels, paths and attribution once, with its customer's
    // after the merge (docs/events.md, Identity): these counts are cumulative and cannot be undone.
    if (event.anonymous) return outcome;
    this.funnels.onEvent(slot, event.typeIndex, event.ts);
    this.paths.onEvent(slot, event.typeIndex);
    this.attribution.onEvent(
      slot,
      event.typeIndex,
      event.ts,
      event.amount,
      event.body.channel,
      event.body.campaign,
    );
    this.daily.add(
      event.ts,
      this.segment.data[slot]!,
      event.typeIndex,
      event.body.channel,
      event.amount,
      hashId(event.body.customer_id),
    );
    this.baskets.onEvent(slot, event);
    return outcome;
  }

  /**
   * Keeps the plain (allow-listed), scalar fields of a profile event, the latest value winning;
   * every other property is sealed apart (partition-pii.ts).
   */
  #profile(slot: number, props: Record<string, unknown>): void {
    let fields = this.#profiles[slot];
    for (const [key, value] of Object.entries(props)) {
      if (!this.#policy.isPlain(key)) continue;
      const keep =
        (typeof value === 'string' && value.length <= 256) ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        typeof value === 'boolean';
      if (!keep) continue;
      fields ??= this.#profiles[slot] = Object.create(null) as Record<string, ProfileValue>;
      fields[key] = value as ProfileValue;
    }
  }

  /** The customer in `from` now lives in `to` (slots are compacted when customers are forgotten). */
  moveSlot(from: number, to: number): void {
    this.#profiles[to] = this.#profiles[from];
    this.#profiles[from] = undefined;
    this.pii.moveSlot(from, to);
    this.baskets.moveSlot(from, to);
  }

  removeSlot(slot: number): void {
    this.#profiles[slot] = undefined;
    this.pii.removeSlot(slot);
    this.baskets.removeSlot(slot);
  }

  segmentOf(slot: number): Segment | null {
    const index = this.segment.data[slot]!;
    return index === NO_SEGMENT ? null : (SEGMENTS[index] ?? null);
  }

  rfmOf(slot: number): { r: number; f: number; m: number } {
    const base = slot * 3;
    const rfm = this.rfm.data;
    return { r: rfm[base]!, f: rfm[base + 1]!, m: rfm[base + 2]! };
  }

  /**
   * Points {@link lookup} at `slot` as of `now`; its features are computed only if read, or taken
   * from `vector` when the caller already has them (the scorer's batch).
   */
  prepare(slot: number, now: number, source?: Float64Array, offset = 0): void {
    this.#slot = slot;
    this.#now = now;
    this.#plan = undefined;
    this.#stale = source === undefined;
    if (source) {
      const v = this.#vector;
      for (let k = 0; k < v.length; k++) v[k] = source[offset + k]!;
    }
  }

  /**
   * Like {@link prepare}, but a lookup computes only the features of `plan` (the others read as
   * whatever an earlier slot left: look up only what the plan names).
   */
  preparePlanned(slot: number, now: number, plan: FeaturePlan): void {
    this.#slot = slot;
    this.#now = now;
    this.#plan = plan;
    this.#stale = true;
  }

  #vectorOf(): Float64Array {
    if (this.#stale) {
      if (this.#plan) this.#state.table.planned(this.#plan, this.#slot, this.#now, this.#vector);
      else this.#state.table.features(this.#slot, this.#now, this.#vector);
      this.#stale = false;
    }
    return this.#vector;
  }

  /** Expression names: features, `churn.risk`, `intent.risk`, `segment`, `rfm.r|f|m`, `likely_to_buy`. */
  readonly lookup = (name: string): ExpressionValue => {
    const at = this.#featureIndex.get(name);
    if (at !== undefined) {
      const v = this.#vectorOf()[at]!;
      return Number.isNaN(v) ? null : v;
    }
    const slot = this.#slot;
    switch (name) {
      case 'churn.risk':
        return riskOrNull(this.#state.churn.data[slot]!);
      case 'intent.risk':
        return riskOrNull(this.#state.intent.data[slot]!);
      case 'segment':
        return this.segmentOf(slot);
      case 'rfm.r':
        return this.rfm.data[slot * 3]!;
      case 'rfm.f':
        return this.rfm.data[slot * 3 + 1]!;
      case 'rfm.m':
        return this.rfm.data[slot * 3 + 2]!;
      case 'likely_to_buy':
        return this.baskets.likelyToBuy(slot);
      default:
        return name.startsWith('profile.') ? this.#plainField(slot, name.slice(8)) : null;
    }
  };

  /**
   * A plain profile field of a customer, null when absent; own fields only, so `profile.constructor`
   * or `profile.__proto__` read null. Sealed fields are never readable here (they are not kept).
   */
  #plainField(slot: number, name: string): ExpressionValue {
    const fields = this.#profiles[slot];
    return fields !== undefined && Object.hasOwn(fields, name) ? (fields[name] ?? null) : null;
  }

  /**
   * Recomputes RFM and the segment of the prepared slot (see {@link prepare}); returns the change.
   */
  updateSegment(cuts: RfmCuts | undefined): SegmentChange | undefined {
    const slot = this.#slot;
    const v = this.#vectorOf();
    const at = (name: string) => v[this.#featureIndex.get(name)!]!;
    const score = cuts
      ? scoreRfm(
          cuts,
          at('days_since_last_purchase'),
          at('purchases_lifetime'),
          at('spend_lifetime'),
          this.#score,
        )
      : Object.assign(this.#score, { r: 0, f: 0, m: 0 });
    const base = slot * 3;
    this.rfm.data[base] = score.r;
    this.rfm.data[base + 1] = score.f;
    this.rfm.data[base + 2] = score.m;
    const risk = riskOrNull(this.#state.churn.data[slot]!);
    const to = classifySegment(
      score,
      {
        days_since_last_event: at('days_since_last_event'),
        days_since_last_purchase: at('days_since_last_purchase'),
        tenure_days: at('tenure_days'),
        churn_risk: risk,
      },
      this.config.segments,
    );
    const from = this.segmentOf(slot);
    if (from === to) return undefined;
    this.segment.data[slot] = SEGMENTS.indexOf(to);
    return { customer_id: this.#state.table.idOf(slot), slot, from, to };
  }

  /** Re-evaluates the prepared slot's tags; true when its tag set changed. */
  updateTags(evaluator: TagEvaluator): boolean {
    return evaluator.evaluateInto(this.lookup, this.tags.data as Uint32Array, this.#slot * TAG_WORDS);
  }

  tagsOf(evaluator: TagEvaluator, slot: number): string[] {
    return evaluator.names(this.tags.data as Uint32Array, slot * TAG_WORDS);
  }

  /** Adds every customer's RFM inputs at `now` to `sketches` (the sweep's first phase). */
  sketch(now: number, sketches: RfmSketches): void {
    const v = this.#vector;
    this.#stale = true;
    const recency = this.#featureIndex.get('days_since_last_purchase')!;
    const frequency = this.#featureIndex.get('purchases_lifetime')!;
    const monetary = this.#featureIndex.get('spend_lifetime')!;
    for (let slot = 0; slot < this.#state.table.size; slot++) {
      this.#state.table.features(slot, now, v);
      sketches.add(v[recency]!, v[frequency]!, v[monetary]!);
    }
  }

  /** Segment counts and averages over this partition's customers. */
  segmentStats(now: number, stats: SegmentStats): void {
    const spend = this.#featureIndex.get('spend_90d')!;
    this.#stale = true;
    for (let slot = 0; slot < this.#state.table.size; slot++) {
      const segment = this.segmentOf(slot);
      if (!segment) continue;
      this.#state.table.features(slot, now, this.#vector);
      stats.add(segment, this.#vector[spend]!, riskOrNull(this.#state.churn.data[slot]!));
    }
  }

  /**
   * Takes a new tags/rules/funnels/segments configuration (file reload). Funnels whose steps did not
   * change keep their counts and their customers' progress.
   */
  reconfigure(config: CrmConfig): void {
    const kept = new Map(this.config.funnels.map((f) => [f.id, f.steps.join('>')]));
    const counts = this.funnels.counts().filter((c) => {
      const next = config.funnels.find((f) => f.id === c.id);
      return next !== undefined && kept.get(c.id) === next.steps.join('>');
    });
    this.config = config;
    this.funnels = new FunnelTracker(config.funnels, this.#state.table.store);
    this.funnels.restoreCounts(counts);
  }

  snapshot(): CrmSnapshot {
    const profiles: [number, Record<string, ProfileValue>][] = [];
    this.#profiles.forEach((fields, slot) => {
      if (fields) profiles.push([slot, fields]);
    });
    return {
      profiles,
      pii: this.pii.snapshot(),
      funnels: this.funnels.counts(),
      paths: this.paths.stats.toJSON(),
      attribution: this.attribution.snapshot(),
      daily: this.daily.toJSON(),
      baskets: this.baskets.snapshot(),
    };
  }

  /**
   * Takes a checkpoint's CRM state. Profile fields the policy does not declare plain (written in
   * the clear by versions that told personal fields by their exact names) are sealed into the
   * customers' records; returns how many were (the caller logs and counts them).
   */
  restore(snap: CrmSnapshot): number {
    this.pii.restore(snap.pii);
    let sealed = 0;
    for (const [slot, fields] of snap.profiles ?? []) {
      const migrated = this.pii.sealClearFields(slot, this.#state.table.idOf(slot), fields);
      this.#profiles[slot] = migrated.plain;
      sealed += migrated.sealed;
    }
    this.funnels.restoreCounts(snap.funnels);
    this.paths.stats.merge(snap.paths);
    this.attribution.restore(snap.attribution);
    if (snap.daily) this.daily.restore(snap.daily);
    this.baskets.restore(snap.baskets);
    return sealed;
  }
}

function riskOrNull(probability: number): number | null {
  return Number.isNaN(probability) ? null : Math.round(probability * 100);
}
