/**
 * The hosted checkout page at `init_point`: server-rendered HTML with a plain
 * form, no JavaScript. Stable ids for tests are listed in README.md.
 *
 *   GET  /checkout/v1/redirect?pref_id=...          the page (also under /sandbox/...)
 *   POST /checkout/v1/pay                           one payment attempt (form post)
 *   GET  /checkout/v1/result?payment_id=...         the result when there is no auto return
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxCore } from './core.ts';
import { MpError } from './errors.ts';
import { readBody, redirect, sendHtml } from './http.ts';
import { outcomeForName, TEST_CARDHOLDERS, TYPE_LABELS } from './outcomes.ts';
import { expiryProblem, preferenceTotal } from './preferences.ts';
import { isPaymentType, type PaymentRecord, type PreferenceRecord } from './types.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const money = (amount: number, currency: string): string =>
  `${currency} ${amount.toLocaleString('es-AR', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Mercado Pago (sandbox)</title>
<style>
  body { font-family: system-ui, sans-serif; background: #ededed; margin: 0; color: #333; }
  header { background: #009ee3; color: #fff; padding: 12px 24px; font-weight: 600; }
  header small { font-weight: 400; opacity: .85; margin-left: 8px; }
  main { max-width: 560px; margin: 24px auto; background: #fff; border-radius: 8px; padding: 24px; box-shadow: 0 1px 3px #0002; }
  table { width: 100%; border-collapse: collapse; margin-bottom: 12px; }
  td, th { padding: 6px 4px; border-bottom: 1px solid #eee; text-align: left; }
  td.num, th.num { text-align: right; }
  fieldset { border: 1px solid #ddd; border-radius: 6px; margin: 12px 0; }
  label { display: block; margin: 6px 0; }
  input[type=text], input[type=email] { width: 100%; padding: 8px; box-sizing: border-box; font-size: 1rem; }
  button, a.button { background: #009ee3; color: #fff; border: 0; border-radius: 6px; padding: 12px 20px; font-size: 1rem; cursor: pointer; text-decoration: none; display: inline-block; }
  a.secondary { background: #fff; color: #009ee3; border: 1px solid #009ee3; }
  .error { background: #fdecea; color: #b3261e; padding: 10px; border-radius: 6px; }
  .status-approved { color: #00a650; } .status-rejected { color: #b3261e; } .status-pending, .status-in_process { color: #c17c00; }
  details { margin-top: 16px; font-size: .9rem; color: #666; }
</style>
</head>
<body>
<header>Mercado Pago <small>sandbox local: ningún pago es real</small></header>
<main>
${body}
</main>
</body>
</html>`;
}

function itemsTable(p: PreferenceRecord): string {
  const rows = p.items
    .map(
      (i) => `<tr class="item"><td>${esc(i.title)}</td><td class="num">${i.quantity}</td><td class="num">${money(i.unit_price, i.currency_id)}</td></tr>`,
    )
    .join('\n');
  const total = preferenceTotal(p);
  return `<table id="items">
<thead><tr><th>Producto</th><th class="num">Cant.</th><th class="num">Precio</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p>Total: <strong id="total" data-amount="${total}" data-currency="${esc(p.currencyId)}">${money(total, p.currencyId)}</strong></p>`;
}

function formPage(core: SandboxCore, p: PreferenceRecord, form: { error?: string; name?: string; email?: string; type?: string }): string {
  const types = core.offeredTypes(p);
  const selected = types.find((t) => t === form.type) ?? types[0];
  const radios = types
    .map(
      (t) =>
        `<label><input type="radio" name="payment_type_id" id="payment-type-${t}" value="${t}"${t === selected ? ' checked' : ''}> ${
          esc(TYPE_LABELS[t] ?? t)
        }</label>`,
    )
    .join('\n');
  const email = form.email ?? (typeof p.payer['email'] === 'string' ? p.payer['email'] : '');
  const names = Object.entries(TEST_CARDHOLDERS)
    .map(([name, o]) => `<li><code>${name}</code>: ${esc(o.label)} (<code>${o.status}</code> / <code>${o.statusDetail}</code>)</li>`)
    .join('\n');
  return layout(
    'Pagar',
    `<h1>Pagá tu compra</h1>
${itemsTable(p)}
${form.error === undefined ? '' : `<p class="error" id="form-error" role="alert">${esc(form.error)}</p>`}
<form id="checkout-form" method="post" action="/checkout/v1/pay">
<input type="hidden" name="pref_id" value="${esc(p.id)}">
<fieldset id="payment-types"><legend>Medio de pago</legend>
${radios}
</fieldset>
<label for="card-number">Número de tarjeta (de prueba)</label>
<input type="text" id="card-number" name="card_number" value="5031 7557 3453 0604" readonly>
<label for="cardholder-name">Nombre del titular (como figura en la tarjeta)</label>
<input type="text" id="cardholder-name" name="cardholder_name" value="${esc(form.name ?? '')}" placeholder="APRO" autocomplete="off">
<label for="payer-email">E-mail</label>
<input type="email" id="payer-email" name="payer_email" value="${esc(email)}" placeholder="comprador@example.com">
<p><button type="submit" id="pay-button">Pagar ${money(preferenceTotal(p), p.currencyId)}</button></p>
</form>
<details><summary>Nombres de titular de prueba</summary>
<p>El nombre del titular decide el resultado, como en el entorno de pruebas de Mercado Pago. Efectivo, cajero y transferencia quedan pendientes hasta que se aprueben desde la API de control.</p>
<ul>
${names}
</ul>
</details>`,
  );
}

function messagePage(id: string, title: string, text: string): string {
  return layout(title, `<h1>${esc(title)}</h1><p id="${id}" class="error">${esc(text)}</p>`);
}

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

function resultPage(pref: PreferenceRecord, payment: PaymentRecord): string {
  const back = returnUrl(pref, payment);
  const label = payment.status === 'approved'
    ? '¡Listo! Tu pago fue aprobado'
    : payment.status === 'rejected'
    ? 'Tu pago fue rechazado'
    : 'Tu pago está pendiente';
  const detail = (payment.cardholderName !== null ? outcomeForName(payment.cardholderName)?.label : undefined) ?? payment.statusDetail;
  const retry = payment.status === 'rejected'
    ? `<a class="button" id="retry-payment" href="/checkout/v1/redirect?pref_id=${encodeURIComponent(pref.id)}">Pagar con otro medio o tarjeta</a> `
    : '';
  const backLink = back === null ? '' : `<a class="button secondary" id="return-to-store" href="${esc(back)}">Volver a la tienda</a>`;
  return layout(
    label,
    `<h1 class="status-${payment.status}">${esc(label)}</h1>
<div id="payment-result" data-status="${payment.status}" data-status-detail="${esc(payment.statusDetail)}" data-payment-id="${payment.id}">
<p>${esc(detail)}</p>
<p>Operación <strong id="payment-id">${payment.id}</strong> · ${money(payment.amount, payment.currencyId)}</p>
<p><code>status=${payment.status}</code>, <code>status_detail=${esc(payment.statusDetail)}</code></p>
</div>
<p>${retry}${backLink}</p>`,
  );
}

export async function handleCheckout(
  core: SandboxCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  const path = url.pathname;
  if (req.method === 'GET' && (path === '/checkout/v1/redirect' || path === '/sandbox/checkout/v1/redirect')) {
    const pref = core.store.preferences.get(url.searchParams.get('pref_id') ?? '');
    if (pref === undefined) {
      sendHtml(res, 404, messagePage('preference-not-found', 'No encontramos este pago', 'La preferencia no existe.'));
      return true;
    }
    if (expiryProblem(pref, Date.now()) !== null) {
      sendHtml(res, 410, messagePage('preference-expired', 'El link de pago venció', 'Esta preferencia ya no acepta pagos.'));
      return true;
    }
    sendHtml(res, 200, formPage(core, pref, {}));
    return true;
  }
  if (req.method === 'POST' && path === '/checkout/v1/pay') {
    const form = new URLSearchParams(await readBody(req));
    const pref = core.store.preferences.get(form.get('pref_id') ?? '');
    if (pref === undefined) {
      sendHtml(res, 404, messagePage('preference-not-found', 'No encontramos este pago', 'La preferencia no existe.'));
      return true;
    }
    const name = form.get('cardholder_name') ?? '';
    const email = form.get('payer_email') ?? '';
    const type = form.get('payment_type_id') ?? 'credit_card';
    if (!isPaymentType(type)) {
      sendHtml(res, 400, formPage(core, pref, { error: `Medio de pago desconocido: ${type}`, name, email }));
      return true;
    }
    try {
      const payment = core.pay(pref.id, {
        cardholderName: name,
        paymentTypeId: type,
        ...(email.trim() === '' ? {} : { payerEmail: email.trim() }),
      });
      const back = returnUrl(pref, payment);
      if (back !== null && autoReturns(pref, payment)) redirect(res, back);
      else redirect(res, `/checkout/v1/result?payment_id=${payment.id}`);
    } catch (err) {
      if (!(err instanceof MpError)) throw err;
      if (err.error === 'preference_expired') {
        sendHtml(res, 410, messagePage('preference-expired', 'El link de pago venció', 'Esta preferencia ya no acepta pagos.'));
      } else {
        sendHtml(res, 400, formPage(core, pref, { error: err.message, name, email, type }));
      }
    }
    return true;
  }
  if (req.method === 'GET' && path === '/checkout/v1/result') {
    const payment = core.store.payments.get(Number(url.searchParams.get('payment_id')));
    const pref = payment === undefined ? undefined : core.store.preferences.get(payment.preferenceId);
    if (payment === undefined || pref === undefined) {
      sendHtml(res, 404, messagePage('payment-not-found', 'No encontramos este pago', 'El pago no existe.'));
      return true;
    }
    sendHtml(res, 200, resultPage(pref, payment));
    return true;
  }
  return false;
}
