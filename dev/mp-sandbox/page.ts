/** Shared HTML of the sandbox's pages: layout, money, the items table, messages. */
import { preferenceTotal } from './preferences.ts';
import { SITE_BY_CURRENCY, SITES } from './sites.ts';
import type { PreferenceRecord } from './types.ts';

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export const money = (amount: number, currency: string): string =>
  `${currency} ${amount.toLocaleString('es-AR', { minimumFractionDigits: wholeUnits(currency) ? 0 : 2, maximumFractionDigits: wholeUnits(currency) ? 0 : 2 })}`;

const wholeUnits = (currency: string): boolean => SITES[SITE_BY_CURRENCY[currency] ?? '']?.wholeUnits === true;

export function layout(title: string, body: string): string {
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
  select { padding: 6px; font-size: 1rem; max-width: 100%; box-sizing: border-box; }
  fieldset { min-width: 0; }
  .barcode { font-family: monospace; letter-spacing: 2px; word-break: break-all; }
  textarea { width: 100%; font-family: monospace; }
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

export function itemsTable(p: PreferenceRecord): string {
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

export function messagePage(id: string, title: string, text: string): string {
  return layout(title, `<h1>${esc(title)}</h1><p id="${id}" class="error">${esc(text)}</p>`);
}
