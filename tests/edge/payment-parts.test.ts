/**
 * Two cards and installments end to end: create-preference, the sandbox's
 * payments and its payment and merchant_order notifications, the real
 * webhook and reconcile functions under Deno, the real database.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type Sandbox, signNotification, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { freePort } from '../../dev/pg/cluster.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { addToCart, asService, createShopper, createVariant, databaseUrl, newPool, payer, shipping } from '../helpers/db.ts';
import { checkoutOneUnit } from '../helpers/checkout.ts';
import { paymentFunctionEnv, stopAll } from '../helpers/functions.ts';
import { callFunction } from '../helpers/http.ts';
import { shopperClaims, signHs256 } from '../helpers/jwt.ts';

const JWT_SECRET = 'parts-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'parts-test-service-role-key';

let pool: pg.Pool;
let sandbox: Sandbox;
let fn: Record<'create' | 'webhook' | 'reconcile' | 'admin', RunningFunction>;
let staffToken: string;

beforeAll(async () => {
  pool = newPool(4);
  sandbox = await startSandbox({ retrySchedule: [300, 600, 1200, 2400], webhookTimeoutMs: 5000 });
  const webhookPort = await freePort();
  const env = (extra: Record<string, string> = {}) => paymentFunctionEnv({ sandbox, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY }, extra);
  const [create, webhook, reconcile, admin] = await Promise.all([
    startFunction('create-preference', env({ FUNCTIONS_URL: `http://127.0.0.1:${webhookPort}`, MP_MAX_INSTALLMENTS: '6' })),
    startFunction('mercadopago-webhook', env(), { port: webhookPort }),
    startFunction('reconcile', env({ RECONCILE_UNPAIRED_GRACE_MINUTES: '0', RECONCILE_BATCH: '500' })),
    startFunction('admin', env()),
  ]);
  fn = { create: create!, webhook: webhook!, reconcile: reconcile!, admin: admin! };
  const email = `parts-owner-${randomUUID().slice(0, 8)}@example.com`;
  const staff = await addStaff(databaseUrl(), email, { password: 'contraseña-segura' });
  staffToken = signHs256(shopperClaims(staff.id, { is_anonymous: false, email, app_metadata: { provider: 'email', store_role: 'staff' } }), JWT_SECRET);
}, 180_000);

afterAll(() => stopAll({ fn, sandbox, pool }));

/** A shopper's checkout of one unit at `price`, through create-preference. */
const checkout = (price: number) => checkoutOneUnit(pool, fn.create.url, JWT_SECRET, { sku: 'PARTS', price });

const sessionStatus = async (id: string) => (await pool.query('select status from public.order_sessions where id = $1', [id])).rows[0].status as string;
const ordersOf = async (id: string) => (await pool.query('select * from public.orders where order_session_id = $1', [id])).rows;
const violationsFor = async (ids: number[]) =>
  ((await pool.query('select checkout.audit() as a')).rows[0].a as { subject: string }[]).filter((v) => ids.map(String).includes(v.subject));

describe('two cards', () => {
  it('two approved parts, one in installments with interest: one order, the financing cost and fees apart, no mismatch', async () => {
    const { variant, preferenceId, session } = await checkout(5000);
    const pref = await fetch(`${sandbox.url}/checkout/preferences/${preferenceId}`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } })
      .then((r) => r.json() as Promise<{ payment_methods: { installments?: number } }>);
    expect(pref.payment_methods.installments).toBe(6);

    const first = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 3000, installments: 6 });
    const second = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 2000 });
    await sandbox.settle(30_000);

    const [order] = await ordersOf(session.id);
    expect(order).toBeDefined();
    expect(Number(order.total)).toBe(5000);
    const a = sandbox.getPayment(first.id);
    const b = sandbox.getPayment(second.id);
    expect(a.transaction_details.total_paid_amount).toBeGreaterThan(3000);
    expect(Number(order.financing_cost)).toBeCloseTo(a.transaction_details.total_paid_amount - 3000, 2);
    const parts =
      (await pool.query('select payment_id, amount, installments, fees from checkout.order_payments where order_id = $1 order by amount desc', [order.id]))
        .rows;
    const fee = (p: typeof a) =>
      p.fee_details.filter((f: { fee_payer: string }) => f.fee_payer === 'collector').reduce((s: number, f: { amount: number }) => s + f.amount, 0);
    expect(parts.map((p) => [Number(p.payment_id), Number(p.amount), p.installments, Number(p.fees)])).toEqual([
      [first.id, 3000, 6, Number(fee(a).toFixed(2))],
      [second.id, 2000, 1, Number(fee(b).toFixed(2))],
    ]);
    expect(await sessionStatus(session.id)).toBe('paid');
    expect((await pool.query('select stock_on_hand from public.variants where id = $1', [variant.id])).rows[0].stock_on_hand).toBe(4);
    expect((await pool.query('select count(*)::int as n from checkout.payment_refunds where payment_id = any($1)', [[first.id, second.id]])).rows[0].n).toBe(0);
    expect(await violationsFor([first.id, second.id])).toEqual([]);
  });

  it('one card approved, the other rejected: no order; when the hold ends reconcile refunds the approved part; a stale approved changes nothing', async () => {
    const { session, preferenceId } = await checkout(4000);
    const approved = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 1500 });
    const rejected = sandbox.pay(preferenceId, { cardholderName: 'OTHE', amount: 2500 });
    await sandbox.settle(30_000);
    expect(rejected.status).toBe('rejected');
    expect(await ordersOf(session.id)).toEqual([]);
    expect(await sessionStatus(session.id)).toBe('active');

    // The hold ends (the grace is 0 in this suite).
    await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where id = $1`, [session.id]);
    await pool.query(`update checkout.stock_reservations set expires_at = now() - interval '1 minute' where order_session_id = $1`, [session.id]);
    // The suites share the database: another suite's pass may close this
    // session first, or this pass may skip it while a late request holds it.
    for (let i = 0; i < 10 && (await sessionStatus(session.id)) === 'active'; i++) {
      expect((await callFunction(`${fn.reconcile.url}/reconcile`, { method: 'POST', token: SERVICE_KEY })).status).toBe(200);
    }
    expect(await sessionStatus(session.id)).not.toBe('active');
    // Other suites' refunds owed on this database may fill a run's batch: run until this one is made.
    for (let i = 0; i < 10 && sandbox.getPayment(approved.id).status !== 'refunded'; i++) {
      await pool.query(`update checkout.payment_refunds set next_attempt_at = now() where payment_id = $1 and status = 'owed'`, [approved.id]);
      await callFunction(`${fn.reconcile.url}/reconcile`, { method: 'POST', token: SERVICE_KEY });
    }
    await sandbox.settle(30_000);

    expect(sandbox.getPayment(approved.id).status).toBe('refunded');
    const { rows } = await pool.query('select reason, status, amount from checkout.payment_refunds where payment_id = $1', [approved.id]);
    expect(rows).toEqual([{ reason: 'unpaired_part', status: 'refunded', amount: '1500.00' }]);
    expect(await sessionStatus(session.id)).toBe('refunded');

    // The approval again, as it was before the refund: nothing changes.
    const stale = { ...sandbox.getPayment(approved.id), status: 'approved', status_detail: 'accredited' };
    const client = await pool.connect();
    try {
      await client.query('set role service_role');
      const r = (await client.query('select checkout.apply_payment($1) as r', [
        { id: stale.id, status: 'approved', transaction_amount: stale.transaction_amount, currency_id: stale.currency_id, external_reference: session.token },
      ])).rows[0].r;
      expect(r).toMatchObject({ outcome: 'refund_owed', refund: { reason: 'unpaired_part', status: 'refunded' } });
    } finally {
      await client.query('reset role');
      client.release();
    }
    expect(await ordersOf(session.id)).toEqual([]);
    expect(await sessionStatus(session.id)).toBe('refunded');
    expect(await violationsFor([approved.id, rejected.id])).toEqual([]);
  });

  it('the merchant_order topic alone is enough: each listed payment applied, once, whichever comes first', async () => {
    // A session whose preference has no notification_url: the sandbox notifies
    // nothing, and the one notification is the merchant order's, sent here.
    const variant = await createVariant(pool, { sku: 'PARTS-MO', stock: 5, price: 3000 });
    const shopper = await createShopper(pool);
    await addToCart(pool, shopper, variant.id, 1);
    const session = await asService(
      pool,
      async (c) =>
        (await c.query('select checkout.begin_checkout($1, $2, $3, null) as s', [shopper, payer, shipping])).rows[0].s as { id: string; token: string },
    );
    const pref = await fetch(`${sandbox.url}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ title: 'x', quantity: 1, unit_price: 3000, currency_id: 'ARS' }], external_reference: session.token }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const a = sandbox.pay(pref.id, { cardholderName: 'APRO', amount: 1000 });
    const b = sandbox.pay(pref.id, { cardholderName: 'APRO', amount: 2000 });
    const merchantOrderId = String(sandbox.getPayment(a.id).order.id);
    expect(String(sandbox.getPayment(b.id).order.id)).toBe(merchantOrderId);

    const notify = async (requestId: string) => {
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(`${fn.webhook.url}/mercadopago-webhook?id=${merchantOrderId}&topic=merchant_order`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          'x-signature': signNotification(sandbox.webhookSecret, merchantOrderId, requestId, ts),
        },
        body: JSON.stringify({ resource: `${sandbox.url}/merchant_orders/${merchantOrderId}`, topic: 'merchant_order' }),
      });
      return { status: res.status, body: await res.json() };
    };
    expect(await notify('mo-1')).toEqual({ status: 200, body: { received: true, outcomes: ['partly_paid', 'order_created'] } });
    expect(await notify('mo-2')).toEqual({ status: 200, body: { received: true, outcomes: ['already_paid', 'already_paid'] } });
    const [order] = await ordersOf(session.id);
    expect(Number(order.payment_id)).toBe(b.id);
    expect((await pool.query('select count(*)::int as n from checkout.order_payments where order_id = $1', [order.id])).rows[0].n).toBe(2);
    expect(await violationsFor([a.id, b.id])).toEqual([]);
  });

  it('a partial refund from the dashboard spreads over both cards at MercadoPago and says which got how much', async () => {
    const { session, preferenceId } = await checkout(6000);
    const a = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 4000 });
    const b = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 2000 });
    await sandbox.settle(30_000);
    const [order] = await ordersOf(session.id);
    const refund = (body: unknown) => callFunction(`${fn.admin.url}/admin/orders/${order.order_number}/refunds`, { token: staffToken, body });

    expect((await refund({ amount: 0 })).status).toBe(400);
    expect((await refund({ amount: 6000.01 })).status).toBe(409);
    expect((await refund({ amount: 1, lines: [] })).status).toBe(400);
    expect(
      (await callFunction(`${fn.admin.url}/admin/orders/${order.order_number}/refunds`, {
        token: signHs256(shopperClaims(randomUUID()), JWT_SECRET),
        body: { amount: 1 },
      })).status,
    )
      .toBe(403);
    expect((await pool.query('select count(*)::int as n from checkout.order_refunds where order_id = $1', [order.id])).rows[0].n).toBe(0);

    const first = await refund({ amount: 4500 });
    expect(first.status).toBe(200);
    expect((first.body as { refunds: unknown[] }).refunds).toEqual([
      expect.objectContaining({ payment_id: String(a.id), amount: 4000, status: 'refunded', order_status: 'partially_refunded' }),
      expect.objectContaining({ payment_id: String(b.id), amount: 500, status: 'refunded', order_status: 'partially_refunded' }),
    ]);
    expect(sandbox.getPayment(a.id).status).toBe('refunded');
    expect(sandbox.getPayment(b.id)).toMatchObject({ status: 'approved', transaction_amount_refunded: 500 });
    await sandbox.settle(30_000);
    expect((await ordersOf(session.id))[0].status).toBe('partially_refunded');

    const rest = await refund({ lines: [{ line_no: 1, quantity: 1 }] });
    expect(rest.status).toBe(409);
    // Its own notification is applied while the refund is recorded: the two
    // lock the session, then the order (they once deadlocked: a 500).
    const last = await refund({ amount: 1500 });
    expect(last.status, JSON.stringify(last.body)).toBe(200);
    expect((last.body as { refunds: { order_status: string }[] }).refunds.map((r) => r.order_status)).toEqual(['refunded']);
    await sandbox.settle(30_000);
    expect(sandbox.getPayment(b.id).status).toBe('refunded');
    expect((await ordersOf(session.id))[0].status).toBe('refunded');
    expect(await violationsFor([a.id, b.id])).toEqual([]);
  });

  it('a dashboard refund MercadoPago cannot make now stays owed with its error, then the reconcile function makes it once', async () => {
    const { session, preferenceId } = await checkout(5000);
    const a = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 3000 });
    const b = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 2000 });
    await sandbox.settle(30_000);
    const [order] = await ordersOf(session.id);
    const refund = (body: unknown) => callFunction(`${fn.admin.url}/admin/orders/${order.order_number}/refunds`, { token: staffToken, body });

    sandbox.failNextCalls({ mode: 'error', count: 100, pathPrefix: `/v1/payments/${a.id}/refunds` });
    const asked = await refund({ amount: 1000 });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    expect((asked.body as { refunds: unknown[] }).refunds).toEqual([
      expect.objectContaining({ payment_id: String(a.id), amount: 1000, status: 'owed', last_error: expect.any(String) }),
    ]);
    expect(sandbox.getPayment(a.id)).toMatchObject({ status: 'approved', transaction_amount_refunded: 0 });
    // Still owed: it counts against what is left (5000 - 1000).
    expect((await refund({ amount: 4000.01 })).status).toBe(409);

    const reconcile = async () => expect((await callFunction(`${fn.reconcile.url}/reconcile`, { method: 'POST', token: SERVICE_KEY })).status).toBe(200);
    const owed = async () => (await pool.query('select status, attempts from checkout.order_refunds where order_id = $1', [order.id])).rows;
    // Not before its next attempt is due (the dashboard made the first).
    await reconcile();
    expect(await owed()).toEqual([{ status: 'owed', attempts: 0 }]);
    sandbox.clearFaults();
    await pool.query(`update checkout.order_refunds set next_attempt_at = now() where order_id = $1`, [order.id]);
    await reconcile();
    await sandbox.settle(30_000);
    expect(sandbox.getPayment(a.id)).toMatchObject({ status: 'approved', transaction_amount_refunded: 1000 });
    const { rows } = await pool.query('select status, attempts, last_error, mp_refund_id from checkout.order_refunds where order_id = $1', [order.id]);
    expect(rows).toEqual([{ status: 'refunded', attempts: 1, last_error: null, mp_refund_id: expect.any(String) }]);
    expect((await ordersOf(session.id))[0].status).toBe('partially_refunded');
    // Never twice.
    await pool.query(`update checkout.order_refunds set next_attempt_at = now() where order_id = $1`, [order.id]);
    await reconcile();
    expect(await owed()).toEqual([{ status: 'refunded', attempts: 1 }]);
    expect(sandbox.getPayment(a.id)).toMatchObject({ transaction_amount_refunded: 1000 });
    expect(await violationsFor([a.id, b.id])).toEqual([]);
  });
});
