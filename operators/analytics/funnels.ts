/**
 * Declared funnels (docs/analytics.md): per customer and funnel, the step reached (u8, 0 = not in
 * the funnel) and the event time of that step (f64) live in ColumnStore columns, so they move,
 * clear and checkpoint with the customer's slot. Per funnel, `entered[k]` counts how many times a
 * customer entered step k (cumulative, since the tracker started or was restored).
 *
 * Per event of a type the funnel uses, with s the step reached and n the number of steps:
 * 1. s > 0 and ts − (time of step s) > maxGapMs: the journey expired, s = 0;
 * 2. s < n and the type is steps[s]: advance, s = s + 1, entered[s − 1] += 1 (with s = 0 this is
 *    the start by steps[0]);
 * 3. the type is steps[0] and s = n (completed), or restart = 'always': restart, s = 1, entered[0] += 1;
 * 4. s > 0 and the type is steps[s − 1]: the current step repeats, its time becomes ts.
 * With the default restart = 'when_idle', a steps[0] event in the middle of a journey (a page
 * view between add_to_cart and checkout_start) keeps the progress and is otherwise ignored.
 * Events are taken in arrival order: an out-of-order event is applied as it arrives (a late
 * event can advance a journey; its time becomes the step's time even when older).
 */
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { MAX_FUNNEL_STEPS } from '../crm/config-schema.js';
import type { Column, ColumnStore } from '../state/column-store.js';

export interface FunnelSpec {
  /** `[a-z0-9_-]{1,64}`, unique; names the funnel's columns. */
  readonly id: string;
  /** 2–32 event types. */
  readonly steps: readonly string[];
  /** Longest gap allowed between two consecutive steps, ms. */
  readonly maxGapMs: number;
  /** When a steps[0] event restarts a journey in progress (default 'when_idle': only once completed). */
  readonly restart?: 'when_idle' | 'always';
}

/** Raw, mergeable counts of one funnel. */
export interface FunnelCounts {
  readonly id: string;
  readonly steps: readonly string[];
  /** Entries per step. */
  readonly entered: readonly number[];
}

export interface FunnelReport {
  readonly id: string;
  readonly steps: { readonly type: string; readonly entered: number }[];
  /** entered[last] / entered[0] (0 when nobody entered). */
  readonly conversion: number;
  readonly drop_off: {
    readonly from: string;
    readonly to: string;
    /** entered[k] − entered[k + 1]. */
    readonly dropped: number;
    /** dropped / entered[k] (0 when nobody entered step k). */
    readonly rate: number;
  }[];
}

const ID_RE = /^[a-z0-9_-]{1,64}$/;

interface BoundFunnel {
  readonly spec: FunnelSpec;
  readonly types: Int32Array;
  readonly n: number;
  readonly maxGapMs: number;
  readonly always: boolean;
  readonly step: Column;
  readonly at: Column;
  readonly entered: Float64Array;
}

/** A funnel that does not validate, coded as the CRM files' violations are (crm/config.ts). */
function crmConfig(violation: string): BellwetherError {
  return new BellwetherError('BW_ERR_CRM_CONFIG', violation, { data: { violations: [violation] } });
}

/** Throws on the first invalid funnel (ids, step types, counts, gap). */
export function validateFunnels(funnels: readonly FunnelSpec[]): void {
  const ids = new Set<string>();
  for (const f of funnels) {
    if (!ID_RE.test(f.id)) throw crmConfig(`funnel id '${f.id}' must match ${ID_RE.source}`);
    if (ids.has(f.id)) throw crmConfig(`funnel id '${f.id}' is declared twice: ids must be unique`);
    ids.add(f.id);
    if (f.steps.length < 2 || f.steps.length > MAX_FUNNEL_STEPS) {
      throw crmConfig(`funnel ${f.id} must have 2 to ${MAX_FUNNEL_STEPS} steps, got ${f.steps.length}`);
    }
    for (const t of f.steps)
      if (eventTypeIndex(t) < 0)
        throw crmConfig(
          `funnel ${f.id}: unknown event type ${t} (steps must be event types, docs/events.md)`,
        );
    if (!(f.maxGapMs > 0)) throw crmConfig(`funnel ${f.id}: maxGapMs must be > 0, got ${f.maxGapMs}`);
  }
}

export class FunnelTracker {
  readonly #funnels: BoundFunnel[];
  /** Per event type index, the funnels that use it. */
  readonly #byType: BoundFunnel[][];

  constructor(funnels: readonly FunnelSpec[], store: ColumnStore) {
    validateFunnels(funnels);
    this.#funnels = funnels.map((spec) => ({
      spec,
      types: Int32Array.from(spec.steps, eventTypeIndex),
      n: spec.steps.length,
      maxGapMs: spec.maxGapMs,
      always: spec.restart === 'always',
      step: store.column({ name: `analytics.funnel.${spec.id}.step`, kind: 'u8', width: 1 }),
      at: store.column({ name: `analytics.funnel.${spec.id}.at`, kind: 'f64', width: 1 }),
      entered: new Float64Array(spec.steps.length),
    }));
    this.#byType = EVENT_TYPES.map((_, t) => this.#funnels.filter((f) => f.types.includes(t)));
  }

  /** Folds one event (in arrival order) into every funnel that uses its type. */
  onEvent(slot: number, typeIndex: number, ts: number): void {
    const list = this.#byType[typeIndex];
    if (list === undefined) return;
    for (let k = 0; k < list.length; k++) {
      const f = list[k]!;
      const steps = f.step.data;
      const at = f.at.data;
      const types = f.types;
      let s = steps[slot]!;
      if (s > 0 && ts - at[slot]! > f.maxGapMs) s = 0;
      if (s < f.n && typeIndex === types[s]) {
        f.entered[s]!++;
        s++;
        at[slot] = ts;
      } else if (typeIndex === types[0] && (s === f.n || f.always)) {
        f.entered[0]!++;
        s = 1;
        at[slot] = ts;
      } else if (s > 0 && typeIndex === types[s - 1]) {
        at[slot] = ts;
      }
      steps[slot] = s;
    }
  }

  /** The step a customer has reached in funnel `id` (0 = not in it), for answers and tests. */
  stepOf(id: string, slot: number): number {
    const f = this.#funnels.find((x) => x.spec.id === id);
    if (!f)
      throw new BellwetherError(
        'BW_ERR_INVALID_ARGUMENT',
        `funnel id must be one of ${this.#funnels.map((x) => x.spec.id).join(', ') || '(none)'}, got ${id}`,
      );
    return f.step.data[slot]!;
  }

  /** Raw counts, plain (post them to the main thread, merge with {@link mergeFunnelCounts}). */
  counts(): FunnelCounts[] {
    return this.#funnels.map((f) => ({
      id: f.spec.id,
      steps: [...f.spec.steps],
      entered: Array.from(f.entered),
    }));
  }

  /** Restores counts saved by {@link counts} (checkpoints); funnels whose steps changed are skipped. */
  restoreCounts(counts: readonly FunnelCounts[]): void {
    for (const c of counts) {
      const f = this.#funnels.find((x) => x.spec.id === c.id);
      if (!f || !sameSteps(f.spec.steps, c.steps) || c.entered.length !== f.n) continue;
      f.entered.set(c.entered);
    }
  }

  /** Reports of this tracker's own counts. */
  snapshot(): FunnelReport[] {
    return this.counts().map(funnelReport);
  }
}

function sameSteps(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/**
 * Adds per-worker counts by funnel id (order of first appearance). Throws when the same id has
 * different steps in two lists (workers running different configurations).
 */
export function mergeFunnelCounts(lists: readonly (readonly FunnelCounts[])[]): FunnelCounts[] {
  const merged = new Map<string, { id: string; steps: string[]; entered: number[] }>();
  for (const list of lists) {
    for (const c of list) {
      const m = merged.get(c.id);
      if (!m) {
        merged.set(c.id, { id: c.id, steps: [...c.steps], entered: [...c.entered] });
        continue;
      }
      if (!sameSteps(m.steps, c.steps))
        throw new BellwetherError(
          'BW_ERR_STATE_MISMATCH',
          `funnel ${c.id} counts ${m.steps.join('>')} in one worker and ${c.steps.join('>')} in another: counts merge only over the same steps`,
        );
      for (let k = 0; k < m.entered.length; k++) m.entered[k]! += c.entered[k] ?? 0;
    }
  }
  return [...merged.values()];
}

/** Conversion and drop-off of one funnel's counts. */
export function funnelReport(counts: FunnelCounts): FunnelReport {
  const { entered, steps } = counts;
  const first = entered[0] ?? 0;
  const last = entered[entered.length - 1] ?? 0;
  return {
    id: counts.id,
    steps: steps.map((type, k) => ({ type, entered: entered[k] ?? 0 })),
    conversion: first > 0 ? last / first : 0,
    drop_off: steps.slice(0, -1).map((from, k) => {
      const here = entered[k] ?? 0;
      const dropped = here - (entered[k + 1] ?? 0);
      return { from, to: steps[k + 1]!, dropped, rate: here > 0 ? dropped / here : 0 };
    }),
  };
}
