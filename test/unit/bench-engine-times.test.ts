import { describe, expect, it } from 'vitest';
import {
  formatShares,
  formatStages,
  stagesPerEvent,
  threadShares,
  timesOf,
} from '../../bench/lib/engine-times.js';
import { parsePrometheus } from '../../bench/lib/stats.js';

/** A scrape as the engine exposes it, with the given counter values. */
function scrape(at: number, v: { processed: number; cpu: number[]; wait: number[]; stages: number[] }) {
  const threads = ['main', 'worker-0', 'worker-1'];
  const stages = ['parse', 'fold', 'crm', 'score', 'effects', 'other'];
  const text = [
    '# TYPE bellwether_events_processed_total counter',
    `bellwether_events_processed_total{type="purchase"} ${v.processed / 2}`,
    `bellwether_events_processed_total{type="page_view"} ${v.processed / 2}`,
    ...threads.map((t, i) => `bellwether_thread_cpu_seconds_total{thread="${t}"} ${v.cpu[i]}`),
    ...threads.map((t, i) => `bellwether_thread_runqueue_seconds_total{thread="${t}"} ${v.wait[i]}`),
    ...stages.map((s, i) => `bellwether_worker_busy_seconds_total{stage="${s}"} ${v.stages[i]}`),
  ].join('\n');
  return { ...timesOf(parsePrometheus(text)), at };
}

describe('bench: where the engine time went', () => {
  const before = scrape(1000, {
    processed: 10_000,
    cpu: [1, 5, 5],
    wait: [0.5, 1, 1],
    stages: [0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
  });
  const after = scrape(3000, {
    processed: 110_000,
    cpu: [1.5, 7, 6.5],
    wait: [1.3, 1.5, 1.7],
    stages: [0.4, 0.3, 0.3, 0.5, 0.2, 0.6],
  });

  it('gives cores used and cores of waiting per thread group over the span between scrapes', () => {
    const shares = threadShares(before, after);
    expect(shares.main.cores).toBeCloseTo(0.25);
    expect(shares.main.waiting).toBeCloseTo(0.4);
    expect(shares.workers.cores).toBeCloseTo(1.75);
    expect(shares.workers.waiting).toBeCloseTo(0.6);
    expect(formatShares(shares)).toBe(
      'main thread 0.25 cores + 0.40 waiting; workers 1.75 cores + 0.60 waiting',
    );
  });

  it('gives busy µs per event processed between the scrapes, by stage, with the total', () => {
    const stages = stagesPerEvent(before, after);
    expect(stages['parse']).toBeCloseTo(3);
    expect(stages['score']).toBeCloseTo(4);
    expect(stages['other']).toBeCloseTo(5);
    expect(stages['total']).toBeCloseTo(3 + 2 + 2 + 4 + 1 + 5);
    expect(formatStages(stages)).toBe(
      'parse 3.0, fold 2.0, crm 2.0, score 4.0, effects 1.0, other 5.0, total 17.0',
    );
  });

  it('says unknown, not zero, when the engine reports no thread times, or a thread appeared meanwhile', () => {
    const bare = { ...after, cpu: {}, runqueue: {} };
    expect(formatShares(threadShares(before, bare))).toBe(
      'main thread ? cores + ? waiting; workers ? cores + ? waiting',
    );
    const restarted = { ...after, cpu: { ...after.cpu, 'worker-2': 1 } };
    expect(Number.isNaN(threadShares(before, restarted).workers.cores)).toBe(true);
  });

  it("counts from the engine's start against an empty baseline", () => {
    const start = { at: 0, processed: 0, cpu: {}, runqueue: {}, stages: {} };
    const shares = threadShares(start, after);
    expect(shares.main.cores).toBeCloseTo(0.5);
    expect(shares.workers.waiting).toBeCloseTo(1.07);
    expect(stagesPerEvent(start, after)['parse']).toBeCloseTo((0.4 / 110_000) * 1e6);
  });
});
