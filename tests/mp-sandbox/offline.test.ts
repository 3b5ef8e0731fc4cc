/**
 * Cash tickets, ATM, Pix and bank transfers: pending payments with their
 * deadline and instructions, paid later or expired through the control API,
 * MercadoPago's cancellation rule, and the 30-day rule.
 */
import { describe, expect, it } from 'vitest';
import { MercadoPagoConfig, MercadoPagoError, MPBadRequestError, Payment, Preference } from 'mercadopago';
import { AppConfig } from 'mercadopago/dist/utils/config/index.js';
import { qrPng, type Sandbox } from '../../dev/mp-sandbox/index.ts';
import { basicItems, sandboxWithSdk, useSandboxWithReceiver, type WebhookReceiver } from './helpers.ts';

let sandbox: Sandbox;
let config: MercadoPagoConfig;
let receiver: WebhookReceiver;

useSandboxWithReceiver({ merchantOrderTopic: 'none' }, (env) => ({ sandbox, config, receiver } = env));

async function preference(body: Record<string, unknown> = {}, cfg = config): Promise<string> {
  const pref = await new Preference(cfg).create({
    body: { items: basicItems, external_reference: 'os_cash', notification_url: receiver.url, ...body },
  });
  return pref.id as string;
}

async function sdkError(promise: Promise<unknown>): Promise<MercadoPagoError> {
  const err = await promise.then(() => new Error('expected the SDK call to fail'), (e: unknown) => e);
  expect(err).toBeInstanceOf(MercadoPagoError);
  return err as MercadoPagoError;
}

const HOUR = 3_600_000;

describe('offline payments', () => {
  it('a ticket is pending until the preference date_of_expiration, with its ticket page and barcode', async () => {
    const deadline = new Date(Date.now() + 72 * HOUR).toISOString();
    const prefId = await preference({ date_of_expiration: deadline });
    expect((await new Preference(config).get({ preferenceId: prefId })).date_of_expiration).toBe(deadline);
    const made = sandbox.pay(prefId, { paymentTypeId: 'ticket', paymentMethodId: 'pagofacil' });
    const payment = await new Payment(config).get({ id: made.id });
    expect(payment).toMatchObject({
      status: 'pending',
      status_detail: 'pending_waiting_payment',
      payment_type_id: 'ticket',
      payment_method_id: 'pagofacil',
    });
    expect(Date.parse(payment.date_of_expiration ?? '')).toBe(Date.parse(deadline));
    const ticketUrl = payment.transaction_details?.external_resource_url ?? '';
    expect(ticketUrl).toBe(`${sandbox.url}/checkout/v1/ticket?payment_id=${made.id}`);
    const barcode = (payment as unknown as { barcode: { content: string } }).barcode.content;
    expect(barcode).toMatch(/^\d{44}$/);
    const page = await (await fetch(ticketUrl)).text();
    expect(page).toContain(`id="barcode" class="barcode">${barcode}<`);
    expect(page).toContain('data-status="pending"');
    expect(page).toContain('Pago Fácil');
  });

  it('uses each site own method ids, and 3 days (cash) or 24 h (transfers) without date_of_expiration', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['MLA', 'ticket', 'rapipago', 'ARS'],
      ['MLB', 'ticket', 'bolbradesco', 'BRL'],
      ['MLM', 'ticket', 'oxxo', 'MXN'],
      ['MLM', 'atm', 'bancomer', 'MXN'],
      ['MCO', 'ticket', 'efecty', 'COP'],
      ['MCO', 'bank_transfer', 'pse', 'COP'],
      ['MLU', 'ticket', 'abitab', 'UYU'],
      ['MPE', 'atm', 'pagoefectivo_atm', 'PEN'],
      ['MLC', 'ticket', 'servipag', 'CLP'],
    ];
    for (const [siteId, type, method, currency] of cases) {
      const site = await sandboxWithSdk({ siteId });
      try {
        const pref = await new Preference(site.config).create({
          body: { items: [{ id: 'x', title: 'X', quantity: 1, unit_price: 1000, currency_id: currency }] },
        });
        const before = Date.now();
        const p = site.sandbox.pay(pref.id as string, { paymentTypeId: type as 'ticket' });
        expect([siteId, p.payment_method_id, p.status]).toEqual([siteId, method, 'pending']);
        const days = type === 'bank_transfer' ? 1 : 3;
        expect(Date.parse(p.date_of_expiration ?? '') - before).toBeGreaterThanOrEqual(days * 24 * HOUR - 1000);
        expect(Date.parse(p.date_of_expiration ?? '') - before).toBeLessThan(days * 24 * HOUR + 5000);
      } finally {
        await site.sandbox.close();
      }
    }
  });

  it('Pix: point_of_interaction.transaction_data with an EMV code, a real PNG of its QR and the ticket_url', async () => {
    const br = await sandboxWithSdk({ siteId: 'MLB' });
    try {
      const pref = await new Preference(br.config).create({
        body: { items: [{ id: 'p', title: 'Point Mini', quantity: 1, unit_price: 58.8, currency_id: 'BRL' }] },
      });
      const made = br.sandbox.pay(pref.id as string, { paymentMethodId: 'pix' });
      const payment = await new Payment(br.config).get({ id: made.id });
      expect([payment.payment_type_id, payment.status, payment.status_detail]).toEqual(['bank_transfer', 'pending', 'pending_waiting_transfer']);
      const data = payment.point_of_interaction?.transaction_data;
      expect(data?.qr_code).toMatch(/^000201.*5303986540558\.805802BR.*6304[0-9A-F]{4}$/);
      const png = Buffer.from(data?.qr_code_base64 ?? '', 'base64');
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
      expect(png.readUInt32BE(16)).toBeGreaterThan(100); // a QR at 4 px a module, quiet zone included
      expect(png.equals(qrPng(data?.qr_code ?? ''))).toBe(true); // the PNG is the QR of that code
      expect(data?.ticket_url).toBe(`${br.sandbox.url}/checkout/v1/ticket?payment_id=${made.id}`);
      expect(payment.transaction_details?.external_resource_url).toBeNull();
      const page = await (await fetch(data?.ticket_url ?? '')).text();
      expect(page).toContain(`src="data:image/png;base64,${data?.qr_code_base64}"`);
      // Pix exists only in Brazil.
      Object.assign(AppConfig, { BASE_URL: sandbox.url });
      const ars = await preference();
      expect(() => sandbox.pay(ars, { paymentMethodId: 'pix' })).toThrow(/payment_method_id pix is not available on site MLA/);
    } finally {
      await br.sandbox.close();
    }
  });

  it('pays a ticket later (approved, notified), and refuses to pay it again', async () => {
    const prefId = await preference();
    const cash = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    const paid = sandbox.payOffline(cash.id);
    expect([paid.status, paid.status_detail]).toEqual(['approved', 'accredited']);
    expect(paid.date_approved).not.toBeNull();
    expect(() => sandbox.payOffline(cash.id)).toThrow(/Only a pending cash or transfer payment/);
    await sandbox.settle();
    expect(receiver.forPayment(cash.id).map((w) => w.body.action)).toEqual(['payment.created', 'payment.updated']);
    // Card payments are not "paid later".
    const card = sandbox.pay(prefId, { cardholderName: 'CONT' });
    expect(() => sandbox.payOffline(card.id)).toThrow(/Only a pending cash or transfer payment/);
  });

  it('lets a ticket expire (cancelled / expired, notified); an expired or cancelled one cannot be paid', async () => {
    const prefId = await preference();
    const cash = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    expect(sandbox.expire(cash.id)).toMatchObject({ status: 'cancelled', status_detail: 'expired' });
    const res = await fetch(`${sandbox.url}/__sandbox/payments/${cash.id}/pay`, { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ status: 409, error: 'invalid_status_transition' });

    const other = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    await new Payment(config).cancel({ id: other.id });
    expect(() => sandbox.payOffline(other.id)).toThrow(/cancelled \(by_collector\)/);
    await sandbox.settle();
    expect(receiver.forPayment(cash.id).map((w) => w.body.action)).toEqual(['payment.created', 'payment.updated']);
    expect(sandbox.getPayment(cash.id).status).toBe('cancelled');
  });

  it('expires by itself once date_of_expiration passes, at the next request', async () => {
    const prefId = await preference({ date_of_expiration: new Date(Date.now() + 300).toISOString() });
    const cash = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    await new Promise((r) => setTimeout(r, 400));
    const payment = await new Payment(config).get({ id: cash.id });
    expect([payment.status, payment.status_detail]).toEqual(['cancelled', 'expired']);
    expect(() => sandbox.payOffline(cash.id)).toThrow();
    // And the page no longer offers cash for that preference.
    const page = await (await fetch(`${sandbox.url}/checkout/v1/redirect?pref_id=${encodeURIComponent(prefId)}`)).text();
    expect(page).not.toContain('payment-type-ticket');
    expect(page).toContain('payment-type-credit_card');
  });

  it('cancels payments still unconfirmed after 30 days (expire-due at a given instant)', async () => {
    const prefId = await preference({ date_of_expiration: new Date(Date.now() + 60 * 24 * HOUR).toISOString() });
    const cash = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    const contingency = sandbox.pay(prefId, { cardholderName: 'CONT' });
    const approved = sandbox.pay(prefId, { cardholderName: 'APRO' });
    expect(sandbox.expireDue({ at: new Date(Date.now() + 29 * 24 * HOUR).toISOString() })).toEqual([]);
    const res = await fetch(`${sandbox.url}/__sandbox/expire-due`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ at: new Date(Date.now() + 31 * 24 * HOUR).toISOString() }),
    });
    const expired = (await res.json()) as Array<{ id: number; status: string; status_detail: string }>;
    expect(expired.map((p) => [p.id, p.status, p.status_detail])).toEqual([
      [cash.id, 'cancelled', 'expired'],
      [contingency.id, 'cancelled', 'expired'],
    ]);
    expect(sandbox.getPayment(approved.id).status).toBe('approved');
    expect((await fetch(`${sandbox.url}/__sandbox/expire-due`, { method: 'POST', body: '{"at":"soon"}' })).status).toBe(400);
  });

  it('PUT cancel: honoured for pending and in_process only, otherwise 400 in MercadoPago shape', async () => {
    const prefId = await preference();
    const pending = sandbox.pay(prefId, { paymentTypeId: 'atm' });
    expect((await new Payment(config).cancel({ id: pending.id })).status).toBe('cancelled');
    const inProcess = sandbox.pay(prefId, { cardholderName: 'CONT' });
    expect((await new Payment(config).cancel({ id: inProcess.id })).status).toBe('cancelled');
    for (
      const made of [
        sandbox.pay(prefId, { status: 'authorized' }),
        sandbox.pay(prefId, { cardholderName: 'APRO' }),
        sandbox.pay(prefId, { cardholderName: 'OTHE' }),
      ]
    ) {
      const err = await sdkError(new Payment(config).cancel({ id: made.id }));
      expect(err).toBeInstanceOf(MPBadRequestError);
      expect([err.status, err.error]).toEqual([400, 'bad_request']);
      expect(err.message).toContain(`the payment is ${made.status}`);
      expect(err.causes[0]).toMatchObject({ code: 2063 });
      expect(sandbox.getPayment(made.id).status).toBe(made.status);
    }
    const again = await sdkError(new Payment(config).cancel({ id: pending.id }));
    expect(again.status).toBe(400);
  });

  it('honours excluded_payment_types and excluded_payment_methods', async () => {
    const prefId = await preference({
      payment_methods: { excluded_payment_types: [{ id: 'atm' }], excluded_payment_methods: [{ id: 'rapipago' }] },
    });
    expect(() => sandbox.pay(prefId, { paymentTypeId: 'atm' })).toThrow(/excluded/);
    expect(() => sandbox.pay(prefId, { paymentMethodId: 'rapipago' })).toThrow(/excluded/);
    expect(sandbox.pay(prefId, { paymentMethodId: 'pagofacil' }).payment_type_id).toBe('ticket');
    const page = await (await fetch(`${sandbox.url}/checkout/v1/redirect?pref_id=${encodeURIComponent(prefId)}`)).text();
    expect(page).not.toContain('payment-type-atm');
    expect(page).toContain('<option value="pagofacil">');
    expect(page).not.toContain('<option value="rapipago">');
    // A method of another site, or of no site, is refused.
    expect(() => sandbox.pay(prefId, { paymentTypeId: 'ticket', paymentMethodId: 'oxxo' })).toThrow(/not a ticket method of site MLA/);
  });
});
