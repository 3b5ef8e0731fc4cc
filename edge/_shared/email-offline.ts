/**
 * The payment-instructions email (in the store's locale), sent once when an offline payment
 * (cash ticket, ATM, bank transfer, Pix) starts holding the stock: the
 * method, how to pay it (the ticket's link and barcode, or Pix's
 * copy-and-paste code and its QR), the deadline, the lines and the total.
 * Pure functions: no I/O.
 */
import { button, type EmailLine, esc, layout, linesHtml, linesText, localized, type RenderedEmail } from './email-render.ts';
import type { EmailKey } from './i18n/emails.ts';

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

/** MercadoPago's method ids, as a buyer knows them: brand names as written, the others in the store's language. */
const METHOD_NAMES: Record<string, string | EmailKey> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: 'methodBoleto',
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
  clabe: 'methodSpei',
  pagoefectivo_atm: 'PagoEfectivo',
};
const TRANSLATED = new Set<string>(['methodBoleto', 'methodSpei']);

export function methodName(id: string | null, locale = 'es-AR'): string {
  const { t } = localized(locale);
  const name = id ? METHOD_NAMES[id] ?? id : 'methodCash';
  return TRANSLATED.has(name) || name === 'methodCash' ? t(name as EmailKey) : name;
}

/** A deadline as a buyer reads it, in the store's time zone and locale: "lunes, 14 de diciembre de 2026, 10:30". */
export function deadlineText(iso: string, timeZone: string, locale = 'es-AR'): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23', timeZone }).format(new Date(iso));
}

export function renderPaymentInstructions(data: PaymentInstructionsData, opts: { storeName: string; locale?: string }): RenderedEmail {
  const p = data.payment;
  const { t, money: inLocale, locale } = localized(opts.locale);
  const method = methodName(p.payment_method_id, locale);
  const deadline = deadlineText(p.deadline, data.time_zone, locale);
  const total = inLocale(data.total, data.currency);
  const subject = t('paySubject', { method, deadline });
  const intro = t('payIntro', { deadline, total, method });
  const link = p.external_resource_url ?? p.ticket_url;
  const how = p.qr_code
    ? `<tr><td style="font:14px Arial,sans-serif;color:#222;padding:8px 0">${esc(t('payPixLead'))}<br><code style="word-break:break-all">${
      esc(p.qr_code)
    }</code></td></tr>`
    : p.barcode
    ? `<tr><td style="font:14px Arial,sans-serif;color:#222;padding:8px 0">${esc(t('payBarcodeLead'))} <code>${esc(p.barcode)}</code></td></tr>`
    : '';
  const html = layout(
    locale,
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">${esc(intro)}</td></tr>
${how}
${link ? button(link, p.qr_code ? t('paySeePix') : t('paySeeTicket')) : ''}
<tr><td><table role="presentation" width="100%" cellspacing="0" cellpadding="0">
${linesHtml(data.lines, inLocale)}
<tr><td></td><td style="padding:12px 8px;font:bold 15px Arial,sans-serif">${
      esc(t('total'))
    }</td><td style="padding:12px 0;font:bold 15px Arial,sans-serif;text-align:right">${esc(total)}</td></tr>
</table></td></tr>`,
    esc(t('payFooter')),
  );
  const text = `${opts.storeName}

${intro}
${p.qr_code ? `\n${t('payPixLead')}\n${p.qr_code}\n` : ''}${p.barcode && !p.qr_code ? `\n${t('payBarcodeLead')} ${p.barcode}\n` : ''}${
    link ? `\n${p.qr_code ? t('payPixLink') : t('payTicketLink')}: ${link}\n` : ''
  }
${linesText(data.lines, inLocale)}
${t('total')}: ${total}

${t('payFooter')}
`;
  return { subject, html, text, headers: {} };
}
