/**
 * The merge-cart Edge Function under real Deno against the real database:
 * both tokens verified, forged, expired and mismatched ones refused with
 * nothing written; the anonymous token must belong to a live Auth session
 * (signed out: 401), and a deleted account's token is a 401, not a 500.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { addToCart, createShopper, createVariant, databaseUrl, functionsDatabaseUrl, newPool, signIn } from '../helpers/db.ts';
import { shopperClaims, signHs256, TEST_SUPABASE_URL } from '../helpers/jwt.ts';

const JWT_SECRET = 'merge-test-jwt-secret-with-at-least-32-characters';

let pool: pg.Pool;
let fn: RunningFunction;

beforeAll(async () => {
  pool = newPool(4);
  // No MercadoPago secrets: merge-cart never calls MercadoPago.
  fn = await startFunction('merge-cart', {
    SUPABASE_URL: TEST_SUPABASE_URL,
    CHECKOUT_DB_URL: functionsDatabaseUrl(),
    SUPABASE_DB_URL: databaseUrl(),
    SUPABASE_SERVICE_ROLE_KEY: 'merge-test-service-role-key',
    JWT_SECRET,
  });
}, 120_000);

afterAll(async () => {
  await fn?.stop();
  await pool?.end();
});

async function createAccount(): Promise<string> {
  const id = randomUUID();
  await pool.query('insert into auth.users (id, is_anonymous, email) values ($1, false, $2)', [id, `${id}@example.com`]);
  return id;
}

/** The Auth session each anonymous shopper of these tests is signed in with (its tokens' session_id claim). */
const sessions = new Map<string, string>();

async function signedInShopper(): Promise<string> {
  const id = await createShopper(pool);
  sessions.set(id, await signIn(pool, id));
  return id;
}

const anonToken = (id: string, overrides: Record<string, unknown> = {}) =>
  signHs256(shopperClaims(id, { session_id: sessions.get(id) ?? randomUUID(), ...overrides }), JWT_SECRET);
const accountToken = (id: string, overrides: Record<string, unknown> = {}) => signHs256(shopperClaims(id, { is_anonymous: false, ...overrides }), JWT_SECRET);

async function merge(token: string | undefined, body: unknown) {
  const res = await fetch(`${fn.url}/merge-cart`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function setup() {
  const v = await createVariant(pool, { sku: 'FN-MERGE', stock: 20 });
  const anon = await signedInShopper();
  const account = await createAccount();
  await addToCart(pool, anon, v.id, 2);
  return { v, anon, account };
}

async function untouched(anon: string, account: string) {
  const merges = await pool.query('select 1 from checkout.cart_merges where anonymous_id = $1', [anon]);
  const anonLines = await pool.query('select quantity from public.cart_items where session_id = $1', [anon]);
  const accountLines = await pool.query('select 1 from public.cart_items where session_id = $1', [account]);
  expect(merges.rowCount).toBe(0);
  expect(anonLines.rows).toEqual([{ quantity: 2 }]);
  expect(accountLines.rowCount).toBe(0);
}

describe('merge-cart', () => {
  it('merges with both tokens and returns the report; a retry returns it again', async () => {
    const { v, anon, account } = await setup();
    const first = await merge(accountToken(account), { anonymous_token: anonToken(anon) });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ strategy: 'merge', changes: [], lines_moved: 1, already_merged: false, anonymous_id: anon, account_id: account });
    const lines = await pool.query('select variant_id, quantity from public.cart_items where session_id = $1', [account]);
    expect(lines.rows).toEqual([{ variant_id: v.id, quantity: 2 }]);
    const again = await merge(accountToken(account), { anonymous_token: anonToken(anon) });
    expect(again.status).toBe(200);
    expect(again.body.already_merged).toBe(true);
    expect(fn.output()).toContain('"event":"cart_merged"');
  });

  it('refuses a forged or expired anonymous token (401), nothing written', async () => {
    const { anon, account } = await setup();
    const forged = await merge(accountToken(account), { anonymous_token: signHs256(shopperClaims(anon), 'another-secret-with-at-least-32-characters!!') });
    expect(forged).toMatchObject({ status: 401, body: { error: 'invalid_anonymous_token' } });
    const now = Math.floor(Date.now() / 1000);
    const expired = await merge(accountToken(account), { anonymous_token: anonToken(anon, { iat: now - 7200, exp: now - 3600 }) });
    expect(expired).toMatchObject({ status: 401, body: { error: 'invalid_anonymous_token' } });
    const unsigned = await merge(accountToken(account), { anonymous_token: anonToken(anon).split('.').slice(0, 2).join('.') + '.' });
    expect(unsigned.status).toBe(401);
    await untouched(anon, account);
  });

  it('refuses a forged or expired account token and a missing one (401), nothing written', async () => {
    const { anon, account } = await setup();
    expect((await merge(undefined, { anonymous_token: anonToken(anon) })).status).toBe(401);
    const forged = signHs256(shopperClaims(account, { is_anonymous: false }), 'another-secret-with-at-least-32-characters!!');
    expect((await merge(forged, { anonymous_token: anonToken(anon) })).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    expect((await merge(accountToken(account, { iat: now - 7200, exp: now - 3600 }), { anonymous_token: anonToken(anon) })).status).toBe(401);
    await untouched(anon, account);
  });

  it('refuses mismatched tokens (403): an anonymous caller, a permanent user as the anonymous one, the same user, a user no longer anonymous', async () => {
    const { anon, account } = await setup();
    const other = await createShopper(pool);
    const asAnonymous = await merge(anonToken(other), { anonymous_token: anonToken(anon) });
    expect(asAnonymous).toMatchObject({ status: 403, body: { error: 'account_required' } });
    const otherAccount = await createAccount();
    const notAnonymous = await merge(accountToken(account), { anonymous_token: accountToken(otherAccount) });
    expect(notAnonymous).toMatchObject({ status: 403, body: { error: 'not_anonymous' } });
    const same = await merge(accountToken(account), { anonymous_token: anonToken(account) });
    expect(same).toMatchObject({ status: 403, body: { error: 'same_user' } });
    // A token still saying is_anonymous for a user who has since signed up: the database refuses.
    const converted = await signedInShopper();
    await pool.query('update auth.users set is_anonymous = false where id = $1', [converted]);
    const stale = await merge(accountToken(account), { anonymous_token: anonToken(converted) });
    expect(stale).toMatchObject({ status: 403, body: { error: 'merge_forbidden' } });
    await untouched(anon, account);
  });

  it('refuses an anonymous token whose Auth session was signed out (401 session_ended), nothing written', async () => {
    const { anon, account } = await setup();
    const token = anonToken(anon);
    // POST /auth/v1/logout deletes the session; the access token itself stays valid until it expires.
    await pool.query('delete from auth.sessions where id = $1', [sessions.get(anon)]);
    const res = await merge(accountToken(account), { anonymous_token: token });
    expect(res).toMatchObject({ status: 401, body: { error: 'session_ended' } });
    await untouched(anon, account);
    // Another session of the same user, or one that never existed, proves nothing either.
    const other = await signIn(pool, account);
    expect((await merge(accountToken(account), { anonymous_token: anonToken(anon, { session_id: other }) })).status).toBe(401);
    expect((await merge(accountToken(account), { anonymous_token: anonToken(anon, { session_id: randomUUID() }) })).status).toBe(401);
    const none = signHs256(shopperClaims(anon), JWT_SECRET);
    expect(await merge(accountToken(account), { anonymous_token: none })).toMatchObject({ status: 401, body: { error: 'invalid_anonymous_token' } });
    await untouched(anon, account);
  });

  it("a deleted user's still-valid token: 401, not a 500, nothing written", async () => {
    const { anon, account } = await setup();
    await pool.query('delete from auth.users where id = $1', [account]);
    expect(await merge(accountToken(account), { anonymous_token: anonToken(anon) })).toMatchObject({ status: 401, body: { error: 'session_ended' } });
    const carts = await pool.query('select 1 from public.carts where session_id = $1', [account]);
    expect(carts.rowCount).toBe(0);
    const { anon: gone, account: other } = await setup();
    await pool.query('delete from auth.users where id = $1', [gone]);
    expect(await merge(accountToken(other), { anonymous_token: anonToken(gone) })).toMatchObject({ status: 401, body: { error: 'session_ended' } });
    const merges = await pool.query('select 1 from checkout.cart_merges where anonymous_id = $1 or account_id = $2', [gone, other]);
    expect(merges.rowCount).toBe(0);
  });

  it('refuses bad bodies (400) and other methods (405)', async () => {
    const { anon, account } = await setup();
    expect((await merge(accountToken(account), 'not json')).status).toBe(400);
    expect((await merge(accountToken(account), {})).status).toBe(400);
    expect((await merge(accountToken(account), { anonymous_token: anonToken(anon), extra: 1 })).status).toBe(400);
    const get = await fetch(`${fn.url}/merge-cart`, { headers: { authorization: `Bearer ${accountToken(account)}` } });
    expect(get.status).toBe(405);
    await get.body?.cancel();
    await untouched(anon, account);
  });
});
