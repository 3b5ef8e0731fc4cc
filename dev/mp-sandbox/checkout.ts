/**
 * The hosted checkout page at `init_point` (HTML in checkout-page.ts):
 *
 *   GET  /checkout/v1/redirect?pref_id=...          the page (also under /sandbox/...)
 *   POST /checkout/v1/pay                           one payment attempt, or two with two cards (form post)
 *   GET  /checkout/v1/result?payment_id=...         the result when there is no auto return
 *   GET  /checkout/v1/ticket?payment_id=...         the ticket / Pix instructions of an offline payment
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decideAttempt } from './attempt.ts';
import { formPage, resultPage, ticketPage } from './checkout-page.ts';
import type { SandboxCore } from './core.ts';
import { badRequest, MpError } from './errors.ts';
import { readBody, redirect, sendHtml } from './http.ts';
import { OFFLINE_TYPES } from './offline.ts';
import { messagePage } from './page.ts';
import { expiryProblem, preferenceTotal } from './preferences.ts';
import { roundMoney } from './sites.ts';
import { isPaymentType, type PaymentRecord, type PayOptions, type PreferenceRecord } from './types.ts';

/** Where the buyer goes back to, with MercadoPago's query parameters; missing values are the string "null". */
export function returnUrl(pref: PreferenceRecord, payment: PaymentRecord): string | null {
  const base = payment.status === 'approved'
    ? pref.backUrls.success
    : payment.status === 'pending' || payment.status === 'in_process' || payment.status === 'authorized'
    ? pref.backUrls.pending
    : pref.backUrls.failure;
  if (base === undefined) return null;
  const url = new URL(base);
  const params: Array<[string, string]> = [
    ['collection_id', String(payment.id)],
    ['collection_status', payment.status],
    ['payment_id', String(payment.id)],
    ['status', payment.status],
    ['external_reference', payment.externalReference === '' ? 'null' : payment.externalReference],
    ['payment_type', payment.paymentTypeId],
    ['merchant_order_id', String(payment.merchantOrderId)],
    ['preference_id', pref.id],
    ['site_id', pref.siteId],
    ['processing_mode', 'aggregator'],
    ['merchant_account_id', 'null'],
  ];
  for (const [k, v] of params) url.searchParams.append(k, v);
  return url.toString();
}

const autoReturns = (pref: PreferenceRecord, payment: PaymentRecord): boolean =>
  pref.autoReturn === 'all' || (pref.autoReturn === 'approved' && payment.status === 'approved');

const optionalInt = (value: string | null): number | undefined => (value === null || value === '' ? undefined : Number(value));

/**
 * "Pagar con 2 tarjetas": two credit-card payments, the first for the amount
 * the buyer typed, the second for the rest. Both are checked before either is
 * made, so a typo on the second card never leaves the first one charged alone.
 */
function payTwoCards(core: SandboxCore, pref: PreferenceRecord, form: URLSearchParams, common: PayOptions): PaymentRecord[] {
  const total = preferenceTotal(pref);
  const first = Number((form.get('first_card_amount') ?? '').trim().replace(',', '.'));
  if (!Number.isFinite(first) || first <= 0 || first >= total || roundMoney(first, pref.siteId) !== first) {
    throw badRequest('invalid_transaction_amount', `El monto de la primera tarjeta debe ser mayor que 0 y menor que ${total}.`);
  }
  const cards: PayOptions[] = [
    { ...common, cardholderName: form.get('cardholder_name') ?? '', amount: first, installments: optionalInt(form.get('installments')) ?? 1 },
    {
      ...common,
      cardholderName: form.get('cardholder_name_2') ?? '',
      amount: roundMoney(total - first, pref.siteId),
      installments: optionalInt(form.get('installments_2')) ?? 1,
    },
  ];
  for (const card of cards) decideAttempt(pref, card, Date.now());
  return cards.map((card) => core.pay(pref.id, card));
}

function notFoundPage(res: ServerResponse, what: 'preference' | 'payment'): true {
  if (what === 'preference') sendHtml(res, 404, messagePage('preference-not-found', 'No encontramos este pago', 'La preferencia no existe.'));
  else sendHtml(res, 404, messagePage('payment-not-found', 'No encontramos este pago', 'El pago no existe.'));
  return true;
}

const expiredPage = (res: ServerResponse): true => {
  sendHtml(res, 410, messagePage('preference-expired', 'El link de pago venció', 'Esta preferencia ya no acepta pagos.'));
  return true;
};

export async function handleCheckout(core: SandboxCore, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  if (req.method === 'GET' && (path === '/checkout/v1/redirect' || path === '/sandbox/checkout/v1/redirect')) {
    const pref = core.store.preferences.get(url.searchParams.get('pref_id') ?? '');
    if (pref === undefined) return notFoundPage(res, 'preference');
    if (expiryProblem(pref, Date.now()) !== null) return expiredPage(res);
    sendHtml(res, 200, formPage(core, pref, {}));
    return true;
  }
  if (req.method === 'POST' && path === '/checkout/v1/pay') {
    const form = new URLSearchParams(await readBody(req));
    const pref = core.store.preferences.get(form.get('pref_id') ?? '');
    if (pref === undefined) return notFoundPage(res, 'preference');
    const name = form.get('cardholder_name') ?? '';
    const email = (form.get('payer_email') ?? '').trim();
    const type = form.get('payment_type_id') ?? 'credit_card';
    if (!isPaymentType(type)) {
      sendHtml(res, 400, formPage(core, pref, { error: `Medio de pago desconocido: ${type}`, name, email }));
      return true;
    }
    const common: PayOptions = email === '' ? { paymentTypeId: type } : { paymentTypeId: type, payerEmail: email };
    try {
      let payments: PaymentRecord[];
      if (type === 'credit_card' && form.get('two_cards') === 'on') {
        payments = payTwoCards(core, pref, form, common);
      } else {
        const method = OFFLINE_TYPES.has(type) ? form.get(`payment_method_id_${type}`) : null;
        const installments = type === 'credit_card' ? optionalInt(form.get('installments')) : undefined;
        payments = [core.pay(pref.id, {
          ...common,
          cardholderName: name,
          ...(method === null || method === '' ? {} : { paymentMethodId: method }),
          ...(installments === undefined ? {} : { installments }),
        })];
      }
      // The buyer is sent back with the first payment that is not approved (or the first one).
      const main = payments.find((p) => p.status !== 'approved') ?? payments[0];
      if (main === undefined) throw new Error('no payment made');
      const ordered = [main, ...payments.filter((p) => p !== main)];
      const back = returnUrl(pref, main);
      if (back !== null && ordered.every((p) => autoReturns(pref, p))) redirect(res, back);
      else redirect(res, `/checkout/v1/result?${ordered.map((p) => `payment_id=${p.id}`).join('&')}`);
    } catch (err) {
      if (!(err instanceof MpError)) throw err;
      if (err.error === 'preference_expired') return expiredPage(res);
      sendHtml(res, 400, formPage(core, pref, { error: err.message, name, email, type }));
    }
    return true;
  }
  if (req.method === 'GET' && path === '/checkout/v1/result') {
    const payments = url.searchParams.getAll('payment_id').map((id) => core.store.payments.get(Number(id)));
    const first = payments[0];
    const pref = first === undefined ? undefined : core.store.preferences.get(first.preferenceId);
    if (first === undefined || pref === undefined || payments.some((p) => p === undefined || p.preferenceId !== pref.id)) {
      return notFoundPage(res, 'payment');
    }
    sendHtml(res, 200, resultPage(core, pref, payments as PaymentRecord[], returnUrl(pref, first)));
    return true;
  }
  if (req.method === 'GET' && path === '/checkout/v1/ticket') {
    const payment = core.store.payments.get(Number(url.searchParams.get('payment_id')));
    if (payment === undefined || !OFFLINE_TYPES.has(payment.paymentTypeId)) return notFoundPage(res, 'payment');
    sendHtml(res, 200, ticketPage(core, payment));
    return true;
  }
  return false;
}
