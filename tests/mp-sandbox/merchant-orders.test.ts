/**
 * What the official SDK's own end-to-end specs check (merchantOrder create,
 * get, update, search; Preference.search; a payment's additional_info.items),
 * run against the sandbox through the SDK, plus merchant orders as Checkout Pro
 * keeps them: two cards, installments with interest, MercadoPago's fees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MercadoPagoConfig, MercadoPagoError, MerchantOrder, Payment, Preference } from 'mercadopago';
import { financing, mercadopagoFee, type Sandbox } from '../../dev/mp-sandbox/index.ts';
import { BASIC_TOTAL, basicItems, sandboxWithSdk } from './helpers.ts';

let sandbox: Sandbox;
let config: MercadoPagoConfig;
// The SDK's specs run on a Brazilian test account: BRL items.
beforeAll(async () => ({ sandbox, config } = await sandboxWithSdk({ siteId: 'MLB' })));
afterAll(async () => await sandbox.close());

const dummy = {
  id: '4567',
  category_id: 'car_electronics',
  currency_id: 'BRL',
  description: 'Dummy create',
  title: 'Dummy Title',
  quantity: 1,
  unit_price: 10,
};
const brl = basicItems.map((i) => ({ ...i, currency_id: 'BRL' }));

const orderShape = {
  id: expect.any(Number),
  preference_id: expect.any(String),
  status: expect.any(String),
  site_id: expect.any(String),
  collector: expect.any(Object),
  date_created: expect.any(String),
  last_updated: expect.any(String),
  shipping_cost: expect.any(Number),
  total_amount: expect.any(Number),
  paid_amount: expect.any(Number),
  refunded_amount: expect.any(Number),
  cancelled: expect.any(Boolean),
  order_status: expect.any(String),
  is_test: expect.any(Boolean),
};

describe("the SDK's end-to-end specs, against the sandbox", () => {
  it('merchantOrder create, get, update and search', async () => {
    const pref = await new Preference(config).create({ body: { items: [dummy] } });
    const client = new MerchantOrder(config);
    const created = await client.create({ body: { preference_id: pref.id as string } });
    expect(created.api_response.status).toBe(201);
    expect(created.preference_id).toBe(pref.id);
    expect(created).toEqual(expect.objectContaining(orderShape));
    expect([created.site_id, created.total_amount, created.order_status, created.status]).toEqual(['MLB', 10, 'payment_required', 'opened']);

    const got = await client.get({ merchantOrderId: created.id as number });
    expect(got.id).toBe(created.id);
    expect(got).toEqual(expect.objectContaining(orderShape));

    const updated = await client.update({ merchantOrderId: created.id as number, body: { notification_url: 'https://www.test.com' } });
    expect(updated.preference_id).toBe(pref.id);
    expect(updated.notification_url).toBe('https://www.test.com');
    expect(updated).toEqual(expect.objectContaining(orderShape));

    const found = await client.search({ options: { preference_id: pref.id as string } });
    expect(found).toEqual(expect.objectContaining({ elements: expect.any(Array), next_offset: expect.any(Number), total: 1 }));
    expect(found.elements?.[0]?.preference_id).toBe(pref.id);
    expect(found.elements?.[0]).toEqual(expect.objectContaining(orderShape));

    // The preference adopted the order: its payments are listed there.
    const payment = sandbox.pay(pref.id as string, { cardholderName: 'APRO' });
    expect(payment.order.id).toBe(String(created.id));
    expect((await client.get({ merchantOrderId: created.id as number })).payments?.map((p) => p.id)).toEqual([payment.id]);
  });

  it('merchant order errors: unknown id 404, bad bodies 400 in MercadoPago shape', async () => {
    const client = new MerchantOrder(config);
    const unknown = await client.get({ merchantOrderId: 42 }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(MercadoPagoError);
    expect((unknown as MercadoPagoError).status).toBe(404);
    const noPref = await client.create({ body: { preference_id: 'nope' } }).catch((e: unknown) => e);
    expect([(noPref as MercadoPagoError).status, (noPref as MercadoPagoError).error]).toEqual([400, 'invalid_preference_id']);
    const pref = await new Preference(config).create({ body: { items: [dummy] } });
    const mo = await client.create({ body: { preference_id: pref.id as string } });
    const bad = await client.update({ merchantOrderId: mo.id as number, body: { notification_url: 'not a url' } }).catch((e: unknown) => e);
    expect([(bad as MercadoPagoError).status, (bad as MercadoPagoError).error]).toEqual([400, 'invalid_notification_url']);
  });

  it('Preference.search answers elements, next_offset and total with the documented element shape', async () => {
    await new Preference(config).create({ body: { items: [dummy], external_reference: 'search-a' } });
    const b = await new Preference(config).create({ body: { items: [dummy], external_reference: 'search-b', payer: { email: 'b@example.com' } } });
    const searched = await new Preference(config).search();
    expect(searched).toEqual(expect.objectContaining({ elements: expect.any(Array), next_offset: expect.any(Number), total: expect.any(Number) }));
    expect(searched.elements?.length).toBeGreaterThan(0);
    expect(searched.elements?.[0]).toEqual(expect.objectContaining({
      id: expect.any(String),
      client_id: expect.any(String),
      collector_id: expect.any(Number),
      date_created: expect.any(String),
      expires: expect.any(Boolean),
      live_mode: expect.any(Boolean),
      marketplace: expect.any(String),
      operation_type: expect.any(String),
      site_id: expect.any(String),
      sponsor_id: expect.any(Number),
      shipping_mode: expect.any(String),
    }));
    const byRef = await new Preference(config).search({ options: { external_reference: 'search-b' } });
    expect(byRef.total).toBe(1);
    expect(byRef.elements?.[0]).toMatchObject({ id: b.id, items: ['Dummy Title'], payer_email: 'b@example.com', site_id: 'MLB' });
  });

  it("a payment's additional_info.items are the preference's, quantity and unit_price as strings (as MercadoPago answers)", async () => {
    const pref = await new Preference(config).create({
      body: { items: [{ id: 'MLB2907679857', title: 'Point Mini', quantity: 1, unit_price: 58.8, currency_id: 'BRL' }] },
    });
    const made = sandbox.pay(pref.id as string, { paymentMethodId: 'pix' });
    const payment = await new Payment(config).get({ id: made.id });
    expect(payment.additional_info?.items?.[0]).toEqual(
      expect.objectContaining({ id: 'MLB2907679857', title: 'Point Mini', quantity: '1', unit_price: '58.8' }),
    );
    expect(payment.transaction_amount).toBe(58.8);
    expect(payment.point_of_interaction?.transaction_data).toEqual(expect.objectContaining({
      qr_code: expect.any(String),
      qr_code_base64: expect.any(String),
      ticket_url: expect.any(String),
    }));
    expect(payment.payer?.id).toEqual(expect.any(String));
  });
});

describe('merchant orders for Checkout Pro', () => {
  it('two cards: two payments with the same external_reference, added up in one merchant order', async () => {
    const pref = await new Preference(config).create({ body: { items: brl, external_reference: 'os_two_cards' } });
    const first = sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: 1500 });
    const client = new MerchantOrder(config);
    let mo = await client.get({ merchantOrderId: first.order.id });
    expect([mo.status, mo.order_status, mo.paid_amount, mo.total_amount]).toEqual(['opened', 'partially_paid', 1500, BASIC_TOTAL]);
    const second = sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: BASIC_TOTAL - 1500 });
    mo = await client.get({ merchantOrderId: first.order.id });
    expect([mo.status, mo.order_status, mo.paid_amount]).toEqual(['closed', 'paid', BASIC_TOTAL]);
    expect(mo.payments?.map((p) => [p.id, p.transaction_amount, p.status])).toEqual([
      [first.id, 1500, 'approved'],
      [second.id, BASIC_TOTAL - 1500, 'approved'],
    ]);
    const search = await new Payment(config).search({ options: { external_reference: 'os_two_cards' } });
    expect(search.results?.map((p) => p.transaction_amount)).toEqual([1500, 2500]);
    // A part larger than the total, or with a third decimal, is refused.
    expect(() => sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: BASIC_TOTAL + 1 })).toThrow(/transaction_amount invalid/);
    expect(() => sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: 10.005 })).toThrow(/transaction_amount invalid/);
    // A refund of one part shows in the order.
    sandbox.refund(second.id, 100);
    mo = await client.get({ merchantOrderId: first.order.id });
    expect([mo.order_status, mo.refunded_amount]).toEqual(['partially_reverted', 100]);
  });

  it('installments with interest: total_paid_amount, installment_amount, fee_details and net_received_amount', async () => {
    const pref = await new Preference(config).create({ body: { items: brl, payment_methods: { installments: 6 } } });
    const made = sandbox.pay(pref.id as string, { cardholderName: 'APRO', installments: 6 });
    const plan = financing(BASIC_TOTAL, 6, 'MLB');
    expect(plan).toEqual({ installments: 6, installmentAmount: 786.27, totalPaid: 4717.62, financingFee: 717.62 });
    const payment = await new Payment(config).get({ id: made.id });
    const fee = mercadopagoFee(BASIC_TOTAL, 'MLB');
    expect(fee).toBe(199.6);
    expect(payment).toMatchObject({
      transaction_amount: BASIC_TOTAL,
      installments: 6,
      transaction_details: { installment_amount: 786.27, total_paid_amount: 4717.62, net_received_amount: BASIC_TOTAL - fee },
      fee_details: [
        { type: 'mercadopago_fee', amount: fee, fee_payer: 'collector' },
        { type: 'financing_fee', amount: 717.62, fee_payer: 'payer' },
      ],
    });
    const mo = await new MerchantOrder(config).get({ merchantOrderId: made.order.id });
    expect(mo.payments?.[0]).toMatchObject({ transaction_amount: BASIC_TOTAL, total_paid_amount: 4717.62 });
    expect(mo.paid_amount).toBe(BASIC_TOTAL);
    // Beyond the preference's limit: refused; one installment: no interest.
    expect(() => sandbox.pay(pref.id as string, { cardholderName: 'APRO', installments: 7 })).toThrow(/installments invalid. Between 1 and 6/);
    const single = sandbox.pay(pref.id as string, { cardholderName: 'APRO' });
    expect([single.transaction_details.total_paid_amount, single.fee_details.map((f) => f.type)]).toEqual([BASIC_TOTAL, ['mercadopago_fee']]);
    // A rejected payment has no fees.
    expect(sandbox.pay(pref.id as string, { cardholderName: 'OTHE', installments: 3 }).fee_details).toEqual([]);
  });

  it('whole-unit sites: installments and fees in whole pesos', async () => {
    const cl = await sandboxWithSdk({ siteId: 'MLC' });
    try {
      const pref = await new Preference(cl.config).create({
        body: { items: [{ id: 'p', title: 'Polera', quantity: 1, unit_price: 19990, currency_id: 'CLP' }] },
      });
      const made = cl.sandbox.pay(pref.id as string, { cardholderName: 'APRO', installments: 3 });
      expect(Number.isInteger(made.transaction_details.installment_amount)).toBe(true);
      expect(made.transaction_details.total_paid_amount).toBe(made.transaction_details.installment_amount * 3);
      expect(made.fee_details.every((f) => Number.isInteger(f.amount))).toBe(true);
      expect(() => cl.sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: 9995.5 })).toThrow(/whole units/);
    } finally {
      await cl.sandbox.close();
    }
  });
});
