/**
 * The batch being gathered between two flushes: the customers touched (each once, in the order
 * first touched, with the partition state that owns the slot), when each folded event arrived in
 * its stream, and how many events of each type were processed. Buffers are typed arrays reused
 * across batches and grown by doubling; nothing is allocated per event.
 */
import { EVENT_TYPES } from '../../contract/event-types.js';
import type { PartitionState } from '../state/partition-state.js';
import type { WorkerMetrics } from './metrics.js';

function grow<T extends Int32Array | Float64Array>(arr: T, need: number): T {
  if (arr.length >= need) return arr;
  let size = arr.length;
  while (size < need) size *= 2;
  const next = new (arr.constructor as new (n: number) => T)(size);
  next.set(arr);
  return next;
}

export class OpenBatch {
  /** The state owning each touched slot: `states[i]` owns `slots[i]`, for i < `size`. */
  readonly states: PartitionState[] = [];
  slots: Int32Array = new Int32Array(1024);
  /** Customers touched since the last flush. */
  size = 0;
  /** Stream arrival (epoch ms) of each event folded since the last flush, for i < `arrivalCount`. */
  arrivals: Float64Array = new Float64Array(4096);
  arrivalCount = 0;
  /** Events processed per type since the last count: prom-client's `inc` builds a label hash per call. */
  readonly #processed = new Float64Array(EVENT_TYPES.length);
  readonly #processedByType: { inc(n?: number): void }[];

  constructor(metrics: WorkerMetrics) {
    this.#processedByType = EVENT_TYPES.map((t) => metrics.processed.labels(t));
  }

  /**
   * Marks a customer touched: scored, its cached answer voided and its watchers pushed at the
   * flush. A customer already touched in this batch is not added again (its `touched` column).
   */
  touch(state: PartitionState, slot: number): void {
    const touched = state.touched.data;
    if (touched[slot] !== 0) return;
    touched[slot] = 1;
    this.slots = grow(this.slots, this.size + 1);
    this.states[this.size] = state;
    this.slots[this.size++] = slot;
  }

  /** An event that arrived in its stream at `arrivalMs` was folded. */
  arrived(arrivalMs: number): void {
    this.arrivals = grow(this.arrivals, this.arrivalCount + 1);
    this.arrivals[this.arrivalCount++] = arrivalMs;
  }

  /** An event of type `typeIndex` (EVENT_TYPES) was processed. */
  processed(typeIndex: number): void {
    this.#processed[typeIndex]!++;
  }

  /** Adds the events processed since the last call to `bellwether_events_total{type}`. */
  countProcessed(): void {
    const counts = this.#processed;
    for (let t = 0; t < counts.length; t++) {
      if (counts[t]! > 0) {
        this.#processedByType[t]!.inc(counts[t]);
        counts[t] = 0;
      }
    }
  }

  /** Drops the references to the first `n` touched customers' states (the batch was scored). */
  releaseStates(n: number): void {
    this.states.fill(undefined as unknown as PartitionState, 0, n);
  }

  /** Empties the batch (its customers were untouched by the flush). */
  clear(): void {
    this.size = 0;
    this.arrivalCount = 0;
  }
}
