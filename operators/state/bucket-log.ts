/**
 * Sparse time buckets per customer slot, shared by every bucketed operator of a store.
 *
 * A customer's buckets live in one block of an arena: entries of (stream, bucket) → value, where a
 * stream is one operator's ring (its bucket length and span are the operator's). Only buckets that
 * received an event take space (8 bytes each), so a customer seen on two days holds a handful of
 * entries instead of every operator's full ring; a block grows by doubling (2, 4, 8 … entries) and
 * freed blocks are reused by size class.
 *
 * Per stream the semantics are those of a ring of `length` buckets whose head is the newest bucket
 * seen: an event older than `head - length + 1` is refused, and when the head moves forward the
 * buckets that fall out of the ring are dropped. So the entries of a stream always lie in
 * (head - length, head]. Buckets are stored in 24 bits and compared by their signed difference,
 * which is exact while two buckets of a stream are less than 2^23 buckets apart (80 years of
 * 5-minute buckets).
 *
 * Values are 32-bit integers (counts), or float64 for a log of amounts (integer cents, exact up to
 * 2^53 cents: no realistic total saturates), chosen per log at its creation.
 */
import { BellwetherError } from '../../contract/errors.js';
import type { ColumnKind } from './column-kind.js';

const BUCKET_BITS = 24;
const BUCKET_MASK = 0xffffff;
const MAX_STREAMS = 256;
/** Largest block: 2^14 entries, above the sum of every operator's ring length. */
const MAX_CLASS = 14;

/** Signed difference a - b of two 24-bit buckets. */
function diff(a: number, b: number): number {
  return ((a - b) << 8) >> 8;
}

/** What {@link BucketLog.add} did with an event. */
export const ADD_REFUSED = -1;
export const ADD_EXISTING = 0;
export const ADD_NEW = 1;

interface Stream {
  readonly name: string;
  readonly length: number;
}

/** What a log's bucket values are: 32-bit integers, or float64 (amounts in cents). */
export type LogValues = 'i32' | 'f64';

/** One exported piece of a log, in the checkpoint's column shape (width 0 = variable length). */
export interface LogExport {
  name: string;
  kind: ColumnKind;
  width: number;
  bytes: Uint8Array;
}

function asBytes(values: ArrayBufferView): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export class BucketLog {
  readonly name: string;
  readonly values: LogValues;
  readonly #streams: Stream[] = [];
  #keys = new Uint32Array(1024);
  #vals: Int32Array | Float64Array;
  /** Entries of the arena handed out so far (free blocks included). */
  #top = 0;
  readonly #free: number[][] = Array.from({ length: MAX_CLASS + 1 }, () => []);
  #off: Uint32Array;
  #len: Uint16Array;
  /** Size class of the slot's block (capacity 2^cls), 0 = no block. */
  #cls: Uint8Array;

  constructor(name: string, capacity: number, values: LogValues = 'i32') {
    this.name = name;
    this.values = values;
    this.#vals = values === 'f64' ? new Float64Array(1024) : new Int32Array(1024);
    this.#off = new Uint32Array(capacity);
    this.#len = new Uint16Array(capacity);
    this.#cls = new Uint8Array(capacity);
  }

  /** Registers (or returns) the stream `name` with a ring of `length` buckets; its id. */
  stream(name: string, length: number): number {
    const at = this.#streams.findIndex((s) => s.name === name);
    if (at >= 0) {
      if (this.#streams[at]!.length !== length)
        throw new BellwetherError(
          'BW_ERR_FEATURE_DEFINITION',
          `bucket stream ${name} is declared with ${this.#streams[at]!.length} and ${length} buckets: declarations of one name must agree`,
        );
      return at;
    }
    if (this.#streams.length >= MAX_STREAMS)
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `bucket stream ${name}: a bucket log holds at most ${MAX_STREAMS} streams`,
      );
    if (!(length >= 1 && length < 2 ** (BUCKET_BITS - 2)))
      throw new BellwetherError(
        'BW_ERR_FEATURE_DEFINITION',
        `bucket stream ${name} must have 1 to ${2 ** (BUCKET_BITS - 2) - 1} buckets, got ${length}`,
      );
    this.#streams.push({ name, length });
    return this.#streams.length - 1;
  }

  /** Grows the per-slot index to `capacity` slots. */
  ensure(capacity: number): void {
    if (capacity <= this.#off.length) return;
    const off = new Uint32Array(capacity);
    off.set(this.#off);
    const len = new Uint16Array(capacity);
    len.set(this.#len);
    const cls = new Uint8Array(capacity);
    cls.set(this.#cls);
    this.#off = off;
    this.#len = len;
    this.#cls = cls;
  }

  /** Entries held by `slot` (all streams). */
  entries(slot: number): number {
    return this.#len[slot]!;
  }

  /**
   * Adds `delta` to `bucket` of `stream` for `slot`, the sum clamped to [min, max]. Returns
   * {@link ADD_NEW} when the bucket had no entry, {@link ADD_EXISTING} when it had one, and
   * {@link ADD_REFUSED} when the bucket is older than the stream's ring reaches.
   */
  add(slot: number, stream: number, bucket: number, delta: number, min: number, max: number): number {
    const off = this.#off[slot]!;
    let n = this.#len[slot]!;
    const keys = this.#keys;
    const b = bucket & BUCKET_MASK;
    let found = -1;
    let hasHead = false;
    let head = 0;
    for (let i = off, end = off + n; i < end; i++) {
      const key = keys[i]!;
      if (key >>> BUCKET_BITS !== stream) continue;
      const kb = key & BUCKET_MASK;
      if (kb === b) found = i;
      if (!hasHead || diff(kb, head) > 0) {
        head = kb;
        hasHead = true;
      }
    }
    if (found >= 0) {
      const next = this.#vals[found]! + delta;
      this.#vals[found] = next > max ? max : Math.max(next, min);
      return ADD_EXISTING;
    }
    if (hasHead) {
      const length = this.#streams[stream]!.length;
      const ahead = diff(b, head);
      if (ahead <= -length) return ADD_REFUSED;
      if (ahead > 0) {
        // The head moves: drop this stream's buckets that fall out of the ring.
        for (let i = off; i < off + n; ) {
          const key = keys[i]!;
          if (key >>> BUCKET_BITS === stream && diff(b, key & BUCKET_MASK) >= length) {
            n--;
            keys[i] = keys[off + n]!;
            this.#vals[i] = this.#vals[off + n]!;
          } else i++;
        }
        this.#len[slot] = n;
      }
    }
    const cls = this.#cls[slot]!;
    if (cls === 0 || n === 1 << cls) this.#grow(slot);
    const at = this.#off[slot]! + n;
    this.#keys[at] = ((stream << BUCKET_BITS) | b) >>> 0;
    this.#vals[at] = delta > max ? max : Math.max(delta, min);
    this.#len[slot] = n + 1;
    return ADD_NEW;
  }

  /**
   * Sums of `stream`'s buckets for `slot` over trailing windows ending at bucket `nowBucket`:
   * `out[offset + w]` = Σ values of buckets in (nowBucket - windows[w], nowBucket].
   */
  sums(
    slot: number,
    stream: number,
    nowBucket: number,
    windows: Int32Array,
    out: Float64Array,
    offset: number,
  ): void {
    const count = windows.length;
    for (let w = 0; w < count; w++) out[offset + w] = 0;
    const off = this.#off[slot]!;
    const end = off + this.#len[slot]!;
    const keys = this.#keys;
    const vals = this.#vals;
    const now = nowBucket & BUCKET_MASK;
    for (let i = off; i < end; i++) {
      const key = keys[i]!;
      if (key >>> BUCKET_BITS !== stream) continue;
      const age = diff(now, key & BUCKET_MASK);
      if (age < 0) continue;
      const v = vals[i]!;
      for (let w = 0; w < count; w++) if (age < windows[w]!) out[offset + w]! += v;
    }
  }

  /** Forgets `slot`'s buckets. */
  clear(slot: number): void {
    const cls = this.#cls[slot]!;
    if (cls !== 0) this.#free[cls]!.push(this.#off[slot]!);
    this.#off[slot] = 0;
    this.#len[slot] = 0;
    this.#cls[slot] = 0;
  }

  /** Hands `from`'s buckets to `to` (whose own are forgotten); `from` is left empty. */
  move(from: number, to: number): void {
    if (from === to) return;
    this.clear(to);
    this.#off[to] = this.#off[from]!;
    this.#len[to] = this.#len[from]!;
    this.#cls[to] = this.#cls[from]!;
    this.#off[from] = 0;
    this.#len[from] = 0;
    this.#cls[from] = 0;
  }

  /** Bytes held: the arena (free blocks included) and the per-slot index. */
  byteLength(): number {
    return (
      this.#keys.byteLength +
      this.#vals.byteLength +
      this.#off.byteLength +
      this.#len.byteLength +
      this.#cls.byteLength
    );
  }

  /** The first `slots` slots' entries, packed in slot order, with the stream table. */
  export(slots: number): LogExport[] {
    const len = this.#len.slice(0, slots);
    let total = 0;
    for (let s = 0; s < slots; s++) total += len[s]!;
    const keys = new Uint32Array(total);
    const vals = this.values === 'f64' ? new Float64Array(total) : new Int32Array(total);
    let at = 0;
    for (let s = 0; s < slots; s++) {
      const off = this.#off[s]!;
      const n = len[s]!;
      keys.set(this.#keys.subarray(off, off + n), at);
      vals.set(this.#vals.subarray(off, off + n), at);
      at += n;
    }
    const streams = new TextEncoder().encode(JSON.stringify(this.#streams));
    const prefix = `log:${this.name}`;
    return [
      { name: `${prefix}:streams`, kind: 'u8', width: 0, bytes: streams },
      { name: `${prefix}:len`, kind: 'u16', width: 1, bytes: asBytes(len) },
      { name: `${prefix}:keys`, kind: 'u32', width: 0, bytes: asBytes(keys) },
      { name: `${prefix}:vals`, kind: this.values, width: 0, bytes: asBytes(vals) },
    ];
  }

  /**
   * Restores entries exported by {@link export} into empty slots 0 … slots-1. Streams are matched
   * by name and length; entries of streams this log does not have are dropped. `from` names the
   * exported log to read (default this log's name): a log can take over streams another log held
   * in an older checkpoint (spend moved from the i32 log to the f64 `amounts` log, 2026-12-07); the
   * saved values' width (i32 or f64) is read from their byte length.
   */
  import(slots: number, parts: ReadonlyMap<string, Uint8Array>, from = this.name): void {
    const part = (what: string) => parts.get(`log:${from}:${what}`);
    const streamBytes = part('streams');
    const lenBytes = part('len');
    const keyBytes = part('keys');
    const valBytes = part('vals');
    if (!streamBytes || !lenBytes || !keyBytes || !valBytes) return;
    const saved = JSON.parse(new TextDecoder().decode(streamBytes)) as Stream[];
    const map = saved.map((s) => {
      const at = this.#streams.findIndex((own) => own.name === s.name && own.length === s.length);
      return at;
    });
    const aligned = (bytes: Uint8Array) => new Uint8Array(bytes).buffer; // copies to an aligned buffer
    const len = new Uint16Array(aligned(lenBytes));
    const keys = new Uint32Array(aligned(keyBytes));
    const vals =
      valBytes.byteLength === keyBytes.byteLength * 2
        ? new Float64Array(aligned(valBytes))
        : new Int32Array(aligned(valBytes));
    if (len.length < slots)
      throw new BellwetherError(
        'BW_ERR_CHECKPOINT_CORRUPT',
        `bucket log ${this.name} holds ${len.length} slots, the checkpoint's customer count is ${slots}`,
      );
    this.ensure(slots);
    let at = 0;
    for (let s = 0; s < slots; s++) {
      const n = len[s]!;
      this.clear(s);
      let kept = 0;
      for (let i = at; i < at + n; i++) if ((map[keys[i]! >>> BUCKET_BITS] ?? -1) >= 0) kept++;
      if (kept > 0) {
        let cls = 1;
        while (1 << cls < kept) cls++;
        const off = this.#alloc(cls);
        this.#off[s] = off;
        this.#cls[s] = cls;
        let w = off;
        for (let i = at; i < at + n; i++) {
          const stream = map[keys[i]! >>> BUCKET_BITS] ?? -1;
          if (stream < 0) continue;
          this.#keys[w] = ((stream << BUCKET_BITS) | (keys[i]! & BUCKET_MASK)) >>> 0;
          this.#vals[w] = vals[i]!;
          w++;
        }
        this.#len[s] = kept;
      }
      at += n;
    }
  }

  #grow(slot: number): void {
    const cls = this.#cls[slot]!;
    const next = cls === 0 ? 1 : cls + 1;
    if (next > MAX_CLASS)
      throw new BellwetherError(
        'BW_ERR_INTERNAL',
        `bucket log ${this.name}: slot ${slot} needs more than ${1 << MAX_CLASS} buckets, the most a slot holds (the streams' ring lengths must sum to less)`,
      );
    const off = this.#alloc(next);
    const n = this.#len[slot]!;
    if (n > 0) {
      const old = this.#off[slot]!;
      this.#keys.copyWithin(off, old, old + n);
      this.#vals.copyWithin(off, old, old + n);
    }
    if (cls !== 0) this.#free[cls]!.push(this.#off[slot]!);
    this.#off[slot] = off;
    this.#cls[slot] = next;
  }

  #alloc(cls: number): number {
    const reused = this.#free[cls]!.pop();
    if (reused !== undefined) return reused;
    const size = 1 << cls;
    const off = this.#top;
    if (off + size > this.#keys.length) {
      // Grown by half (not doubled): the arena is most of the state of a large partition.
      let cap = this.#keys.length;
      while (cap < off + size) cap = Math.ceil(cap * 1.5);
      const keys = new Uint32Array(cap);
      keys.set(this.#keys.subarray(0, off));
      const vals = this.values === 'f64' ? new Float64Array(cap) : new Int32Array(cap);
      vals.set(this.#vals.subarray(0, off));
      this.#keys = keys;
      this.#vals = vals;
    }
    this.#top = off + size;
    return off;
  }
}
