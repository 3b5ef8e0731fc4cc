/**
 * The HTML of the hosted checkout: the form (payment types, offline methods,
 * installments, two cards), the result page and the ticket / Pix page. Plain
 * forms, no JavaScript; stable ids for tests are listed in README.md.
 */
import { maxInstallments } from './attempt.ts';
import type { SandboxCore } from './core.ts';
import { OFFLINE_TYPES } from './offline.ts';
import { METHOD_LABELS, outcomeForName, TEST_CARDHOLDERS, TYPE_LABELS } from './outcomes.ts';
import { esc, itemsTable, layout, money } from './page.ts';
import { preferenceTotal } from './preferences.ts';
import { financing } from './sites.ts';
import type { PaymentRecord, PreferenceRecord } from './types.ts';
import { mpDate } from './util.ts';

export interface FormState {
  error?: string;
  name?: string;
  email?: string;
  type?: string;
}

function installmentOptions(p: PreferenceRecord, id: string, name: string): string {
  const total = preferenceTotal(p);
  const max = maxInstallments(p);
  const chosen = Math.min(p.defaultInstallments ?? 1, max);
  const options = Array.from({ length: max }, (_, i) => {
    const plan = financing(total, i + 1, p.siteId);
    const text = plan.installments === 1
      ? `1 pago de ${money(total, p.currencyId)}`
      : `${plan.installments} cuotas de ${money(plan.installmentAmount, p.currencyId)} (total ${money(plan.totalPaid, p.currencyId)})`;
    return `<option value="${plan.installments}" data-total="${plan.totalPaid}"${plan.installments === chosen ? ' selected' : ''}>${esc(text)}</option>`;
  });
  return `<select id="${id}" name="${name}">\n${options.join('\n')}\n</select>`;
}

export function formPage(core: SandboxCore, p: PreferenceRecord, form: FormState): string {
  const offered = core.offered(p);
  const selected = offered.find((o) => o.type === form.type)?.type ?? offered[0]?.type;
  const radios = offered
    .map(({ type, methods }) => {
      const select = OFFLINE_TYPES.has(type)
        ? ` <select id="payment-method-${type}" name="payment_method_id_${type}">${
          methods.map((m) => `<option value="${esc(m)}">${esc(METHOD_LABELS[m] ?? m)}</option>`).join('')
        }</select>`
        : '';
      return `<label><input type="radio" name="payment_type_id" id="payment-type-${type}" value="${type}"${type === selected ? ' checked' : ''}> ${
        esc(TYPE_LABELS[type] ?? type)
      }</label>${select}`;
    })
    .join('\n');
  const cards = offered.some((o) => o.type === 'credit_card');
  const email = form.email ?? (typeof p.payer['email'] === 'string' ? p.payer['email'] : '');
  const names = Object.entries(TEST_CARDHOLDERS)
    .map(([name, o]) => `<li><code>${name}</code>: ${esc(o.label)} (<code>${o.status}</code> / <code>${o.statusDetail}</code>)</li>`)
    .join('\n');
  const twoCards = !cards ? '' : `<fieldset id="two-cards-section"><legend>Pagar con 2 tarjetas (crédito)</legend>
<label><input type="checkbox" id="two-cards" name="two_cards" value="on"> Dividir el pago en dos tarjetas</label>
<label for="first-card-amount">Monto de la primera tarjeta</label>
<input type="text" id="first-card-amount" name="first_card_amount" inputmode="decimal" placeholder="${preferenceTotal(p) / 2}">
<label for="cardholder-name-2">Titular de la segunda tarjeta</label>
<input type="text" id="cardholder-name-2" name="cardholder_name_2" placeholder="APRO" autocomplete="off">
<label for="installments-2">Cuotas de la segunda tarjeta (sobre su parte)</label>
<select id="installments-2" name="installments_2">${
    Array.from({ length: maxInstallments(p) }, (_, i) => `<option value="${i + 1}">${i + 1}</option>`).join('')
  }</select>
</fieldset>`;
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
${cards ? `<label for="installments">Cuotas (tarjeta de crédito)</label>\n${installmentOptions(p, 'installments', 'installments')}` : ''}
${twoCards}
<label for="payer-email">E-mail</label>
<input type="email" id="payer-email" name="payer_email" value="${esc(email)}" placeholder="comprador@example.com">
<p><button type="submit" id="pay-button">Pagar ${money(preferenceTotal(p), p.currencyId)}</button></p>
</form>
<details><summary>Nombres de titular de prueba</summary>
<p>El nombre del titular decide el resultado, como en el entorno de pruebas de Mercado Pago. Efectivo, cajero y transferencia quedan pendientes hasta que se paguen desde la API de control.</p>
<ul>
${names}
</ul>
</details>`,
  );
}

const statusLabel = (p: PaymentRecord): string =>
  p.status === 'approved' ? '¡Listo! Tu pago fue aprobado' : p.status === 'rejected' ? 'Tu pago fue rechazado' : 'Tu pago está pendiente';

export function resultPage(core: SandboxCore, pref: PreferenceRecord, payments: PaymentRecord[], back: string | null): string {
  const [main] = payments;
  if (main === undefined) return layout('Pago', '');
  const label = statusLabel(main);
  const detail = (main.cardholderName !== null ? outcomeForName(main.cardholderName)?.label : undefined) ?? main.statusDetail;
  const retry = payments.some((p) => p.status === 'rejected')
    ? `<a class="button" id="retry-payment" href="/checkout/v1/redirect?pref_id=${encodeURIComponent(pref.id)}">Pagar con otro medio o tarjeta</a> `
    : '';
  const backLink = back === null ? '' : `<a class="button secondary" id="return-to-store" href="${esc(back)}">Volver a la tienda</a>`;
  const view = core.paymentJson(main);
  const instructions = view.point_of_interaction.transaction_data?.ticket_url ?? view.transaction_details.external_resource_url;
  const ticket = main.status === 'pending' && instructions !== null
    ? `<p><a class="button" id="ticket-link" href="${esc(instructions)}">Ver las instrucciones de pago</a> Vence el <span id="payment-expiration">${
      esc(view.date_of_expiration ?? '')
    }</span></p>`
    : '';
  const parts = payments.length < 2
    ? ''
    : `<ol id="card-results">${
      payments.map((p, i) =>
        `<li id="payment-result-${i + 1}" data-payment-id="${p.id}" data-status="${p.status}" data-amount="${p.amount}">${
          money(p.amount, p.currencyId)
        }: <code>${p.status}</code> (${esc(p.statusDetail)})</li>`
      ).join('')
    }</ol>`;
  return layout(
    label,
    `<h1 class="status-${main.status}">${esc(label)}</h1>
<div id="payment-result" data-status="${main.status}" data-status-detail="${esc(main.statusDetail)}" data-payment-id="${main.id}">
<p>${esc(detail)}</p>
<p>Operación <strong id="payment-id">${main.id}</strong> · ${money(main.amount, main.currencyId)}${
      main.installments > 1 ? ` en ${main.installments} cuotas (total ${money(main.totalPaid, main.currencyId)})` : ''
    }</p>
<p><code>status=${main.status}</code>, <code>status_detail=${esc(main.statusDetail)}</code></p>
</div>
${parts}
${ticket}
<p>${retry}${backLink}</p>`,
  );
}

/** A bar per digit pair: it only has to look like a barcode; the digits under it are what a cashier types. */
function bars(digits: string): string {
  const rects = [...digits].map((d, i) => `<rect x="${i * 6}" y="0" width="${1 + (Number(d) % 4)}" height="60"/>`).join('');
  return `<svg id="barcode-image" xmlns="http://www.w3.org/2000/svg" width="${digits.length * 6}" height="60" role="img" aria-label="barcode">${rects}</svg>`;
}

export function ticketPage(core: SandboxCore, p: PaymentRecord): string {
  const view = core.paymentJson(p);
  const method = METHOD_LABELS[p.paymentMethodId] ?? p.paymentMethodId;
  const body = p.pix !== null
    ? `<p>Escaneá el código QR con la app de tu banco, o copiá el código Pix:</p>
<p><img id="pix-qr" alt="QR Pix" src="data:image/png;base64,${p.pix.qrCodeBase64}"></p>
<textarea id="pix-code" rows="4" readonly>${esc(p.pix.qrCode)}</textarea>`
    : p.barcode !== null
    ? `<p>Presentá este código en ${esc(method)}:</p>${bars(p.barcode)}<p id="barcode" class="barcode">${esc(p.barcode)}</p>`
    : `<p>Transferí el monto con ${esc(method)} indicando la referencia <code id="transfer-reference">MP${p.id}</code>.</p>`;
  return layout(
    'Instrucciones de pago',
    `<h1>Pagá con ${esc(method)}</h1>
<div id="ticket" data-payment-id="${p.id}" data-status="${p.status}" data-status-detail="${esc(p.statusDetail)}" data-payment-method-id="${
      esc(p.paymentMethodId)
    }">
<p>Monto: <strong id="ticket-amount" data-amount="${p.amount}">${money(p.amount, p.currencyId)}</strong></p>
<p>Vence: <strong id="ticket-expiration" data-date="${esc(view.date_of_expiration ?? '')}">${esc(p.expiresAt === null ? '-' : mpDate(p.expiresAt))}</strong></p>
<p>Estado: <code id="ticket-status">${p.status}</code> (${esc(p.statusDetail)})</p>
${body}
</div>`,
  );
}
