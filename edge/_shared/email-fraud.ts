/**
 * The fraud-alert email to the store's staff (outbox kind `fraud_alert`):
 * MercadoPago said "do not deliver" for an order's payment; the order is
 * marked do_not_ship and its payment is being refunded.
 */
import { type ConfirmationData, esc, money, type RenderedEmail } from './email-render.ts';

export function renderFraudAlert(data: ConfirmationData, opts: { storeName: string; locale?: string }): RenderedEmail {
  const subject = `Alerta de fraude: NO ENVIAR el pedido ${data.order_number}`;
  const total = money(data.total, data.currency, opts.locale);
  const lines = data.lines.map((l) => `${l.quantity} × ${l.title}`);
  const text = `${opts.storeName}

MercadoPago envió una alerta de fraude por el pago del pedido ${data.order_number} (${total}).

NO ENVÍES este pedido. Quedó marcado "no enviar" en el panel y el pago se está devolviendo al comprador.
Si ya lo despachaste, intentá detener la entrega.

${lines.join('\n')}
`;
  const html = `<!doctype html><html><body style="font:15px Arial,sans-serif;color:#222">
<h1 style="font-size:18px">${esc(opts.storeName)}</h1>
<p>MercadoPago envió una <b>alerta de fraude</b> por el pago del pedido <b>${esc(data.order_number)}</b> (${esc(total)}).</p>
<p><b>NO ENVÍES este pedido.</b> Quedó marcado "no enviar" en el panel y el pago se está devolviendo al comprador. Si ya lo despachaste, intentá detener la entrega.</p>
<ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
</body></html>`;
  return { subject, html, text, headers: {} };
}
