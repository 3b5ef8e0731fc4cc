/**
 * The local API of `npm start` through real @supabase/supabase-js: anonymous
 * auth, PostgREST-compatible RPC (results, errors and statuses, RLS between
 * shoppers, JWT checks), email/password accounts, the 501 answers, CORS, and the Edge Functions
 * proxy reaching the real functions under Deno (a whole purchase whose
 * webhook goes sandbox -> local API -> Deno -> database).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { signJwt } from '../../dev/stack/jwt.ts';
import { type Stack, startStack } from '../../dev/stack/stack.ts';
import { client, descendants, tempDir, VARIANTS, waitFor } from './helpers.ts';

let stack: Stack;
let dataDir: string;
let db: pg.Pool;
const logLines: string[] = [];

beforeAll(async () => {
  dataDir = tempDir('stack-api-');
  stack = await startStack({
    dataDir,
    ports: { api: 0, db: 0, mp: 0, mail: 0, web: 0 },
    serveStorefront: false,
    sandbox: { retrySchedule: [200, 500, 1000] },
    log: (line) => logLines.push(line),
  });
  db = new pg.Pool({ connectionString: stack.dbUrl, max: 2 });
});

afterAll(async () => {
  await db?.end();
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function shopper(): Promise<{ sb: SupabaseClient; id: string; accessToken: string; refreshToken: string }> {
  const sb = client(stack.apiUrl, stack.anonKey);
  const { data, error } = await sb.auth.signInAnonymously();
  expect(error).toBeNull();
  return { sb, id: data.user!.id, accessToken: data.session!.access_token, refreshToken: data.session!.refresh_token };
}

const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

const rest = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  fetch(`${stack.apiUrl}${path}`, { ...init, headers: { apikey: stack.anonKey, 'content-type': 'application/json', ...init.headers } });

describe('keys', () => {
  it('are the Supabase CLI local keys, signed with its well-known secret', () => {
    expect(stack.jwtSecret).toBe('super-secret-jwt-token-with-at-least-32-characters-long');
    expect(decode(stack.anonKey)).toEqual({ iss: 'supabase-demo', role: 'anon', exp: 1983812996 });
    expect(decode(stack.serviceRoleKey)).toMatchObject({ iss: 'supabase-demo', role: 'service_role' });
    // The very key `supabase start` prints for local projects.
    expect(stack.anonKey.split('.')[2]).toBe('CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0');
  });
});

describe('/auth/v1', () => {
  it('signs in anonymously: a GoTrue session, the user in auth.users, Supabase-shaped claims', async () => {
    const { id, accessToken } = await shopper();
    const claims = decode(accessToken);
    expect(claims).toMatchObject({
      sub: id,
      aud: 'authenticated',
      role: 'authenticated',
      iss: `${stack.apiUrl}/auth/v1`,
      is_anonymous: true,
      aal: 'aal1',
      email: '',
      phone: '',
      app_metadata: {},
      user_metadata: {},
    });
    expect(claims.exp).toBe((claims.iat as number) + 3600);
    expect(claims.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((claims.amr as { method: string }[])[0]?.method).toBe('anonymous');
    const { rows } = await db.query('select is_anonymous from auth.users where id = $1', [id]);
    expect(rows).toEqual([{ is_anonymous: true }]);
  });

  it('getUser returns the user; refresh rotates the token; reusing an old one revokes the family', async () => {
    const { sb, id, refreshToken } = await shopper();
    const user = await sb.auth.getUser();
    expect(user.error).toBeNull();
    expect(user.data.user).toMatchObject({ id, is_anonymous: true, aud: 'authenticated', role: 'authenticated' });

    const first = await sb.auth.refreshSession();
    expect(first.error).toBeNull();
    const rt2 = first.data.session!.refresh_token;
    expect(rt2).not.toBe(refreshToken);
    expect(decode(first.data.session!.access_token).sub).toBe(id);

    // Within GoTrue's reuse interval, the old token answers with the current one.
    const retry = await rest('/auth/v1/token?grant_type=refresh_token', { method: 'POST', body: JSON.stringify({ refresh_token: refreshToken }) });
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { refresh_token: string }).refresh_token).toBe(rt2);

    const second = await sb.auth.refreshSession();
    expect(second.error).toBeNull();
    const rt3 = second.data.session!.refresh_token;
    // rt1's child (rt2) is used up too: presenting rt1 now is a reuse attack.
    const reuse = await rest('/auth/v1/token?grant_type=refresh_token', {
      method: 'POST',
      headers: { 'x-supabase-api-version': '2024-01-01' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toEqual({ code: 'refresh_token_already_used', message: 'Invalid Refresh Token: Already Used' });
    const after = await sb.auth.refreshSession({ refresh_token: rt3 });
    expect(after.error?.code).toBe('refresh_token_already_used');

    const unknown = await sb.auth.refreshSession({ refresh_token: 'not-a-token' });
    expect(unknown.error?.status).toBe(400);
    expect(unknown.error?.code).toBe('refresh_token_not_found');
  });

  it('signOut ends the session: getUser with its token then fails', async () => {
    const { sb, accessToken } = await shopper();
    const { error } = await sb.auth.signOut();
    expect(error).toBeNull();
    const res = await rest('/auth/v1/user', { headers: { authorization: `Bearer ${accessToken}`, 'x-supabase-api-version': '2024-01-01' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('session_not_found');
  });

  it('answers settings; what it does not emulate is a 4xx with a code supabase-js reports, pointing to supabase start', async () => {
    const settings = await rest('/auth/v1/settings');
    const body = (await settings.json()) as { external: Record<string, boolean>; mailer_autoconfirm: boolean };
    expect(body.external.anonymous_users).toBe(true);
    expect(body.external.email).toBe(true);
    expect(body.mailer_autoconfirm).toBe(true);
    const sb = client(stack.apiUrl, stack.anonKey);
    const otp = await sb.auth.signInWithOtp({ email: 'ana@example.com' });
    expect(otp.error?.name).toBe('AuthApiError');
    expect(otp.error?.status).toBe(404);
    expect(otp.error?.code).toBe('not_implemented');
    expect(otp.error?.message).toContain('supabase start');
    const phone = await sb.auth.signUp({ phone: '+5491155550000', password: 'una-clave-larga-123' });
    expect(phone.error).toMatchObject({ name: 'AuthApiError', status: 422, code: 'not_implemented' });
    const idToken = await sb.auth.signInWithIdToken({ provider: 'google', token: 'x' });
    expect(idToken.error).toMatchObject({ name: 'AuthApiError', status: 422, code: 'not_implemented' });
  });
});

describe('/auth/v1 email and password', () => {
  const email = () => `cliente-${randomUUID().slice(0, 8)}@example.com`;

  it('signs up with email and password (confirmation off): a session, a permanent user, the password hashed with bcrypt', async () => {
    const sb = client(stack.apiUrl, stack.anonKey);
    const address = email();
    const { data, error } = await sb.auth.signUp({ email: address.toUpperCase(), password: 'una-clave-larga-123', options: { data: { name: 'Ana' } } });
    expect(error).toBeNull();
    expect(data.session?.access_token).toBeTruthy();
    expect(data.user).toMatchObject({ email: address, is_anonymous: false, user_metadata: { name: 'Ana' }, app_metadata: { provider: 'email' } });
    expect(data.user?.email_confirmed_at).toBeTruthy();
    expect(decode(data.session!.access_token)).toMatchObject({ sub: data.user!.id, email: address, is_anonymous: false });
    expect((decode(data.session!.access_token).amr as { method: string }[])[0]?.method).toBe('password');
    const { rows } = await db.query<{ encrypted_password: string }>('select encrypted_password from auth.users where id = $1', [data.user!.id]);
    expect(rows[0]!.encrypted_password).toMatch(/^\$2[ab]\$10\$/);

    const again = await client(stack.apiUrl, stack.anonKey).auth.signUp({ email: address, password: 'otra-clave-123' });
    expect(again.error).toMatchObject({ status: 422, code: 'user_already_exists', message: 'User already registered' });
    const weak = await client(stack.apiUrl, stack.anonKey).auth.signUp({ email: email(), password: '123' });
    expect(weak.error).toMatchObject({ name: 'AuthWeakPasswordError', status: 422, code: 'weak_password', reasons: ['length'] });
    const badEmail = await client(stack.apiUrl, stack.anonKey).auth.signUp({ email: 'no-es-un-email', password: 'una-clave-larga-123' });
    expect(badEmail.error).toMatchObject({ status: 400, code: 'email_address_invalid' });
  });

  it('signs in with the password; a wrong one is invalid_credentials', async () => {
    const address = email();
    const created = await client(stack.apiUrl, stack.anonKey).auth.signUp({ email: address, password: 'una-clave-larga-123' });
    const sb = client(stack.apiUrl, stack.anonKey);
    const { data, error } = await sb.auth.signInWithPassword({ email: address, password: 'una-clave-larga-123' });
    expect(error).toBeNull();
    expect(data.user?.id).toBe(created.data.user!.id);
    expect(decode(data.session!.access_token)).toMatchObject({ sub: created.data.user!.id, is_anonymous: false });
    // A second device gets a session of its own.
    expect(decode(data.session!.access_token).session_id).not.toBe(decode(created.data.session!.access_token).session_id);
    const wrong = await client(stack.apiUrl, stack.anonKey).auth.signInWithPassword({ email: address, password: 'otra-clave-123' });
    expect(wrong.error).toMatchObject({ name: 'AuthApiError', status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' });
    const nobody = await client(stack.apiUrl, stack.anonKey).auth.signInWithPassword({ email: email(), password: 'una-clave-larga-123' });
    expect(nobody.error?.code).toBe('invalid_credentials');
  });

  it('updateUser converts an anonymous user in place: same id, is_anonymous false, its cart kept; then it signs in with the password', async () => {
    const { sb, id } = await shopper();
    await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraS, p_quantity: 2 });
    const onlyPassword = await sb.auth.updateUser({ password: 'una-clave-larga-123' });
    expect(onlyPassword.error).toMatchObject({ status: 422, code: 'validation_failed' });
    const address = email();
    const { data, error } = await sb.auth.updateUser({ email: address, password: 'una-clave-larga-123' });
    expect(error).toBeNull();
    expect(data.user).toMatchObject({ id, email: address, is_anonymous: false });
    const refreshed = await sb.auth.refreshSession();
    expect(decode(refreshed.data.session!.access_token)).toMatchObject({ sub: id, email: address, is_anonymous: false });
    expect((await sb.rpc('get_cart')).data.lines).toHaveLength(1);
    const { rows } = await db.query('select is_anonymous, email from auth.users where id = $1', [id]);
    expect(rows).toEqual([{ is_anonymous: false, email: address }]);

    const other = client(stack.apiUrl, stack.anonKey);
    const signedIn = await other.auth.signInWithPassword({ email: address, password: 'una-clave-larga-123' });
    expect(signedIn.data.user?.id).toBe(id);

    const same = await sb.auth.updateUser({ password: 'una-clave-larga-123' });
    expect(same.error).toMatchObject({ status: 422, code: 'same_password' });
    // The address is taken: another anonymous shopper cannot claim it.
    const { sb: second } = await shopper();
    const taken = await second.auth.updateUser({ email: address, password: 'otra-clave-123' });
    expect(taken.error).toMatchObject({ status: 422, code: 'email_exists' });
  });

  it('signOut of a password session ends it on the server', async () => {
    const address = email();
    const sb = client(stack.apiUrl, stack.anonKey);
    await sb.auth.signUp({ email: address, password: 'una-clave-larga-123' });
    const token = (await sb.auth.getSession()).data.session!.access_token;
    expect((await sb.auth.signOut({ scope: 'local' })).error).toBeNull();
    const res = await rest('/auth/v1/user', { headers: { authorization: `Bearer ${token}`, 'x-supabase-api-version': '2024-01-01' } });
    expect(res.status).toBe(403);
  });
});

describe('/rest/v1/rpc', () => {
  it('runs cart functions as the shopper and returns their jsonb as is', async () => {
    const { sb, id } = await shopper();
    const { data, error, status } = await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraS, p_quantity: 2 });
    expect(error).toBeNull();
    expect(status).toBe(200);
    expect(data.lines).toHaveLength(1);
    expect(data.lines[0]).toMatchObject({ variant_id: VARIANTS.remeraNegraS, quantity: 2 });
    // The default of p_quantity applies when the argument is omitted.
    const again = await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraS });
    expect(again.data.lines[0].quantity).toBe(3);
    const { rows } = await db.query('select quantity from public.cart_items where session_id = $1', [id]);
    expect(rows).toEqual([{ quantity: 3 }]);
  });

  it("surfaces the routines' errors with code, message, details and PostgREST's status", async () => {
    const { sb } = await shopper();
    const short = await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.mate, p_quantity: 5 });
    expect(short.status).toBe(400);
    expect(short.error).toMatchObject({ code: 'CKS01', hint: null });
    expect(short.error!.message).toContain('available');
    expect(JSON.parse(short.error!.details)).toMatchObject({ requested: 5, available: 1 });

    const badQty = await sb.rpc('set_cart_item_quantity', { p_variant_id: VARIANTS.remeraNegraS, p_quantity: -1 });
    expect(badQty.status).toBe(400);
    expect(badQty.error?.code).toBe('CKQ01');

    const badUuid = await sb.rpc('add_to_cart', { p_variant_id: 'nope', p_quantity: 1 });
    expect(badUuid.status).toBe(400);
    expect(badUuid.error?.code).toBe('22P02');
  });

  it('keeps shoppers apart (RLS through the API)', async () => {
    const ana = await shopper();
    const beto = await shopper();
    await ana.sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraS, p_quantity: 1 });
    await beto.sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraM, p_quantity: 4 });
    const anaCart = await ana.sb.rpc('get_cart');
    const betoCart = await beto.sb.rpc('get_cart');
    expect(anaCart.data.lines.map((l: { variant_id: string }) => l.variant_id)).toEqual([VARIANTS.remeraNegraS]);
    expect(betoCart.data.lines.map((l: { variant_id: string; quantity: number }) => [l.variant_id, l.quantity])).toEqual([[VARIANTS.remeraNegraM, 4]]);
    await beto.sb.rpc('clear_cart');
    expect((await ana.sb.rpc('get_cart')).data.lines).toHaveLength(1);
  });

  it('lets anon read the catalog (POST and GET) but answers 401/42501 for a cart', async () => {
    const anon = client(stack.apiUrl, stack.anonKey);
    const catalog = await anon.rpc('get_catalog');
    expect(catalog.error).toBeNull();
    expect(catalog.data.length).toBeGreaterThan(0);
    const viaGet = await anon.rpc('get_catalog', {}, { get: true });
    expect(viaGet.status).toBe(200);
    expect(viaGet.data).toEqual(catalog.data);

    const cart = await anon.rpc('get_cart');
    expect(cart.status).toBe(401);
    expect(cart.error?.code).toBe('42501');
  });

  it('answers 413 (not a reset connection) for RPC and auth bodies over 1 MiB, declared or chunked', async () => {
    const { accessToken } = await shopper();
    const big = JSON.stringify({ p_variant_id: VARIANTS.remeraNegraS, p_quantity: 1, padding: 'x'.repeat(2 * 1024 * 1024) });
    const declared = await rest('/rest/v1/rpc/add_to_cart', { method: 'POST', body: big, headers: { authorization: `Bearer ${accessToken}` } });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: 'PGRST413' });
    // Chunked: no Content-Length, the body is a stream.
    const chunks = (n: number) =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (n-- <= 0) return controller.close();
          controller.enqueue(new Uint8Array(256 * 1024).fill(0x20));
        },
      });
    const chunkedInit = { method: 'POST', body: chunks(8), headers: { authorization: `Bearer ${accessToken}` }, duplex: 'half' };
    const chunked = await rest('/rest/v1/rpc/add_to_cart', chunkedInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ code: 'PGRST413' });
    const signup = await rest('/auth/v1/signup', { method: 'POST', body: JSON.stringify({ data: { padding: 'x'.repeat(2 * 1024 * 1024) } }) });
    expect(signup.status).toBe(413);
    expect(await signup.json()).toMatchObject({ code: 413, error_code: 'request_entity_too_large' });
    // Under the limit, the same call works.
    const ok = await rest('/rest/v1/rpc/add_to_cart', {
      method: 'POST',
      body: JSON.stringify({ p_variant_id: VARIANTS.remeraNegraS, p_quantity: 1 }),
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(ok.status).toBe(200);
  });

  it('text Postgres cannot store in an RPC argument: 400 with a class 22 SQLSTATE, as PostgREST answers', async () => {
    const { sb } = await shopper();
    for (const bad of ['\u0000', '\uD800']) {
      const r = await sb.rpc('add_to_cart', { p_variant_id: `${VARIANTS.remeraNegraS}${bad}`, p_quantity: 1 });
      expect(r.status).toBe(400);
      expect(r.error?.code).toMatch(/^22/);
    }
  });

  it('rejects bad and expired JWTs with 401 PGRST301/PGRST303, and a missing or wrong apikey', async () => {
    const { accessToken } = await shopper();
    const [h, b] = accessToken.split('.');
    const forged = await rest('/rest/v1/rpc/get_cart', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${h}.${b}.AAAA` } });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { code: string }).code).toBe('PGRST301');

    const claims = decode(accessToken);
    const expired = signJwt({ ...claims, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }, stack.jwtSecret);
    const res = await rest('/rest/v1/rpc/get_cart', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${expired}` } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 'PGRST303', details: null, hint: null, message: 'JWT expired' });

    const noKey = await fetch(`${stack.apiUrl}/rest/v1/rpc/get_catalog`, { method: 'POST', body: '{}' });
    expect(noKey.status).toBe(401);
    const wrongKey = await rest('/rest/v1/rpc/get_catalog', { method: 'POST', body: '{}', headers: { apikey: 'nope' } });
    expect(wrongKey.status).toBe(401);
    expect(((await wrongKey.json()) as { message: string }).message).toBe('Invalid API key');
  });

  it('answers an unknown function (or unknown arguments) with 404 PGRST202', async () => {
    const anon = client(stack.apiUrl, stack.anonKey);
    const unknown = await anon.rpc('no_such_function');
    expect(unknown.status).toBe(404);
    expect(unknown.error?.code).toBe('PGRST202');
    const wrongArgs = await anon.rpc('get_catalog', { p_nope: 1 });
    expect(wrongArgs.status).toBe(404);
    expect(wrongArgs.error?.message).toBe('Could not find the function public.get_catalog(p_nope) in the schema cache');
    // Only the exposed schema: checkout's routines are not reachable.
    const hidden = await rest('/rest/v1/rpc/apply_payment', {
      method: 'POST',
      body: '{"p_payment":{}}',
      headers: { authorization: `Bearer ${stack.serviceRoleKey}` },
    });
    expect(hidden.status).toBe(404);
    // Nor by naming checkout (its routines and the service-only tables) as the profile.
    const profiled = await rest('/rest/v1/rpc/apply_payment', {
      method: 'POST',
      body: '{"p_payment":{}}',
      headers: { authorization: `Bearer ${stack.serviceRoleKey}`, 'content-profile': 'checkout' },
    });
    expect(profiled.status).toBe(406);
    expect(((await profiled.json()) as { code: string }).code).toBe('PGRST106');
  });

  it('answers preflights like Supabase (CORS for supabase-js headers)', async () => {
    const res = await fetch(`${stack.apiUrl}/rest/v1/rpc/add_to_cart`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'apikey, authorization, content-type, x-client-info, content-profile',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-client-info');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });
});

describe('everything else', () => {
  it('answers 501 pointing to supabase start', async () => {
    for (const path of ['/rest/v1/carts?select=*', '/storage/v1/object/list/x', '/graphql/v1', '/realtime/v1/websocket']) {
      const res = await rest(path);
      expect(res.status, path).toBe(501);
      expect(((await res.json()) as { message: string }).message, path).toContain('supabase start');
    }
    const sb = client(stack.apiUrl, stack.anonKey);
    const table = await sb.from('carts').select('*');
    expect(table.status).toBe(501);
    expect(table.error?.message).toContain('supabase start');
  });
});

describe('/functions/v1', () => {
  it('serves every Edge Function under Deno', () => {
    // Every edge/<name>/index.ts in the repository, none left out.
    const edge = join(repoRoot, 'edge');
    const inTree = readdirSync(edge).filter((name) => existsSync(join(edge, name, 'index.ts')));
    expect(inTree.length).toBeGreaterThanOrEqual(8);
    expect([...stack.functions].sort()).toEqual(inTree.sort());
  });

  it('proxies to the real functions: checkout, then the sandbox webhook through the API makes the order', async () => {
    const { sb } = await shopper();
    await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraM, p_quantity: 1 });
    const { data, error } = await sb.functions.invoke('create-preference', {
      body: {
        payer: { email: 'ana@example.com', name: 'Ana' },
        shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
      },
    });
    expect(error).toBeNull();
    expect(data.init_point).toContain(stack.mpUrl);
    const payment = stack.sandbox.pay(data.preference_id, { cardholderName: 'APRO' });
    await stack.sandbox.settle(15_000);
    const deliveries = stack.sandbox.deliveries({ paymentId: payment.id });
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.url.startsWith(`${stack.apiUrl}/functions/v1/mercadopago-webhook`))).toBe(true);
    expect(deliveries.some((d) => d.statusCode === 200)).toBe(true);
    const orders = await sb.rpc('get_my_orders');
    expect(orders.error).toBeNull();
    expect(orders.data).toHaveLength(1);
    expect(orders.data[0]).toMatchObject({ status: 'paid', payment_id: payment.id });
  });

  it('keeps method, query and headers; unknown functions are 404', async () => {
    const stats = await fetch(`${stack.apiUrl}/functions/v1/order-sessions-admin/stats?x=1`, { headers: { authorization: `Bearer ${stack.serviceRoleKey}` } });
    expect(stats.status).toBe(200);
    const denied = await fetch(`${stack.apiUrl}/functions/v1/order-sessions-admin/stats`, { headers: { authorization: `Bearer ${stack.anonKey}` } });
    expect(denied.status).toBe(403);
    const preflight = await fetch(`${stack.apiUrl}/functions/v1/create-preference`, { method: 'OPTIONS' });
    expect(preflight.status).toBeLessThan(300);
    const unknown = await fetch(`${stack.apiUrl}/functions/v1/nope`);
    expect(unknown.status).toBe(404);
  });

  it('restarts a function that crashes, and says so', async () => {
    const victim = descendants(process.pid).find((p) => p.cmd.includes('functions/payment-status/index.ts'));
    expect(victim).toBeDefined();
    process.kill(victim!.pid, 'SIGKILL');
    await waitFor(
      'the restart notice',
      () => logLines.some((l) => /Edge Function payment-status exited \(SIGKILL\); restarting it/.test(l)) || undefined,
      10_000,
    );
    await waitFor(
      'payment-status to answer again',
      async () => {
        const res = await fetch(`${stack.apiUrl}/functions/v1/payment-status`, { method: 'OPTIONS' }).catch(() => undefined);
        return (res && res.status < 300) || undefined;
      },
      20_000,
    );
    const fresh = descendants(process.pid).find((p) => p.cmd.includes('functions/payment-status/index.ts'));
    expect(fresh?.pid).not.toBe(victim!.pid);
  });
});
