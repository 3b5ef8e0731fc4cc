/**
 * The Edge Functions under real Deno, against the real test database and the
 * MercadoPago sandbox emulator (which delivers signed webhooks to the real
 * webhook function).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { type AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type MailSink, startMailSink } from '../../dev/mail-sink/index.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { mapDbError } from '../../edge/_shared/db.ts';
import { HttpError } from '../../edge/_shared/http.ts';
import { freePort } from '../../dev/pg/cluster.ts';
import { addToCart, createShopper, createVariant, databaseUrl, functionsDatabaseUrl, newPool, payer } from '../helpers/db.ts';
import { es256KeyPair, shopperClaims, signEs256, signHs256, TEST_SUPABASE_URL } from '../helpers/jwt.ts';
import { stopAll } from '../helpers/functions.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';
import { waitFor } from '../helpers/wait.ts';

const JWT_SECRET = 'edge-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'edge-test-service-role-key';
const KID = 'test-es256-key';
const es = es256KeyPair(KID);

let pool: pg.Pool;
let sandbox: Sandbox;
let sink: MailSink;
let fn: Record<'create' | 'webhook' | 'status' | 'admin' | 'reconcile' | 'emails', RunningFunction>;
const logLines: string[] = [];

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    SUPABASE_URL: TEST_SUPABASE_URL,
    // Direct, or PgBouncer in transaction mode when the suite runs via the pooler.
    CHECKOUT_DB_URL: functionsDatabaseUrl(),
    SUPABASE_DB_URL: databaseUrl(),
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
    JWT_SECRET: JWT_SECRET,
    SUPABASE_JWKS: JSON.stringify(es.jwks),
    MP_ACCESS_TOKEN: sandbox.accessToken,
    MP_WEBHOOK_SECRET: sandbox.webhookSecret,
    MP_API_BASE_URL: sandbox.url,
    MP_TIMEOUT_MS: '5000',
    SITE_URL: 'http://127.0.0.1:5173',
    RESEND_API_KEY: sink.apiKey,
    RESEND_BASE_URL: sink.url,
    EMAIL_LINK_SECRET: 'edge-test-email-link-secret-32-characters',
    ...overrides,
  };
}

beforeAll(async () => {
  pool = newPool(10);
  // Payment notifications only: these tests count a payment's deliveries and
  // the calls that fail; the merchant_order topic, which fetches the same
  // payments, has its own suite (payment-parts.test.ts).
  sandbox = await startSandbox({ retrySchedule: [300, 600, 1200, 2400], webhookTimeoutMs: 5000, merchantOrderTopic: 'none' });
  sink = await startMailSink();
  const webhookPort = await freePort();
  const onLine = (line: string) => logLines.push(line);
  const [create, webhook, status, admin, reconcile, emails] = await Promise.all([
    startFunction('create-preference', env({ FUNCTIONS_URL: `http://127.0.0.1:${webhookPort}` }), { onLine }),
    startFunction('mercadopago-webhook', env(), { port: webhookPort, onLine }),
    startFunction('payment-status', env(), { onLine }),
    startFunction('order-sessions-admin', env(), { onLine }),
    startFunction('reconcile', env(), { onLine }),
    startFunction('send-emails', env(), { onLine }),
  ]);
  fn = { create: create!, webhook: webhook!, status: status!, admin: admin!, reconcile: reconcile!, emails: emails! };
}, 180_000);

afterAll(() => stopAll({ fn, sandbox, sink, pool }));

const tokenFor = (shopper: string, overrides: Record<string, unknown> = {}) => signHs256(shopperClaims(shopper, overrides), JWT_SECRET);

const call = (f: RunningFunction, path: string, init: CallInit = {}) => callFunction(`${f.url}${path}`, init);

const checkoutBody = {
  payer: { email: payer.email, name: payer.name, surname: payer.surname },
  shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
};

/** A shopper with a cart of `qty` units of a fresh variant (stock, price). */
async function shopperWithCart(opts: { stock: number; qty: number; price?: number }) {
  const variant = await createVariant(pool, { sku: 'EDGE', stock: opts.stock, price: opts.price ?? 1500 });
  const shopper = await createShopper(pool);
  await addToCart(pool, shopper, variant.id, opts.qty);
  return { shopper, variant, token: tokenFor(shopper) };
}

async function checkout(token: string, body: unknown = checkoutBody) {
  return call(fn.create, '/create-preference', { token, body });
}

interface PreferenceSeen {
  items: { quantity: number; unit_price: number }[];
  external_reference: string;
  notification_url: string;
  auto_return: string;
  payment_methods: { excluded_payment_types: { id: string }[] };
  expiration_date_to: string;
}

/** The preference as MercadoPago (the sandbox) stored it. */
async function preferenceOf(id: string): Promise<PreferenceSeen> {
  const res = await fetch(`${sandbox.url}/checkout/preferences/${id}`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } });
  return (await res.json()) as PreferenceSeen;
}

/** A checkout whose session expired, the last unit sold meanwhile, then paid (APRO) and every notification delivered. */
async function paidAfterExpiryWithoutStock() {
  const { variant, token } = await shopperWithCart({ stock: 1, qty: 1 });
  const res = await checkout(token);
  const session = res.body.order_session as { id: string };
  await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where id = $1`, [session.id]);
  await pool.query(`update checkout.stock_reservations set expires_at = now() - interval '1 minute' where order_session_id = $1`, [session.id]);
  await pool.query('update public.variants set stock_on_hand = 0 where id = $1', [variant.id]);
  const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
  await sandbox.settle(30_000);
  return { session, payment };
}

async function ordersOf(orderSessionId: string) {
  const { rows } = await pool.query(
    'select id, order_number, status, payment_id::text as payment_id, paid_late from public.orders where order_session_id = $1',
    [orderSessionId],
  );
  return rows as { id: string; order_number: string; status: string; payment_id: string; paid_late: boolean }[];
}

async function sessionRow(id: string) {
  const { rows } = await pool.query('select status, expires_at from public.order_sessions where id = $1', [id]);
  return rows[0] as { status: string; expires_at: Date };
}

async function stockOf(variantId: string) {
  const { rows } = await pool.query('select stock_on_hand, private.available_stock(id) as available from public.variants where id = $1', [variantId]);
  return rows[0] as { stock_on_hand: number; available: number };
}

async function counts() {
  const { rows } = await pool.query(
    `select (select count(*) from checkout.payment_events)::int as events, (select count(*) from public.orders)::int as orders,
            (select count(*) from public.order_sessions)::int as sessions, (select count(*) from checkout.payment_refunds)::int as refunds`,
  );
  return rows[0] as Record<string, number>;
}

/** A signed webhook exactly as MercadoPago sends it (for the signature tests). */
function signedNotification(paymentId: string, opts: { secret?: string; ts?: number; requestId?: string } = {}) {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  const requestId = opts.requestId ?? randomUUID();
  const v1 = createHmac('sha256', opts.secret ?? sandbox.webhookSecret).update(`id:${paymentId};request-id:${requestId};ts:${ts};`).digest('hex');
  return {
    path: `/mercadopago-webhook?data.id=${paymentId}&type=payment`,
    headers: { 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': requestId },
    body: {
      action: 'payment.updated',
      api_version: 'v1',
      data: { id: paymentId },
      date_created: new Date().toISOString(),
      id: 1,
      live_mode: false,
      type: 'payment',
      user_id: String(sandbox.collectorId),
    },
  };
}

describe('create-preference → pay → webhook', () => {
  it('the happy path: one order, stock decremented, cart lines removed', async () => {
    const { shopper, variant, token } = await shopperWithCart({ stock: 5, qty: 2, price: 1999.5 });
    const res = await checkout(token);
    expect(res.status).toBe(201);
    const session = res.body.order_session as { id: string; token: string; total: number; status: string };
    expect(session.status).toBe('active');
    expect(session.total).toBe(3999);
    expect(res.body.init_point).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const preferenceId = res.body.preference_id as string;
    const pref = await preferenceOf(preferenceId);
    expect(pref.external_reference).toBe(session.token);
    expect(pref.notification_url).toBe(`${fn.webhook.url}/mercadopago-webhook`);
    expect(pref.auto_return).toBe('approved');
    expect(pref.payment_methods.excluded_payment_types).toEqual([]);
    expect(Date.parse(pref.expiration_date_to)).toBe(Date.parse((await sessionRow(session.id)).expires_at.toISOString()));
    expect((await stockOf(variant.id)).available).toBe(3);

    const payment = sandbox.pay(preferenceId, { cardholderName: 'APRO' });
    const orders = await waitFor('the payment to get there', async () => {
      const o = await ordersOf(session.id);
      return o.length ? o : null;
    });
    await sandbox.settle(30_000);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.payment_id).toBe(String(payment.id));
    expect(orders[0]!.order_number).toMatch(/^ORD-\d{6}$/);
    expect(await stockOf(variant.id)).toEqual({ stock_on_hand: 3, available: 3 });
    expect((await pool.query('select count(*)::int as n from public.cart_items where session_id = $1', [shopper])).rows[0].n).toBe(0);
    const deliveries = sandbox.deliveries({ paymentId: payment.id });
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.statusCode === 200)).toBe(true);
    // One structured log line per significant event, with the ids, no secrets.
    const applied = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'payment_applied' && l.payment_id === payment.id);
    expect(applied).toMatchObject({ fn: 'mercadopago-webhook', order_session_id: session.id, outcome: 'order_created' });
    expect(logLines.join('\n')).not.toContain(sandbox.webhookSecret);
    expect(logLines.join('\n')).not.toContain(sandbox.accessToken);
  });

  it('the same payment delivered 10 times at once, duplicated and shuffled, racing 5 returns and 3 senders: one order, one confirmation email', async () => {
    const { variant, token } = await shopperWithCart({ stock: 3, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string; token: string };
    sandbox.holdNotifications();
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    sandbox.resendNotification(payment.id, { copies: 10 });
    sandbox.duplicateNotification(payment.id);
    const returns = Array.from(
      { length: 5 },
      () => call(fn.status, `/payment-status?payment_id=${payment.id}&external_reference=${session.token}`, { method: 'GET', token }),
    );
    const sends = Array.from({ length: 3 }, () => call(fn.emails, '/send-emails', { token: SERVICE_KEY }));
    const [released, ...answers] = await Promise.all([sandbox.releaseNotifications('shuffle', { parallel: true }), ...returns, ...sends]);
    expect(released.length).toBeGreaterThanOrEqual(12);
    await sandbox.settle(30_000);
    // The deliveries really overlapped: some started before others had finished.
    const attempts = sandbox.deliveries({ paymentId: payment.id }).map((d) => ({ start: Date.parse(d.at), end: Date.parse(d.at) + d.durationMs }));
    const overlapping = attempts.filter((a) => attempts.some((b) => b !== a && b.start < a.end && a.start < b.end));
    expect(overlapping.length).toBeGreaterThan(1);
    for (const a of answers.slice(0, 5)) {
      expect(a.status).toBe(200);
      expect(a.body.status).toBe('paid');
      expect((a.body.order as { payment_id: number }).payment_id).toBe(payment.id);
    }
    expect(await ordersOf(session.id)).toHaveLength(1);
    expect((await stockOf(variant.id)).stock_on_hand).toBe(2);
    expect(sandbox.deliveries({ paymentId: payment.id }).every((d) => d.statusCode === 200)).toBe(true);
    // The confirmation: one outbox row, and one email however many senders run.
    const orderNumber = (await ordersOf(session.id))[0]!.order_number;
    await Promise.all(Array.from({ length: 3 }, () => call(fn.emails, '/send-emails', { token: SERVICE_KEY })));
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from email.outbox o join public.orders ord on ord.id = o.order_id where ord.order_session_id = $1 and o.kind = 'order_confirmation'`,
      [session.id],
    );
    expect(rows[0]!.n).toBe(1);
    const mails = sink.emails().filter((e) => e.subject.includes(orderNumber));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([payer.email]);
    expect(mails[0]!.text).toContain(orderNumber);
  });

  it('rejected, then approved on the same preference: the session stays open, then one order', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string };
    const rejected = sandbox.pay(res.body.preference_id as string, { cardholderName: 'OTHE' });
    await sandbox.settle(30_000);
    expect(rejected.status).toBe('rejected');
    expect((await sessionRow(session.id)).status).toBe('active');
    expect(await ordersOf(session.id)).toHaveLength(0);
    const approved = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    await sandbox.settle(30_000);
    const orders = await ordersOf(session.id);
    expect(orders.map((o) => o.payment_id)).toEqual([String(approved.id)]);
  });

  it('pending, then approved, delivered in reverse order: one order', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string };
    sandbox.holdNotifications();
    const pending = sandbox.pay(res.body.preference_id as string, { cardholderName: 'CONT' });
    expect(['pending', 'in_process']).toContain(pending.status);
    sandbox.approve(pending.id);
    await sandbox.releaseNotifications('reverse');
    await sandbox.settle(30_000);
    expect(await ordersOf(session.id)).toHaveLength(1);
  });

  it('approved after the session expired, with stock left: an order (paid late)', async () => {
    const { variant, token } = await shopperWithCart({ stock: 4, qty: 2 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string };
    await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where id = $1`, [session.id]);
    await pool.query(`update checkout.stock_reservations set expires_at = now() - interval '1 minute' where order_session_id = $1`, [session.id]);
    sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    await sandbox.settle(30_000);
    const orders = await ordersOf(session.id);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.paid_late).toBe(true);
    expect((await stockOf(variant.id)).stock_on_hand).toBe(2);
  });

  it('approved after the session expired with no stock left: refunded in MercadoPago and recorded', async () => {
    const { session, payment } = await paidAfterExpiryWithoutStock();
    expect(await ordersOf(session.id)).toHaveLength(0);
    expect(sandbox.getPayment(payment.id).status).toBe('refunded');
    // MercadoPago's own `refunded` notification may record the refund before
    // the call that made it writes MercadoPago's refund id; under load that
    // call can still be running when the deliveries have settled.
    const rows = await waitFor('the payment to get there', async () => {
      const r = await pool.query('select reason, status, mp_refund_id from checkout.payment_refunds where payment_id = $1', [payment.id]);
      return r.rows[0]?.mp_refund_id ? r.rows : undefined;
    });
    expect(rows).toEqual([{ reason: 'out_of_stock', status: 'refunded', mp_refund_id: expect.any(String) }]);
    expect((await sessionRow(session.id)).status).toBe('refunded');
    const stats = await call(fn.admin, '/order-sessions-admin/stats', { method: 'GET', token: SERVICE_KEY });
    expect((stats.body.late_payments as { out_of_stock: number }).out_of_stock).toBeGreaterThanOrEqual(1);
  });

  it("a refund recorded without MercadoPago's id (the call that made it lost): the payment's next notification brings it", async () => {
    const { payment } = await paidAfterExpiryWithoutStock();
    const made = sandbox.getPayment(payment.id).refunds[0]!.id;
    await waitFor(
      'the payment to get there',
      async () => (await pool.query('select 1 from checkout.payment_refunds where payment_id = $1 and mp_refund_id is not null', [payment.id])).rowCount,
    );
    await pool.query('update checkout.payment_refunds set mp_refund_id = null where payment_id = $1', [payment.id]);
    sandbox.resendNotification(payment.id);
    await sandbox.settle(30_000);
    const { rows } = await pool.query('select status, mp_refund_id from checkout.payment_refunds where payment_id = $1', [payment.id]);
    expect(rows).toEqual([{ status: 'refunded', mp_refund_id: String(made) }]);
  });

  it('an amount that differs from the session total: no order, refunded and recorded', async () => {
    const { token } = await shopperWithCart({ stock: 3, qty: 1, price: 5000 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string; token: string };
    // A preference tampered with: same external_reference, a higher price
    // (a lower one would count as a part of a two-card payment).
    const forged = await fetch(`${sandbox.url}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        items: [{ id: 'x', title: 'x', quantity: 1, unit_price: 5001, currency_id: 'ARS' }],
        external_reference: session.token,
        notification_url: `${fn.webhook.url}/mercadopago-webhook`,
      }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const payment = sandbox.pay(forged.id, { cardholderName: 'APRO' });
    await sandbox.settle(30_000);
    expect(await ordersOf(session.id)).toHaveLength(0);
    expect((await sessionRow(session.id)).status).toBe('active');
    const { rows } = await pool.query('select reason, status from checkout.payment_refunds where payment_id = $1', [payment.id]);
    expect(rows).toEqual([{ reason: 'amount_mismatch', status: 'refunded' }]);
    expect(sandbox.getPayment(payment.id).status).toBe('refunded');
  });

  it('a refund and a chargeback after the order: the order status follows', async () => {
    const a = await shopperWithCart({ stock: 2, qty: 1 });
    const b = await shopperWithCart({ stock: 2, qty: 1 });
    const ra = await checkout(a.token);
    const rb = await checkout(b.token);
    const pa = sandbox.pay(ra.body.preference_id as string, { cardholderName: 'APRO' });
    const pb = sandbox.pay(rb.body.preference_id as string, { cardholderName: 'APRO' });
    await sandbox.settle(30_000);
    sandbox.refund(pa.id);
    sandbox.chargeback(pb.id);
    await sandbox.settle(30_000);
    expect((await ordersOf((ra.body.order_session as { id: string }).id))[0]!.status).toBe('refunded');
    expect((await ordersOf((rb.body.order_session as { id: string }).id))[0]!.status).toBe('charged_back');
  });
});

describe('create-preference input and failures', () => {
  it('answers CORS preflight with the headers supabase-js sends', async () => {
    const res = await fetch(`${fn.create.url}/create-preference`, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization.*x-client-info.*apikey.*content-type/);
  });

  it('refuses missing, expired, wrong-audience, unsigned and forged tokens with 401', async () => {
    const { shopper } = await shopperWithCart({ stock: 1, qty: 1 });
    const now = Math.floor(Date.now() / 1000);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const unsigned = `${header}.${Buffer.from(JSON.stringify(shopperClaims(shopper))).toString('base64url')}.`;
    const before = await counts();
    for (
      const token of [
        undefined,
        tokenFor(shopper, { exp: now - 3600 }),
        tokenFor(shopper, { aud: 'someone-else' }),
        unsigned,
        signHs256(shopperClaims(shopper), 'not-the-project-secret-not-the-project-secret'),
        signHs256({ role: 'anon', aud: 'authenticated', exp: now + 60 }, JWT_SECRET),
        'garbage',
      ]
    ) {
      const res = await checkout(token as string);
      expect(res.status, String(token)).toBe(401);
      expect(res.body.error).toBe('unauthenticated');
    }
    expect(await counts()).toEqual(before);
  });

  it('accepts an ES256 token verified through the JWKS', async () => {
    const { shopper } = await shopperWithCart({ stock: 1, qty: 1 });
    const res = await checkout(signEs256(shopperClaims(shopper), es.privateKey, KID));
    expect(res.status).toBe(201);
  });

  it('rejects malformed and ill-typed bodies with a clear 400 and writes nothing', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const before = await counts();
    const bad = await call(fn.create, '/create-preference', { token, raw: '{"payer": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_json');
    for (
      const body of [
        {},
        { ...checkoutBody, payer: { email: 'not-an-email', name: 'A' } },
        { ...checkoutBody, payer: { email: 'a@b.co', name: 42 } },
        { ...checkoutBody, shipping_address: { street_name: '' } },
        { ...checkoutBody, coupon: 'x'.repeat(500) },
        { ...checkoutBody, items: [{ variant_id: randomUUID(), quantity: 1e9 }] },
        [],
        'text',
      ]
    ) {
      const res = await checkout(token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('validation_failed');
      expect(Array.isArray(res.body.issues)).toBe(true);
    }
    expect(await counts()).toEqual(before);
  });

  it('text Postgres cannot store (NUL, unpaired surrogates): 400 naming the field, nothing written', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const before = await counts();
    const cases: [string, unknown][] = [
      ['payer.name', { ...checkoutBody, payer: { ...checkoutBody.payer, name: 'Ana\u0000' } }],
      ['payer.surname', { ...checkoutBody, payer: { ...checkoutBody.payer, surname: 'P\uD800rez' } }],
      ['shipping_address.city', { ...checkoutBody, shipping_address: { ...checkoutBody.shipping_address, city: 'CABA\uDC00' } }],
      ['shipping_address.notes', { ...checkoutBody, shipping_address: { ...checkoutBody.shipping_address, notes: 'timbre \u0000 2' } }],
      ['payer.email', { ...checkoutBody, payer: { ...checkoutBody.payer, email: 'ana\u0000@example.com' } }],
    ];
    for (const [field, body] of cases) {
      const res = await checkout(token, body);
      expect(res.status, field).toBe(400);
      expect(res.body.error).toBe('validation_failed');
      expect(res.body.issues, field).toEqual([{ path: field, message: expect.stringContaining('NUL character or an unpaired surrogate') }]);
    }
    // The same as raw JSON escapes (what an attacker sends).
    const raw = JSON.stringify(checkoutBody).replace('"CABA"', '"CA\\ud800BA"');
    const res = await call(fn.create, '/create-preference', { token, raw });
    expect([res.status, (res.body.issues as { path: string }[])[0]?.path]).toEqual([400, 'shipping_address.city']);
    expect(await counts()).toEqual(before);
    // Paired surrogates (an emoji) are ordinary text.
    const ok = await checkout(token, { ...checkoutBody, shipping_address: { ...checkoutBody.shipping_address, notes: 'timbre 🔔' } });
    expect(ok.status).toBe(201);
  });

  it('past validation, the database refuses such text with a class 22 SQLSTATE that the functions answer as 400', async () => {
    const shopper = await createShopper(pool);
    const address = { street_name: 'x', street_number: '1', zip_code: 'C1043', city: 'CABA' };
    const errors: unknown[] = [];
    for (const payerJson of ['{"email":"a@b.co","name":"A\\u0000"}', '{"email":"a@b.co","name":"A\\ud800"}']) {
      errors.push(
        await pool.query('select checkout.begin_checkout($1, $2::jsonb, $3::jsonb, null)', [shopper, payerJson, JSON.stringify(address)]).catch((e: unknown) =>
          e
        ),
      );
    }
    expect(errors.map((e) => (e as { code: string }).code)).toEqual(['22P05', '22P02']);
    const mapped = mapDbError(errors[0]);
    expect(mapped).toBeInstanceOf(HttpError);
    expect([(mapped as HttpError).status, (mapped as HttpError).code]).toEqual([400, 'invalid_text']);
    expect((mapDbError(errors[1]) as HttpError).status).toBe(400);
  });

  it('a cart holding more than is left: 409 with the short lines, nothing reserved', async () => {
    const { variant, token, shopper } = await shopperWithCart({ stock: 3, qty: 3 });
    await pool.query('update public.variants set stock_on_hand = 1 where id = $1', [variant.id]);
    const before = await counts();
    const res = await checkout(token);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('insufficient_stock');
    expect(res.body.short).toEqual([expect.objectContaining({ variant_id: variant.id, sku: variant.sku, requested: 3, available: 1 })]);
    expect(await counts()).toEqual(before);
    await pool.query('delete from public.cart_items where session_id = $1', [shopper]);
    const empty = await checkout(token);
    expect(empty.status).toBe(409);
    expect(empty.body.error).toBe('empty_cart');
  });

  it('an unknown coupon: 422 and nothing written', async () => {
    const { token } = await shopperWithCart({ stock: 3, qty: 1 });
    const before = await counts();
    const res = await checkout(token, { ...checkoutBody, coupon: 'NOSUCHCOUPON' });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('coupon_unknown');
    expect(await counts()).toEqual(before);
  });

  it('a discounted order is one MercadoPago item at the total', async () => {
    const { token } = await shopperWithCart({ stock: 3, qty: 2, price: 10000 });
    const code = `EDGE${Math.floor(Math.random() * 1e6)}`;
    await pool.query(`insert into checkout.coupons (code, kind, value) values ($1, 'percent', 15)`, [code]);
    const res = await checkout(token, { ...checkoutBody, coupon: code.toLowerCase() });
    expect(res.status).toBe(201);
    expect((res.body.order_session as { total: number }).total).toBe(17000);
    const pref = await preferenceOf(String(res.body.preference_id));
    expect(pref.items.map((i) => [i.quantity, i.unit_price])).toEqual([[1, 17000]]);
  });

  it('MercadoPago failing: 502, and the reservation is released at once', async () => {
    const { variant, token, shopper } = await shopperWithCart({ stock: 2, qty: 2 });
    sandbox.failNextCalls({ mode: 'error', count: 2, pathPrefix: '/checkout/preferences' });
    const res = await checkout(token);
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('payment_provider_unavailable');
    expect((await stockOf(variant.id)).available).toBe(2);
    const { rows } = await pool.query('select status from public.order_sessions where session_id = $1', [shopper]);
    expect(rows).toEqual([{ status: 'cancelled' }]);
    sandbox.clearFaults();
  });
});

describe('mercadopago-webhook', () => {
  it('forged, missing, stale and malformed signatures: 401 and nothing written', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const res = await checkout(token);
    sandbox.holdNotifications();
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    const id = String(payment.id);
    const before = await counts();
    const good = signedNotification(id);
    const cases: Record<string, string>[] = [
      signedNotification(id, { secret: 'wrong-secret-wrong-secret' }).headers,
      {},
      signedNotification(id, { ts: Math.floor(Date.now() / 1000) - 3600 }).headers,
      { ...good.headers, 'x-signature': 'garbage' },
      { ...good.headers, 'x-signature': `ts=abc,v1=${'0'.repeat(64)}` },
      { ...good.headers, 'x-request-id': 'another-request' },
    ];
    for (const headers of cases) {
      const r = await call(fn.webhook, good.path, { headers, body: good.body });
      expect(r.status, JSON.stringify(headers)).toBe(401);
    }
    // Signed for another payment id than the one in the URL.
    const other = signedNotification(String(Number(id) + 1));
    expect((await call(fn.webhook, good.path, { headers: other.headers, body: good.body })).status).toBe(401);
    expect(await counts()).toEqual(before);
    // The genuine one is accepted.
    expect((await call(fn.webhook, good.path, { headers: good.headers, body: good.body })).status).toBe(200);
    await sandbox.releaseNotifications();
    await sandbox.settle(30_000);
  });

  it('ignores what is not a payment notification, refuses a malformed one', async () => {
    const n = signedNotification('123');
    const other = await call(fn.webhook, '/mercadopago-webhook?data.id=123&type=subscription_preapproval', {
      headers: n.headers,
      body: { ...n.body, type: 'subscription_preapproval' },
    });
    expect(other.status).toBe(200);
    expect(other.body.ignored).toBeDefined();
    const merchant = await call(fn.webhook, '/mercadopago-webhook?data.id=123&type=merchant_order', {
      headers: n.headers,
      body: { ...n.body, type: 'merchant_order' },
    });
    expect(merchant).toMatchObject({ status: 200, body: { ignored: 'unknown merchant order' } });
    const badBody = await call(fn.webhook, n.path, { headers: n.headers, raw: '{not json' });
    expect(badBody.status).toBe(400);
    const mismatch = await call(fn.webhook, n.path, { headers: n.headers, body: { ...n.body, data: { id: '999' } } });
    expect(mismatch.status).toBe(400);
  });

  it('MercadoPago failing the next calls: the webhook answers 500, the retry succeeds, one order', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string };
    sandbox.failNextCalls({ mode: 'error', count: 2, pathPrefix: '/v1/payments', method: 'GET' });
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    await sandbox.settle(30_000);
    const attempts = sandbox.deliveries({ paymentId: payment.id });
    expect(attempts[0]!.statusCode).toBe(500);
    expect(attempts.at(-1)!.statusCode).toBe(200);
    expect(await ordersOf(session.id)).toHaveLength(1);
  });

  it('the database down: 500 so that MercadoPago retries', async () => {
    const down = await startFunction('mercadopago-webhook', env({ CHECKOUT_DB_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/postgres` }));
    try {
      const { token } = await shopperWithCart({ stock: 2, qty: 1 });
      const res = await checkout(token);
      sandbox.holdNotifications();
      const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
      const n = signedNotification(String(payment.id));
      const r = await call(down, n.path, { headers: n.headers, body: n.body });
      expect(r.status).toBe(500);
      expect(r.body.error).toBe('database_unavailable');
      await sandbox.releaseNotifications();
      await sandbox.settle(30_000);
    } finally {
      await down.stop();
    }
  });
});

describe('payment-status', () => {
  it('the buyer returning converges on the same order, any number of times', async () => {
    const { token } = await shopperWithCart({ stock: 2, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string; token: string };
    sandbox.holdNotifications();
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    const first = await call(
      fn.status,
      `/payment-status?payment_id=${payment.id}&external_reference=${session.token}&collection_status=approved&merchant_order_id=null`,
      { method: 'GET', token },
    );
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'paid', outcome: 'order_created', payment: { id: payment.id, status: 'approved' } });
    const again = await call(fn.status, '/payment-status', { token, body: { payment_id: String(payment.id) } });
    expect(again.body).toMatchObject({ status: 'paid', outcome: 'already_paid' });
    expect((again.body.order as { id: string }).id).toBe((first.body.order as { id: string }).id);
    await sandbox.releaseNotifications();
    await sandbox.settle(30_000);
    expect(await ordersOf(session.id)).toHaveLength(1);
    // Without a payment (the buyer left from the failure page): the current status.
    const byRef = await call(fn.status, `/payment-status?payment_id=null&external_reference=${session.token}`, { method: 'GET', token });
    expect(byRef.body).toMatchObject({ status: 'paid', payment: null });
  });

  it('random payment ids past the hourly budget: 429 too_many_lookups, and MercadoPago is not asked', async () => {
    const token = tokenFor(await createShopper(pool));
    const lookUp = async (i: number) => {
      const r = await call(fn.status, `/payment-status?payment_id=${990_000_000 + i}`, { method: 'GET', token });
      return `${r.status} ${String(r.body.error)}`;
    };
    await pool.query('update private.settings set max_return_lookups_per_hour = 3');
    try {
      expect([await lookUp(0), await lookUp(1), await lookUp(2)]).toEqual(['404 not_found', '404 not_found', '404 not_found']);
      // Were MercadoPago asked about the next ids, it would fail (502): it is not asked.
      sandbox.failNextCalls({ mode: 'error', count: 2, pathPrefix: '/v1/payments/99000000' });
      expect([await lookUp(3), await lookUp(4)]).toEqual(['429 too_many_lookups', '429 too_many_lookups']);
      expect(sandbox.faults().map((f) => f.count)).toEqual([2]);
    } finally {
      sandbox.clearFaults();
      await pool.query('update private.settings set max_return_lookups_per_hour = 30');
    }
  });

  it("a swarm of shoppers, each within her budget, stops at the store's ceiling per minute; MercadoPago is not asked", async () => {
    const swarm = await Promise.all(Array.from({ length: 5 }, async () => tokenFor(await createShopper(pool))));
    const lookUp = async (token: string, i: number) => {
      const r = await call(fn.status, `/payment-status?payment_id=${991_000_000 + i}`, { method: 'GET', token });
      return `${r.status} ${String(r.body.error)}${r.status === 429 ? ` ${String(r.body.scope)}` : ''}`;
    };
    // A fresh minute for the store, with room for three lookups.
    await pool.query('delete from checkout.store_return_lookups');
    await pool.query('update private.settings set max_return_lookups_per_minute = 3');
    try {
      const first = [];
      for (const [i, token] of swarm.slice(0, 3).entries()) first.push(await lookUp(token, i));
      expect(first).toEqual(['404 not_found', '404 not_found', '404 not_found']);
      // Were MercadoPago asked about the next ids, it would fail (502): it is not asked.
      sandbox.failNextCalls({ mode: 'error', count: 2, pathPrefix: '/v1/payments/99100000' });
      expect([await lookUp(swarm[3]!, 3), await lookUp(swarm[4]!, 4)]).toEqual(['429 too_many_lookups store', '429 too_many_lookups store']);
      expect(sandbox.faults().map((f) => f.count)).toEqual([2]);
    } finally {
      sandbox.clearFaults();
      await pool.query('update private.settings set max_return_lookups_per_minute = 120');
      await pool.query('delete from checkout.store_return_lookups');
    }
  });

  it("another shopper's payment: the same 404 as an unknown one, and nothing applied", async () => {
    const owner = await shopperWithCart({ stock: 2, qty: 1 });
    const res = await checkout(owner.token);
    const session = res.body.order_session as { id: string; token: string };
    sandbox.holdNotifications();
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    const intruder = tokenFor(await createShopper(pool));
    const r = await call(fn.status, `/payment-status?payment_id=${payment.id}`, { method: 'GET', token: intruder });
    const unknown = await call(fn.status, '/payment-status?payment_id=999999999998', { method: 'GET', token: intruder });
    expect(r.status).toBe(404);
    expect(r.status).toBe(unknown.status);
    expect(r.body).toEqual(unknown.body);
    // By order token as well: another shopper's token answers like an unknown one.
    const byToken = await call(fn.status, `/payment-status?external_reference=${session.token}`, { method: 'GET', token: intruder });
    const unknownToken = await call(fn.status, '/payment-status?external_reference=os_unknown_token', { method: 'GET', token: intruder });
    expect([byToken.status, byToken.body]).toEqual([unknownToken.status, unknownToken.body]);
    expect(await ordersOf(session.id)).toHaveLength(0);
    const mismatch = await call(fn.status, `/payment-status?payment_id=${payment.id}&external_reference=os_other`, { method: 'GET', token: owner.token });
    expect([mismatch.status, mismatch.body]).toEqual([unknown.status, unknown.body]);
    await sandbox.releaseNotifications();
    await sandbox.settle(30_000);
  });

  it('bad input: 400; unknown payment: 404; no token: 401', async () => {
    const { token } = await shopperWithCart({ stock: 1, qty: 1 });
    expect((await call(fn.status, '/payment-status', { method: 'GET', token })).status).toBe(400);
    expect((await call(fn.status, '/payment-status?payment_id=abc', { method: 'GET', token })).status).toBe(400);
    expect((await call(fn.status, '/payment-status', { token, raw: '[1,2]' })).status).toBe(400);
    expect((await call(fn.status, '/payment-status?payment_id=999999999999', { method: 'GET', token })).status).toBe(404);
    expect((await call(fn.status, '/payment-status?payment_id=1', { method: 'GET' })).status).toBe(401);
  });
});

describe('order-sessions-admin', () => {
  it('stats and cleanup for the service role only', async () => {
    const shopper = await createShopper(pool);
    expect((await call(fn.admin, '/order-sessions-admin/stats', { method: 'GET', token: tokenFor(shopper) })).status).toBe(403);
    expect((await call(fn.admin, '/order-sessions-admin/stats', { method: 'GET' })).status).toBe(401);
    const stats = await call(fn.admin, '/functions/v1/order-sessions-admin/stats', { method: 'GET', token: SERVICE_KEY });
    expect(stats.status).toBe(200);
    expect(stats.body).toHaveProperty('sessions_by_status');
    expect(stats.body).toHaveProperty('refunds_owed');
    const serviceJwt = signHs256({ role: 'service_role', exp: Math.floor(Date.now() / 1000) + 60 }, JWT_SECRET);
    const cleanup = await call(fn.admin, '/order-sessions-admin/cleanup', { token: serviceJwt });
    expect(cleanup.status).toBe(200);
    expect(cleanup.body).toEqual({ expired_sessions: expect.any(Number), purged_carts: expect.any(Number), trimmed_sessions: expect.any(Number) });
    expect((await call(fn.admin, '/order-sessions-admin/cleanup', { method: 'GET', token: SERVICE_KEY })).status).toBe(405);
  });

  it('funnel, abandoned products and checkout outcomes for the service role only, with validated ranges', async () => {
    const shopper = await createShopper(pool);
    const v = await createVariant(pool, { sku: 'FUNNEL', stock: 5, price: 700 });
    const before = await call(fn.admin, '/order-sessions-admin/funnel', { method: 'GET', token: SERVICE_KEY });
    expect(before.status).toBe(200);
    await addToCart(pool, shopper, v.id, 2);
    const funnel = await call(fn.admin, '/order-sessions-admin/funnel', { method: 'GET', token: SERVICE_KEY });
    expect(funnel.status).toBe(200);
    const total = (b: Record<string, unknown>) => b.total as Record<string, number>;
    expect(total(funnel.body).carts_created).toBe(total(before.body).carts_created! + 1);
    expect(total(funnel.body).carts_with_items).toBe(total(before.body).carts_with_items! + 1);
    expect(funnel.body.days).toHaveLength(30);
    expect(total(funnel.body)).toHaveProperty('abandonment_rate');

    const today = (funnel.body.to as string).slice(0, 10);
    const oneDay = await call(fn.admin, `/order-sessions-admin/funnel?from=${today}&to=${today}`, { method: 'GET', token: SERVICE_KEY });
    expect(oneDay.body.days).toHaveLength(1);
    const products = await call(fn.admin, `/order-sessions-admin/abandoned-products?from=${today}&to=${today}&limit=5`, {
      method: 'GET',
      token: SERVICE_KEY,
    });
    expect(products.status).toBe(200);
    expect(Array.isArray(products.body.products)).toBe(true);
    const outcomes = await call(fn.admin, `/order-sessions-admin/checkout-outcomes?to=${today}`, { method: 'GET', token: SERVICE_KEY });
    expect(outcomes.status).toBe(200);
    expect(outcomes.body).toHaveProperty('total');

    for (const q of ['from=2026-13-01', 'from=yesterday', `from=${today}&to=2020-01-01`, 'from=2020-01-01&to=2022-01-01', 'limit=0', 'other=1']) {
      const bad = await call(fn.admin, `/order-sessions-admin/${q.startsWith('limit') ? 'abandoned-products' : 'funnel'}?${q}`, {
        method: 'GET',
        token: SERVICE_KEY,
      });
      expect(bad.status, q).toBe(400);
    }
    expect((await call(fn.admin, '/order-sessions-admin/funnel', { method: 'GET', token: tokenFor(shopper) })).status).toBe(403);
    expect((await call(fn.admin, '/order-sessions-admin/funnel', { method: 'POST', token: SERVICE_KEY })).status).toBe(405);
  });
});

describe('token verification (jose)', () => {
  it('a wrong issuer, and algorithms such as constructor or toString: 401, not 500', async () => {
    const { shopper } = await shopperWithCart({ stock: 1, qty: 1 });
    const before = await counts();
    const tokens = [
      tokenFor(shopper, { iss: 'https://attacker.example/auth/v1' }),
      tokenFor(shopper, { iss: undefined }),
      signHs256(shopperClaims(shopper), JWT_SECRET, { alg: 'constructor' }),
      signHs256(shopperClaims(shopper), JWT_SECRET, { alg: 'toString' }),
      signHs256(shopperClaims(shopper), JWT_SECRET, { alg: '__proto__' }),
      signHs256(shopperClaims(shopper), JWT_SECRET, { alg: 'HS512' }),
    ];
    for (const token of tokens) {
      const res = await checkout(token);
      expect(res.status, token).toBe(401);
      expect(res.body.error).toBe('unauthenticated');
    }
    expect(await counts()).toEqual(before);
  });

  it('a token signed by a key rotated in after start-up is accepted without a restart', async () => {
    // The project's JWKS endpoint, serving the original key, then the new one too.
    const rotated = es256KeyPair('rotated-key');
    let keys = es.jwks.keys;
    let fetches = 0;
    const server = createServer((req, res) => {
      if (req.url !== '/auth/v1/.well-known/jwks.json') return res.writeHead(404).end();
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const projectUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const issuer = `${projectUrl}/auth/v1`;
    // SUPABASE_JWKS as provided at deploy time: the original key only.
    const f = await startFunction('create-preference', env({ SUPABASE_URL: projectUrl }));
    try {
      const { shopper } = await shopperWithCart({ stock: 2, qty: 1 });
      const original = signEs256(shopperClaims(shopper, { iss: issuer }), es.privateKey, KID);
      expect((await call(f, '/create-preference', { token: original, body: checkoutBody })).status).toBe(201);
      expect(fetches).toBe(0);
      keys = [...es.jwks.keys, ...rotated.jwks.keys];
      const { shopper: other } = await shopperWithCart({ stock: 2, qty: 1 });
      const fresh = signEs256(shopperClaims(other, { iss: issuer }), rotated.privateKey, 'rotated-key');
      const res = await call(f, '/create-preference', { token: fresh, body: checkoutBody });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(fetches).toBe(1);
      // A kid nobody published stays a 401.
      const stranger = es256KeyPair('unknown-key');
      const forged = signEs256(shopperClaims(other, { iss: issuer }), stranger.privateKey, 'unknown-key');
      expect((await call(f, '/create-preference', { token: forged, body: checkoutBody })).status).toBe(401);
    } finally {
      await f.stop();
      server.close();
    }
  });
});

describe('the connection: per-transaction role, direct or through a transaction pooler', () => {
  it('the role is dropped for each call only: the pooled server connections stay the login role', async () => {
    const { token } = await shopperWithCart({ stock: 3, qty: 1 });
    expect((await checkout(token)).status).toBe(201);
    // Whatever server connection the pooler (or the database) hands out next
    // carries no role left over from the function's calls.
    const probe = new pg.Pool({ connectionString: functionsDatabaseUrl(), max: 4 });
    try {
      const roles = await Promise.all(Array.from({ length: 8 }, () => probe.query<{ u: string }>('select current_user as u')));
      expect(new Set(roles.map((r) => r.rows[0]!.u))).toEqual(new Set(['postgres']));
    } finally {
      await probe.end();
    }
  });

  it('a login that cannot become service_role fails the call (500) and writes nothing, never runs with more rights', async () => {
    const role = `fn_login_${randomUUID().slice(0, 8).replace(/-/g, '')}`;
    // It may run the routines but cannot become service_role: with the role
    // switch failing silently, the checkout would go through as this login.
    await pool.query(`create role ${role} login password 'pw'`);
    await pool.query(`grant usage on schema checkout, private, public to ${role}`);
    await pool.query(`grant execute on all functions in schema checkout to ${role}`);
    const url = new URL(databaseUrl());
    url.username = role;
    url.password = 'pw';
    const f = await startFunction('create-preference', env({ CHECKOUT_DB_URL: url.toString() }));
    try {
      const { token } = await shopperWithCart({ stock: 1, qty: 1 });
      const before = await counts();
      const res = await call(f, '/create-preference', { token, body: checkoutBody });
      expect(res.status).toBe(500);
      expect(res.body.error).toBe('internal');
      expect(await counts()).toEqual(before);
    } finally {
      await f.stop();
      await pool.query(`drop owned by ${role}`);
      await pool.query(`drop role ${role}`);
    }
  });

  it('the admin function starts without the MercadoPago secrets (it never calls MercadoPago)', async () => {
    const { MP_ACCESS_TOKEN: _t, MP_WEBHOOK_SECRET: _s, ...rest } = env();
    const f = await startFunction('order-sessions-admin', rest);
    try {
      expect((await call(f, '/order-sessions-admin/stats', { method: 'GET', token: SERVICE_KEY })).status).toBe(200);
    } finally {
      await f.stop();
    }
  });

  it('a function that needs MercadoPago refuses to start without its secrets, naming them', async () => {
    const { MP_ACCESS_TOKEN: _t, ...rest } = env();
    await expect(startFunction('create-preference', rest, { readyTimeoutMs: 20_000 })).rejects.toThrow(/MP_ACCESS_TOKEN/);
  });
});

/** The function process's resident set size in KiB (Linux /proc). */
function rssKiB(f: RunningFunction): number {
  const status = readFileSync(`/proc/${f.process.pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]);
}

/**
 * POSTs up to `total` bytes chunked (no Content-Length), 64 KiB at a time,
 * honouring backpressure, and stops sending as soon as an answer arrives.
 * Resolves with the answer and how many bytes were sent.
 */
function streamChunked(url: string, token: string, total: number): Promise<{ status: number; body: string; sent: number }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    let answered = false;
    const req = httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` },
    }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, sent });
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('hostile traffic', () => {
  it('hoarding: one shopper holds at most the cap, renewals keep the first expiry, unpaid expiries make them wait (429), others still buy', async () => {
    const hot = await createVariant(pool, { sku: 'HOARD', stock: 12 });
    const hoarder = await createShopper(pool);
    const err = await addToCart(pool, hoarder, hot.id, 12).catch((e: { code?: string; detail?: string }) => e);
    expect((err as { code?: string }).code).toBe('CKH01');
    await addToCart(pool, hoarder, hot.id, 10);
    const token = tokenFor(hoarder);
    const first = await checkout(token);
    expect(first.status).toBe(201);
    const firstExpiry = (first.body.order_session as { expires_at: string }).expires_at;
    // Another shopper can still buy what is left.
    const buyer = await createShopper(pool);
    await addToCart(pool, buyer, hot.id, 2);
    expect((await checkout(tokenFor(buyer))).status).toBe(201);
    // Checking out again does not renew the hold.
    const again = await checkout(token);
    expect(again.status).toBe(201);
    expect(new Date((again.body.order_session as { expires_at: string }).expires_at).getTime()).toBe(new Date(firstExpiry).getTime());
    // Three holds lapse unpaid (time moves back for this shopper only)...
    const age = (minutes: number) =>
      pool.query(
        `with s as (update public.order_sessions set expires_at = expires_at - make_interval(mins => $2), created_at = created_at - make_interval(mins => $2),
                      closed_at = closed_at - make_interval(mins => $2) where session_id = $1 returning id)
         update checkout.stock_reservations r set expires_at = r.expires_at - make_interval(mins => $2) from s where r.order_session_id = s.id`,
        [hoarder, minutes],
      );
    await age(16);
    for (let i = 0; i < 2; i++) {
      expect((await checkout(token)).status).toBe(201);
      await age(16);
    }
    // ...so the fourth checkout waits: 429 with when to retry, nothing reserved.
    const before = await stockOf(hot.id);
    const refused = await checkout(token);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'reservation_cooldown', expired_unpaid: 3, max: 3, window_seconds: 3600, retry_after: expect.any(String) });
    expect(await stockOf(hot.id)).toEqual(before);
    // The top holders show who holds the most: the endpoint lists the top 10
    // of the whole (shared) test database, most units first; the buyer's own
    // entry is read from a longer list, as other files' shoppers may hold more.
    const stats = await call(fn.admin, '/order-sessions-admin/stats', { method: 'GET', token: SERVICE_KEY });
    const top = stats.body.top_holders as { session_id: string; units: number }[];
    expect(top.length).toBeGreaterThan(0);
    expect(top.map((h) => h.units)).toEqual([...top.map((h) => h.units)].sort((a, b) => b - a));
    const { rows } = await pool.query<{ r: { session_id: string; units: number }[] }>('select checkout.top_holders(100) as r');
    expect(rows[0]!.r.find((h) => h.session_id === buyer)).toMatchObject({ units: 2, unpaid_expiries_last_window: 0 });
  });

  it('a chunked 256 MiB body: 413 at the limit, and the function memory stays flat', async () => {
    const { token } = await shopperWithCart({ stock: 1, qty: 1 });
    const before = rssKiB(fn.create);
    for (let i = 0; i < 3; i++) {
      const r = await streamChunked(`${fn.create.url}/create-preference`, token, 256 * 1024 * 1024);
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'payload_too_large' });
    }
    const after = rssKiB(fn.create);
    // Bounded: far less than one body (256 MiB); reading one whole took ~800 MB.
    expect(after - before).toBeLessThan(32 * 1024);
    // The function still serves.
    expect((await checkout(token)).status).toBe(201);
  });
});

/** The audit, through the admin function as a store owner would run it. */
async function audit() {
  const res = await call(fn.admin, '/order-sessions-admin/audit', { method: 'GET', token: SERVICE_KEY });
  expect(res.status).toBe(200);
  return res.body as { ok: boolean; violations: { invariant: string; subject: string }[] };
}

async function runReconcile() {
  const res = await call(fn.reconcile, '/reconcile', { token: SERVICE_KEY, body: {} });
  expect(res.status).toBe(200);
  return res.body as { sessions_checked: number; outcomes: Record<string, number>; refunds_made: number; refunds_failed: number; preferences_expired: number };
}

/** Lets the reconciliation look at a session now (instead of after its back-off). */
async function dueNow(orderSessionId: string) {
  await pool.query('update public.order_sessions set next_check_at = now() where id = $1', [orderSessionId]);
}

describe('reconcile', () => {
  it('is for the service role only', async () => {
    const shopper = await createShopper(pool);
    expect((await call(fn.reconcile, '/reconcile', { token: tokenFor(shopper), body: {} })).status).toBe(403);
    expect((await call(fn.reconcile, '/reconcile', { body: {} })).status).toBe(401);
    expect((await call(fn.reconcile, '/reconcile', { method: 'GET', token: SERVICE_KEY })).status).toBe(405);
  });

  it('a payment whose notifications never arrive: found by external_reference and applied, one order', async () => {
    const { token } = await shopperWithCart({ stock: 3, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string };
    sandbox.holdNotifications();
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    await dueNow(session.id);
    const report = await runReconcile();
    expect(report.outcomes.order_created).toBeGreaterThanOrEqual(1);
    const orders = await ordersOf(session.id);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.payment_id).toBe(String(payment.id));
    // The notification arrives at last: nothing changes.
    sandbox.releaseNotifications();
    await sandbox.settle(30_000);
    expect(await ordersOf(session.id)).toHaveLength(1);
    expect(sandbox.deliveries({ paymentId: payment.id }).every((d) => d.statusCode === 200)).toBe(true);
    const { rows } = await pool.query('select checks from public.order_sessions where id = $1', [session.id]);
    expect(rows[0].checks).toBe(1);
  });

  it('a superseded checkout: its preference is expired at MercadoPago; paid anyway, it is refunded', async () => {
    const { token, variant, shopper } = await shopperWithCart({ stock: 3, qty: 1 });
    const first = await checkout(token);
    const second = await checkout(token);
    expect(second.status).toBe(201);
    const firstSession = first.body.order_session as { id: string; token: string };
    const report = await runReconcile();
    expect(report.preferences_expired).toBeGreaterThanOrEqual(1);
    expect(() => sandbox.pay(first.body.preference_id as string, { cardholderName: 'APRO' })).toThrow(/expired/);
    const pref = await preferenceOf(first.body.preference_id as string);
    expect(Date.parse(pref.expiration_date_to)).toBeLessThanOrEqual(Date.now());

    // A payment started before the expiry lands after the newer one was paid: refunded.
    sandbox.pay(second.body.preference_id as string, { cardholderName: 'APRO' });
    await waitFor('the payment to get there', async () => (await ordersOf((second.body.order_session as { id: string }).id)).length > 0);
    await pool.query('update public.order_sessions set preference_expired_at = null where id = $1', [firstSession.id]);
    await sandbox.settle(30_000);
    await pool.query(`update public.order_sessions set expires_at = now() + interval '10 minutes' where id = $1`, [firstSession.id]);
    await fetch(`${sandbox.url}/checkout/preferences/${first.body.preference_id as string}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ expiration_date_to: new Date(Date.now() + 600_000).toISOString() }),
    });
    const late = sandbox.pay(first.body.preference_id as string, { cardholderName: 'APRO' });
    const refund = await waitFor('the payment to get there', async () => {
      const { rows } = await pool.query('select reason, status from checkout.payment_refunds where payment_id = $1', [late.id]);
      return rows[0]?.status === 'refunded' ? rows[0] : null;
    });
    expect(refund).toEqual({ reason: 'superseded', status: 'refunded' });
    expect(sandbox.getPayment(late.id).status).toBe('refunded');
    const { rows } = await pool.query('select count(*)::int as n from public.orders where session_id = $1', [shopper]);
    expect(rows[0].n).toBe(1);
    expect((await stockOf(variant.id)).stock_on_hand).toBe(2);
    await sandbox.settle(30_000);
  });

  it('a refund MercadoPago fails to make is retried with back-off until it is confirmed', async () => {
    const { token, variant } = await shopperWithCart({ stock: 1, qty: 1 });
    const res = await checkout(token);
    const session = res.body.order_session as { id: string };
    // Paid after the reservation ran out and the last unit went elsewhere.
    await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where id = $1`, [session.id]);
    await pool.query(`update checkout.stock_reservations set expires_at = now() - interval '1 minute' where order_session_id = $1`, [session.id]);
    await pool.query('update public.variants set stock_on_hand = 0 where id = $1', [variant.id]);
    sandbox.holdNotifications();
    const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
    sandbox.failNextCalls({ mode: 'error', count: 100, pathPrefix: `/v1/payments/${payment.id}/refunds` });
    await dueNow(session.id);
    const first = await runReconcile();
    expect(first.outcomes).toEqual({});
    expect(first.refunds_failed).toBeGreaterThanOrEqual(1);
    const owed = await pool.query('select status, reason, attempts, last_error from checkout.payment_refunds where payment_id = $1', [payment.id]);
    expect(owed.rows[0]).toMatchObject({ status: 'owed', reason: 'out_of_stock', attempts: 1 });
    expect(owed.rows[0].last_error).toMatch(/unavailable/i);
    // Not again before the back-off...
    expect((await runReconcile()).refunds_failed).toBe(0);
    // ...then MercadoPago is back and the back-off has passed.
    sandbox.clearFaults();
    await pool.query('update checkout.payment_refunds set next_attempt_at = now() where payment_id = $1', [payment.id]);
    const second = await runReconcile();
    expect(second.refunds_made).toBeGreaterThanOrEqual(1);
    const made = await pool.query('select status, attempts, mp_refund_id from checkout.payment_refunds where payment_id = $1', [payment.id]);
    expect(made.rows[0]).toMatchObject({ status: 'refunded', attempts: 2 });
    expect(sandbox.getPayment(payment.id).status).toBe('refunded');
    sandbox.releaseNotifications();
    await sandbox.settle(30_000);
  });

  it('stats and the audit through the admin function: nothing broken after every test above', async () => {
    await sandbox.settle(30_000);
    const stats = await call(fn.admin, '/order-sessions-admin/stats', { method: 'GET', token: SERVICE_KEY });
    expect(stats.body).toHaveProperty('stuck');
    expect(stats.body).toHaveProperty('unmatched_payments');
    const result = await audit();
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
  });
});
