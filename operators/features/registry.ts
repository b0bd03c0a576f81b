/** The feature operators the engine runs, in the order their features appear in a feature vector. */
import { activityDaily, activityHourly, activityRecent } from './activity.js';
import { cartAddsDaily, cartAddsHourly } from './cart-adds.js';
import { checkouts, searches } from './checkouts.js';
import { complaints } from './complaints.js';
import { campaignTouches, emailClicks, emailOpens } from './engagement.js';
import { lifetime } from './lifetime.js';
import { pageViewsDaily, pageViewsHourly } from './page-views.js';
import { purchaseDays } from './purchase-days.js';
import { purchases } from './purchases.js';
import { recency } from './recency.js';
import { refunds } from './refunds.js';
import { sessions } from './sessions.js';
import { spend } from './spend.js';
import { subscription } from './subscription.js';
import { supportTickets } from './support-tickets.js';
import { trends } from './trends.js';
import type { DerivedFeature, Operator } from './types.js';

export const FEATURE_OPERATORS: readonly Operator[] = [
  purchases,
  spend,
  refunds,
  sessions,
  pageViewsHourly,
  pageViewsDaily,
  cartAddsHourly,
  cartAddsDaily,
  checkouts,
  searches,
  supportTickets,
  complaints,
  emailOpens,
  emailClicks,
  campaignTouches,
  activityRecent,
  activityHourly,
  activityDaily,
  recency,
  lifetime,
  purchaseDays,
  subscription,
];

export const DERIVED_FEATURES: readonly DerivedFeature[] = trends;

export const FEATURE_NAMES: readonly string[] = [
  ...FEATURE_OPERATORS.flatMap((op) => op.features),
  ...DERIVED_FEATURES.map((d) => d.name),
];
