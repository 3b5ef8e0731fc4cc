/**
 * The hosted checkout page over plain HTTP: what it offers, what it refuses,
 * and where it sends the buyer back (MercadoPago's back_urls query).
 */
import { describe, expect, it } from 'vitest';
import { MercadoPagoConfig, Preference } from 'mercadopago';
import type { Sandbox } from '../../dev/mp-sandbox/index.ts';
import { BASIC_TOTAL, basicItems, useSandboxWithSdk } from './helpers.ts';

let sandbox: Sandbox;
let config: MercadoPagoConfig;

useSandboxWithSdk((env) => ({ sandbox, config } = env));

const BACK = {
  success: 'https://store.example/checkout/success?from=mp',
  failure: 'https://store.example/checkout/failure',
  pending: 'https://store.example/checkout/pending',
};

async function preference(body: Record<string, unknown> = {}): Promise<{ id: string; initPoint: string }> {
  const pref = await new Preference(config).create({
    body: { items: basicItems, back_urls: BACK, external_reference: 'os_42', ...body },
  });
  return { id: pref.id as string, initPoint: pref.init_point as string };
}

async function submit(prefId: string, fields: Record<string, string>): Promise<Response> {
  return fetch(`${sandbox.url}/checkout/v1/pay`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ pref_id: prefId, payment_type_id: 'credit_card', ...fields }).toString(),
  });
}

const RETURN_KEYS = [
  'collection_id',
  'collection_status',
  'payment_id',
  'status',
  'external_reference',
  'payment_type',
  'merchant_order_id',
  'preference_id',
  'site_id',
  'processing_mode',
  'merchant_account_id',
];

describe('checkout page', () => {
  it('shows items, total and only the payment types the preference allows', async () => {
    const { initPoint } = await preference({ payment_methods: { excluded_payment_types: [{ id: 'ticket' }, { id: 'atm' }] } });
    const res = await fetch(initPoint);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="checkout-form"');
    expect(html.match(/class="item"/g)).toHaveLength(2);
    expect(html).toContain(`data-amount="${BASIC_TOTAL}"`);
    for (const id of ['cardholder-name', 'payer-email', 'pay-button', 'payment-type-credit_card', 'payment-type-account_money']) {
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).not.toContain('payment-type-ticket');
    expect(html).not.toContain('payment-type-atm');
    expect((await fetch(`${sandbox.url}/sandbox/checkout/v1/redirect?pref_id=${encodeURIComponent((await preference()).id)}`)).status).toBe(200);
    expect((await fetch(`${sandbox.url}/checkout/v1/redirect?pref_id=nope`)).status).toBe(404);
  });

  it('redirects an approved payment to back_urls.success with every MercadoPago parameter when auto_return allows', async () => {
    const { id } = await preference({ auto_return: 'approved' });
    const res = await submit(id, { cardholder_name: 'APRO' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe('https://store.example/checkout/success');
    expect(location.searchParams.get('from')).toBe('mp');
    expect([...location.searchParams.keys()]).toEqual(['from', ...RETURN_KEYS]);
    const [payment] = sandbox.state().payments;
    expect(Object.fromEntries(location.searchParams)).toEqual({
      from: 'mp',
      collection_id: String(payment?.id),
      collection_status: 'approved',
      payment_id: String(payment?.id),
      status: 'approved',
      external_reference: 'os_42',
      payment_type: 'credit_card',
      merchant_order_id: payment?.order.id,
      preference_id: id,
      site_id: 'MLA',
      processing_mode: 'aggregator',
      merchant_account_id: 'null',
    });
  });

  it('shows a "return to the store" link instead when auto_return is not set', async () => {
    const { id } = await preference();
    const res = await submit(id, { cardholder_name: 'APRO' });
    expect(res.status).toBe(303);
    const resultUrl = res.headers.get('location') ?? '';
    expect(resultUrl).toMatch(/^\/checkout\/v1\/result\?payment_id=\d+$/);
    const html = await (await fetch(`${sandbox.url}${resultUrl}`)).text();
    expect(html).toContain('data-status="approved"');
    const link = /id="return-to-store" href="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    expect(link).toBeDefined();
    expect(new URL(link ?? '').searchParams.get('status')).toBe('approved');
    expect(html).not.toContain('id="retry-payment"');
  });

  it('keeps a rejected buyer on the page with a retry, and sends "null" for missing values', async () => {
    const { id } = await preference({ auto_return: 'approved', external_reference: undefined });
    const res = await submit(id, { cardholder_name: 'OTHE' });
    const html = await (await fetch(`${sandbox.url}${res.headers.get('location') ?? ''}`)).text();
    expect(html).toContain('data-status="rejected"');
    expect(html).toContain('data-status-detail="cc_rejected_other_reason"');
    expect(html).toContain(`id="retry-payment" href="/checkout/v1/redirect?pref_id=${encodeURIComponent(id)}"`);
    const link = /id="return-to-store" href="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const back = new URL(link);
    expect(back.pathname).toBe('/checkout/failure');
    expect(back.searchParams.get('status')).toBe('rejected');
    expect(back.searchParams.get('external_reference')).toBe('null');

    // Retrying on the same preference makes a new payment in the same merchant order.
    const retry = await submit(id, { cardholder_name: 'APRO' });
    const approvedId = new URL(retry.headers.get('location') ?? '').searchParams.get('payment_id');
    const payments = sandbox.state().payments;
    expect(payments.map((p) => p.status)).toEqual(['rejected', 'approved']);
    expect(approvedId).toBe(String(payments[1]?.id));
    expect(payments[0]?.order.id).toBe(payments[1]?.order.id);
  });

  it('sends pending payments to back_urls.pending, automatically only with auto_return "all"', async () => {
    const manual = await preference({ auto_return: 'approved' });
    expect((await submit(manual.id, { cardholder_name: 'CONT' })).headers.get('location')).toMatch(/^\/checkout\/v1\/result/);
    const all = await preference({ auto_return: 'all' });
    const res = await submit(all.id, { cardholder_name: 'CONT' });
    const back = new URL(res.headers.get('location') ?? '');
    expect(back.pathname).toBe('/checkout/pending');
    expect(back.searchParams.get('collection_status')).toBe('in_process');
  });

  it('refuses to pay an expired preference, or one not active yet', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const expired = await preference({ expires: true, expiration_date_to: past });
    const page = await fetch(expired.initPoint);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('id="preference-expired"');
    expect((await submit(expired.id, { cardholder_name: 'APRO' })).status).toBe(410);
    expect(() => sandbox.pay(expired.id, { cardholderName: 'APRO' })).toThrow(/expired/);

    const future = await preference({ expires: true, expiration_date_from: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await fetch(future.initPoint)).status).toBe(410);

    // `expires: false` ignores the dates, as MercadoPago does.
    const ignored = await preference({ expires: false, expiration_date_to: past });
    expect((await fetch(ignored.initPoint)).status).toBe(200);
    expect(sandbox.state().payments).toHaveLength(0);

    // Expiring a live preference through PUT /checkout/preferences/{id}.
    const live = await preference({ expires: true, expiration_date_to: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await fetch(live.initPoint)).status).toBe(200);
    await new Preference(config).update({ id: live.id, updatePreferenceRequest: { items: basicItems, expiration_date_to: past } });
    expect((await fetch(live.initPoint)).status).toBe(410);
  });

  it('rejects unknown cardholder names and excluded types without creating a payment', async () => {
    const { id } = await preference({ payment_methods: { excluded_payment_types: [{ id: 'ticket' }] } });
    const unknown = await submit(id, { cardholder_name: 'JUAN PEREZ' });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('id="form-error"');
    expect((await submit(id, { cardholder_name: '' })).status).toBe(400);
    expect((await submit(id, { cardholder_name: 'APRO', payment_type_id: 'ticket' })).status).toBe(400);
    expect(sandbox.state().payments).toHaveLength(0);
  });
});
