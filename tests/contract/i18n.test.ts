/**
 * The message catalogs: every key of every family exists, non-empty, in each
 * of the three catalogs (es-AR, es-MX, pt-BR), with the same placeholders;
 * each locale reads its nearest catalog; money and dates go through Intl in
 * the locale itself (es-CL writes pesos without cents, pt-BR writes R$).
 */
import { describe, expect, test } from 'vitest';
import { renderConfirmation, renderOptIn, renderReminder } from '../../edge/_shared/email-render.ts';
import { renderFraudAlert } from '../../edge/_shared/email-fraud.ts';
import { CHECKOUT_ERROR_TEXTS, VALIDATION_MESSAGES } from '../../web/src/messages.ts';
import { renderPaymentInstructions } from '../../edge/_shared/email-offline.ts';
import { catalogFor, COUNTRIES, SITE_IDS } from '../../edge/_shared/country.ts';
import { EMAIL_CATALOGS } from '../../edge/_shared/i18n/emails.ts';
import { DEMO_CATALOGS } from '../../web/demo/src/i18n.ts';
import { ADMIN_CATALOGS } from '../../web/admin/src/i18n/index.ts';
import { esAR as nextAR, esMX as nextMX, ptBR as nextBR } from '../../web/next/lib/i18n/catalogs.ts';
import { PREFERENCE_TEXTS } from '../../edge/_shared/preference.ts';
import { type Catalogs, fill, formatDateTime, formatMoney } from '../../edge/_shared/i18n/format.ts';

const FAMILIES: Record<string, Catalogs<string>> = {
  emails: EMAIL_CATALOGS,
  demo: DEMO_CATALOGS,
  dashboard: ADMIN_CATALOGS,
  libraryCheckoutErrors: CHECKOUT_ERROR_TEXTS,
  libraryValidation: VALIDATION_MESSAGES,
  nextStorefront: { 'es-AR': nextAR, 'es-MX': nextMX, 'pt-BR': nextBR },
  mercadoPagoItem: PREFERENCE_TEXTS,
};
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('every key in every catalog', () => {
  for (const [family, catalogs] of Object.entries(FAMILIES)) {
    test(`${family}: es-AR, es-MX and pt-BR have the same keys, none empty, the same placeholders`, () => {
      const reference = catalogs['es-AR'];
      for (const [locale, catalog] of Object.entries(catalogs)) {
        expect(Object.keys(catalog).sort(), locale).toEqual(Object.keys(reference).sort());
        for (const [key, text] of Object.entries(catalog)) {
          expect(text.trim(), `${family}.${locale}.${key}`).not.toBe('');
          expect(placeholders(text), `${family}.${locale}.${key}`).toEqual(placeholders(reference[key]!));
        }
      }
    });
  }
});

/** Voseo (Argentina's vos): verbs and pronoun forms no Mexican text may use. */
const VOSEO =
  /(?<!\p{L})(sos|tenés|podés|querés|ingresá|elegí|probá|volvé|revisá|escribí|pagá|escaneá|copiá|guardá|bajá|quitalo|quitá|iniciá|pedile|confirmá|dejá|esperá|recargá|completá|mirá)(?!\p{L})/iu;

describe('each catalog in its own voice', () => {
  for (const [family, catalogs] of Object.entries(FAMILIES)) {
    test(`${family}: es-MX says tú, never vos; pt-BR is not Spanish`, () => {
      for (const [key, text] of Object.entries(catalogs['es-MX'])) expect(text, `${family}.es-MX.${key}`).not.toMatch(VOSEO);
      const same = Object.entries(catalogs['pt-BR']).filter(([key, text]) => text === catalogs['es-AR'][key] && /[ñ¿¡]|\b(el|los|las|tu|del|y)\b/i.test(text));
      expect(same, `${family}: pt-BR texts left in Spanish`).toEqual([]);
    });
  }
  test('the dashboard refunds: reembolsar in Spanish, estornar in Portuguese', () => {
    expect([ADMIN_CATALOGS['es-AR'].refund, ADMIN_CATALOGS['es-MX'].refund, ADMIN_CATALOGS['pt-BR'].refund]).toEqual(['Reembolsar', 'Reembolsar', 'Estornar']);
  });
});

describe('locales', () => {
  test('each country reads its nearest catalog', () => {
    expect(SITE_IDS.map((s) => [COUNTRIES[s].locale, catalogFor(COUNTRIES[s].locale)])).toEqual([
      ['es-AR', 'es-AR'],
      ['pt-BR', 'pt-BR'],
      ['es-MX', 'es-MX'],
      ['es-CL', 'es-MX'],
      ['es-CO', 'es-MX'],
      ['es-PE', 'es-MX'],
      ['es-UY', 'es-AR'],
    ]);
  });
  test('money is Intl in the locale itself', () => {
    for (const s of SITE_IDS) {
      const { locale, currency } = COUNTRIES[s];
      expect(formatMoney(1234.5, currency, locale)).toBe(new Intl.NumberFormat(locale, { style: 'currency', currency }).format(1234.5));
    }
    expect(formatMoney(1234.5, 'BRL', 'pt-BR')).toMatch(/^R\$\s1\.234,50$/);
    expect(formatMoney(15990, 'CLP', 'es-CL')).not.toMatch(/,\d\d$/);
    expect(formatDateTime('2026-12-08T15:30:00Z', 'pt-BR', { dateStyle: 'short', timeZone: 'UTC' })).toBe('08/12/2026');
    expect(formatDateTime('2026-12-08T15:30:00Z', 'es-MX', { dateStyle: 'long', timeZone: 'UTC' })).toBe('8 de diciembre de 2026');
  });
  test('fill replaces known placeholders only', () => {
    expect(fill('{a} y {b}', { a: 1 })).toBe('1 y {b}');
  });
});

describe('the emails in the three catalogs', () => {
  const lines = [{ sku: 'TEE', title: 'Camiseta', quantity: 2, unit_price: 50, line_total: 100, currency: 'BRL' }];
  test('pt-BR', () => {
    const r = renderReminder({ lines, total: 100, currency: 'BRL' }, {
      storeName: 'Loja',
      locale: 'pt-BR',
      restoreUrl: 'https://x/r',
      unsubscribeUrl: 'https://x/u',
    });
    expect(r.subject).toBe('Esqueceu alguma coisa? Seu carrinho na Loja está esperando');
    expect(r.html).toContain('<html lang="pt-BR">');
    expect(r.text).toContain(`Total: ${formatMoney(100, 'BRL', 'pt-BR')}`);
    const c = renderConfirmation({
      order_number: 'A-1',
      lines,
      subtotal: 100,
      discount: 10,
      total: 90,
      currency: 'BRL',
      shipping_address: { street_name: 'Rua Augusta', street_number: '100', floor: '3', apartment: '31', city: 'São Paulo' },
      payer: { name: 'Ana' },
    }, { storeName: 'Loja', locale: 'pt-BR' });
    expect(c.subject).toBe('Recebemos seu pedido A-1');
    expect(c.html).toContain('seu pedido <b>A-1</b> está confirmado');
    expect(c.text).toContain('Entrega em: Rua Augusta 100, 3º andar apto. 31, São Paulo');
    expect(c.text).toContain(`Desconto: −${formatMoney(10, 'BRL', 'pt-BR')}`);
  });
  test('es-MX (and Chile, through it) says tú', () => {
    expect(renderOptIn({ storeName: 'Tienda', locale: 'es-MX', confirmUrl: 'https://x/c' }).subject).toBe(
      'Confirma que quieres recibir recordatorios de Tienda',
    );
    const cl = renderOptIn({ storeName: 'Tienda', locale: 'es-CL', confirmUrl: 'https://x/c' });
    expect(cl.subject).toBe('Confirma que quieres recibir recordatorios de Tienda');
    expect(cl.html).toContain('<html lang="es-CL">');
  });
  test("the staff's fraud alert and the payment instructions (boleto, Pix, OXXO) in the store's locale", () => {
    const order = { order_number: 'ORD-000042', lines, subtotal: 100, discount: 0, total: 100, currency: 'BRL', shipping_address: {}, payer: {} };
    const fraud = renderFraudAlert(order, { storeName: 'Loja', locale: 'pt-BR' });
    expect(fraud.subject).toBe('Alerta de fraude: NÃO ENVIE o pedido ORD-000042');
    expect(fraud.text).toContain(`O MercadoPago enviou um alerta de fraude sobre o pagamento do pedido ORD-000042 (${formatMoney(100, 'BRL', 'pt-BR')}).`);
    expect(fraud.html).toContain('<html lang="pt-BR">');
    expect(fraud.html).toContain('<b>NÃO ENVIE este pedido.</b>');
    expect(renderFraudAlert(order, { storeName: 'Tienda' }).subject).toBe('Alerta de fraude: NO ENVIAR el pedido ORD-000042');
    const payment = { payment_type_id: 'ticket', payment_method_id: 'bolbradesco', deadline: '2026-12-04T14:30:00Z', barcode: '2379' };
    const data = { payment, lines, total: 100, currency: 'BRL', payer: {}, time_zone: 'America/Sao_Paulo' };
    const boleto = renderPaymentInstructions(data, { storeName: 'Loja', locale: 'pt-BR' });
    expect(boleto.subject).toBe('Pague sua compra com boleto bancário até sexta-feira, 4 de dezembro de 2026 às 11:30');
    expect(boleto.text).toContain('Código de barras: 2379');
    expect(boleto.text).toContain('Se você não pagar até a data limite, a reserva é liberada e o boleto perde a validade.');
    expect(boleto.html).toContain('<html lang="pt-BR">');
    const oxxo = renderPaymentInstructions({ ...data, payment: { ...payment, payment_method_id: 'oxxo' }, currency: 'MXN', time_zone: 'America/Mexico_City' }, {
      storeName: 'Tienda',
      locale: 'es-MX',
    });
    expect(oxxo.subject).toBe('Paga tu compra con OXXO antes del viernes, 4 de diciembre de 2026, 08:30');
  });
  test('es-AR stays as it was (vos), and is the default', () => {
    expect(renderOptIn({ storeName: 'Tienda', confirmUrl: 'https://x/c' }).subject).toBe('Confirmá que querés recibir recordatorios de Tienda');
  });
});
