/**
 * The four functions' handlers. Each is a factory taking its dependencies
 * (database routines, MercadoPago, configuration, clock, logger), so tests
 * and the local stack wire them the same way index.ts does.
 */
import { z } from 'zod';
import { analyticsResponse, analyticsRoute } from './analytics.ts';
import type { CheckoutRoutines, OrderSession } from './checkout.ts';
import type { BaseConfig, Config } from './config.ts';
import { HttpError, json, type Logger, parseJson, readBody, withErrors } from './http.ts';
import { bearerToken, type JwtVerifier, requireShopper } from './jwt.ts';
import { type MercadoPagoApi, MercadoPagoRejected, MercadoPagoUnavailable, type PreferenceRequest } from './mercadopago.ts';
import { settlePayment } from './payments.ts';
import { reconcile } from './reconcile.ts';
import { constantTimeEqual, verifyWebhookSignature } from './signature.ts';
import { storableString } from './text.ts';

/** What every handler gets. */
export interface AdminDeps {
  routines: CheckoutRoutines;
  config: BaseConfig;
  verifyJwt: JwtVerifier;
  log: Logger;
  now?: () => Date;
}

/** What the handlers that call MercadoPago get. */
export interface Deps extends AdminDeps {
  mp: MercadoPagoApi;
  config: Config;
}

type Handler = (req: Request) => Promise<Response>;

const text = (max: number) => storableString().trim().min(1).max(max);

export const CheckoutBody = z.strictObject({
  payer: z.strictObject({
    email: storableString().pipe(z.email().max(254)),
    name: text(100),
    surname: storableString().trim().max(100).optional(),
    phone: z.strictObject({ area_code: storableString().regex(/^\d{0,6}$/).optional(), number: storableString().regex(/^[\d -]{4,20}$/) }).optional(),
    identification: z.strictObject({ type: text(20), number: storableString().regex(/^[\dA-Za-z.-]{3,20}$/) }).optional(),
  }),
  shipping_address: z.strictObject({
    street_name: text(200),
    street_number: text(20),
    zip_code: storableString().trim().regex(/^[A-Za-z0-9 -]{3,12}$/, 'invalid postal code'),
    city: text(100),
    state: storableString().trim().max(100).optional(),
    floor: storableString().trim().max(10).optional(),
    apartment: storableString().trim().max(10).optional(),
    notes: storableString().trim().max(500).optional(),
  }),
  coupon: storableString().trim().regex(/^[A-Za-z0-9_-]{3,32}$/, 'invalid coupon code').nullish(),
});

function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpError(400, 'validation_failed', 'the request is invalid', {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

function requireMethod(req: Request, ...methods: string[]) {
  if (!methods.includes(req.method)) throw new HttpError(405, 'method_not_allowed', `use ${methods.join(' or ')}`);
}

const money = (v: number | string) => Number(v);

/** The preference for an order session: items from the snapshot, expiring with the reservation. */
export function preferenceFor(session: OrderSession, config: Config, now: Date): PreferenceRequest {
  const payer = session.payer as PreferenceRequest['payer'];
  const items = Number(session.discount) > 0
    // MercadoPago items cannot be negative: a discounted order is one line at the total.
    ? [{
      id: session.token,
      title: `${config.storeName}: ${session.item_count} producto(s), cupón ${session.coupon_code ?? ''}`.trim(),
      quantity: 1,
      unit_price: money(session.total),
      currency_id: session.currency,
    }]
    : session.lines.map((l) => ({ id: l.sku, title: l.title, quantity: l.quantity, unit_price: money(l.unit_price), currency_id: session.currency }));
  const address = session.shipping_address as Record<string, string | undefined>;
  return {
    items,
    payer: { email: payer.email, name: payer.name, surname: payer.surname, phone: payer.phone, identification: payer.identification },
    back_urls: { success: config.returnUrl, pending: config.returnUrl, failure: config.returnUrl },
    auto_return: 'approved',
    notification_url: `${config.functionsUrl}/mercadopago-webhook`,
    external_reference: session.token,
    metadata: { order_session_id: session.id },
    expires: true,
    expiration_date_from: now.toISOString(),
    expiration_date_to: new Date(session.expires_at).toISOString(),
    payment_methods: { excluded_payment_types: config.mp.excludedPaymentTypes.map((id) => ({ id })) },
    statement_descriptor: config.mp.statementDescriptor,
    shipments: {
      receiver_address: Object.fromEntries(
        Object.entries({
          street_name: address.street_name,
          street_number: address.street_number,
          zip_code: address.zip_code,
          city_name: address.city,
          state_name: address.state,
          floor: address.floor,
          apartment: address.apartment,
        }).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
        ),
      ),
    },
  };
}

export function createPreferenceHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  return withErrors(deps.log, async (req) => {
    requireMethod(req, 'POST');
    const { sessionId } = await requireShopper(req, deps.verifyJwt);
    const body = validate(CheckoutBody, parseJson(await readBody(req)));
    const { coupon, ...rest } = body;
    const session = await deps.routines.beginCheckout(sessionId, rest.payer, rest.shipping_address, coupon ?? null);
    deps.log('checkout_begun', { order_session_id: session.id, total: session.total, currency: session.currency, items: session.item_count });
    let preference;
    try {
      preference = await deps.mp.createPreference(preferenceFor(session, deps.config, now()), session.id);
    } catch (err) {
      // No preference, no sale: free the stock at once. If even that fails,
      // the reservation still lapses on its own (lazy expiry).
      await deps.routines.releaseSession(session.id, 'preference could not be created').catch((releaseErr: unknown) =>
        deps.log('release_failed', { order_session_id: session.id, message: String(releaseErr) })
      );
      deps.log('preference_failed', { order_session_id: session.id, message: err instanceof Error ? err.message : String(err) });
      throw new HttpError(502, 'payment_provider_unavailable', 'MercadoPago could not create the payment; nothing was reserved, try again');
    }
    const attached = await deps.routines.attachPreference(session.id, preference.id);
    deps.log('preference_created', { order_session_id: session.id, preference_id: preference.id });
    return json(201, {
      order_session: publicSession(attached),
      preference_id: preference.id,
      init_point: preference.init_point,
      sandbox_init_point: preference.sandbox_init_point,
    });
  });
}

/** What the shopper may see of an order session. */
function publicSession(s: OrderSession) {
  return {
    id: s.id,
    token: s.token,
    status: s.status,
    lines: s.lines,
    item_count: s.item_count,
    subtotal: s.subtotal,
    discount: s.discount,
    total: s.total,
    currency: s.currency,
    coupon_code: s.coupon_code,
    preference_id: s.preference_id,
    expires_at: s.expires_at,
    paid_at: s.paid_at,
  };
}

async function fetchPayment(mp: MercadoPagoApi, id: string) {
  try {
    return await mp.getPayment(id);
  } catch (err) {
    if (err instanceof MercadoPagoRejected && err.status === 404) return null;
    throw err;
  }
}

export function webhookHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  return withErrors(deps.log, async (req) => {
    requireMethod(req, 'POST');
    const requestId = req.headers.get('x-request-id');
    const check = await verifyWebhookSignature(req, {
      secret: deps.config.mp.webhookSecret,
      toleranceSeconds: deps.config.mp.webhookToleranceSeconds,
      nowSeconds: Math.floor(now().getTime() / 1000),
    });
    if (!check.ok) {
      deps.log('webhook_rejected', { reason: check.reason, request_id: requestId });
      throw new HttpError(401, 'invalid_signature', 'the notification signature is invalid');
    }
    const url = new URL(req.url);
    const body = parseJson((await readBody(req)) || '{}');
    const b = (typeof body === 'object' && body !== null ? body : {}) as { type?: unknown; topic?: unknown; data?: { id?: unknown } };
    const type = url.searchParams.get('type') ?? url.searchParams.get('topic') ?? b.type ?? b.topic;
    const dataId = url.searchParams.get('data.id') ?? url.searchParams.get('id');
    if (type !== 'payment') {
      deps.log('webhook_ignored', { type, request_id: requestId });
      return json(200, { received: true, ignored: 'not a payment notification' });
    }
    if (!dataId || !/^\d{1,19}$/.test(dataId)) throw new HttpError(400, 'invalid_notification', 'data.id must be a payment id');
    if (b.data?.id !== undefined && String(b.data.id) !== dataId) {
      throw new HttpError(400, 'invalid_notification', 'data.id in the body does not match the signed one');
    }
    try {
      const payment = await fetchPayment(deps.mp, dataId);
      if (!payment) {
        deps.log('webhook_unknown_payment', { payment_id: dataId, request_id: requestId });
        return json(200, { received: true, ignored: 'unknown payment' });
      }
      const result = await settlePayment(deps, payment, 'webhook');
      return json(200, { received: true, outcome: result.outcome });
    } catch (err) {
      if (err instanceof MercadoPagoUnavailable || err instanceof MercadoPagoRejected) {
        deps.log('webhook_retry_later', { payment_id: dataId, request_id: requestId, message: err.message });
        throw new HttpError(500, 'upstream_unavailable', 'MercadoPago is unavailable; retry later');
      }
      if (err instanceof HttpError && err.status === 503) {
        deps.log('webhook_retry_later', { payment_id: dataId, request_id: requestId, message: err.message });
        throw new HttpError(500, 'database_unavailable', 'the database is unavailable; retry later');
      }
      throw err;
    }
  });
}

const ReturnQuery = z.object({
  payment_id: storableString().regex(/^\d{1,19}$/, 'payment_id must be a MercadoPago payment id').optional(),
  external_reference: storableString().regex(/^[A-Za-z0-9_-]{1,64}$/, 'invalid external_reference').optional(),
});

/**
 * One answer for "no such payment or order" and "another shopper's": payment
 * ids are sequential, so telling them apart would say which ids exist.
 */
const notYoursOrUnknown = () => new HttpError(404, 'not_found', 'no such payment or order for this shopper');

export function paymentStatusHandler(deps: Deps): Handler {
  return withErrors(deps.log, async (req) => {
    requireMethod(req, 'GET', 'POST');
    const { sessionId } = await requireShopper(req, deps.verifyJwt);
    const raw: Record<string, unknown> = Object.fromEntries(new URL(req.url).searchParams);
    if (req.method === 'POST') {
      const v = parseJson((await readBody(req)) || '{}');
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'validation_failed', 'the body must be a JSON object');
      Object.assign(raw, v);
    }
    // MercadoPago writes missing values as the string "null".
    const cleaned = Object.fromEntries(
      ['payment_id', 'external_reference'].map((k) => [k, raw[k] === 'null' || raw[k] === '' || raw[k] == null ? undefined : String(raw[k])]),
    );
    const query = validate(ReturnQuery, cleaned);
    if (!query.payment_id && !query.external_reference) {
      throw new HttpError(400, 'validation_failed', 'payment_id or external_reference is required');
    }

    let payment = null;
    let token = query.external_reference;
    try {
      if (query.payment_id) {
        payment = await fetchPayment(deps.mp, query.payment_id);
        if (!payment) throw notYoursOrUnknown();
        if (token && payment.external_reference !== token) throw notYoursOrUnknown();
        token = payment.external_reference ?? undefined;
      }
    } catch (err) {
      if (err instanceof MercadoPagoUnavailable || err instanceof MercadoPagoRejected) {
        throw new HttpError(502, 'payment_provider_unavailable', 'MercadoPago is unavailable; try again');
      }
      throw err;
    }
    if (!token) throw notYoursOrUnknown();
    const session = await deps.routines.findOrderSession(token);
    if (!session) throw notYoursOrUnknown();
    if (session.session_id !== sessionId) {
      deps.log('return_forbidden', { order_session_id: session.id, payment_id: payment?.id });
      throw notYoursOrUnknown();
    }

    if (!payment) {
      const order = await deps.routines.orderForSession(session.id);
      return json(200, { status: session.status, outcome: 'status', payment: null, order_session: publicSession(session), order });
    }
    let result;
    try {
      result = await settlePayment(deps, payment, 'return');
    } catch (err) {
      if (err instanceof MercadoPagoUnavailable || err instanceof MercadoPagoRejected) {
        throw new HttpError(502, 'payment_provider_unavailable', 'MercadoPago is unavailable; try again');
      }
      throw err;
    }
    const fresh = (await deps.routines.findOrderSession(token)) ?? session;
    const order = result.order ?? (await deps.routines.orderForSession(session.id));
    return json(200, {
      status: fresh.status,
      outcome: result.outcome,
      payment: { id: payment.id, status: payment.status, status_detail: payment.status_detail },
      order_session: publicSession(fresh),
      order,
      refund: result.refund ?? null,
    });
  });
}

/**
 * The service role key, or a JWT whose role is service_role (what pg_net
 * sends from the database). Legacy service_role keys are JWTs with
 * `iss: supabase` and no audience.
 */
async function requireServiceRole(req: Request, deps: AdminDeps): Promise<void> {
  const token = bearerToken(req);
  let isService = constantTimeEqual(token, deps.config.serviceRoleKey);
  if (!isService && token.split('.').length === 3) {
    const claims = await deps.verifyJwt(token, { audience: null, issuer: null }).catch(() => null);
    isService = claims?.role === 'service_role';
  }
  if (!isService) throw new HttpError(403, 'forbidden', 'the service role key is required');
}

export function adminHandler(deps: AdminDeps): Handler {
  return withErrors(deps.log, async (req) => {
    await requireServiceRole(req, deps);
    const path = new URL(req.url).pathname.replace(/\/+$/, '');
    if (path.endsWith('/stats')) {
      requireMethod(req, 'GET');
      const [stats, topHolders] = await Promise.all([deps.routines.stats(), deps.routines.topHolders(10)]);
      return json(200, { ...stats, top_holders: topHolders });
    }
    if (path.endsWith('/audit')) {
      requireMethod(req, 'GET');
      const violations = await deps.routines.audit();
      deps.log('audit', { violations: violations.length });
      return json(200, { ok: violations.length === 0, violations });
    }
    if (path.endsWith('/cleanup')) {
      requireMethod(req, 'POST');
      const counts = await deps.routines.cleanup();
      deps.log('cleanup', counts);
      return json(200, counts);
    }
    const route = analyticsRoute(path);
    if (route) {
      requireMethod(req, 'GET');
      return analyticsResponse(deps.routines.analytics, route, new URL(req.url));
    }
    throw new HttpError(404, 'not_found', 'use GET /stats, /audit, /funnel, /abandoned-products, /checkout-outcomes or POST /cleanup');
  });
}

export function reconcileHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  return withErrors(deps.log, async (req) => {
    requireMethod(req, 'POST');
    await requireServiceRole(req, deps);
    const report = await reconcile(deps, { ...deps.config.reconcile, now });
    return json(200, report);
  });
}
