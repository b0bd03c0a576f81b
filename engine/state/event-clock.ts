/**
 * A partition's event-time clock: its watermark, robust to a few stray timestamps (docs/features.md,
 * "Watermark").
 *
 * An event at most `maxJumpMs` ahead of the watermark moves it to the event's time, as before. An
 * event further ahead is folded (it counts in its own bucket, once "now" reaches it) but does not
 * move the watermark by itself: the watermark leaps only when at least {@link JUMP_QUORUM} of the
 * partition's last {@link RECENT_TIMES} events lie beyond the bound, and then to the
 * {@link JUMP_QUORUM}-th latest of them, so a stray further ahead never pulls it along. A producer
 * stamping one event with the wall clock in the middle of a replay no longer ages every customer
 * of the partition; a real gap in the data (a holiday) is crossed after a few events.
 *
 * The hot path stores one number per event; the quorum is counted only for far-ahead events.
 */

/** Event times remembered per partition for the quorum of a far jump (a power of two). */
const RECENT_TIMES = 8;
/** Far-ahead events among the recent ones that move the watermark past the bound. */
export const JUMP_QUORUM = 3;

/** What {@link EventClock.observe} did: the watermark moved, stayed (an event behind it), or was held. */
export const CLOCK_MOVED = 1;
export const CLOCK_KEPT = 0;
export const CLOCK_HELD = -1;

export class EventClock {
  /** Highest event time accepted (epoch ms), -Infinity before the first event. */
  watermark = Number.NEGATIVE_INFINITY;
  /** Events folded without moving the watermark because they were too far ahead of it. */
  held = 0;
  readonly #maxJumpMs: number;
  readonly #recent = new Float64Array(RECENT_TIMES).fill(Number.NEGATIVE_INFINITY);
  readonly #ahead = new Float64Array(RECENT_TIMES);
  #at = 0;

  /** @param maxJumpMs how far one event may move the watermark ahead; Infinity = any event moves it */
  constructor(maxJumpMs: number) {
    this.#maxJumpMs = maxJumpMs > 0 ? maxJumpMs : Number.POSITIVE_INFINITY;
  }

  /**
   * Takes one event's time into account: {@link CLOCK_MOVED} when the watermark moved,
   * {@link CLOCK_HELD} when the event was too far ahead to move it alone, else {@link CLOCK_KEPT}.
   */
  observe(ts: number): number {
    this.#recent[this.#at++ & (RECENT_TIMES - 1)] = ts;
    const watermark = this.watermark;
    if (ts <= watermark) return CLOCK_KEPT;
    const bound = watermark + this.#maxJumpMs;
    if (ts <= bound || watermark === Number.NEGATIVE_INFINITY) {
      this.watermark = ts;
      return CLOCK_MOVED;
    }
    const ahead = this.#ahead;
    let n = 0;
    for (let i = 0; i < RECENT_TIMES; i++) {
      const t = this.#recent[i]!;
      if (t > bound) ahead[n++] = t;
    }
    if (n < JUMP_QUORUM) {
      this.held++;
      return CLOCK_HELD;
    }
    // The JUMP_QUORUM-th latest of the far-ahead times: that many events stand at or beyond it.
    const sorted = ahead.subarray(0, n).sort();
    this.watermark = sorted[n - JUMP_QUORUM]!;
    return CLOCK_MOVED;
  }
}

/**
 * The most a partition's event clock may read, given every partition's watermark (NaN = not
 * known yet): the upper median of the known ones plus `maxJumpMs`, so a partition whose own
 * watermark ran ahead of the others (a burst of far-ahead events in one partition) does not age
 * its customers beyond the engine's common clock. Infinity when none is known or there is no bound.
 */
export function clockCap(watermarks: Float64Array, maxJumpMs: number): number {
  if (!(maxJumpMs > 0)) return Number.POSITIVE_INFINITY;
  const known: number[] = [];
  for (let i = 0; i < watermarks.length; i++) {
    const w = watermarks[i]!;
    if (Number.isFinite(w)) known.push(w);
  }
  if (known.length === 0) return Number.POSITIVE_INFINITY;
  known.sort((a, b) => a - b);
  return known[known.length >> 1]! + maxJumpMs;
}
