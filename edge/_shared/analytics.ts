/**
 * Abandoned-cart analytics for the admin function: GET /funnel,
 * /abandoned-products and /checkout-outcomes with ?from=YYYY-MM-DD&to=YYYY-MM-DD
 * (store time zone; default the last 30 days up to today). The SQL lives in
 * the analytics schema (service_role only).
 */
import { z } from 'zod';
import type { Db } from './db.ts';
import { HttpError, json } from './http.ts';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'use YYYY-MM-DD').refine((s) => {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}, 'not a date');

export const AnalyticsQuery = z.strictObject({
  from: day.optional(),
  to: day.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});
export type AnalyticsQuery = z.infer<typeof AnalyticsQuery>;

export function analyticsRoutines(db: Db) {
  const one = async (sql: string, params: unknown[]) => (await db.query<{ r: Record<string, unknown> }>(sql, params))[0]!.r;
  // Missing bounds: the 30 days up to today in the store's time zone.
  const range = `coalesce($1::date, coalesce($2::date, analytics.today()) - 29), coalesce($2::date, analytics.today())`;
  return {
    funnel: (q: AnalyticsQuery) => one(`select analytics.funnel(${range}) as r`, [q.from ?? null, q.to ?? null]),
    abandonedProducts: (q: AnalyticsQuery) =>
      one(`select analytics.abandoned_products_report(${range}, $3) as r`, [q.from ?? null, q.to ?? null, q.limit ?? 20]),
    checkoutOutcomes: (q: AnalyticsQuery) => one(`select analytics.checkout_outcomes(${range}) as r`, [q.from ?? null, q.to ?? null]),
  };
}
export type AnalyticsRoutines = ReturnType<typeof analyticsRoutines>;

const ROUTES: Record<string, keyof AnalyticsRoutines> = {
  '/funnel': 'funnel',
  '/abandoned-products': 'abandonedProducts',
  '/checkout-outcomes': 'checkoutOutcomes',
};

/** The analytics route a path ends with, if any. */
export function analyticsRoute(path: string): keyof AnalyticsRoutines | undefined {
  const key = Object.keys(ROUTES).find((suffix) => path.endsWith(suffix));
  return key ? ROUTES[key] : undefined;
}

export async function analyticsResponse(routines: AnalyticsRoutines, route: keyof AnalyticsRoutines, url: URL): Promise<Response> {
  const parsed = AnalyticsQuery.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) {
    throw new HttpError(400, 'validation_failed', 'the request is invalid', {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return json(200, await routines[route](parsed.data));
}
