/**
 * Which ids a simulated event carries (docs/events.md, Identity). Newcomers browse anonymously
 * before they sign up: their sessions carry only an `anonymous_id`, one device or (every third
 * newcomer) two, switching device per session. The signup carries the customer id and the first
 * device (it links it); the next logins each carry one more device until all are linked. Everyone
 * else, and a newcomer's other events after the signup, carry the customer id only.
 */
import type { EventType } from '../contract/event-types.js';
import type { Customer } from './simulator-activities.js';

/** The anonymous ids of newcomer `i`: `a000123`, and `a000123-2` for every third one. */
export function newcomerDevices(i: number): string[] {
  const first = `a${String(i).padStart(6, '0')}`;
  return i % 3 === 0 ? [first, `${first}-2`] : [first];
}

export interface EventIds {
  customerId: string | undefined;
  anonymousId: string | undefined;
}

/** The ids of `c`'s next event of `type` (moves its device and link state). */
export function idsOf(c: Customer, type: EventType, out: EventIds): EventIds {
  out.customerId = c.id;
  out.anonymousId = undefined;
  const devices = c.devices;
  if (devices.length === 0 || c.linked >= devices.length) return out;
  if (c.linked === 0) {
    if (type === 'signup') {
      out.anonymousId = devices[0];
      c.linked = 1;
      return out;
    }
    if (type === 'session_start') c.device_at = (c.device_at + 1) % devices.length;
    out.customerId = undefined;
    out.anonymousId = devices[c.device_at];
    return out;
  }
  if (type === 'login') out.anonymousId = devices[c.linked++];
  return out;
}
