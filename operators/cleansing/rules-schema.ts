/**
 * The shape of a cleansing rules file (BW_CLEANSING_FILE) as a TypeBox schema, and the built-in
 * rules used without one. Every section is optional: a section left out keeps its defaults, a field
 * left out keeps its default. Meaning of each field and the measured accuracy: docs/cleansing.md.
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  AMOUNT_OUTLIER_TYPES,
  CHANNEL_EVENT_TYPES,
  NEAR_DUPLICATE_TYPES,
  QUANTITY_OUTLIER_TYPES,
} from '../../contract/cleansing.js';

const EventName = Type.String({ minLength: 1, maxLength: 64 });
const Duration = Type.String({ minLength: 1, maxLength: 32 });
/** Alias tables: written value (compared trimmed and lower-cased) → the canonical value. */
const Aliases = Type.Record(
  Type.String({ minLength: 1, maxLength: 64 }),
  Type.String({ minLength: 1, maxLength: 64 }),
  {
    maxProperties: 1000,
  },
);

const OutlierFieldSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    /** Event types whose value is judged (and learnt from). */
    types: Type.Optional(Type.Array(EventName, { maxItems: 32 })),
    /** Quarantined beyond this many robust standard deviations from the median, on log scale. */
    threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
    /** Values a currency (category) must have seen before its values are judged. */
    min_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    /** Smallest spread (log units) judged against: a distribution of one value is not a zero-width one. */
    min_scale: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10 })),
  },
  { additionalProperties: false },
);

export const CleansingFileSchema = Type.Object(
  {
    missing: Type.Optional(
      Type.Object(
        {
          /** A value with an `amount` and no `currency` takes this currency; null leaves it missing. */
          currency: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 8 }), Type.Null()])),
          /** An event of `channel_types` without a channel takes this one; null leaves it missing. */
          channel: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
          channel_types: Type.Optional(Type.Array(EventName, { maxItems: 32 })),
        },
        { additionalProperties: false },
      ),
    ),
    standardise: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          currency_aliases: Type.Optional(Aliases),
          channel_aliases: Type.Optional(Aliases),
          category_aliases: Type.Optional(Aliases),
        },
        { additionalProperties: false },
      ),
    ),
    outliers: Type.Optional(
      Type.Object(
        {
          /** `amount`, judged per currency. */
          amount: Type.Optional(OutlierFieldSchema),
          /** `quantity`, judged per category (events without a category share one distribution). */
          quantity: Type.Optional(OutlierFieldSchema),
          /** The median and spread of a distribution are recomputed every this many values. */
          refresh_every: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          /** Most currencies (categories) with a distribution per partition; others are not judged. */
          max_keys: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    near_duplicates: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          types: Type.Optional(Type.Array(EventName, { maxItems: 32 })),
          window: Type.Optional(Duration),
          /** Judge only events with an sku: without one, two orders of one amount are often two real orders. */
          require_sku: Type.Optional(Type.Boolean()),
          /** Events remembered per partition (oldest forgotten first within a hash set). */
          max_entries: Type.Optional(Type.Integer({ minimum: 64, maximum: 4_194_304 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type CleansingFile = Static<typeof CleansingFileSchema>;

/** The built-in rules, every field filled (a file's values are laid over these). */
export const DEFAULT_CLEANSING_FILE = {
  missing: { currency: 'EUR', channel: 'unknown', channel_types: [...CHANNEL_EVENT_TYPES] },
  standardise: {
    enabled: true,
    currency_aliases: {
      '€': 'EUR',
      euro: 'EUR',
      euros: 'EUR',
      $: 'USD',
      us$: 'USD',
      usd$: 'USD',
      dollar: 'USD',
      '£': 'GBP',
      'gbp£': 'GBP',
      pound: 'GBP',
      '¥': 'JPY',
      yen: 'JPY',
      sfr: 'CHF',
    },
    channel_aliases: {
      'e-mail': 'email',
      mail: 'email',
      newsletter: 'email',
      'mobile app': 'app',
      'mobile-app': 'app',
      mobile_app: 'app',
      ios: 'app',
      android: 'app',
      website: 'web',
      www: 'web',
      online: 'web',
      desktop: 'web',
      shop: 'store',
      'in-store': 'store',
      in_store: 'store',
      retail: 'store',
      text: 'sms',
      'live chat': 'chat',
      livechat: 'chat',
    },
    category_aliases: {},
  },
  outliers: {
    amount: {
      enabled: true,
      types: [...AMOUNT_OUTLIER_TYPES],
      threshold: 6,
      min_count: 50,
      min_scale: 0.5,
    },
    quantity: {
      enabled: true,
      types: [...QUANTITY_OUTLIER_TYPES],
      threshold: 6,
      min_count: 100,
      min_scale: 0.5,
    },
    refresh_every: 64,
    max_keys: 1024,
  },
  near_duplicates: {
    enabled: true,
    types: [...NEAR_DUPLICATE_TYPES],
    window: '10m',
    require_sku: true,
    max_entries: 32768,
  },
} satisfies CleansingFile;
