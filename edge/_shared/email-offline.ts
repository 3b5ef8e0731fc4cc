/**
 * The payment-instructions email (es-AR), sent once when an offline payment
 * (cash ticket, ATM, bank transfer, Pix) starts holding the stock: the
 * method, how to pay it (the ticket's link and barcode, or Pix's
 * copy-and-paste code and its QR), the deadline, the lines and the total.
 * Pure functions: no I/O.
 */
import { button, type EmailLine, esc, layout, linesHtml, linesText, money, type RenderedEmail } from './email-render.ts';

export interface PaymentInstructionsData {
  payment: {
    payment_type_id: string;
    payment_method_id: string | null;
    deadline: string;
    external_resource_url?: string;
    barcode?: string;
    qr_code?: string;
    qr_code_base64?: string;
    ticket_url?: string;
  };
  lines: EmailLine[];
  total: number | string;
  currency: string;
  payer: { name?: string };
  time_zone: string;
}

/** MercadoPago's method ids, as a buyer knows them. */
const METHOD_NAMES: Record<string, string> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: 'boleto bancario',
  pec: 'Pagamento na lotérica',
  pix: 'Pix',
  oxxo: 'OXXO',
  paycash: 'PayCash',
  efecty: 'Efecty',
  pse: 'PSE',
  servipag: 'Servipag',
  khipu: 'Khipu',
  abitab: 'Abitab',
  redpagos: 'RedPagos',
  clabe: 'transferencia SPEI',
  pagoefectivo_atm: 'PagoEfectivo',
};

export function methodName(id: string | null): string {
  return id ? METHOD_NAMES[id] ?? id : 'efectivo';
}

/** A deadline as a buyer reads it, in the store's time zone: "lunes, 14 de diciembre de 2026, 10:30". */
export function deadlineText(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('es-AR', { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23', timeZone }).format(new Date(iso));
}

export function renderPaymentInstructions(data: PaymentInstructionsData, opts: { storeName: string; locale?: string }): RenderedEmail {
  const p = data.payment;
  const method = methodName(p.payment_method_id);
  const by = deadlineText(p.deadline, data.time_zone);
  // Written in es-AR; money in the store's locale.
  const locale = opts.locale ?? 'es-AR';
  const inLocale = (amount: number | string, currency: string) => money(amount, currency, locale);
  const total = inLocale(data.total, data.currency);
  const subject = `Pagá tu compra con ${method} antes del ${by}`;
  const intro = `Reservamos tu compra hasta el ${by}. Pagá ${total} con ${method} antes de esa fecha; cuando se acredite, te confirmamos el pedido.`;
  const link = p.external_resource_url ?? p.ticket_url;
  const how = p.qr_code
    ? `<tr><td style="font:14px Arial,sans-serif;color:#222;padding:8px 0">Código Pix (copiá y pegá en tu banco):<br><code style="word-break:break-all">${
      esc(p.qr_code)
    }</code></td></tr>`
    : p.barcode
    ? `<tr><td style="font:14px Arial,sans-serif;color:#222;padding:8px 0">Código de barras: <code>${esc(p.barcode)}</code></td></tr>`
    : '';
  const html = layout(
    'es-AR',
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">${esc(intro)}</td></tr>
${how}
${link ? button(link, p.qr_code ? 'Ver el código Pix' : 'Ver el comprobante para pagar') : ''}
<tr><td><table role="presentation" width="100%" cellspacing="0" cellpadding="0">
${linesHtml(data.lines, inLocale)}
<tr><td></td><td style="padding:12px 8px;font:bold 15px Arial,sans-serif">Total</td><td style="padding:12px 0;font:bold 15px Arial,sans-serif;text-align:right">${
      esc(total)
    }</td></tr>
</table></td></tr>`,
    'Si no pagás antes de la fecha límite, la reserva se libera y el comprobante deja de valer.',
  );
  const text = `${opts.storeName}

${intro}
${p.qr_code ? `\nCódigo Pix (copiá y pegá en tu banco):\n${p.qr_code}\n` : ''}${p.barcode && !p.qr_code ? `\nCódigo de barras: ${p.barcode}\n` : ''}${
    link ? `\n${p.qr_code ? 'El código Pix' : 'El comprobante'}: ${link}\n` : ''
  }
${linesText(data.lines, inLocale)}
Total: ${total}

Si no pagás antes de la fecha límite, la reserva se libera y el comprobante deja de valer.
`;
  return { subject, html, text, headers: {} };
}
