/** The type of a customer's first event, by weights roughly those of the simulated feed. */
const FIRST_EVENTS: readonly [string, number][] = [
  ['page_view', 32],
  ['login', 17],
  ['session_start', 12],
  ['search', 11],
  ['purchase', 9],
  ['campaign_touch', 5],
  ['signup', 4],
  ['profile', 4],
  ['add_to_cart', 3],
  ['email_open', 1],
  ['support_ticket', 1],
  ['refund', 1],
];
const WEIGHT = FIRST_EVENTS.reduce((sum, [, w]) => sum + w, 0);

/** A deterministic pick for the i-th customer (a multiplicative hash of i over the weights). */
export function firstEventType(i: number): string {
  let r = (Math.imul(i, 2654435761) >>> 0) % WEIGHT;
  for (const [type, w] of FIRST_EVENTS) {
    if (r < w) return type;
    r -= w;
  }
  return 'page_view';
}
