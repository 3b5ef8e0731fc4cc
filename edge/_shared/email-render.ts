/**
 * The emails, in Spanish (es-AR), as HTML and plain text: a cart reminder
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

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function money(amount: number | string, currency: string): string {
  return new Intl.NumberFormat('es-AR', { style: 'currency', currency }).format(Number(amount));
}

/** Up to two initials of a product's title, for lines without an image. */
export function initials(title: string): string {
  const words = title.replace(/[^\p{L}\p{N} ]/gu, ' ').split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? '?') + (words[1]?.[0] ?? '')).toUpperCase();
}

function lineName(l: EmailLine): string {
  return l.variant_title && l.variant_title !== l.title ? `${l.title} (${l.variant_title})` : l.title;
}

function linesHtml(lines: EmailLine[]): string {
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

function linesText(lines: EmailLine[]): string {
  return lines.map((l) => `- ${lineName(l)}: ${l.quantity} × ${money(l.unit_price, l.currency)} = ${money(l.line_total, l.currency)}`).join('\n');
}

function layout(store: string, body: string, footer: string): string {
  return `<!doctype html>
<html lang="es-AR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"></head>
<body style="margin:0;background:#f4f4f4">
<table role="presentation" width="100%" cellspacing="0" cellpadding="0"><tr><td align="center" style="padding:24px">
<table role="presentation" width="560" cellspacing="0" cellpadding="0" style="background:#fff;border-radius:8px;padding:24px">
<tr><td style="font:bold 20px Arial,sans-serif;color:#111;padding-bottom:16px">${esc(store)}</td></tr>
${body}
<tr><td style="font:12px Arial,sans-serif;color:#888;padding-top:24px">${footer}</td></tr>
</table></td></tr></table></body></html>`;
}

function button(url: string, label: string): string {
  return `<tr><td align="center" style="padding:20px 0"><a href="${
    esc(url)
  }" style="background:#1a73e8;color:#fff;text-decoration:none;font:bold 16px Arial,sans-serif;padding:12px 24px;border-radius:6px;display:inline-block">${
    esc(label)
  }</a></td></tr>`;
}

export function renderReminder(
  data: ReminderData,
  opts: { storeName: string; restoreUrl: string; unsubscribeUrl: string },
): RenderedEmail {
  const subject = `¿Te olvidaste algo? Tu carrito en ${opts.storeName} te espera`;
  const html = layout(
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">Guardamos tu carrito. Estos son los productos, con sus precios de hoy:</td></tr>
<tr><td><table role="presentation" width="100%" cellspacing="0" cellpadding="0">
${linesHtml(data.lines)}
<tr><td></td><td style="padding:12px 8px;font:bold 15px Arial,sans-serif">Total</td><td style="padding:12px 0;font:bold 15px Arial,sans-serif;text-align:right">${
      esc(money(data.total, data.currency))
    }</td></tr>
</table></td></tr>
${button(opts.restoreUrl, 'Volver a mi carrito')}
<tr><td style="font:12px Arial,sans-serif;color:#666">Los precios y el stock pueden cambiar hasta que completes la compra. El enlace vence en unos días.</td></tr>`,
    `Recibiste este correo porque dejaste productos en tu carrito. <a href="${
      esc(opts.unsubscribeUrl)
    }" style="color:#888">No quiero recibir más recordatorios</a>.`,
  );
  const text = `${opts.storeName}

Guardamos tu carrito. Estos son los productos, con sus precios de hoy:

${linesText(data.lines)}

Total: ${money(data.total, data.currency)}

Volver a mi carrito: ${opts.restoreUrl}

Los precios y el stock pueden cambiar hasta que completes la compra. El enlace vence en unos días.

No quiero recibir más recordatorios: ${opts.unsubscribeUrl}
`;
  return {
    subject,
    html,
    text,
    // RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs to the URL.
    headers: { 'List-Unsubscribe': `<${opts.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}

function address(a: Record<string, string | undefined>): string {
  const street = [a.street_name, a.street_number].filter(Boolean).join(' ');
  const unit = [a.floor && `piso ${a.floor}`, a.apartment && `depto. ${a.apartment}`].filter(Boolean).join(' ');
  return [street + (unit ? `, ${unit}` : ''), [a.zip_code, a.city].filter(Boolean).join(' '), a.state].filter(Boolean).join(', ');
}

export function renderConfirmation(data: ConfirmationData, opts: { storeName: string }): RenderedEmail {
  const name = data.payer.name ? `, ${data.payer.name}` : '';
  const subject = `Recibimos tu pedido ${data.order_number}`;
  const discount = Number(data.discount) > 0;
  const html = layout(
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">¡Gracias por tu compra${esc(name)}! Tu pago fue aprobado y tu pedido <b>${
      esc(data.order_number)
    }</b> está confirmado.</td></tr>
<tr><td><table role="presentation" width="100%" cellspacing="0" cellpadding="0">
${linesHtml(data.lines)}
${
      discount
        ? `<tr><td></td><td style="padding:4px 8px;font:14px Arial,sans-serif">Descuento</td><td style="padding:4px 0;font:14px Arial,sans-serif;text-align:right">−${
          esc(money(data.discount, data.currency))
        }</td></tr>`
        : ''
    }
<tr><td></td><td style="padding:12px 8px;font:bold 15px Arial,sans-serif">Total</td><td style="padding:12px 0;font:bold 15px Arial,sans-serif;text-align:right">${
      esc(money(data.total, data.currency))
    }</td></tr>
</table></td></tr>
<tr><td style="font:14px Arial,sans-serif;color:#222;padding-top:12px"><b>Envío a:</b> ${esc(address(data.shipping_address))}</td></tr>`,
    `Número de pedido ${esc(data.order_number)}. Guardá este correo como comprobante.`,
  );
  const text = `${opts.storeName}

¡Gracias por tu compra${name}! Tu pago fue aprobado y tu pedido ${data.order_number} está confirmado.

${linesText(data.lines)}
${discount ? `Descuento: −${money(data.discount, data.currency)}\n` : ''}Total: ${money(data.total, data.currency)}

Envío a: ${address(data.shipping_address)}

Número de pedido ${data.order_number}. Guardá este correo como comprobante.
`;
  return { subject, html, text, headers: {} };
}

/** The double opt-in: the box "send me reminders of my cart" was ticked at checkout; nothing is sent until its owner confirms. */
export function renderOptIn(opts: { storeName: string; confirmUrl: string }): RenderedEmail {
  const subject = `Confirmá que querés recibir recordatorios de ${opts.storeName}`;
  const intro = `En tu compra en ${opts.storeName} marcaste que querés recibir por email recordatorios de tu carrito.`;
  const note = 'Si no fuiste vos, ignorá este correo: no te vamos a enviar nada.';
  const html = layout(
    opts.storeName,
    `<tr><td style="font:15px Arial,sans-serif;color:#222;padding-bottom:12px">${esc(intro)} Confirmalo con este botón:</td></tr>
${button(opts.confirmUrl, 'Sí, quiero recibirlos')}
<tr><td style="font:12px Arial,sans-serif;color:#666">${esc(note)}</td></tr>`,
    'Podés darte de baja cuando quieras desde cualquier recordatorio.',
  );
  const text = `${opts.storeName}

${intro} Confirmalo en este enlace:

${opts.confirmUrl}

${note}
`;
  return { subject, html, text, headers: {} };
}
