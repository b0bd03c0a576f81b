/**
 * Typed columns addressed by customer slot. Each column holds `width` values per slot in one
 * typed array, grown by doubling. Operators hold `Column` handles (not the arrays), so growth
 * never leaves them with a stale array.
 */
import { BellwetherError } from '../../contract/errors.js';
import { BucketLog, type LogExport, type LogValues } from './bucket-log.js';
import type { ColumnKind } from './column-kind.js';

export type { ColumnKind } from './column-kind.js';

export interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
  /** Values per slot. */
  readonly width: number;
  /** Value a fresh slot starts with (default 0). */
  readonly initial?: number;
}

type TypedArray = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

const CTORS = {
  u8: Uint8Array,
  u16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
} as const;

/** The bucket log operators share unless they name another. */
const DEFAULT_LOG = 'buckets';

export interface Column {
  readonly spec: ColumnSpec;
  data: TypedArray;
}

/** What a store and its scoped stores share: one capacity, one set of columns and logs. */
interface StoreData {
  capacity: number;
  readonly columns: Map<string, Column>;
  readonly logs: Map<string, BucketLog>;
}

/** Prefix of the names a scoped store declares (`scope:<name>:`): logs under it never take the default log's streams. */
const SCOPE_PREFIX = 'scope:';

export class ColumnStore {
  readonly #data: StoreData;
  /** Prefix of the column and log names this store declares ('' for the root store). */
  readonly #prefix: string;

  /** @param scope internal to {@link scoped}: the store this one is a scope of */
  constructor(initialCapacity = 1024, scope?: { of: ColumnStore; name: string }) {
    if (scope) {
      this.#data = scope.of.#data;
      this.#prefix = `${scope.of.#prefix}${SCOPE_PREFIX}${scope.name}:`;
    } else {
      this.#data = { capacity: Math.max(16, initialCapacity), columns: new Map(), logs: new Map() };
      this.#prefix = '';
    }
  }

  /**
   * The same store (same slots, growth, moves, checkpoints) under a name scope: the columns and logs
   * it declares are named `scope:<name>:<column>`, apart from the root's. Operators bound to it keep
   * a second copy of their state, e.g. over a subset of event types (feature-table.ts views).
   */
  scoped(name: string): ColumnStore {
    return new ColumnStore(0, { of: this, name });
  }

  get #capacity(): number {
    return this.#data.capacity;
  }

  set #capacity(value: number) {
    this.#data.capacity = value;
  }

  get #columns(): Map<string, Column> {
    return this.#data.columns;
  }

  get #logs(): Map<string, BucketLog> {
    return this.#data.logs;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Declares (or returns the already declared) column; specs of the same name must agree. */
  column(declared: ColumnSpec): Column {
    const spec = this.#prefix === '' ? declared : { ...declared, name: this.#prefix + declared.name };
    const existing = this.#columns.get(spec.name);
    if (existing) {
      if (existing.spec.kind !== spec.kind || existing.spec.width !== spec.width) {
        throw new BellwetherError(
          'BW_ERR_FEATURE_DEFINITION',
          `column ${spec.name} is declared as ${existing.spec.kind}×${existing.spec.width} and as ${spec.kind}×${spec.width}: declarations of one name must agree`,
        );
      }
      return existing;
    }
    const data = new CTORS[spec.kind](this.#capacity * spec.width);
    if (spec.initial !== undefined && spec.initial !== 0) data.fill(spec.initial);
    const column: Column = { spec, data };
    this.#columns.set(spec.name, column);
    return column;
  }

  /**
   * The store's sparse bucket log `name` (created on first use), shared by the operators that name
   * it; `values` is its value type (declarations of one name must agree).
   */
  bucketLog(declared = DEFAULT_LOG, values: LogValues = 'i32'): BucketLog {
    const name = this.#prefix + declared;
    let log = this.#logs.get(name);
    if (!log) {
      log = new BucketLog(name, this.#capacity, values);
      this.#logs.set(name, log);
    } else if (log.values !== values) {
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `bucket log ${name} is declared with ${log.values} and ${values} values: declarations of one name must agree`,
      );
    }
    return log;
  }

  /** Makes room for `slot`. */
  ensure(slot: number): void {
    if (slot < this.#capacity) return;
    let next = this.#capacity;
    while (next <= slot) next *= 2;
    for (const column of this.#columns.values()) {
      const { kind, width, initial } = column.spec;
      const data = new CTORS[kind](next * width);
      data.set(column.data);
      if (initial !== undefined && initial !== 0) data.fill(initial, this.#capacity * width);
      column.data = data;
    }
    for (const log of this.#logs.values()) log.ensure(next);
    this.#capacity = next;
  }

  /** Resets one slot to its initial values (used when a slot is reused). */
  clear(slot: number): void {
    for (const column of this.#columns.values()) {
      const { width, initial } = column.spec;
      column.data.fill(initial ?? 0, slot * width, (slot + 1) * width);
    }
    for (const log of this.#logs.values()) log.clear(slot);
  }

  /** Copies every column's values of slot `from` onto slot `to`. */
  moveSlot(from: number, to: number): void {
    for (const column of this.#columns.values()) {
      const w = column.spec.width;
      column.data.copyWithin(to * w, from * w, (from + 1) * w);
    }
    for (const log of this.#logs.values()) log.move(from, to);
  }

  /** Bytes held by all columns. */
  byteLength(): number {
    let total = 0;
    for (const column of this.#columns.values()) total += column.data.byteLength;
    for (const log of this.#logs.values()) total += log.byteLength();
    return total;
  }

  columns(): IterableIterator<Column> {
    return this.#columns.values();
  }

  /**
   * Copies of the first `slots` slots of every column, and of every bucket log (entries named
   * `log:<name>:…`, width 0 for variable-length parts): a consistent snapshot when taken synchronously.
   */
  exportSlots(slots: number): LogExport[] {
    const columns = [...this.#columns.values()].map((column): LogExport => {
      const { name, kind, width } = column.spec;
      const values = column.data.slice(0, slots * width);
      return {
        name,
        kind,
        width,
        bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      };
    });
    for (const log of this.#logs.values()) columns.push(...log.export(slots));
    return columns;
  }

  /** Restores columns exported by {@link exportSlots}; columns not in `saved` keep their initial values. */
  importSlots(
    slots: number,
    saved: readonly { name: string; kind: ColumnKind; width: number; bytes: Uint8Array }[],
  ): void {
    if (slots > 0) this.ensure(slots - 1);
    const logParts = new Map<string, Uint8Array>();
    for (const entry of saved) {
      if (entry.name.startsWith('log:')) {
        logParts.set(entry.name, entry.bytes);
        continue;
      }
      const column = this.#columns.get(entry.name);
      if (!column || column.spec.kind !== entry.kind || column.spec.width !== entry.width) continue;
      const copy = new Uint8Array(entry.bytes); // aligned copy
      const values = new CTORS[entry.kind](
        copy.buffer,
        0,
        copy.byteLength / CTORS[entry.kind].BYTES_PER_ELEMENT,
      );
      column.data.set(values.subarray(0, slots * entry.width));
    }
    // A log missing from the checkpoint takes its streams from the default log, where every
    // stream was before the amounts got a log of their own (2026-12-07). A scoped log never does:
    // its streams hold other events than the root's streams of the same names.
    for (const log of this.#logs.values()) {
      if (logParts.has(`log:${log.name}:streams`)) log.import(slots, logParts, log.name);
      else if (!log.name.startsWith(SCOPE_PREFIX)) log.import(slots, logParts, DEFAULT_LOG);
    }
  }
}
