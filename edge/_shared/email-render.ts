/**
 * The emails, in the store's locale (es-AR, es-MX, pt-BR catalogs:
 * i18n/emails.ts; money through Intl in the locale itself), as HTML and
 * plain text: a cart reminder
 * (lines with their image or initials, today's prices, total, a button that
 * restores the cart, a one-click unsubscribe link), an order confirmation
 * (number, lines, total, shipping address) and the confirmation of the
 * marketing box ticked at checkout (double opt-in). Pure functions: no I/O.
 */

export interface EmailLine {
  sku: string;
  title: string;
  variant_title?: string | null;
  image_url?: string | null;
  quantity: number;
  unit_price: number | string;
  line_total: number | string;
  currency: string;
}

export interface ReminderData {
  lines: EmailLine[];
  total: number | string;
  currency: string;
}

export interface ConfirmationData {
  order_number: string;
  lines: EmailLine[];
  subtotal: number | string;
  discount: number | string;
  total: number | string;
  currency: string;
  shipping_address: Record<string, string | undefined>;
  payer: { name?: string; surname?: string; email?: string };
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
}

import { formatMoney, translator } from './i18n/format.ts';
import { EMAIL_CATALOGS } from './i18n/emails.ts';

/** What every email is rendered with: the store's name and its locale (default es-AR). */
interface Common {
  storeName: string;
  locale?: string;
}

type Translate = ReturnType<typeof translator<keyof (typeof EMAIL_CATALOGS)['es-AR']>>;

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** An amount in its currency, as `locale` writes it (Intl). */
export const money = (amount: number | string, currency: string, locale = 'es-AR'): string => formatMoney(amount, currency, locale);

/** Up to two initials of a product's title, for lines without an image. */
export function initials(title: string): string {
  const words = title.replace(/[^\p{L}\p{N} ]/gu, ' ').split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? '?') + (words[1]?.[0] ?? '')).toUpperCase();
}

type Money = (amount: number | string, currency: string) => string;

function lineName(l: EmailLine): string {
  return l.variant_title && l.variant_title !== l.title ? `${l.title} (${l.variant_title})` : l.title;
}

export function linesHtml(lines: EmailLine[], money: Money): string {
  return lines.map((l) => {
    const picture = l.image_url && /^https?:\/\//.test(l.image_url)
      ? `<img src="${esc(l.image_url)}" width="56" height="56" alt="${esc(l.title)}" style="display:block;border-radius:6px;object-fit:cover">`
      : `<div style="width:56px;height:56px;border-radius:6px;background:#e8eef7;color:#34507a;font:bold 20px/56px Arial,sans-serif;text-align:center">${
        esc(initials(l.title))
      }</div>`;
    return `<tr>
<td style="padding:8px 0;width:64px">${picture}</td>
<td style="padding:8px;font:14px Arial,sans-serif;color:#222">${esc(lineName(l))}<br><span style="color:#666">${l.quantity} × ${
      esc(money(l.unit_price, l.currency))
    }</span></td>
<td style="padding:8px 0;font:14px Arial,sans-serif;text-align:right;white-space:nowrap">${esc(money(l.line_total, l.currency))}</td>
</tr>`;
  }).join('\n');
}

export function linesText(lines: EmailLine[], money: Money): string {
  return lines.map((l) => `- ${lineName(l)}: ${l.quantity} × ${money(l.unit_price, l.currency)} = ${money(l.line_total, l.currency)}`).join('\n');
}

export function layout(locale: string, store: string, body: string, footer: string): string {
  return `<!doctype html>
<html lang="${esc(locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"></head>
<body style="margin:0;background:#f4f4f4">
<table role="presentation" width="100%" cellspacing="0" cellpadding="0"><tr><td align="center" style="padding:24px">
<table role="presentation" width="560" cellspacing="0" cellpadding="0" style="background:#fff;border-radius:8px;padding:24px">
<tr><td style="font:bold 20px Arial,sans-serif;color:#111;padding-bottom:16px">${esc(store)}</td></tr>
${body}
<tr><td style="font:12px Arial,sans-serif;color:#888;padding-top:24px">${footer}</td></tr>
</table></td></tr></table></body></html>`;
}

export function button(url: string, label: string): string {
  return `<tr><td align="center" style="padding:20px 0"><a href="${
    esc(url)
  }" style="background:#1a73e8;color:#fff;text-decoration:none;font:bold 16px Arial,sans-serif;padding:12px 24px;border-radius:6px;display:inline-block">${
    esc(label)
  }</a></td></tr>`;
}

/** The translator and money format of a locale. */
export function localized(locale = 'es-AR'): { t: Translate; money: Money; locale: string } {
  return { t: translator(EMAIL_CATALOGS, locale), money: (amount, currency) => money(amount, currency, locale), locale };
}

export function renderReminder(
  data: ReminderData,
  opts: Common & { restoreUrl: string; unsubscribeUrl: string },
): RenderedEmail {
  const { t, money, locale } = localized(opts.locale);
  const subject = t('reminderSubject', { store: opts.storeName });
  const html = layout(
    locale,
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">${esc(t('reminderIntro'))}</td></tr>
<tr><td><table role="presentation" width="100%" cellspacing="0" cellpadding="0">
${linesHtml(data.lines, money)}
<tr><td></td><td style="padding:12px 8px;font:bold 15px Arial,sans-serif">${
      esc(t('total'))
    }</td><td style="padding:12px 0;font:bold 15px Arial,sans-serif;text-align:right">${esc(money(data.total, data.currency))}</td></tr>
</table></td></tr>
${button(opts.restoreUrl, t('reminderButton'))}
<tr><td style="font:12px Arial,sans-serif;color:#666">${esc(t('reminderNote'))}</td></tr>`,
    `${esc(t('reminderWhy'))} <a href="${esc(opts.unsubscribeUrl)}" style="color:#888">${esc(t('unsubscribe'))}</a>.`,
  );
  const text = `${opts.storeName}

${t('reminderIntro')}

${linesText(data.lines, money)}

${t('total')}: ${money(data.total, data.currency)}

${t('reminderButton')}: ${opts.restoreUrl}

${t('reminderNote')}

${t('unsubscribe')}: ${opts.unsubscribeUrl}
`;
  return {
    subject,
    html,
    text,
    // RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs to the URL.
    headers: { 'List-Unsubscribe': `<${opts.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}

function address(a: Record<string, string | undefined>, t: Translate): string {
  const street = [a.street_name, a.street_number].filter(Boolean).join(' ');
  const unit = [a.floor && t('floor', { floor: a.floor }), a.apartment && t('apartment', { apartment: a.apartment })].filter(Boolean).join(' ');
  return [street + (unit ? `, ${unit}` : ''), [a.zip_code, a.city].filter(Boolean).join(' '), a.state].filter(Boolean).join(', ');
}

export function renderConfirmation(data: ConfirmationData, opts: Common): RenderedEmail {
  const { t, money, locale } = localized(opts.locale);
  const name = data.payer.name ? `, ${data.payer.name}` : '';
  const subject = t('confirmationSubject', { order: data.order_number });
  const discount = Number(data.discount) > 0;
  // The order number in bold: the sentence is escaped around it.
  const [before, after] = t('confirmationThanks', { name }).split('{order}') as [string, string?];
  const html = layout(
    locale,
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">${esc(before)}<b>${esc(data.order_number)}</b>${esc(after ?? '')}</td></tr>
<tr><td><table role="presentation" width="100%" cellspacing="0" cellpadding="0">
${linesHtml(data.lines, money)}
${
      discount
        ? `<tr><td></td><td style="padding:4px 8px;font:14px Arial,sans-serif">${
          esc(t('discount'))
        }</td><td style="padding:4px 0;font:14px Arial,sans-serif;text-align:right">−${esc(money(data.discount, data.currency))}</td></tr>`
        : ''
    }
<tr><td></td><td style="padding:12px 8px;font:bold 15px Arial,sans-serif">${
      esc(t('total'))
    }</td><td style="padding:12px 0;font:bold 15px Arial,sans-serif;text-align:right">${esc(money(data.total, data.currency))}</td></tr>
</table></td></tr>
<tr><td style="font:14px Arial,sans-serif;color:#222;padding-top:12px"><b>${esc(t('shipTo'))}</b> ${esc(address(data.shipping_address, t))}</td></tr>`,
    esc(t('confirmationFooter', { order: data.order_number })),
  );
  const text = `${opts.storeName}

${t('confirmationThanks', { name, order: data.order_number })}

${linesText(data.lines, money)}
${discount ? `${t('discount')}: −${money(data.discount, data.currency)}\n` : ''}${t('total')}: ${money(data.total, data.currency)}

${t('shipTo')} ${address(data.shipping_address, t)}

${t('confirmationFooter', { order: data.order_number })}
`;
  return { subject, html, text, headers: {} };
}

/** The double opt-in: the box "send me reminders of my cart" was ticked at checkout; nothing is sent until its owner confirms. */
export function renderOptIn(opts: Common & { confirmUrl: string }): RenderedEmail {
  const { t, locale } = localized(opts.locale);
  const subject = t('optInSubject', { store: opts.storeName });
  const intro = t('optInIntro', { store: opts.storeName });
  const note = t('optInNote');
  const html = layout(
    locale,
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">${esc(intro)} ${esc(t('optInButtonLead'))}</td></tr>
${button(opts.confirmUrl, t('optInButton'))}
<tr><td style="font:12px Arial,sans-serif;color:#666">${esc(note)}</td></tr>`,
    esc(t('optInFooter')),
  );
  const text = `${opts.storeName}

${intro} ${t('optInLinkLead')}

${opts.confirmUrl}

${note}
`;
  return { subject, html, text, headers: {} };
}
