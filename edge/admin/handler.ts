/**
 * The store owner's dashboard API (`admin` function). Callers are store
 * staff: a verified Supabase access token of a permanent user whose
 * app_metadata.store_role is "staff". Anyone else gets 403 (401 without a
 * valid token, or when the token's user no longer exists); the database
 * routines check the role again from the same claims and from auth.users.
 * The routes, with their parameters, are in routes.ts.
 */
import type { Claims as RoutineClaims } from '../_shared/admin.ts';
import type { Deps, Handler } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { encodeBase64urlJson, rangeStart } from '../_shared/input.ts';
import { bearerToken, type Claims, isUuid } from '../_shared/jwt.ts';
import { MercadoPagoRejected, MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import { makeOrderRefund } from '../_shared/order-refunds.ts';
import { validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { uploadEvidence } from './evidence.ts';
import { ADMIN_ROUTES, DASHBOARD_DAYS } from './routes.ts';

export const STAFF_ROLE = 'staff';

/** True when verified claims are a permanent user holding the staff role. */
export function isStaffClaims(claims: Claims): boolean {
  const meta = claims.app_metadata;
  return claims.role === 'authenticated' && claims.is_anonymous !== true && isUuid(claims.sub) &&
    typeof meta === 'object' && meta !== null && (meta as Record<string, unknown>).store_role === STAFF_ROLE;
}

/** Today in a time zone, as YYYY-MM-DD; a 400 for an unknown zone. */
function todayIn(tz: string, now: Date): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  } catch {
    throw new HttpError(400, 'validation_failed', 'unknown time zone', { issues: [{ path: 'tz', message: 'unknown time zone' }] });
  }
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
    const { name, params, url } = matchRoute('admin', ADMIN_ROUTES, req);
    const claims = await requireStaff(req, deps);
    const c = claims as RoutineClaims;
    const query = Object.fromEntries(url.searchParams);

    switch (name) {
      case 'me':
        return json(200, await admin.me(c));
      case 'dashboard': {
        const q = validate(ADMIN_ROUTES.dashboard.query, query);
        const to = q.to ?? todayIn(q.tz, now());
        // Today is never so early that the default start is not a date.
        const from = q.from ?? rangeStart(to, DASHBOARD_DAYS)!;
        return json(200, await admin.dashboard(c, from, to, q.tz));
      }
      case 'orders': {
        const q = validate(ADMIN_ROUTES.orders.query, query);
        const page = await admin.orders(c, q.q || null, q.cursor ?? null, q.limit);
        return json(200, { orders: page.orders, next_cursor: page.next ? encodeBase64urlJson(page.next) : null });
      }
      case 'order':
        return json(200, await admin.order(c, params.ref!));
      case 'refundOrder': {
        const body = validate(ADMIN_ROUTES.refundOrder.body, parseJson(await readBody(req)));
        return json(200, await refundOrder(deps, c, params.ref!, body));
      }
      case 'attention':
        return json(200, await admin.attention(c));
      case 'audit': {
        const violations = await admin.audit(c);
        deps.log('audit', { violations: violations.length, by: claims.sub });
        return json(200, { ok: violations.length === 0, violations });
      }
      case 'refundRetry':
        return json(200, await retryRefund(deps, c, params.payment_id!));
      case 'stock':
        return json(200, await admin.stock(c));
      case 'adjustStock': {
        const body = validate(ADMIN_ROUTES.adjustStock.body, parseJson(await readBody(req)));
        const result = await admin.adjustStock(c, body.variant_id, body.delta, body.reason);
        deps.log('stock_adjusted', { variant_id: body.variant_id, delta: body.delta, by: claims.sub });
        return json(200, result);
      }
      case 'disputes':
        return json(200, await deps.routines.disputes.list(c));
      case 'evidence':
        return json(200, await uploadEvidence(deps, c, params.id!, req));
      case 'housekeeping':
        return json(200, await admin.housekeeping(c));
      case 'offlinePayments':
        return json(200, await admin.offlinePayments(c));
      case 'cleanup': {
        const counts = await admin.runCleanup(c);
        deps.log('cleanup', { ...counts, by: claims.sub });
        return json(200, counts);
      }
    }
  });
}

/**
 * POST /orders/<ref>/refunds: the database spreads the refund over the order's
 * payments (admin.refund_order); each part is made at MercadoPago as a partial
 * refund (its own idempotency key) and recorded, or left owed with the error.
 */
async function refundOrder(deps: Deps, claims: RoutineClaims, ref: string, body: { amount: number } | { lines: { line_no: number; quantity: number }[] }) {
  const owed = await deps.routines.admin.refundOrder(claims, ref, body);
  const refunds = [];
  for (const r of owed.refunds) refunds.push(await makeOrderRefund(deps, r));
  deps.log('order_refunded', { order_number: owed.order_number, by: claims.sub, refunds: refunds.map((r) => [r.payment_id, r.amount, r.status]) });
  return { order_number: owed.order_number, refunds };
}

/** POST /refunds/<payment id>/retry: refund an owed payment through MercadoPago now, recording the attempt. */
async function retryRefund(deps: Deps, claims: RoutineClaims, paymentIdText: string) {
  const owed = await deps.routines.admin.refundToRetry(claims, paymentIdText);
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
  return recorded;
}
