/**
 * Issue 20's answers of 500 to input a client controls, one test each,
 * against the functions under real Deno and the test database: each is now a
 * clear 4xx JSON error naming what is wrong, and nothing is written. (The
 * local API's three are in tests/stack/route-walk.test.ts, beside the walker
 * that looks for more.)
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type MailSink, startMailSink } from '../../dev/mail-sink/index.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { signLink } from '../../edge/_shared/links.ts';
import { addToCart, createShopper, createVariant, databaseUrl, newPool } from '../helpers/db.ts';
import { functionEnv, stopAll } from '../helpers/functions.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';
import { shopperClaims, signHs256 } from '../helpers/jwt.ts';

const JWT_SECRET = 'client-input-test-jwt-secret-with-32-characters';
const SERVICE_KEY = 'client-input-test-service-role-key';
const LINK_SECRET = 'client-input-test-link-secret-32-characters';

let pool: pg.Pool;
let sandbox: Sandbox;
let sink: MailSink;
let fn: Record<'admin' | 'sessions' | 'status' | 'emails', RunningFunction>;
let staffToken: string;

beforeAll(async () => {
  pool = newPool(5);
  sandbox = await startSandbox({ retrySchedule: [200] });
  sink = await startMailSink();
  const env = functionEnv({ sandbox, sink, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY, linkSecret: LINK_SECRET });
  const [admin, sessions, status, emails] = await Promise.all(
    ['admin', 'order-sessions-admin', 'payment-status', 'send-emails'].map((name) => startFunction(name, env)),
  );
  fn = { admin: admin!, sessions: sessions!, status: status!, emails: emails! };
  const email = `staff-${randomUUID().slice(0, 8)}@example.com`;
  const staff = await addStaff(databaseUrl(), email, { password: 'contraseña-segura' });
  staffToken = signHs256(shopperClaims(staff.id, { is_anonymous: false, email, app_metadata: { store_role: 'staff' } }), JWT_SECRET);
}, 180_000);

afterAll(() => stopAll({ fn, sandbox, sink, pool }));

// deno-lint-ignore no-explicit-any -- bodies are checked field by field
const call = (f: RunningFunction, path: string, init: CallInit = {}) => callFunction<Record<string, any>>(`${f.url}${path}`, { method: 'GET', ...init });
const admin = (path: string, init: CallInit = {}) => call(fn.admin, `/admin${path}`, { token: staffToken, ...init });
const cursor = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
const issuePaths = (body: { issues?: { path: string }[] }) => (body.issues ?? []).map((i) => i.path);

/** A shopper whose user was deleted while one of their access tokens is still unexpired. */
async function deletedShopper() {
  const id = await createShopper(pool);
  const token = signHs256(shopperClaims(id), JWT_SECRET);
  await pool.query('delete from auth.users where id = $1', [id]);
  return { id, token };
}

async function rowsFor(userId: string) {
  const { rows } = await pool.query<{ n: number }>(
    `select (select count(*) from public.carts where session_id = $1)::int + (select count(*) from checkout.return_lookups where session_id = $1)::int as n`,
    [userId],
  );
  return rows[0]!.n;
}

describe("a deleted user's still-valid token", () => {
  it('payment-status answers 401, and counts no lookup', async () => {
    const { id, token } = await deletedShopper();
    for (const query of ['payment_id=123456', 'external_reference=tok_none']) {
      const res = await call(fn.status, `/payment-status?${query}`, { token });
      expect({ query, status: res.status, error: res.body.error }).toEqual({ query, status: 401, error: 'unauthenticated' });
    }
    expect(await rowsFor(id)).toBe(0);
  });

  it('a valid restore link answers 401, and no cart is made for the user who is gone', async () => {
    const variant = await createVariant(pool, { sku: 'RESTORE', stock: 5 });
    const owner = await createShopper(pool);
    await addToCart(pool, owner, variant.id, 1);
    const { rows } = await pool.query<{ t: string }>(`select to_json(created_at) #>> '{}' as t from public.carts where session_id = $1`, [owner]);
    const link = await signLink(LINK_SECRET, 'restore', { session_id: owner, cart_created_at: rows[0]!.t, exp: Math.floor(Date.now() / 1000) + 600 });
    const { id, token } = await deletedShopper();
    const res = await call(fn.emails, '/send-emails/restore', { method: 'POST', token, body: { token: link } });
    expect([res.status, res.body.error]).toEqual([401, 'unauthenticated']);
    expect(await rowsFor(id)).toBe(0);
  });
});

describe('admin', () => {
  const id = '00000000-0000-4000-8000-000000000000';

  it('an order cursor dated 0000-01-01 is a 400 naming cursor.created_at', async () => {
    const res = await admin(`/orders?cursor=${cursor({ created_at: '0000-01-01T00:00:00Z', id })}`);
    expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', ['cursor.created_at']]);
  });

  it('an order cursor with offset +23:59 is a 400 naming cursor.created_at', async () => {
    const res = await admin(`/orders?cursor=${cursor({ created_at: '2026-12-01T10:00:00+23:59', id })}`);
    expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', ['cursor.created_at']]);
  });

  for (const [method, path, param] of [['GET', '/orders/%E0%A4%A', 'ref'], ['GET', '/orders/%', 'ref'], ['POST', '/refunds/%/retry', 'payment_id']]) {
    it(`${method} ${path}: the malformed path segment is a 400 naming ${param}`, async () => {
      const res = await admin(path!, { method });
      expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', [param]]);
    });
  }

  it('/dashboard?from=0000-01-01 is a 400 naming from', async () => {
    const res = await admin('/dashboard?from=0000-01-01&to=2026-12-01');
    expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', ['from']]);
  });

  it('/dashboard?to=0001-01-01, whose default from falls in year 0, is a 400 naming from', async () => {
    const res = await admin('/dashboard?to=0001-01-01');
    expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', ['from']]);
  });

  async function stockState(variantId: string) {
    const { rows } = await pool.query<{ s: string }>(
      `select (select stock_on_hand from public.variants where id = $1)::text || '/' ||
              (select count(*) from admin.stock_adjustments where variant_id = $1)::text as s`,
      [variantId],
    );
    return rows[0]!.s;
  }

  it('a stock adjustment past integer is a 400 naming delta, with the largest that fits; nothing written', async () => {
    const variant = await createVariant(pool, { sku: 'OVERFLOW', stock: 2_147_483_000 });
    const before = await stockState(variant.id);
    const res = await admin('/stock/adjust', { method: 'POST', body: { variant_id: variant.id, delta: 1000, reason: 'restock' } });
    expect([res.status, res.body.error, res.body.field, res.body.maximum_delta]).toEqual([400, 'invalid_input', 'delta', 647]);
    expect(await stockState(variant.id)).toBe(before);
  });

  it("an unpaired surrogate in the adjustment's reason is a 400 naming reason; nothing written", async () => {
    const variant = await createVariant(pool, { sku: 'SURROGATE', stock: 5 });
    const before = await stockState(variant.id);
    const res = await admin('/stock/adjust', { method: 'POST', raw: `{"variant_id":"${variant.id}","delta":1,"reason":"restock \\ud800"}` });
    expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', ['reason']]);
    expect(await stockState(variant.id)).toBe(before);
  });
});

describe('order-sessions-admin', () => {
  for (const report of ['/funnel', '/abandoned-products', '/checkout-outcomes']) {
    it(`${report}?from=0000-01-01 is a 400 naming from`, async () => {
      const res = await call(fn.sessions, `/order-sessions-admin${report}?from=0000-01-01&to=2026-12-01`, { token: SERVICE_KEY });
      expect([res.status, res.body.error, issuePaths(res.body)]).toEqual([400, 'validation_failed', ['from']]);
    });
  }
});
