/**
 * The checkout page's offline methods, installments and two cards over plain
 * HTTP: what it offers per site and preference, and what it refuses without
 * making any payment.
 */
import { describe, expect, it } from 'vitest';
import { MercadoPagoConfig, Preference } from 'mercadopago';
import type { Sandbox } from '../../dev/mp-sandbox/index.ts';
import { BASIC_TOTAL, basicItems, useSandboxWithSdk } from './helpers.ts';

let sandbox: Sandbox;
let config: MercadoPagoConfig;
useSandboxWithSdk((env) => ({ sandbox, config } = env));

async function page(body: Record<string, unknown> = {}): Promise<{ id: string; html: string }> {
  const pref = await new Preference(config).create({ body: { items: basicItems, ...body } });
  const html = await (await fetch(pref.init_point as string)).text();
  return { id: pref.id as string, html };
}

const submit = (fields: Record<string, string>): Promise<Response> =>
  fetch(`${sandbox.url}/checkout/v1/pay`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

describe('checkout page: methods, installments, two cards', () => {
  it("offers the site's cash and ATM methods by name, and no transfer where the site has none", async () => {
    const { html } = await page();
    expect(html).toContain(
      '<select id="payment-method-ticket" name="payment_method_id_ticket"><option value="rapipago">Rapipago</option><option value="pagofacil">Pago Fácil</option></select>',
    );
    expect(html).toContain('<option value="redlink">');
    expect(html).not.toContain('payment-type-bank_transfer');
  });

  it('installments: 1..the site maximum by default, bounded by the preference, none for other types', async () => {
    const plain = await page();
    expect(plain.html.match(/<option value="\d+" data-total=/g)).toHaveLength(12);
    const bounded = await page({ payment_methods: { installments: 3 } });
    expect(bounded.html.match(/<option value="\d+" data-total=/g)).toHaveLength(3);
    const res = await submit({ pref_id: bounded.id, payment_type_id: 'credit_card', cardholder_name: 'APRO', installments: '4' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('installments invalid. Between 1 and 3');
    expect(sandbox.state().payments).toHaveLength(0);
    // The installments select belongs to credit cards: a debit card pays in one.
    const debit = await submit({ pref_id: bounded.id, payment_type_id: 'debit_card', cardholder_name: 'APRO', installments: '2' });
    expect(debit.status).toBe(303);
    expect(sandbox.state().payments.map((p) => [p.payment_type_id, p.installments])).toEqual([['debit_card', 1]]);
    expect(() => sandbox.pay(bounded.id, { paymentTypeId: 'debit_card', cardholderName: 'APRO', installments: 2 })).toThrow(/Between 1 and 1 for debit_card/);
  });

  it('two cards: a bad amount or a bad second name makes no payment at all', async () => {
    const { id } = await page();
    const base = { pref_id: id, payment_type_id: 'credit_card', cardholder_name: 'APRO', two_cards: 'on', cardholder_name_2: 'APRO' };
    for (const amount of ['0', String(BASIC_TOTAL), '-5', 'abc', '10.001']) {
      expect((await submit({ ...base, first_card_amount: amount })).status).toBe(400);
    }
    expect((await submit({ ...base, first_card_amount: '1000', cardholder_name_2: 'JUAN' })).status).toBe(400);
    expect((await submit({ ...base, first_card_amount: '1000', installments_2: '99' })).status).toBe(400);
    expect(sandbox.state().payments).toHaveLength(0);
    const ok = await submit({ ...base, first_card_amount: '1000,5' });
    expect(ok.status).toBe(303);
    expect(sandbox.state().payments.map((p) => p.transaction_amount)).toEqual([1000.5, BASIC_TOTAL - 1000.5]);
  });

  it('a ticket with a method the preference excludes is refused; the chosen method is used', async () => {
    const { id } = await page({ payment_methods: { excluded_payment_methods: [{ id: 'rapipago' }] } });
    expect((await submit({ pref_id: id, payment_type_id: 'ticket', payment_method_id_ticket: 'rapipago' })).status).toBe(400);
    const res = await submit({ pref_id: id, payment_type_id: 'ticket', payment_method_id_ticket: 'pagofacil' });
    expect(res.status).toBe(303);
    expect(sandbox.state().payments.map((p) => [p.payment_method_id, p.status])).toEqual([['pagofacil', 'pending']]);
  });

  it('the ticket page exists only for offline payments', async () => {
    const { id } = await page();
    const card = sandbox.pay(id, { cardholderName: 'APRO' });
    expect((await fetch(`${sandbox.url}/checkout/v1/ticket?payment_id=${card.id}`)).status).toBe(404);
    expect((await fetch(`${sandbox.url}/checkout/v1/ticket?payment_id=nope`)).status).toBe(404);
  });
});
