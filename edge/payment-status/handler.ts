/**
 * payment-status: the buyer's return from MercadoPago. With a payment id,
 * the payment is fetched and settled exactly as the webhook does; with only
 * an external_reference, the order session's state is answered.
 */
import { publicSession } from '../_shared/checkout.ts';
import type { Deps, Handler } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { requireShopper } from '../_shared/jwt.ts';
import { MercadoPagoRejected, MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import { fetchPayment, settlePayment } from '../_shared/payments.ts';
import { validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { PAYMENT_STATUS_ROUTES as ROUTES } from './routes.ts';

/**
 * One answer for "no such payment or order" and "another shopper's": payment
 * ids are sequential, so telling them apart would say which ids exist.
 */
const notYoursOrUnknown = () => new HttpError(404, 'not_found', 'no such payment or order for this shopper');

export function paymentStatusHandler(deps: Deps): Handler {
  return withErrors(deps.log, async (req) => {
    matchRoute('payment-status', ROUTES, req);
    const { sessionId } = await requireShopper(req, deps.verifyJwt);
    const raw: Record<string, unknown> = Object.fromEntries(new URL(req.url).searchParams);
    if (req.method === 'POST') {
      const v = parseJson((await readBody(req)) || '{}');
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'validation_failed', 'the body must be a JSON object');
      Object.assign(raw, v);
    }
    // MercadoPago writes missing values as the string "null"; a JSON body may
    // carry the payment id as a number. Anything else is left for the schema to refuse.
    const cleaned = Object.fromEntries(
      ['payment_id', 'external_reference'].map((k) => {
        const v = raw[k];
        return [k, v === 'null' || v === '' || v == null ? undefined : typeof v === 'number' ? String(v) : v];
      }),
    );
    const query = validate(ROUTES.paymentStatus.query, cleaned);
    if (!query.payment_id && !query.external_reference) {
      throw new HttpError(400, 'validation_failed', 'payment_id or external_reference is required');
    }

    let payment = null;
    let token = query.external_reference;
    try {
      if (query.payment_id) {
        // Whose payment it is, only MercadoPago can say: each shopper has a
        // budget of lookups per hour and the store a ceiling per minute (429
        // too_many_lookups past either), so neither a client nor a swarm of
        // accounts can spend the store's MercadoPago rate limit on random ids.
        await deps.routines.noteReturnLookup(sessionId);
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
    const session = await deps.routines.findOrderSessionFor(sessionId, token);
    if (!session) throw notYoursOrUnknown();
    if (session.session_id !== sessionId) {
      deps.log('return_forbidden', { order_session_id: session.id, payment_id: payment?.id });
      throw notYoursOrUnknown();
    }

    if (!payment) {
      const order = await deps.routines.orderForSession(session.id);
      const pending = await deps.routines.offlinePayment(session.id);
      return json(200, { status: session.status, outcome: 'status', payment: null, order_session: publicSession(session), order, pending_payment: pending });
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
    // An offline payment waiting for the buyer: the ticket, the Pix QR, the deadline.
    const pending = await deps.routines.offlinePayment(session.id);
    return json(200, {
      status: fresh.status,
      outcome: result.outcome,
      payment: { id: payment.id, status: payment.status, status_detail: payment.status_detail },
      order_session: publicSession(fresh),
      order,
      refund: result.refund ?? null,
      pending_payment: pending,
    });
  });
}
