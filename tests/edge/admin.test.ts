/**
 * The `admin` Edge Function under real Deno against the test database and the
 * MercadoPago sandbox: staff get every screen's data; shoppers, anonymous
 * users, the API keys and forged claims get 403 everywhere; bad input gets a
 * clear 4xx and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { addToCart, createShopper, createVariant, databaseUrl, functionsDatabaseUrl, newPool, payer, shipping } from '../helpers/db.ts';
import { shopperClaims, signHs256, TEST_SUPABASE_URL } from '../helpers/jwt.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';

const JWT_SECRET = 'admin-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'admin-test-service-role-key';

let pool: pg.Pool;
let sandbox: Sandbox;
let fn: RunningFunction;
let staffToken: string;
let staffId: string;
const now = () => Math.floor(Date.now() / 1000);

function userToken(sub: string, extra: Record<string, unknown>): string {
  return signHs256(shopperClaims(sub, { is_anonymous: false, ...extra }), JWT_SECRET);
}

beforeAll(async () => {
  pool = newPool(5);
  sandbox = await startSandbox({ retrySchedule: [200], webhookTimeoutMs: 2000 });
  fn = await startFunction('admin', {
    SUPABASE_URL: TEST_SUPABASE_URL,
    // Direct, or PgBouncer in transaction mode when the suite runs via the pooler.
    CHECKOUT_DB_URL: functionsDatabaseUrl(),
    SUPABASE_DB_URL: databaseUrl(),
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
    JWT_SECRET: JWT_SECRET,
    MP_ACCESS_TOKEN: sandbox.accessToken,
    MP_WEBHOOK_SECRET: sandbox.webhookSecret,
    MP_API_BASE_URL: sandbox.url,
  });
  const email = `owner-${randomUUID().slice(0, 8)}@example.com`;
  const staff = await addStaff(databaseUrl(), email, { password: 'contraseña-segura' });
  staffId = staff.id;
  staffToken = userToken(staffId, { email, app_metadata: { provider: 'email', store_role: 'staff' } });
}, 180_000);

afterAll(async () => {
  await fn?.stop();
  await sandbox?.close();
  await pool?.end();
});

const call = (path: string, init: CallInit = {}) =>
  // deno-lint-ignore no-explicit-any -- response bodies are checked field by field with expect
  callFunction<Record<string, any>>(`${fn.url}/admin${path}`, { method: 'GET', ...init }).then(({ status, body }) => ({ status, body }));

/** Every endpoint, as [method, path, body]. */
const ENDPOINTS: [string, string, unknown?][] = [
  ['GET', '/me'],
  ['GET', '/dashboard'],
  ['GET', '/orders'],
  ['GET', '/orders/ORD-001001'],
  ['GET', '/attention'],
  ['GET', '/audit'],
  ['POST', '/refunds/123/retry'],
  ['GET', '/stock'],
  ['POST', '/stock/adjust', { variant_id: randomUUID(), delta: 1, reason: 'restock' }],
  ['GET', '/housekeeping'],
  ['POST', '/housekeeping/cleanup'],
];

async function snapshot() {
  const { rows } = await pool.query<{ s: string }>(
    `select (select coalesce(sum(stock_on_hand), 0) from public.variants)::text || '/' ||
            (select count(*) from admin.stock_adjustments)::text || '/' ||
            (select count(*) from checkout.payment_refunds where status = 'owed')::text as s`,
  );
  return rows[0]!.s;
}

describe('who may call it', () => {
  it('refuses shoppers, anonymous users, the API keys and forged claims with 403 on every endpoint, writing nothing', async () => {
    const shopper = await createShopper(pool);
    const client = randomUUID();
    await pool.query(`insert into auth.users (id, email, is_anonymous) values ($1, $2, false)`, [client, `client-${client.slice(0, 8)}@example.com`]);
    const callers: Record<string, string> = {
      'anonymous shopper': signHs256(shopperClaims(shopper), JWT_SECRET),
      'anonymous shopper claiming staff': signHs256(shopperClaims(shopper, { app_metadata: { store_role: 'staff' } }), JWT_SECRET),
      'permanent non-staff user': userToken(client, { app_metadata: { provider: 'email' } }),
      'anon key': signHs256({ iss: 'supabase-demo', role: 'anon', exp: now() + 3600 }, JWT_SECRET),
      'service_role key': signHs256({ iss: 'supabase-demo', role: 'service_role', exp: now() + 3600 }, JWT_SECRET),
    };
    const before = await snapshot();
    for (const [who, token] of Object.entries(callers)) {
      for (const [method, path, body] of ENDPOINTS) {
        const res = await call(path, { method, token, body });
        expect({ who, path, status: res.status, error: res.body.error }).toEqual({ who, path, status: 403, error: 'forbidden' });
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses claims that say staff for a user the database does not (403 from the database check)', async () => {
    const client = randomUUID();
    await pool.query(`insert into auth.users (id, email, is_anonymous) values ($1, $2, false)`, [client, `forger-${client.slice(0, 8)}@example.com`]);
    const forged = userToken(client, { app_metadata: { store_role: 'staff' } });
    for (const [method, path, body] of ENDPOINTS) {
      const res = await call(path, { method, token: forged, body });
      expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 403, error: 'forbidden' });
    }
  });

  it('refuses a member of staff removed since the token was issued, /me included, with 403 (401 once the user is deleted)', async () => {
    const email = `removed-${randomUUID().slice(0, 8)}@example.com`;
    const removed = await addStaff(databaseUrl(), email, { password: 'contraseña-segura' });
    const token = userToken(removed.id, { email, app_metadata: { provider: 'email', store_role: 'staff' } });
    expect((await call('/me', { token })).status).toBe(200);
    await addStaff(databaseUrl(), email, { remove: true });
    for (const [method, path, body] of ENDPOINTS) {
      const res = await call(path, { method, token, body });
      expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 403, error: 'forbidden' });
    }
    // A user who no longer exists is unauthenticated on every function (checkout.require_user, CKA03).
    await pool.query('delete from auth.users where id = $1', [removed.id]);
    expect(await call('/me', { token })).toMatchObject({ status: 401, body: { error: 'unauthenticated' } });
  });

  it('asks for a token (401) when there is none or it is not valid', async () => {
    expect((await call('/dashboard')).status).toBe(401);
    expect((await call('/dashboard', { token: signHs256(shopperClaims(staffId), 'another-secret-with-at-least-32-characters!') })).status).toBe(401);
  });
});

describe('staff', () => {
  it('reads every screen', async () => {
    const me = await call('/me', { token: staffToken });
    expect(me).toEqual({ status: 200, body: { id: staffId, email: expect.stringMatching(/^owner-/), role: 'staff' } });
    const dash = await call('/dashboard?tz=UTC', { token: staffToken });
    expect(dash.status).toBe(200);
    expect(dash.body.per_day).toHaveLength(30);
    expect(Object.keys(dash.body.sessions_by_outcome).sort()).toEqual(['active', 'cancelled', 'expired', 'paid', 'refund_owed', 'refunded']);
    expect(dash.body.today).toMatchObject({ orders: expect.any(Number), revenue: expect.any(Object) });
    const attention = await call('/attention', { token: staffToken });
    expect(attention.status).toBe(200);
    expect(attention.body).toMatchObject({ refunds_owed: expect.any(Array), late_payments: expect.any(Array), amount_mismatches: expect.any(Array) });
    const audit = await call('/audit', { token: staffToken });
    expect(audit).toMatchObject({ status: 200, body: { ok: expect.any(Boolean), violations: expect.any(Array) } });
    const stock = await call('/stock', { token: staffToken });
    expect(stock.status).toBe(200);
    expect(stock.body.variants.length).toBeGreaterThan(0);
    const hk = await call('/housekeeping', { token: staffToken });
    expect(hk.body.jobs.map((j: { name: string }) => j.name)).toContain('checkout-expire-sessions');
    const cleanup = await call('/housekeeping/cleanup', { method: 'POST', token: staffToken });
    expect(cleanup).toEqual({
      status: 200,
      body: { expired_sessions: expect.any(Number), purged_carts: expect.any(Number), trimmed_sessions: expect.any(Number) },
    });
  });

  it('pages through orders with the cursor and opens one, with its history', async () => {
    // Three paid orders of one payer.
    const email = `buyer-${randomUUID().slice(0, 8)}@example.com`;
    for (let i = 0; i < 3; i++) {
      const variant = await createVariant(pool, { sku: 'ADM', stock: 5, price: 1200 });
      const shopper = await createShopper(pool);
      await addToCart(pool, shopper, variant.id, 1);
      const client = await pool.connect();
      try {
        await client.query('set role service_role');
        const s = (await client.query(`select checkout.begin_checkout($1, $2, $3, null) as s`, [shopper, { ...payer, email }, shipping])).rows[0].s;
        await client.query('select checkout.apply_payment($1)', [{
          id: 880000000 + Math.floor(Math.random() * 1e8),
          status: 'approved',
          status_detail: 'accredited',
          transaction_amount: 1200,
          currency_id: 'ARS',
          external_reference: s.token,
        }]);
      } finally {
        await client.query('reset role');
        client.release();
      }
    }
    const first = await call(`/orders?q=${encodeURIComponent(email.toUpperCase())}&limit=2`, { token: staffToken });
    expect(first.status).toBe(200);
    expect(first.body.orders).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await call(`/orders?q=${encodeURIComponent(email)}&limit=2&cursor=${first.body.next_cursor}`, { token: staffToken });
    expect(second.body.orders).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    const numbers = [...first.body.orders, ...second.body.orders].map((o: { order_number: string }) => o.order_number);
    expect(new Set(numbers).size).toBe(3);

    const detail = await call(`/orders/${numbers[0]}`, { token: staffToken });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ order_number: numbers[0], payer: { email }, shipping_address: { city: 'CABA' } });
    expect(detail.body.payments.map((p: { status: string }) => p.status)).toEqual(['approved']);
    expect(detail.body.events.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['created', 'committed']));
    const byId = await call(`/orders/${detail.body.id}`, { token: staffToken });
    expect(byId.body.order_number).toBe(numbers[0]);
  });

  it('adjusts stock with a reason, never below what checkouts in progress hold', async () => {
    const variant = await createVariant(pool, { sku: 'ADJ', stock: 10 });
    const shopper = await createShopper(pool);
    await addToCart(pool, shopper, variant.id, 4);
    const client = await pool.connect();
    try {
      await client.query('set role service_role');
      await client.query(`select checkout.begin_checkout($1, $2, $3, null)`, [shopper, payer, shipping]);
    } finally {
      await client.query('reset role');
      client.release();
    }
    const row = async () =>
      (await pool.query(
        'select stock_on_hand, (select count(*)::int from admin.stock_adjustments where variant_id = $1) as n from public.variants where id = $1',
        [
          variant.id,
        ],
      )).rows[0];
    const adjust = (body: unknown) => call('/stock/adjust', { method: 'POST', token: staffToken, body });

    const below = await adjust({ variant_id: variant.id, delta: -7, reason: 'inventario' });
    expect(below.status).toBe(409);
    expect(below.body).toMatchObject({ error: 'stock_reserved', reserved: 4, reserving_sessions: 1, minimum_delta: -6 });
    const negative = await adjust({ variant_id: variant.id, delta: -11, reason: 'inventario' });
    expect(negative.status).toBe(400);
    expect(negative.body).toMatchObject({ error: 'invalid_input', field: 'delta' });
    for (
      const bad of [
        { variant_id: variant.id, delta: '-2', reason: 'inventario' },
        { variant_id: variant.id, delta: 'abc', reason: 'inventario' },
        { variant_id: variant.id, delta: 1.5, reason: 'inventario' },
        { variant_id: variant.id, delta: 0, reason: 'inventario' },
        { variant_id: variant.id, delta: 2 },
        { variant_id: 'not-a-uuid', delta: 2, reason: 'inventario' },
        { variant_id: variant.id, delta: 2, reason: 'inventario', extra: true },
      ]
    ) {
      const res = await adjust(bad);
      expect({ bad, status: res.status, error: res.body.error }).toEqual({ bad, status: 400, error: 'validation_failed' });
    }
    const malformed = await call('/stock/adjust', { method: 'POST', token: staffToken, raw: '{"delta": ' });
    expect(malformed).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    const unknown = await adjust({ variant_id: randomUUID(), delta: 2, reason: 'inventario' });
    expect(unknown.status).toBe(404);
    expect(await row()).toEqual({ stock_on_hand: 10, n: 0 });

    const ok = await adjust({ variant_id: variant.id, delta: -6, reason: 'Rotura en depósito' });
    expect(ok).toMatchObject({ status: 200, body: { on_hand_before: 10, on_hand_after: 4, reserved: 4, available: 0 } });
    expect(await row()).toEqual({ stock_on_hand: 4, n: 1 });
  });

  it('answers bad queries with a clear 400 and unknown orders with 404', async () => {
    const bad = async (path: string) => (await call(path, { token: staffToken })).status;
    expect(await bad('/orders/1%3B%20drop%20table%20orders')).toBe(400);
    expect(await bad(`/orders/${randomUUID()}`)).toBe(404);
    expect(await bad('/orders/ORD-999999999')).toBe(404);
    expect(await bad('/orders?cursor=garbage')).toBe(400);
    expect(await bad('/orders?limit=0')).toBe(400);
    expect(await bad('/orders?limit=abc')).toBe(400);
    expect(await bad('/dashboard?tz=Mars/Olympus')).toBe(400);
    expect(await bad('/dashboard?from=2026-13-45&to=2026-01-01')).toBe(400);
    expect(await bad('/dashboard?from=2026-02-01&to=2026-01-01')).toBe(400);
    expect(await bad('/dashboard?from=yesterday')).toBe(400);
    expect(await bad('/refunds/12ab/retry')).toBe(405);
    expect((await call('/refunds/12ab/retry', { method: 'POST', token: staffToken })).status).toBe(400);
    expect((await call('/refunds/123/retry', { method: 'POST', token: staffToken })).status).toBe(404);
    expect(await bad('/nothing-here')).toBe(404);
  });

  it('retries an owed refund through MercadoPago, once', async () => {
    // A payment over the total: no order, a refund owed (as if the first refund attempt had failed).
    const variant = await createVariant(pool, { sku: 'RFD', stock: 5, price: 1500 });
    const shopper = await createShopper(pool);
    await addToCart(pool, shopper, variant.id, 1);
    const client = await pool.connect();
    let paymentId: number;
    try {
      await client.query('set role service_role');
      const s = (await client.query(`select checkout.begin_checkout($1, $2, $3, null) as s`, [shopper, payer, shipping])).rows[0].s;
      const pref = await fetch(`${sandbox.url}/checkout/preferences`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ title: 'x', quantity: 1, unit_price: 1600, currency_id: 'ARS' }], external_reference: s.token }),
      }).then((r) => r.json() as Promise<{ id: string }>);
      const payment = sandbox.pay(pref.id, { cardholderName: 'APRO' });
      paymentId = payment.id;
      const applied = (await client.query('select checkout.apply_payment($1) as r', [payment])).rows[0].r;
      expect(applied.outcome).toBe('amount_mismatch');
    } finally {
      await client.query('reset role');
      client.release();
    }
    const shopperToken = signHs256(shopperClaims(shopper), JWT_SECRET);
    expect((await call(`/refunds/${paymentId}/retry`, { method: 'POST', token: shopperToken })).status).toBe(403);
    expect(sandbox.getPayment(paymentId).status).toBe('approved');

    const retried = await call(`/refunds/${paymentId}/retry`, { method: 'POST', token: staffToken });
    expect(retried).toMatchObject({ status: 200, body: { outcome: 'refund_recorded', refund: { status: 'refunded', mp_refund_id: expect.any(String) } } });
    expect(sandbox.getPayment(paymentId).status).toBe('refunded');
    const again = await call(`/refunds/${paymentId}/retry`, { method: 'POST', token: staffToken });
    expect(again).toMatchObject({ status: 409, body: { error: 'conflict' } });
  });
});
