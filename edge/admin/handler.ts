/**
 * The store owner's dashboard API (`admin` function). Callers are store
 * staff: a verified Supabase access token of a permanent user whose
 * app_metadata.store_role is "staff". Anyone else gets 403 (401 without a
 * valid token); the database routines check the role again from the same
 * claims and from auth.users.
 *
 *   GET  /admin/me                           who is signed in
 *   GET  /admin/dashboard?from&to&tz         figures, per day, sessions by outcome
 *   GET  /admin/orders?q&cursor&limit        a page of orders (keyset), searched
 *   GET  /admin/orders/<id or ORD-number>    one order with its history
 *   GET  /admin/attention                    refunds owed, late payments, mismatches
 *   GET  /admin/audit                        checkout.audit(): broken invariants (on demand)
 *   POST /admin/refunds/<payment id>/retry   refund an owed payment through MercadoPago
 *   GET  /admin/stock                        variants: on hand, reserved, available
 *   POST /admin/stock/adjust                 {variant_id, delta, reason}
 *   GET  /admin/housekeeping                 cron jobs' last runs
 *   POST /admin/housekeeping/cleanup         run the cleanup now
 */
import { z } from 'zod';
import type { Claims as RoutineClaims, OrdersCursor } from '../_shared/admin.ts';
import type { Deps, Handler } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { bearerToken, type Claims } from '../_shared/jwt.ts';
import { MercadoPagoRejected, MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import { requireMethod, validate } from '../_shared/request.ts';

export const STAFF_ROLE = 'staff';

/** True when verified claims are a permanent user holding the staff role. */
export function isStaffClaims(claims: Claims): boolean {
  const meta = claims.app_metadata;
  return claims.role === 'authenticated' && claims.is_anonymous !== true && typeof claims.sub === 'string' &&
    typeof meta === 'object' && meta !== null && (meta as Record<string, unknown>).store_role === STAFF_ROLE;
}

function issuesOf(error: z.ZodError) {
  return { issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD').refine((v) => {
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}, 'not a calendar date');

const DashboardQuery = z.strictObject({
  from: isoDate.optional(),
  to: isoDate.optional(),
  tz: z.string().regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, 'a time zone name such as America/Argentina/Buenos_Aires').default(
    'America/Argentina/Buenos_Aires',
  ),
});

const OrdersQuery = z.strictObject({
  q: z.string().trim().max(254).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const CursorSchema = z.strictObject({ created_at: z.iso.datetime({ offset: true }), id: z.uuid() });

export const AdjustBody = z.strictObject({
  variant_id: z.uuid('variant_id must be a variant id'),
  delta: z.number('delta must be a number').int('delta must be a whole number of units').min(-1_000_000).max(1_000_000).refine(
    (n) => n !== 0,
    'delta must not be zero',
  ),
  reason: z.string().trim().min(3, 'a reason is required (3 characters or more)').max(500),
});

export function encodeCursor(c: OrdersCursor): string {
  return btoa(JSON.stringify(c)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function decodeCursor(raw: string): OrdersCursor {
  let value: unknown;
  try {
    value = JSON.parse(atob(raw.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    throw new HttpError(400, 'validation_failed', 'the cursor is invalid', { issues: [{ path: 'cursor', message: 'not a cursor from this API' }] });
  }
  const parsed = CursorSchema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, 'validation_failed', 'the cursor is invalid', issuesOf(parsed.error));
  return parsed.data;
}

/** Today in a time zone, as YYYY-MM-DD; a 400 for an unknown zone. */
function todayIn(tz: string, now: Date): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  } catch {
    throw new HttpError(400, 'validation_failed', 'unknown time zone', { issues: [{ path: 'tz', message: 'unknown time zone' }] });
  }
}

function minusDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

async function requireStaff(req: Request, deps: Deps): Promise<Claims> {
  const token = bearerToken(req);
  // A genuine token of ours that is not staff (a shopper, an anonymous user,
  // the anon or service_role key, whose iss and aud differ) is a 403...
  const claims = await deps.verifyJwt(token, { audience: null, issuer: null });
  if (!isStaffClaims(claims)) throw new HttpError(403, 'forbidden', 'store staff only: sign in with a staff account');
  // ...and a staff token must also be an access token of this project's Auth.
  return await deps.verifyJwt(token);
}

export function adminDashboardHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  const admin = deps.routines.admin;
  return withErrors(deps.log, async (req) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, '').replace(/^.*?\/admin(?=\/|$)/, '');
    const claims = await requireStaff(req, deps);
    const c = claims as RoutineClaims;
    const query = Object.fromEntries(url.searchParams);

    if (path === '/me') {
      requireMethod(req, 'GET');
      return json(200, await admin.me(c));
    }
    if (path === '/dashboard') {
      requireMethod(req, 'GET');
      const q = validate(DashboardQuery, query);
      const to = q.to ?? todayIn(q.tz, now());
      const from = q.from ?? minusDays(to, 29);
      return json(200, await admin.dashboard(c, from, to, q.tz));
    }
    if (path === '/orders') {
      requireMethod(req, 'GET');
      const q = validate(OrdersQuery, query);
      const page = await admin.orders(c, q.q || null, q.cursor ? decodeCursor(q.cursor) : null, q.limit);
      return json(200, { orders: page.orders, next_cursor: page.next ? encodeCursor(page.next) : null });
    }
    const order = /^\/orders\/([^/]+)$/.exec(path);
    if (order) {
      requireMethod(req, 'GET');
      return json(200, await admin.order(c, decodeURIComponent(order[1]!)));
    }
    if (path === '/attention') {
      requireMethod(req, 'GET');
      return json(200, await admin.attention(c));
    }
    if (path === '/audit') {
      requireMethod(req, 'GET');
      const violations = await admin.audit(c);
      deps.log('audit', { violations: violations.length, by: claims.sub });
      return json(200, { ok: violations.length === 0, violations });
    }
    const refund = /^\/refunds\/([^/]+)\/retry$/.exec(path);
    if (refund) {
      requireMethod(req, 'POST');
      const owed = await admin.refundToRetry(c, decodeURIComponent(refund[1]!));
      const paymentId = Number(owed.payment_id);
      let refundId: string | null = null;
      try {
        // The same idempotency key as the automatic refund: MercadoPago refunds once.
        refundId = (await deps.mp.refundPayment(paymentId, `refund-${paymentId}`)).id;
      } catch (err) {
        if (err instanceof MercadoPagoUnavailable) {
          await deps.routines.noteRefundFailure(paymentId, `dashboard retry: ${err.message}`).catch(() => undefined);
          throw new HttpError(502, 'payment_provider_unavailable', 'MercadoPago is unavailable; the refund is still owed, try again');
        }
        if (!(err instanceof MercadoPagoRejected)) throw err;
        const current = await deps.mp.getPayment(String(paymentId)).catch(() => null);
        if (current?.status !== 'refunded') {
          deps.log('refund_retry_refused', { payment_id: paymentId, by: claims.sub, message: err.message });
          await deps.routines.noteRefundFailure(paymentId, `dashboard retry: ${err.message}`).catch(() => undefined);
          throw new HttpError(409, 'refund_refused', `MercadoPago refused the refund: ${err.message}`, { payment_id: owed.payment_id });
        }
      }
      const recorded = await deps.routines.recordRefund(paymentId, refundId);
      deps.log('refund_retried', { payment_id: paymentId, mp_refund_id: refundId, amount: owed.amount, currency: owed.currency, by: claims.sub });
      return json(200, recorded);
    }
    if (path === '/stock') {
      requireMethod(req, 'GET');
      return json(200, await admin.stock(c));
    }
    if (path === '/stock/adjust') {
      requireMethod(req, 'POST');
      const body = validate(AdjustBody, parseJson(await readBody(req)));
      const result = await admin.adjustStock(c, body.variant_id, body.delta, body.reason);
      deps.log('stock_adjusted', { variant_id: body.variant_id, delta: body.delta, by: claims.sub });
      return json(200, result);
    }
    if (path === '/housekeeping') {
      requireMethod(req, 'GET');
      return json(200, await admin.housekeeping(c));
    }
    if (path === '/housekeeping/cleanup') {
      requireMethod(req, 'POST');
      const counts = await admin.runCleanup(c);
      deps.log('cleanup', { ...counts, by: claims.sub });
      return json(200, counts);
    }
    throw new HttpError(404, 'not_found', 'unknown admin endpoint (see edge/README.md)');
  });
}
