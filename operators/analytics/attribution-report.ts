/**
 * Attribution results (docs/analytics.md): the plain, name-keyed snapshot a partition's
 * {@link AttributionTracker} produces, its merge across workers (by channel name, since channel ids
 * are per partition), the Shapley values, and the answer of
 * `GET /v1/attribution?model=last_touch|linear|time_decay|shapley`.
 *
 * Shapley: the players are channels, and v(S) = the conversions (or revenue) of the converting
 * journeys whose channel set is a subset of S. v is a sum of unanimity games, one per journey set
 * J weighted by its conversions, and the Shapley value of a unanimity game splits its weight
 * equally among J; so φ_i = Σ over journey sets J ∋ i of conversions(J) / |J| ({@link shapleyValues}).
 * {@link shapleyExact} computes the textbook formula by enumerating every coalition (≤ 12
 * channels); the report uses it when the journeys involve ≤ 12 channels, the closed form otherwise.
 */
import { BellwetherError } from '../../contract/errors.js';

export const ATTRIBUTION_MODELS = ['last_touch', 'linear', 'time_decay', 'shapley'] as const;
export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number];

/** Credit per channel, indexed like `AttributionSnapshot.channels`. */
export interface ModelCredit {
  readonly conversions: number[];
  readonly revenue: number[];
}

/** Converting journeys with the same set of distinct channels. */
export interface JourneySet {
  /** Distinct channel names, sorted. */
  readonly channels: string[];
  readonly conversions: number;
  readonly revenue: number;
}

export interface AttributionSnapshot {
  readonly lookback_days: number;
  readonly half_life_days: number;
  /** Channel names; in a partition's snapshot, the name of channel id i is channels[i]. */
  readonly channels: string[];
  readonly last_touch: ModelCredit;
  readonly linear: ModelCredit;
  readonly time_decay: ModelCredit;
  readonly journeys: JourneySet[];
  /** Shapley credit (closed form) of journeys that did not fit in the bounded journey-set map. */
  readonly shapley_overflow: ModelCredit;
  /** Every purchase seen, attributed or not. */
  readonly conversions: number;
  readonly revenue: number;
  /** Purchases without a touch in the lookback. */
  readonly unattributed: { readonly conversions: number; readonly revenue: number };
}

interface ChannelCredit {
  readonly channel: string;
  readonly conversions: number;
  readonly revenue: number;
  /** conversions / attributed conversions. */
  readonly share: number;
}

export interface AttributionReport {
  readonly model: AttributionModel;
  readonly lookback_days: number;
  readonly half_life_days: number;
  /** Descending by conversions (ties by name); channels with no credit are left out. */
  readonly channels: ChannelCredit[];
  readonly attributed: { readonly conversions: number; readonly revenue: number };
  readonly unattributed: { readonly conversions: number; readonly revenue: number };
}

export function isAttributionModel(name: string): name is AttributionModel {
  return (ATTRIBUTION_MODELS as readonly string[]).includes(name);
}

const MAX_EXACT_SHAPLEY_CHANNELS = 12;

function addCredit(
  into: Map<string, [number, number]>,
  name: string,
  conversions: number,
  revenue: number,
): void {
  const c = into.get(name);
  if (c) {
    c[0] += conversions;
    c[1] += revenue;
  } else {
    into.set(name, [conversions, revenue]);
  }
}

/** Shapley values by the closed form φ_i = Σ_{J ∋ i} v_J / |J|, per channel: [conversions, revenue]. */
export function shapleyValues(journeys: readonly JourneySet[]): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const j of journeys) {
    const n = j.channels.length;
    if (n === 0) continue;
    for (const name of j.channels) addCredit(out, name, j.conversions / n, j.revenue / n);
  }
  return out;
}

/**
 * Shapley values by enumeration: φ_i = Σ_{S ⊆ N∖{i}} |S|!(n − |S| − 1)!/n! · (v(S ∪ {i}) − v(S)),
 * with v(S) = Σ of the journeys whose set ⊆ S (a subset-sum over the 2^n coalitions).
 * Throws beyond {@link MAX_EXACT_SHAPLEY_CHANNELS} channels.
 */
export function shapleyExact(journeys: readonly JourneySet[]): Map<string, [number, number]> {
  const names = [...new Set(journeys.flatMap((j) => j.channels))].sort();
  const n = names.length;
  if (n > MAX_EXACT_SHAPLEY_CHANNELS)
    throw new BellwetherError(
      'BW_ERR_INVALID_ARGUMENT',
      `exact Shapley values take at most ${MAX_EXACT_SHAPLEY_CHANNELS} channels, got ${n}`,
    );
  const bit = new Map(names.map((name, i) => [name, 1 << i]));
  const size = 1 << n;
  const vc = new Float64Array(size);
  const vr = new Float64Array(size);
  for (const j of journeys) {
    let mask = 0;
    for (const name of j.channels) mask |= bit.get(name)!;
    if (mask === 0) continue;
    vc[mask]! += j.conversions;
    vr[mask]! += j.revenue;
  }
  for (let i = 0; i < n; i++) {
    for (let mask = 0; mask < size; mask++) {
      if (mask & (1 << i)) {
        vc[mask]! += vc[mask ^ (1 << i)]!;
        vr[mask]! += vr[mask ^ (1 << i)]!;
      }
    }
  }
  // weight[s] = s!(n − s − 1)!/n!
  const weight = new Float64Array(Math.max(1, n));
  for (let s = 0; s < n; s++) {
    let w = 1 / n;
    for (let k = 1; k <= s; k++) w *= k / (n - k); // w(k) = w(k − 1) · k / (n − k)
    weight[s] = w;
  }
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < n; i++) {
    const b = 1 << i;
    let c = 0;
    let r = 0;
    for (let mask = 0; mask < size; mask++) {
      if (mask & b) continue;
      const w = weight[popcount(mask)]!;
      c += w * (vc[mask | b]! - vc[mask]!);
      r += w * (vr[mask | b]! - vr[mask]!);
    }
    out.set(names[i]!, [c, r]);
  }
  return out;
}

function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

const emptyCredit = (): { conversions: number[]; revenue: number[] } => ({ conversions: [], revenue: [] });

/** An empty snapshot (the identity of {@link mergeAttribution}). */
function emptyAttribution(lookbackDays = 30, halfLifeDays = 7): AttributionSnapshot {
  return {
    lookback_days: lookbackDays,
    half_life_days: halfLifeDays,
    channels: [],
    last_touch: emptyCredit(),
    linear: emptyCredit(),
    time_decay: emptyCredit(),
    journeys: [],
    shapley_overflow: emptyCredit(),
    conversions: 0,
    revenue: 0,
    unattributed: { conversions: 0, revenue: 0 },
  };
}

/**
 * Merges per-worker snapshots by channel name (channel order: first appearance). All must have the
 * same lookback and half-life. Journeys with the same channel set add up.
 */
export function mergeAttribution(snapshots: readonly AttributionSnapshot[]): AttributionSnapshot {
  const first = snapshots[0];
  if (!first) return emptyAttribution();
  const channels: string[] = [];
  const index = new Map<string, number>();
  const idOf = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = channels.length;
      channels.push(name);
      index.set(name, i);
    }
    return i;
  };
  const models = {
    last_touch: emptyCredit(),
    linear: emptyCredit(),
    time_decay: emptyCredit(),
    shapley_overflow: emptyCredit(),
  };
  const journeys = new Map<string, { channels: string[]; conversions: number; revenue: number }>();
  let conversions = 0;
  let revenue = 0;
  const unattributed = { conversions: 0, revenue: 0 };
  for (const s of snapshots) {
    if (s.lookback_days !== first.lookback_days || s.half_life_days !== first.half_life_days) {
      throw new BellwetherError(
        'BW_ERR_STATE_MISMATCH',
        `attribution merges only under one lookback and half-life: ${first.lookback_days} d / ${first.half_life_days} d and ${s.lookback_days} d / ${s.half_life_days} d`,
      );
    }
    for (const key of ['last_touch', 'linear', 'time_decay', 'shapley_overflow'] as const) {
      const into = models[key];
      const from = s[key];
      s.channels.forEach((name, k) => {
        const i = idOf(name);
        while (into.conversions.length <= i) {
          into.conversions.push(0);
          into.revenue.push(0);
        }
        into.conversions[i]! += from.conversions[k] ?? 0;
        into.revenue[i]! += from.revenue[k] ?? 0;
      });
    }
    for (const j of s.journeys) {
      const sorted = [...j.channels].sort();
      const key = JSON.stringify(sorted);
      const m = journeys.get(key);
      if (m) {
        m.conversions += j.conversions;
        m.revenue += j.revenue;
      } else {
        for (const name of sorted) idOf(name);
        journeys.set(key, { channels: sorted, conversions: j.conversions, revenue: j.revenue });
      }
    }
    conversions += s.conversions;
    revenue += s.revenue;
    unattributed.conversions += s.unattributed.conversions;
    unattributed.revenue += s.unattributed.revenue;
  }
  for (const credit of Object.values(models)) {
    while (credit.conversions.length < channels.length) {
      credit.conversions.push(0);
      credit.revenue.push(0);
    }
  }
  return {
    lookback_days: first.lookback_days,
    half_life_days: first.half_life_days,
    channels,
    ...models,
    journeys: [...journeys.values()],
    conversions,
    revenue,
    unattributed,
  };
}

/** Credit per channel under `model`, sorted for the HTTP answer. */
export function attributionReport(snapshot: AttributionSnapshot, model: AttributionModel): AttributionReport {
  const credit = new Map<string, [number, number]>();
  if (model === 'shapley') {
    const overflow = snapshot.shapley_overflow;
    const hasOverflow = overflow.conversions.some((c) => c > 0) || overflow.revenue.some((r) => r !== 0);
    const names = new Set(snapshot.journeys.flatMap((j) => j.channels));
    const exact = !hasOverflow && names.size <= MAX_EXACT_SHAPLEY_CHANNELS;
    for (const [name, [c, r]] of exact ? shapleyExact(snapshot.journeys) : shapleyValues(snapshot.journeys)) {
      addCredit(credit, name, c, r);
    }
    snapshot.channels.forEach((name, i) => {
      const c = overflow.conversions[i] ?? 0;
      const r = overflow.revenue[i] ?? 0;
      if (c !== 0 || r !== 0) addCredit(credit, name, c, r);
    });
  } else {
    const m = snapshot[model];
    snapshot.channels.forEach((name, i) => {
      const c = m.conversions[i] ?? 0;
      const r = m.revenue[i] ?? 0;
      if (c !== 0 || r !== 0) addCredit(credit, name, c, r);
    });
  }
  const attributed = {
    conversions: snapshot.conversions - snapshot.unattributed.conversions,
    revenue: snapshot.revenue - snapshot.unattributed.revenue,
  };
  let total = 0;
  for (const [c] of credit.values()) total += c;
  const channels = [...credit]
    .map(([channel, [conversions, revenue]]) => ({
      channel,
      conversions,
      revenue,
      share: total > 0 ? conversions / total : 0,
    }))
    .sort(
      (a, b) => b.conversions - a.conversions || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0),
    );
  return {
    model,
    lookback_days: snapshot.lookback_days,
    half_life_days: snapshot.half_life_days,
    channels,
    attributed,
    unattributed: { ...snapshot.unattributed },
  };
}
