/**
 * Abandoned-cart analytics for the order-sessions-admin function: GET
 * /funnel, /abandoned-products and /checkout-outcomes with
 * ?from=YYYY-MM-DD&to=YYYY-MM-DD (store time zone; default the last 30 days
 * up to today). The SQL lives in the analytics schema (service_role only).
 */
import type { z } from 'zod';
import type { Db } from './db.ts';
import { dateRangeQuery, rangeStart, wholeNumberText } from './input.ts';

/** Days in a report's default range. */
const REPORT_DAYS = 30;

export const AnalyticsQuery = dateRangeQuery(REPORT_DAYS, { limit: wholeNumberText(1, 200).optional() });
export type AnalyticsQuery = z.output<typeof AnalyticsQuery>;

export function analyticsRoutines(db: Db) {
  const one = async (sql: string, params: unknown[]) => (await db.query<{ r: Record<string, unknown> }>(sql, params))[0]!.r;
  // Without bounds: the 30 days up to today in the store's time zone (which
  // only the database knows); with `to` alone, the 30 days up to it.
  const range = `coalesce($1::date, analytics.today() - ${REPORT_DAYS - 1}), coalesce($2::date, analytics.today())`;
  const bounds = (q: AnalyticsQuery) => [q.from ?? (q.to ? rangeStart(q.to, REPORT_DAYS) : null), q.to ?? null];
  return {
    funnel: (q: AnalyticsQuery) => one(`select analytics.funnel(${range}) as r`, bounds(q)),
    abandonedProducts: (q: AnalyticsQuery) => one(`select analytics.abandoned_products_report(${range}, $3) as r`, [...bounds(q), q.limit ?? 20]),
    checkoutOutcomes: (q: AnalyticsQuery) => one(`select analytics.checkout_outcomes(${range}) as r`, bounds(q)),
  };
}
export type AnalyticsRoutines = ReturnType<typeof analyticsRoutines>;
