/**
 * mercadopago-webhook: verify the signature over the raw request, fetch the
 * payment (or, for the merchant-order topic, the merchant order and each of
 * its payments) from MercadoPago (never trust the notification's body) and
 * settle it. Transient failures answer 500 so MercadoPago retries.
 */
import type { Deps, Handler } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { paymentIdText } from '../_shared/input.ts';
import { MercadoPagoRejected, MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import { MERCHANT_ORDER_TOPICS, settleMerchantOrder } from '../_shared/merchant-orders.ts';
import { fetchPayment, settlePayment } from '../_shared/payments.ts';
import { validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { verifyWebhookSignature } from '../_shared/signature.ts';
import { createGate, GateFull } from './gate.ts';
import { isDisputeTopic, storeThenProcess } from './inbox.ts';
import { WEBHOOK_ROUTES as ROUTES } from './routes.ts';

export function webhookHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  // A few notifications per database connection in flight; the rest wait, at most MP_WEBHOOK_MAX_WAITING when set (gate.ts).
  const gate = createGate(Math.max(4, (deps.config.dbPoolMax || 1) * 4), deps.config.mp.webhookMaxWaiting ?? Infinity);
  return withErrors(deps.log, async (req) => {
    const { url } = matchRoute('mercadopago-webhook', ROUTES, req);
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
    const q = validate(ROUTES.notification.query, Object.fromEntries(url.searchParams));
    const b = validate(ROUTES.notification.body, parseJson((await readBody(req)) || '{}'));
    const type = q.type ?? q.topic ?? b.type ?? b.topic;
    if (isDisputeTopic(type)) return await storeThenProcess(deps, type, q['data.id'] ?? q.id, b, requestId);
    const merchantOrder = type !== undefined && MERCHANT_ORDER_TOPICS.includes(type);
    if (type !== 'payment' && !merchantOrder) {
      deps.log('webhook_ignored', { type, request_id: requestId });
      return json(200, { received: true, ignored: 'not a payment notification' });
    }
    const signedId = q['data.id'] ?? q.id;
    const parsedId = paymentIdText().safeParse(signedId);
    if (!parsedId.success) throw new HttpError(400, 'invalid_notification', `data.id must be a ${merchantOrder ? 'merchant order' : 'payment'} id`);
    const dataId = parsedId.data;
    if (b.data?.id !== undefined && String(b.data.id) !== signedId) {
      throw new HttpError(400, 'invalid_notification', 'data.id in the body does not match the signed one');
    }
    try {
      if (merchantOrder) {
        const results = await gate.run(`merchant_order:${dataId}`, () => settleMerchantOrder(deps, dataId));
        if (!results) {
          deps.log('webhook_unknown_merchant_order', { merchant_order_id: dataId, request_id: requestId });
          return json(200, { received: true, ignored: 'unknown merchant order' });
        }
        return json(200, { received: true, outcomes: results.map((r) => r.outcome) });
      }
      const result = await gate.run(`payment:${dataId}`, async () => {
        const payment = await fetchPayment(deps.mp, dataId);
        return payment ? await settlePayment(deps, payment, 'webhook') : null;
      });
      if (!result) {
        deps.log('webhook_unknown_payment', { payment_id: dataId, request_id: requestId });
        return json(200, { received: true, ignored: 'unknown payment' });
      }
      return json(200, { received: true, outcome: result.outcome });
    } catch (err) {
      if (err instanceof GateFull) {
        deps.log('webhook_busy', { id: dataId, type, request_id: requestId });
        throw new HttpError(503, 'webhook_busy', 'too many notifications waiting; retry later');
      }
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
