/**
 * Bytes of engine state per customer, in its own process (run with --expose-gc). Customers are
 * spread over the engine's partitions (one `PartitionState` each: a `FeatureTable` with its typed
 * columns, score and alert columns, id maps, the last event id per customer and the dedupe LRU),
 * and each gets one event through the engine's own path: bytes → `parseEvent` → dedupe →
 * `slotFor` → `fold`. Measured: (heapUsed + arrayBuffers) after minus before, after full GCs.
 * A second pass gives `--active` customers a history each (on average 10 events over 90 days,
 * exponentially distributed counts, the same type mix): windowed state grows with the buckets a
 * customer was active in, so this is the figure for an active base.
 *
 *   memory.js --customers C [--partitions 16] [--dedupe 50000] [--active 200000]
 */
import { parseArgs } from 'node:util';
import { parseEvent } from '../contract/event-parse.js';
import { partitionOfCustomer } from '../contract/subjects.js';
import { DAY_MS } from '../contract/time.js';
import { PartitionState } from '../engine/state/partition-state.js';
import { mulberry32 } from '../lib/random.js';
import { firstEventType as typeOf } from './lib/event-mix.js';
import { numberArg, report, runMain } from './lib/report.js';

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) g();
}

function used(): { heap: number; buffers: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

interface Pass {
  customers: number;
  bytes_per_customer: number;
  heap_bytes_per_customer: number;
  array_buffer_bytes_per_customer: number;
  typed_bytes_per_customer: number;
  typed_bytes_per_slot: number;
  slots_allocated: number;
  seconds: number;
}

/** Events of customer `i`: one (the headline pass), or a 90-day history (the active pass). */
type History = (i: number) => { type: string; ts: number }[];

const oneEvent: History = (i) => [
  { type: typeOf(i), ts: Date.now() - 3 * DAY_MS + ((i * 7919) % (3 * DAY_MS)) },
];

function activeHistory(): History {
  const random = mulberry32(12345);
  const now = Date.now();
  return (i) => {
    const count = 1 + Math.floor(-Math.log(1 - random()) * 9);
    const events: { type: string; ts: number }[] = [];
    for (let k = 0; k < count; k++)
      events.push({
        type: typeOf(Math.floor(random() * 1e9) + i),
        ts: now - Math.floor(random() * 90 * DAY_MS),
      });
    return events;
  };
}

function measure(
  customers: number,
  partitions: number,
  dedupe: number,
  history: History = oneEvent,
): { pass: Pass & { events: number }; keep: unknown } {
  gc();
  const before = used();
  const started = performance.now();
  const states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, dedupe));
  const encoder = new TextEncoder();
  let events = 0;
  for (let i = 0; i < customers; i++) {
    const id = `c${String(i).padStart(7, '0')}`;
    const state = states[partitionOfCustomer(id, partitions)]!;
    for (const { type, ts } of history(i)) {
      const amount = type === 'purchase' || type === 'refund' ? `,"amount":${(i % 9000) / 100 + 5}` : '';
      const body = `{"event_id":"ev-${i}-${events}-${type}","customer_id":"${id}","type":"${type}","ts":"${new Date(ts).toISOString()}"${amount},"channel":"web"}`;
      const parsed = parseEvent(encoder.encode(body), type, id, Date.now());
      if (!parsed.ok) throw new Error(`bench event rejected: ${parsed.reason} ${parsed.detail}`);
      const event = parsed.event;
      events++;
      if (state.seen(event.body.event_id)) continue;
      const slot = state.table.slotFor(event.body.customer_id);
      state.table.fold(slot, event);
      if (event.ts > state.watermark) state.watermark = event.ts;
      state.lastEventId[slot] = event.body.event_id;
      state.lastSeq.data[slot] = events;
    }
    if (i % 100_000 === 0) report('progress', { customers: i });
  }
  const seconds = (performance.now() - started) / 1000;
  gc();
  const after = used();
  let typed = 0;
  let slots = 0;
  for (const s of states) {
    typed += s.table.store.byteLength();
    slots += s.table.store.capacity;
  }
  const heap = after.heap - before.heap;
  const buffers = after.buffers - before.buffers;
  return {
    pass: {
      customers,
      bytes_per_customer: (heap + buffers) / customers,
      heap_bytes_per_customer: heap / customers,
      array_buffer_bytes_per_customer: buffers / customers,
      typed_bytes_per_customer: typed / customers,
      typed_bytes_per_slot: typed / slots,
      slots_allocated: slots,
      seconds,
      events,
    },
    keep: states,
  };
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string' },
      partitions: { type: 'string' },
      dedupe: { type: 'string' },
      active: { type: 'string' },
    },
  });
  const customers = numberArg(values.customers, 'customers');
  const partitions = numberArg(values.partitions, 'partitions', 16);
  const dedupe = numberArg(values.dedupe, 'dedupe', 50_000);
  const active = numberArg(values.active, 'active', 200_000);
  // Warm up the code paths (JIT, Ajv, lazily built tables) so they are not counted as state.
  measure(2000, partitions, dedupe);
  const probe = new PartitionState(0, 0);
  const features = probe.table.names.length;
  // Typed bytes per slot by column, largest first: what the per-customer state is made of.
  const columns = [...probe.table.store.columns()]
    .map((c) => ({
      name: c.spec.name,
      kind: c.spec.kind,
      width: c.spec.width,
      bytes: c.data.BYTES_PER_ELEMENT * c.spec.width,
    }))
    .sort((a, b) => b.bytes - a.bytes);
  const full = measure(customers, partitions, dedupe);
  const { pass } = full;
  full.keep = undefined;
  // Same customers without the dedupe memory, to show its share.
  const noDedupe = measure(customers, partitions, 0).pass;
  // Customers with 90-day histories (dedupe off: its memory is per event id, not per customer).
  const histories = measure(active, partitions, 0, activeHistory()).pass;
  report('result', {
    ...pass,
    dedupe_ids_per_partition: dedupe,
    features,
    columns: columns.length,
    largest_columns: columns.slice(0, 12),
    without_dedupe: noDedupe,
    active_histories: { ...histories, events_per_customer: histories.events / histories.customers },
  });
});
