/**
 * The fraud-alert email to the store's staff (outbox kind `fraud_alert`):
 * MercadoPago said "do not deliver" for an order's payment; the order is
 * marked do_not_ship and its payment is being refunded. In the store's
 * locale (i18n/emails.ts), like the dashboard.
 */
import { type ConfirmationData, esc, localized, type RenderedEmail } from './email-render.ts';

export function renderFraudAlert(data: ConfirmationData, opts: { storeName: string; locale?: string }): RenderedEmail {
  const { t, money } = localized(opts.locale);
  const order = data.order_number;
  const total = money(data.total, data.currency);
  const lines = data.lines.map((l) => `${l.quantity} × ${l.title}`);
  const text = `${opts.storeName}

${t('fraudIntro', { order, total })}

${t('fraudDoNotShip')} ${t('fraudMarked')}
${t('fraudStop')}

${lines.join('\n')}
`;
  // The order number in bold: the sentence is escaped around it.
  const [before, after] = t('fraudIntro', { total }).split('{order}') as [string, string?];
  const html = `<!doctype html><html lang="${esc(opts.locale ?? 'es-AR')}"><body style="font:15px Arial,sans-serif;color:#222">
<h1 style="font-size:18px">${esc(opts.storeName)}</h1>
<p>${esc(before)}<b>${esc(order)}</b>${esc(after ?? '')}</p>
<p><b>${esc(t('fraudDoNotShip'))}</b> ${esc(t('fraudMarked'))} ${esc(t('fraudStop'))}</p>
<ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
</body></html>`;
  return { subject: t('fraudSubject', { order }), html, text, headers: {} };
}
