/**
 * The daily cube of a partition (`GET /v1/aggregate/daily`): per UTC day of event time, per cell
 * segment × event type × channel, the events, the Σ amount (integer cents, exact) and a distinct
 * sketch of the customers (distinct-sketch.ts). An event lands on its own day whatever order it
 * arrives in. Memory is bounded: days more than {@link MAX_DAYS} − 1 before the newest day seen are
 * dropped (and so are events for them, counted in `dropped`), and channels past the first
 * {@link MAX_CHANNELS} of the partition count as `other` (no channel: `none`). The segment is the
 * customer's when the event was folded (`none` before the first classification).
 *
 * Each worker answers a query with a {@link DailyPartialJSON} over its partitions; partials merge by
 * key names (channel indexes differ between partitions) with {@link mergeDaily}.
 */
import { BellwetherError } from '../../contract/errors.js';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { DistinctSketch, type DistinctSketchJSON } from './distinct-sketch.js';
import { SEGMENTS } from './rfm.js';

export const MAX_DAYS = 400;
export const MAX_CHANNELS = 16;
/** Groups a daily answer may hold. */
const MAX_DAILY_GROUPS = 10_000;
const DAY_MS = 86_400_000;

export const DAILY_DIMENSIONS = ['day', 'segment', 'type', 'channel'] as const;
export type DailyDimension = (typeof DAILY_DIMENSIONS)[number];
export const DAILY_METRICS = ['events', 'customers', 'amount'] as const;
export type DailyMetric = (typeof DAILY_METRICS)[number];

export interface DailySpec {
  /** First and last UTC day (days since the epoch), inclusive. */
  readonly from: number;
  readonly to: number;
  readonly group_by: DailyDimension[];
  readonly metrics: DailyMetric[];
}

interface Cell {
  events: number;
  cents: number;
  /** The first customer's hash; a sketch only from the second distinct customer on (most cells have one). */
  first: number;
  customers: DistinctSketch | undefined;
}

/** Adds a cell's customers to `sketch`. */
function addCustomers(sketch: DistinctSketch, cell: Cell): void {
  if (cell.customers) sketch.merge(cell.customers);
  else sketch.add(cell.first);
}

const SEGMENT_NAMES: readonly string[] = [...SEGMENTS, 'none'];
const NONE_SEGMENT = SEGMENTS.length;
const TYPES = EVENT_TYPES.length;
/** Channel indexes: 0 `none`, 1..MAX_CHANNELS first seen, MAX_CHANNELS + 1 `other`. */
const CHANNEL_SLOTS = MAX_CHANNELS + 2;
/** Cell keys of one day: (segment · TYPES + type) · CHANNEL_SLOTS + channel. */
const CELL_KEYS = (SEGMENTS.length + 1) * TYPES * CHANNEL_SLOTS;

/**
 * A cell's key (`day` part above CELL_KEYS, 1-based from the query's first day, when grouped by
 * day) with the dimensions not grouped by set to 0.
 */
function groupKey(key: number, dims: readonly DailyDimension[]): number {
  const day = Math.floor(key / CELL_KEYS);
  const cell = key % CELL_KEYS;
  const ch = dims.includes('channel') ? cell % CHANNEL_SLOTS : 0;
  const type = dims.includes('type') ? Math.floor(cell / CHANNEL_SLOTS) % TYPES : 0;
  const seg = dims.includes('segment') ? Math.floor(cell / CHANNEL_SLOTS / TYPES) : 0;
  return day * CELL_KEYS + (seg * TYPES + type) * CHANNEL_SLOTS + ch;
}

/** [day, segment, type, channel, events, cents, customers] with indexes into the snapshot's names. */
type CellJSON = [number, number, number, number, number, number, DistinctSketchJSON];

export interface DailyCubeJSON {
  segments: readonly string[];
  types: readonly string[];
  channels: string[];
  newest: number | null;
  dropped: number;
  cells: CellJSON[];
}

export interface DailyPartialJSON {
  groups: { key: string[]; events: number; cents: number; customers?: DistinctSketchJSON }[];
  /** Events not counted because their day was past the cube's reach. */
  dropped: number;
}

export interface DailyGroup {
  key: Partial<Record<DailyDimension, string>>;
  events?: number;
  customers?: number;
  amount?: number;
}

/** `YYYY-MM-DD` of a day number. */
export function dayName(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The day number of `YYYY-MM-DD` (UTC), or NaN. */
export function dayOf(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return Number.NaN;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isNaN(ms) || dayName(ms / DAY_MS) !== text ? Number.NaN : ms / DAY_MS;
}

export class DailyCube {
  readonly #days = new Map<number, Map<number, Cell>>();
  readonly #channels = new Map<string, number>();
  readonly #channelNames: string[] = ['none'];
  #newest = Number.NEGATIVE_INFINITY;
  #dropped = 0;

  /**
   * Counts one event. `segment`: index into SEGMENTS, anything else for none; `typeIndex`: into
   * EVENT_TYPES; `customer`: the customer id's hash (hashId).
   */
  add(
    ts: number,
    segment: number,
    typeIndex: number,
    channel: string | undefined,
    amount: number,
    customer: number,
  ): void {
    const day = Math.floor(ts / DAY_MS);
    if (!(day > this.#newest - MAX_DAYS)) {
      this.#dropped++;
      return;
    }
    if (day > this.#newest) {
      this.#newest = day;
      for (const d of this.#days.keys()) if (d <= day - MAX_DAYS) this.#days.delete(d);
    }
    let cells = this.#days.get(day);
    if (!cells) this.#days.set(day, (cells = new Map()));
    const seg = segment >= 0 && segment < NONE_SEGMENT ? segment : NONE_SEGMENT;
    const key = (seg * TYPES + typeIndex) * CHANNEL_SLOTS + this.#channelIndex(channel);
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { events: 0, cents: 0, first: customer, customers: undefined }));
    cell.events++;
    if (amount !== 0 && Number.isFinite(amount)) cell.cents += Math.round(amount * 100);
    if (cell.customers) cell.customers.add(customer);
    else if (customer !== cell.first) {
      cell.customers = new DistinctSketch();
      cell.customers.add(cell.first);
      cell.customers.add(customer);
    }
  }

  #channelIndex(channel: string | undefined): number {
    if (channel === undefined || channel === '') return 0;
    const known = this.#channels.get(channel);
    if (known !== undefined) return known;
    if (this.#channelNames.length > MAX_CHANNELS) return MAX_CHANNELS + 1;
    const index = this.#channelNames.length;
    this.#channelNames.push(channel);
    this.#channels.set(channel, index);
    return index;
  }

  #channelName(index: number): string {
    return index === MAX_CHANNELS + 1 ? 'other' : this.#channelNames[index]!;
  }

  /** Cells in the cube (for tests and the memory figure). */
  get cells(): number {
    let n = 0;
    for (const cells of this.#days.values()) n += cells.size;
    return n;
  }

  /**
   * Adds this partition's cells of the query's days to `into`: grouped first by a numeric key (no
   * strings per cell), then named once per group.
   */
  collect(spec: DailySpec, into: DailyAccumulator): void {
    into.dropped += this.#dropped;
    const dims = spec.group_by;
    const customers = spec.metrics.includes('customers');
    const local = new Map<number, { events: number; cents: number; sketch: DistinctSketch | undefined }>();
    for (const [day, cells] of this.#days) {
      if (day < spec.from || day > spec.to) continue;
      for (const [key, cell] of cells) {
        let group = key; // segment, type and channel packed as in the cube
        for (const d of dims) if (d === 'day') group += (day - spec.from + 1) * CELL_KEYS;
        const packed = groupKey(group, dims);
        let g = local.get(packed);
        if (!g) local.set(packed, (g = { events: 0, cents: 0, sketch: undefined }));
        g.events += cell.events;
        g.cents += cell.cents;
        if (customers) addCustomers((g.sketch ??= new DistinctSketch()), cell);
      }
    }
    for (const [packed, g] of local) {
      const key = packed % CELL_KEYS;
      const names = dims.map((d) =>
        d === 'day'
          ? dayName(spec.from + Math.floor(packed / CELL_KEYS) - 1)
          : d === 'segment'
            ? SEGMENT_NAMES[Math.floor(key / CHANNEL_SLOTS / TYPES)]!
            : d === 'type'
              ? EVENT_TYPES[Math.floor(key / CHANNEL_SLOTS) % TYPES]!
              : this.#channelName(key % CHANNEL_SLOTS),
      );
      into.add(names, g.events, g.cents, g.sketch);
    }
  }

  toJSON(): DailyCubeJSON {
    const cells: CellJSON[] = [];
    for (const [day, byKey] of this.#days) {
      for (const [key, cell] of byKey) {
        const ch = key % CHANNEL_SLOTS;
        const type = Math.floor(key / CHANNEL_SLOTS) % TYPES;
        const seg = Math.floor(key / CHANNEL_SLOTS / TYPES);
        cells.push([
          day,
          seg,
          type,
          ch,
          cell.events,
          cell.cents,
          cell.customers ? cell.customers.toJSON() : { h: [cell.first] },
        ]);
      }
    }
    const channels = this.#channelNames.slice();
    return {
      segments: SEGMENT_NAMES,
      types: EVENT_TYPES,
      channels,
      newest: Number.isFinite(this.#newest) ? this.#newest : null,
      dropped: this.#dropped,
      cells,
    };
  }

  /** Restores a snapshot into an empty cube (names are matched, so the lists may have grown since). */
  restore(json: DailyCubeJSON): void {
    if (this.#days.size > 0)
      throw new BellwetherError('BW_ERR_INTERNAL', 'a daily cube is restored into an empty cube only');
    this.#newest = json.newest ?? Number.NEGATIVE_INFINITY;
    this.#dropped = json.dropped;
    const channelOf = json.channels.map((name, i) => (i === 0 ? 0 : this.#channelIndex(name)));
    for (const [day, seg, type, ch, events, cents, customers] of json.cells) {
      const segment = SEGMENT_NAMES.indexOf(json.segments[seg] ?? 'none');
      const typeIndex = EVENT_TYPES.indexOf(json.types[type] as (typeof EVENT_TYPES)[number]);
      if (typeIndex < 0 || day <= this.#newest - MAX_DAYS) continue;
      const channel = ch === MAX_CHANNELS + 1 ? MAX_CHANNELS + 1 : (channelOf[ch] ?? MAX_CHANNELS + 1);
      const key = ((segment < 0 ? NONE_SEGMENT : segment) * TYPES + typeIndex) * CHANNEL_SLOTS + channel;
      let cells = this.#days.get(day);
      if (!cells) this.#days.set(day, (cells = new Map()));
      let cell = cells.get(key);
      if (!cell) {
        const single = 'h' in customers && customers.h.length === 1 ? customers.h[0]! : undefined;
        if (single !== undefined) {
          cells.set(key, { events, cents, first: single, customers: undefined });
          continue;
        }
        cells.set(key, (cell = { events: 0, cents: 0, first: 0, customers: new DistinctSketch() }));
      }
      cell.events += events;
      cell.cents += cents;
      const sketch = cell.customers ?? new DistinctSketch().add(cell.first);
      cell.customers = sketch.merge(customers);
    }
  }
}

/** Groups of a daily query, over partitions, workers and instances; merged by key names. */
export class DailyAccumulator {
  readonly #spec: DailySpec;
  readonly #customers: boolean;
  readonly #groups = new Map<
    string,
    { key: string[]; events: number; cents: number; customers?: DistinctSketch }
  >();
  dropped = 0;

  constructor(spec: DailySpec) {
    this.#spec = spec;
    this.#customers = spec.metrics.includes('customers');
  }

  add(key: string[], events: number, cents: number, customers?: DistinctSketch | DistinctSketchJSON): void {
    const text = key.join('\u0000');
    let group = this.#groups.get(text);
    if (!group) {
      if (this.#groups.size >= MAX_DAILY_GROUPS)
        throw new BellwetherError(
          'BW_ERR_AGGREGATE_GROUPS',
          `more than ${MAX_DAILY_GROUPS} groups; ask for fewer days or fewer dimensions`,
        );
      this.#groups.set(text, (group = { key, events: 0, cents: 0 }));
    }
    group.events += events;
    group.cents += cents;
    if (this.#customers && customers) (group.customers ??= new DistinctSketch()).merge(customers);
  }

  merge(partial: DailyPartialJSON): this {
    this.dropped += partial.dropped;
    for (const g of partial.groups) this.add(g.key, g.events, g.cents, g.customers);
    return this;
  }

  toJSON(): DailyPartialJSON {
    return {
      groups: [...this.#groups.values()].map((g) => ({
        key: g.key,
        events: g.events,
        cents: g.cents,
        ...(g.customers ? { customers: g.customers.toJSON() } : {}),
      })),
      dropped: this.dropped,
    };
  }

  /** The answer's groups, sorted by key. */
  finish(): { groups: DailyGroup[]; dropped: number } {
    const spec = this.#spec;
    const groups = [...this.#groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]): DailyGroup => {
        const row: DailyGroup = { key: Object.fromEntries(spec.group_by.map((d, i) => [d, g.key[i]!])) };
        if (spec.metrics.includes('events')) row.events = g.events;
        if (spec.metrics.includes('customers')) row.customers = g.customers?.estimate() ?? 0;
        if (spec.metrics.includes('amount')) row.amount = g.cents / 100;
        return row;
      });
    return { groups, dropped: this.dropped };
  }
}
