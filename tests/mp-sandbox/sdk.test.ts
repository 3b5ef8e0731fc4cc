/**
 * The sandbox driven through the official `mercadopago` SDK, exactly as the
 * Edge Functions and store code will call it.
 */
import { describe, expect, it } from 'vitest';
import {
  MercadoPagoConfig,
  MercadoPagoError,
  MerchantOrder,
  MPAuthenticationError,
  MPBadRequestError,
  MPConnectionError,
  MPIdempotencyError,
  MPNotFoundError,
  MPServerError,
  Payment,
  PaymentRefund,
  Preference,
} from 'mercadopago';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { AppConfig } from 'mercadopago/dist/utils/config/index.js';
import { BASIC_TOTAL, basicItems, sandboxWithSdk, useSandboxWithSdk } from './helpers.ts';

let sandbox: Sandbox;
let config: MercadoPagoConfig;
const freshConfig = (extra: Record<string, unknown> = {}): MercadoPagoConfig =>
  // The SDK copies per-call requestOptions into the config object, so tests that
  // pass requestOptions get their own config.
  new MercadoPagoConfig({ accessToken: sandbox.accessToken, options: { maxRetries: 0, timeout: 5_000, ...extra } });

useSandboxWithSdk((env) => ({ sandbox, config } = env));

async function createPreference(body: Record<string, unknown> = {}): Promise<string> {
  const pref = await new Preference(config).create({
    body: { items: basicItems, external_reference: 'order-session-1', metadata: { orderSessionId: 'os_1' }, ...body },
  });
  expect(pref.id).toBeDefined();
  return pref.id as string;
}

/** Awaits a rejected SDK call and returns the typed error. */
async function sdkError(promise: Promise<unknown>): Promise<MercadoPagoError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the SDK call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MercadoPagoError);
  return err as MercadoPagoError;
}

describe('preferences', () => {
  it('creates and reads a preference through the SDK', async () => {
    const body = {
      items: basicItems,
      payer: { email: 'buyer@example.com' },
      back_urls: { success: 'https://store.example/ok', failure: 'https://store.example/ko', pending: 'https://store.example/wait' },
      auto_return: 'approved',
      notification_url: 'https://store.example/webhook',
      external_reference: 'os_7f3a-1',
      metadata: { order_session: 'os_7f3a-1' },
      statement_descriptor: 'MITIENDA',
      payment_methods: { excluded_payment_types: [{ id: 'ticket' }, { id: 'atm' }] },
      expires: true,
      expiration_date_to: new Date(Date.now() + 15 * 60_000).toISOString(),
    };
    const created = await new Preference(config).create({ body });
    expect(created.api_response.status).toBe(201);
    expect(created.id).toMatch(new RegExp(`^${sandbox.collectorId}-[0-9a-f-]{36}$`));
    expect(created.init_point).toBe(`${sandbox.url}/checkout/v1/redirect?pref_id=${created.id}`);
    expect(created.sandbox_init_point).toContain(`pref_id=${created.id}`);
    expect(created.collector_id).toBe(sandbox.collectorId);
    expect(created.date_created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-04:00$/);
    expect(created.external_reference).toBe('os_7f3a-1');
    expect(created.auto_return).toBe('approved');
    expect(created.items?.[0]).toMatchObject({ id: 'sku-1', title: 'Remera', quantity: 2, unit_price: 1500.5, currency_id: 'ARS' });
    expect(created.payment_methods?.excluded_payment_types).toEqual([{ id: 'ticket' }, { id: 'atm' }]);
    expect(created.site_id).toBe('MLA');

    const read = await new Preference(config).get({ preferenceId: created.id as string });
    expect(read.id).toBe(created.id);
    expect(read.expiration_date_to).toBe(body.expiration_date_to);
    expect(read.metadata).toEqual({ order_session: 'os_7f3a-1' });
  });

  it('accepts POST /checkout/preferences without the trailing slash too', async () => {
    const res = await fetch(`${sandbox.url}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: basicItems }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string };
    expect(sandbox.state().preferences.map((p) => p.id)).toEqual([body.id]);
  });

  const invalid: Array<[string, Record<string, unknown>, string, string]> = [
    ['missing items', {}, 'invalid_items', 'items needed'],
    ['empty items', { items: [] }, 'invalid_items', 'items needed'],
    ['zero quantity', { items: [{ title: 'A', quantity: 0, unit_price: 10 }] }, 'invalid_items', 'quantity invalid'],
    ['fractional quantity', { items: [{ title: 'A', quantity: 1.5, unit_price: 10 }] }, 'invalid_items', 'quantity invalid'],
    ['negative price', { items: [{ title: 'A', quantity: 1, unit_price: -5 }] }, 'invalid_items', 'unit_price invalid'],
    ['price as string', { items: [{ title: 'A', quantity: 1, unit_price: '10' }] }, 'invalid_items', 'unit_price invalid'],
    [
      "another site's currency",
      { items: [{ title: 'A', quantity: 1, unit_price: 10, currency_id: 'BRL' }] },
      'invalid_items',
      'currency_id invalid.',
    ],
    ['an unknown currency', { items: [{ title: 'A', quantity: 1, unit_price: 10, currency_id: 'USD' }] }, 'invalid_items', 'currency_id invalid.'],
    [
      'a malformed date_of_expiration',
      { items: basicItems, date_of_expiration: 'next week' },
      'invalid_date',
      'invalid date of expiration.',
    ],
    [
      'auto_return without back_urls.success',
      { items: basicItems, auto_return: 'approved', back_urls: { failure: 'https://store.example/ko' } },
      'invalid_auto_return',
      'auto_return invalid. back_url.success must be defined',
    ],
    ['external_reference over 64 chars', { items: basicItems, external_reference: 'x'.repeat(65) }, 'invalid_external_reference', 'At most 64'],
    ['malformed back_urls', { items: basicItems, back_urls: { success: 'not a url' } }, 'invalid_back_urls', 'Wrong format'],
    [
      'bad expiration_date_to',
      { items: basicItems, expires: true, expiration_date_to: 'tomorrow' },
      'invalid_expiration_date_to',
      'expiration_date_to invalid',
    ],
    [
      'unknown excluded payment type',
      { items: basicItems, payment_methods: { excluded_payment_types: [{ id: 'cheque' }] } },
      'invalid_payment_methods',
      'cheque',
    ],
  ];
  it.each(invalid)('rejects %s with MercadoPago error shape', async (_name, body, code, message) => {
    const err = await sdkError(new Preference(config).create({ body: body as never }));
    expect(err).toBeInstanceOf(MPBadRequestError);
    expect(err.status).toBe(400);
    expect(err.error).toBe(code);
    expect(err.message).toContain(message);
    expect(err.causes[0]).toMatchObject({ code, description: err.message });
    expect(sandbox.state().preferences).toHaveLength(0);
  });

  it.each([
    ['MLC', 'CLP', 1990.5],
    ['MCO', 'COP', 10.1],
  ])('on a %s sandbox accepts whole %s prices and refuses decimals', async (siteId, currency, decimal) => {
    const site = await sandboxWithSdk({ siteId });
    try {
      const pref = await new Preference(site.config).create({
        body: { items: [{ id: 'a', title: 'Polera', quantity: 1, unit_price: 19990, currency_id: currency }] },
      });
      expect(pref.site_id).toBe(siteId);
      const err = await sdkError(
        new Preference(site.config).create({ body: { items: [{ id: 'a', title: 'A', quantity: 1, unit_price: decimal, currency_id: currency }] } }),
      );
      expect([err.status, err.error, err.message]).toEqual([400, 'invalid_items', `unit_price invalid. ${currency} does not accept decimal values.`]);
      // ARS, the default site's currency, is another site's there.
      const ars = await sdkError(new Preference(site.config).create({ body: { items: basicItems } }));
      expect([ars.error, ars.message]).toEqual(['invalid_items', 'currency_id invalid.']);
    } finally {
      await site.sandbox.close();
      Object.assign(AppConfig, { BASE_URL: sandbox.url });
    }
  });

  it('honours X-Idempotency-Key: same key and body give the same preference', async () => {
    const cfg = freshConfig({ idempotencyKey: 'pref-key-1' });
    const a = await new Preference(cfg).create({ body: { items: basicItems, external_reference: 'idem-1' } });
    const b = await new Preference(cfg).create({ body: { items: basicItems, external_reference: 'idem-1' } });
    expect(b.id).toBe(a.id);
    expect(b.api_response.headers).toMatchObject({ 'x-idempotency-replayed': ['true'] });
    expect(sandbox.state().preferences).toHaveLength(1);

    const err = await sdkError(new Preference(cfg).create({ body: { items: basicItems, external_reference: 'idem-2' } }));
    expect(err).toBeInstanceOf(MPIdempotencyError);
    expect(err.status).toBe(409);

    // Without a fixed key the SDK sends a fresh UUID each time: two preferences.
    await createPreference();
    await createPreference();
    expect(sandbox.state().preferences).toHaveLength(3);
  });

  it('answers 401 to a wrong or missing token', async () => {
    const wrong = new MercadoPagoConfig({ accessToken: 'TEST-0000000000000000-000000-ffffffffffffffffffffffffffffffff-1', options: { maxRetries: 0 } });
    const err = await sdkError(new Preference(wrong).create({ body: { items: basicItems } }));
    expect(err).toBeInstanceOf(MPAuthenticationError);
    expect(err.status).toBe(401);
    expect(err.error).toBe('unauthorized');
    const missing = await fetch(`${sandbox.url}/v1/payments/search`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ status: 401, error: 'unauthorized', cause: [{ code: 'missing_access_token' }] });
    expect(sandbox.state().preferences).toHaveLength(0);
  });

  it('accepts a configured APP_USR- token and only that one', async () => {
    const other = await startSandbox({ accessToken: 'APP_USR-1111-222-abc-42' });
    try {
      const ok = await fetch(`${other.url}/v1/payments/search`, { headers: { authorization: 'Bearer APP_USR-1111-222-abc-42' } });
      expect(ok.status).toBe(200);
      const testToken = await fetch(`${other.url}/v1/payments/search`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } });
      expect(testToken.status).toBe(401);
    } finally {
      await other.close();
    }
    await expect(startSandbox({ accessToken: 'sk_live_nope' })).rejects.toThrow(/TEST-\.\.\. or APP_USR-/);
  });

  it('answers 404 for an unknown preference', async () => {
    const err = await sdkError(new Preference(config).get({ preferenceId: `${sandbox.collectorId}-nope` }));
    expect(err).toBeInstanceOf(MPNotFoundError);
    expect(err.error).toBe('invalid_id');
  });
});

describe('payments', () => {
  it('carries the preference data and the outcome of an APRO payment', async () => {
    const prefId = await createPreference({ payer: { email: 'buyer@example.com' } });
    const made = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const payment = await new Payment(config).get({ id: made.id });
    expect(payment).toMatchObject({
      id: made.id,
      status: 'approved',
      status_detail: 'accredited',
      external_reference: 'order-session-1',
      metadata: { order_session_id: 'os_1' }, // MercadoPago snake-cases metadata keys
      transaction_amount: BASIC_TOTAL,
      transaction_amount_refunded: 0,
      currency_id: 'ARS',
      payment_type_id: 'credit_card',
      payment_method_id: 'master',
      live_mode: false,
      collector_id: sandbox.collectorId,
      refunds: [],
      payer: { email: 'buyer@example.com' },
      order: { type: 'mercadopago' },
    });
    expect(payment.date_approved).toMatch(/-04:00$/);
    expect(payment.date_created).toBe(payment.date_approved);
    expect(payment.date_last_updated).toBeDefined();
    expect(Number(payment.order?.id)).toBeGreaterThan(0);
  });

  it.each([
    ['APRO', 'approved', 'accredited'],
    ['CONT', 'in_process', 'pending_contingency'],
    ['OTHE', 'rejected', 'cc_rejected_other_reason'],
    ['CALL', 'rejected', 'cc_rejected_call_for_authorize'],
    ['FUND', 'rejected', 'cc_rejected_insufficient_amount'],
    ['SECU', 'rejected', 'cc_rejected_bad_filled_security_code'],
    ['EXPI', 'rejected', 'cc_rejected_bad_filled_date'],
    ['FORM', 'rejected', 'cc_rejected_bad_filled_other'],
  ])('cardholder %s gives %s / %s', async (name, status, detail) => {
    const prefId = await createPreference();
    const made = sandbox.pay(prefId, { cardholderName: `${name} Perez` });
    const payment = await new Payment(config).get({ id: made.id });
    expect([payment.status, payment.status_detail]).toEqual([status, detail]);
    expect(payment.date_approved ?? null).toBe(status === 'approved' ? payment.date_created : null);
  });

  it('leaves cash payments pending and refuses excluded payment types', async () => {
    const prefId = await createPreference({ payment_methods: { excluded_payment_types: [{ id: 'atm' }] } });
    const cash = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    expect([cash.status, cash.status_detail, cash.payment_method_id]).toEqual(['pending', 'pending_waiting_payment', 'rapipago']);
    expect(() => sandbox.pay(prefId, { paymentTypeId: 'atm' })).toThrow(/excluded/);
    expect(() => sandbox.pay(prefId, { cardholderName: 'NOBODY' })).toThrow(/not a MercadoPago test name/);
  });

  it('searches by external_reference with sort, criteria, limit and offset', async () => {
    const a = await createPreference({ external_reference: 'ref-A' });
    const b = await createPreference({ external_reference: 'ref-B' });
    const ids = [sandbox.pay(a, { cardholderName: 'OTHE' }).id, sandbox.pay(a, { cardholderName: 'FUND' }).id, sandbox.pay(a, { cardholderName: 'APRO' }).id];
    sandbox.pay(b, { cardholderName: 'APRO' });
    const client = new Payment(config);

    const all = await client.search({ options: { external_reference: 'ref-A' } });
    expect(all.paging).toEqual({ total: 3, limit: 30, offset: 0 });
    expect(all.results?.map((p) => p.id)).toEqual(ids);

    const desc = await client.search({ options: { external_reference: 'ref-A', sort: 'date_created', criteria: 'desc' } });
    expect(desc.results?.map((p) => p.id)).toEqual([...ids].reverse());

    const page = await client.search({ options: { external_reference: 'ref-A', criteria: 'asc', limit: 1, offset: 1 } });
    expect(page.paging).toEqual({ total: 3, limit: 1, offset: 1 });
    expect(page.results?.map((p) => p.id)).toEqual([ids[1]]);

    const approved = await client.search({ options: { external_reference: 'ref-A', status: 'approved' } });
    expect(approved.results?.map((p) => p.id)).toEqual([ids[2]]);

    const none = await client.search({ options: { external_reference: 'ref-none' } });
    expect(none.paging?.total).toBe(0);

    const err = await sdkError(client.search({ options: { criteria: 'sideways' as 'asc' } }));
    expect(err.status).toBe(400);
  });

  it('refunds partially then fully, and then refuses more', async () => {
    const prefId = await createPreference();
    const { id } = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const refunds = new PaymentRefund(config);

    const partial = await refunds.create({ payment_id: id, body: { amount: 1000 } });
    expect(partial.api_response.status).toBe(201);
    expect(partial).toMatchObject({ payment_id: id, amount: 1000, status: 'approved' });
    let payment = await new Payment(config).get({ id });
    expect([payment.status, payment.status_detail, payment.transaction_amount_refunded]).toEqual(['approved', 'partially_refunded', 1000]);

    const tooMuch = await sdkError(refunds.create({ payment_id: id, body: { amount: 3000.01 } }));
    expect(tooMuch.status).toBe(400);

    const rest = await refunds.total({ payment_id: id });
    expect(rest.amount).toBe(BASIC_TOTAL - 1000);
    payment = await new Payment(config).get({ id });
    expect([payment.status, payment.status_detail, payment.transaction_amount_refunded]).toEqual(['refunded', 'refunded', BASIC_TOTAL]);
    expect(payment.refunds?.map((r) => r.amount)).toEqual([1000, BASIC_TOTAL - 1000]);

    const again = await sdkError(refunds.total({ payment_id: id }));
    expect(again).toBeInstanceOf(MPBadRequestError);
    expect((await refunds.list({ payment_id: id })).length).toBe(2);
  });

  it('does not refund twice for a repeated X-Idempotency-Key', async () => {
    const prefId = await createPreference();
    const { id } = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const cfg = freshConfig({ idempotencyKey: 'refund-key-1' });
    const first = await new PaymentRefund(cfg).create({ payment_id: id, body: { amount: 500 } });
    const second = await new PaymentRefund(cfg).create({ payment_id: id, body: { amount: 500 } });
    expect(second.id).toBe(first.id);
    expect(sandbox.getPayment(id).transaction_amount_refunded).toBe(500);
  });

  it('refuses to refund a payment that is not approved', async () => {
    const prefId = await createPreference();
    const { id } = sandbox.pay(prefId, { cardholderName: 'OTHE' });
    const err = await sdkError(new PaymentRefund(config).total({ payment_id: id }));
    expect(err.status).toBe(400);
    expect(sandbox.getPayment(id).refunds).toEqual([]);
  });

  it('cancels pending payments and refuses to cancel approved ones', async () => {
    const prefId = await createPreference();
    const pending = sandbox.pay(prefId, { cardholderName: 'CONT' });
    const cancelled = await new Payment(config).cancel({ id: pending.id });
    expect([cancelled.status, cancelled.status_detail]).toEqual(['cancelled', 'by_collector']);

    const cash = sandbox.pay(prefId, { paymentTypeId: 'ticket' });
    expect((await new Payment(config).cancel({ id: cash.id })).status).toBe('cancelled');

    const approved = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const err = await sdkError(new Payment(config).cancel({ id: approved.id }));
    expect(err.status).toBe(400);
    expect(sandbox.getPayment(approved.id).status).toBe('approved');
  });

  it('answers 404 in MercadoPago shape for an unknown payment', async () => {
    const err = await sdkError(new Payment(config).get({ id: 42 }));
    expect(err).toBeInstanceOf(MPNotFoundError);
    expect(err.message).toBe('Payment not found');
    expect(err.causes[0]).toMatchObject({ code: 2000 });
  });

  it('aggregates a preference payments in its merchant order', async () => {
    const prefId = await createPreference();
    const rejected = sandbox.pay(prefId, { cardholderName: 'OTHE' });
    let order = await new MerchantOrder(config).get({ merchantOrderId: Number(rejected.order.id) });
    expect(order).toMatchObject({ status: 'opened', order_status: 'payment_required', paid_amount: 0, preference_id: prefId });

    const approved = sandbox.pay(prefId, { cardholderName: 'APRO' });
    expect(approved.order.id).toBe(rejected.order.id);
    order = await new MerchantOrder(config).get({ merchantOrderId: Number(approved.order.id) });
    expect(order).toMatchObject({
      status: 'closed',
      order_status: 'paid',
      external_reference: 'order-session-1',
      total_amount: BASIC_TOTAL,
      paid_amount: BASIC_TOTAL,
      refunded_amount: 0,
    });
    expect(order.payments?.map((p) => [p.id, p.status])).toEqual([
      [rejected.id, 'rejected'],
      [approved.id, 'approved'],
    ]);

    sandbox.refund(approved.id);
    order = await new MerchantOrder(config).get({ merchantOrderId: Number(approved.order.id) });
    expect([order.order_status, order.refunded_amount]).toEqual(['reverted', BASIC_TOTAL]);
  });
});

describe('injected faults', () => {
  it('fails the next N API calls with 500, then recovers', async () => {
    const prefId = await createPreference();
    const { id } = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.failNextCalls({ mode: 'error', count: 2, pathPrefix: '/v1/payments' });
    // Preferences are not affected by a fault scoped to /v1/payments.
    await new Preference(config).get({ preferenceId: prefId });
    const first = await sdkError(new Payment(config).get({ id }));
    expect(first).toBeInstanceOf(MPServerError);
    expect(first.status).toBe(500);
    await sdkError(new Payment(config).get({ id }));
    expect((await new Payment(config).get({ id })).status).toBe('approved');
  });

  it('lets the SDK retry through transient 500s', async () => {
    const prefId = await createPreference();
    const { id } = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.failNextCalls({ mode: 'error', count: 2 });
    const retrying = freshConfig({ maxRetries: 2, initialDelay: 10 });
    expect((await new Payment(retrying).get({ id })).id).toBe(id);
    expect(sandbox.faults()).toEqual([]);
  });

  it('hangs the next call past the client time-out', async () => {
    const prefId = await createPreference();
    const { id } = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.failNextCalls({ mode: 'timeout', hangMs: 3_000 });
    const started = Date.now();
    const err = await sdkError(new Payment(freshConfig({ timeout: 200 })).get({ id }));
    expect(err).toBeInstanceOf(MPConnectionError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await new Payment(config).get({ id })).id).toBe(id);
  });

  it('says clearly what it does not emulate', async () => {
    const res = await fetch(`${sandbox.url}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(501);
    expect(((await res.json()) as { error: string }).error).toBe('not_emulated');
    const unknown = await fetch(`${sandbox.url}/v1/customers`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } });
    expect(unknown.status).toBe(404);
  });
});
