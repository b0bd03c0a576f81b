import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';
import {
  CLOCK_HELD,
  CLOCK_KEPT,
  CLOCK_MOVED,
  clockCap,
  EventClock,
  JUMP_QUORUM,
} from '../../engine/state/event-clock.js';
import { PartitionState } from '../../engine/state/partition-state.js';

const T = Date.UTC(2026, 8, 16, 12);

describe('event clock (a partition watermark robust to stray timestamps)', () => {
  it('moves with events at most the bound ahead, and not back', () => {
    const clock = new EventClock(DAY_MS);
    expect(clock.observe(T)).toBe(CLOCK_MOVED); // the first event sets it, however far
    expect(clock.observe(T + 23 * HOUR_MS)).toBe(CLOCK_MOVED);
    expect(clock.observe(T)).toBe(CLOCK_KEPT);
    expect(clock.watermark).toBe(T + 23 * HOUR_MS);
  });

  it('does not move for one event stamped three months ahead (issue 18), and the stream goes on', () => {
    const clock = new EventClock(DAY_MS);
    for (let i = 0; i < 20; i++) clock.observe(T + i * HOUR_MS);
    expect(clock.observe(Date.UTC(2026, 11, 7))).toBe(CLOCK_HELD);
    expect(clock.watermark).toBe(T + 19 * HOUR_MS);
    for (let i = 20; i < 40; i++) clock.observe(T + i * HOUR_MS);
    expect(clock.watermark).toBe(T + 39 * HOUR_MS);
    // Two strays among the last 8 events are still not a quorum.
    clock.observe(Date.UTC(2026, 11, 7));
    clock.observe(T + 40 * HOUR_MS);
    expect(clock.observe(Date.UTC(2026, 11, 8))).toBe(CLOCK_HELD);
    expect(clock.watermark).toBe(T + 40 * HOUR_MS);
    expect(clock.held).toBe(3);
  });

  it('crosses a real gap once a quorum of recent events lies beyond it, to the quorum-th latest', () => {
    const clock = new EventClock(DAY_MS);
    clock.observe(T);
    const after = T + 12 * DAY_MS; // a holiday gap in the data
    expect(clock.observe(after)).toBe(CLOCK_HELD);
    expect(clock.observe(after + 3 * DAY_MS * 30)).toBe(CLOCK_HELD); // a stray further ahead still
    expect(clock.observe(after + HOUR_MS)).toBe(CLOCK_MOVED);
    expect(JUMP_QUORUM).toBe(3);
    // Three events stand at or beyond `after`: the stray 3 months on does not pull the clock along.
    expect(clock.watermark).toBe(after);
    expect(clock.observe(after + 2 * HOUR_MS)).toBe(CLOCK_MOVED);
    expect(clock.watermark).toBe(after + 2 * HOUR_MS);
  });

  it('moves with every event without a bound (BW_WATERMARK_MAX_JUMP_SECONDS=0)', () => {
    const clock = new EventClock(0);
    clock.observe(T);
    expect(clock.observe(T + 365 * DAY_MS)).toBe(CLOCK_MOVED);
  });

  it("caps a partition's event clock at the partitions' upper median plus the bound", () => {
    const w = Float64Array.of(T, T + HOUR_MS, Number.NaN, T + 90 * DAY_MS);
    // Known: T, T+1h, T+90d; upper median T+1h.
    expect(clockCap(w, DAY_MS)).toBe(T + HOUR_MS + DAY_MS);
    // Two partitions, one ahead: the upper median is the one ahead (no partition held back alone).
    expect(clockCap(Float64Array.of(T, T + 90 * DAY_MS), DAY_MS)).toBe(T + 91 * DAY_MS);
    expect(clockCap(Float64Array.of(Number.NaN), DAY_MS)).toBe(Number.POSITIVE_INFINITY);
    expect(clockCap(w, 0)).toBe(Number.POSITIVE_INFINITY);
    const state = new PartitionState(3, 0, DAY_MS);
    state.clock.observe(T + 90 * DAY_MS);
    state.clockCap = clockCap(w, DAY_MS);
    expect(state.now('event')).toBe(T + HOUR_MS + DAY_MS);
    expect(state.watermark).toBe(T + 90 * DAY_MS);
  });
});
