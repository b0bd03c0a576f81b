/**
 * Faults injected into the simulated feed at known rates, each event labelled with the fault it
 * carries: the known truth the cleansing rules are measured against (docs/cleansing.md) and what
 * the quickstart shows caught. One fault per event at most, chosen among those the event can carry:
 *
 * - `missing_currency`: an event with an amount loses its currency;
 * - `missing_channel`: an event of a device or shop type loses its channel;
 * - `currency_code`, `channel_name`, `category_text`: the value written another way (`eur`, `€`,
 *   `' Web'`, `Mobile App`, `'SHOES '`);
 * - `outlier_amount`: the amount multiplied or divided by 10^3.5 to 10^5 (a price keyed in the
 *   wrong unit, digits repeated);
 * - `outlier_quantity`: the quantity set to 50 to 5,000 (a quantity field fed a sku or a total);
 * - `near_duplicate`: a purchase or refund sent again under a new event id 1 s to 5 min later (a
 *   producer's retry that mints a new id), emitted right after it.
 *
 * Deterministic from its seed. The labels use the names of the cleansing rules that should act.
 */
import {
  AMOUNT_OUTLIER_TYPES,
  CHANNEL_EVENT_TYPES,
  CLEANSING_RULES,
  type CleansingRule,
  NEAR_DUPLICATE_TYPES,
  QUANTITY_OUTLIER_TYPES,
} from '../contract/cleansing.js';
import { mulberry32 } from './simulator-activities.js';

/** A fault is named after the cleansing rule that should act on it. */
export const FAULT_KINDS = CLEANSING_RULES;
export type FaultKind = CleansingRule;

/** Where the built-in cleansing rules look (contract/cleansing.ts): faults go where they act. */
const CHANNEL_TYPES = new Set<string>(CHANNEL_EVENT_TYPES);
const AMOUNT_TYPES = new Set<string>(AMOUNT_OUTLIER_TYPES);
const QUANTITY_TYPES = new Set<string>(QUANTITY_OUTLIER_TYPES);
const DUPLICATE_TYPES = new Set<string>(NEAR_DUPLICATE_TYPES);
const CURRENCY_SPELLINGS = ['eur', ' EUR', 'Eur', '€', 'euro', 'EUR '];
const CHANNEL_SPELLINGS: Record<string, string[]> = {
  web: [' Web', 'WEB', 'Website', 'online'],
  app: ['App ', 'Mobile App', 'mobile-app', 'iOS'],
  store: ['Store', 'In-Store', ' shop', 'RETAIL'],
  email: ['E-Mail', 'Email', 'mail', ' EMAIL'],
  chat: ['Chat', 'Live Chat', 'livechat'],
};

type Body = Record<string, unknown>;

export interface InjectedFault {
  kind: FaultKind;
  /** The event body with the fault. */
  body: Body;
  /** For a near-duplicate: the copy's body, to emit right after `body` (which is then clean). */
  copy?: Body;
}

export class FaultInjector {
  readonly #rand: () => number;
  readonly #rate: number;
  readonly #kinds: readonly FaultKind[];
  #copies = 0;

  /**
   * @param rate fraction of events that get a fault (among those that can carry one of `kinds`)
   * @param kinds the faults to inject (all by default)
   */
  constructor(seed: number, rate: number, kinds: readonly FaultKind[] = FAULT_KINDS) {
    this.#rand = mulberry32(seed ^ 0x5bd1e995);
    this.#rate = Math.min(1, Math.max(0, rate));
    this.#kinds = kinds;
  }

  /** Draws whether this event gets a fault (call once per clean event). */
  draw(): boolean {
    return this.#rate > 0 && this.#rand() < this.#rate;
  }

  /** A fault for `body` (a clean event's fields), or undefined when none of the kinds fits it. */
  inject(body: Body, tsMs: number): InjectedFault | undefined {
    const fits = this.#kinds.filter((k) => fitsKind(k, body));
    if (fits.length === 0) return undefined;
    const kind = fits[Math.floor(this.#rand() * fits.length)]!;
    const out: Body = { ...body };
    const r = this.#rand;
    switch (kind) {
      case 'missing_currency':
        delete out['currency'];
        break;
      case 'missing_channel':
        delete out['channel'];
        break;
      case 'currency_code':
        out['currency'] = pick(CURRENCY_SPELLINGS, r);
        break;
      case 'channel_name':
        out['channel'] = pick(CHANNEL_SPELLINGS[body['channel'] as string]!, r);
        break;
      case 'category_text': {
        const c = body['category'] as string;
        out['category'] = pick([` ${c}`, c.toUpperCase(), `${c[0]!.toUpperCase()}${c.slice(1)}  `], r);
        break;
      }
      case 'outlier_amount': {
        const factor = 10 ** (3.5 + 1.5 * r());
        const amount = body['amount'] as number;
        out['amount'] = Math.round((r() < 0.5 ? amount * factor : amount / factor) * 100) / 100 || 0.01;
        break;
      }
      case 'outlier_quantity':
        out['quantity'] = Math.round(50 * 100 ** r());
        break;
      case 'near_duplicate': {
        const copy: Body = { ...body, event_id: `${String(body['event_id'])}-retry${this.#copies++}` };
        copy['ts'] = new Date(tsMs + Math.floor(1000 + r() * 299_000)).toISOString();
        return { kind, body, copy };
      }
    }
    return { kind, body: out };
  }
}

function pick<T>(items: readonly T[], r: () => number): T {
  return items[Math.floor(r() * items.length)]!;
}

function fitsKind(kind: FaultKind, b: Body): boolean {
  const type = b['type'] as string;
  const amount = b['amount'];
  switch (kind) {
    case 'missing_currency':
    case 'currency_code':
      return typeof amount === 'number' && b['currency'] === 'EUR';
    case 'missing_channel':
      return CHANNEL_TYPES.has(type) && typeof b['channel'] === 'string';
    case 'channel_name':
      return typeof b['channel'] === 'string' && CHANNEL_SPELLINGS[b['channel']] !== undefined;
    case 'category_text':
      return typeof b['category'] === 'string' && (b['category'] as string).length > 0;
    case 'outlier_amount':
      return AMOUNT_TYPES.has(type) && typeof amount === 'number' && amount > 0;
    case 'outlier_quantity':
      return QUANTITY_TYPES.has(type) && typeof b['quantity'] === 'number';
    case 'near_duplicate':
      return DUPLICATE_TYPES.has(type) && typeof amount === 'number';
  }
}
