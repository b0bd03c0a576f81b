/** The event types Bellwether understands, in a fixed order: the index is used in typed state. */
export const EVENT_TYPES = [
  'signup',
  'profile',
  'login',
  'session_start',
  'page_view',
  'search',
  'add_to_cart',
  'remove_from_cart',
  'checkout_start',
  'purchase',
  'refund',
  'support_ticket',
  'complaint',
  'feedback',
  'coupon_redeem',
  'campaign_touch',
  'email_open',
  'email_click',
  'subscription_renew',
  'subscription_cancel',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

const INDEX = new Map<string, number>(EVENT_TYPES.map((t, i) => [t, i]));

/** Index of an event type, or -1 when the name is not a known type. */
export function eventTypeIndex(name: string): number {
  return INDEX.get(name) ?? -1;
}

export function isEventType(name: string): name is EventType {
  return INDEX.has(name);
}
