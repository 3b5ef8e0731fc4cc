/**
 * send-emails under real Deno, sending through the official `resend` client to
 * the local Resend emulator (dev/mail-sink): a reminder with its signed links,
 * retries that never send twice, permanent failures recorded, one-click
 * unsubscribe, and the restore link (expired and forged ones refused).
 */
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type MailSink, type SentEmail, startMailSink } from '../../dev/mail-sink/index.ts';
import { addToCart, createShopper, createVariant, databaseUrl, functionsDatabaseUrl, newPool, setCartIdle } from '../helpers/db.ts';
import { shopperClaims, signHs256, TEST_SUPABASE_URL } from '../helpers/jwt.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';

const JWT_SECRET = 'email-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'email-test-service-role-key';
const LINK_SECRET = 'email-test-link-secret-with-32-characters!';

let pool: pg.Pool;
let sink: MailSink;
let fn: RunningFunction;
const logLines: string[] = [];

beforeAll(async () => {
  pool = newPool(5);
  sink = await startMailSink();
  fn = await startFunction('send-emails', {
    SUPABASE_URL: TEST_SUPABASE_URL,
    // Direct, or PgBouncer in transaction mode when the suite runs via the pooler.
    CHECKOUT_DB_URL: functionsDatabaseUrl(),
    SUPABASE_DB_URL: databaseUrl(),
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
    JWT_SECRET,
    RESEND_API_KEY: sink.apiKey,
    RESEND_BASE_URL: sink.url,
    EMAIL_LINK_SECRET: LINK_SECRET,
    EMAIL_FROM: 'Tienda Demo <tienda@example.com>',
    EMAIL_RETRY_BASE_MS: '20',
    EMAIL_RETRY_MAX_DELAY_MS: '50',
    EMAIL_MAX_TRIES: '3',
    STORE_NAME: 'Tienda Demo',
    SITE_URL: 'http://127.0.0.1:5173',
    FUNCTIONS_URL: `${TEST_SUPABASE_URL}/functions/v1`,
  }, { onLine: (l) => logLines.push(l) });
  // Whatever earlier suites left in the outbox goes out first, so each test
  // below sees only its own rows.
  await drain();
}, 120_000);

afterAll(async () => {
  await fn?.stop();
  await sink?.close();
  await pool?.end();
});

beforeEach(() => sink.reset());

const call = (path: string, init: CallInit = {}) => callFunction(`${fn.url}${path}`, init);

const send = () => call('/send-emails', { token: SERVICE_KEY });

async function drain() {
  for (let i = 0; i < 50; i++) {
    await pool.query(`update email.outbox set next_attempt_at = now() where status = 'pending'`);
    const r = await send();
    if (r.body.claimed === 0) return;
  }
}

/** A signed-up shopper with a cart idle for 2 hours, and the reminder detection run. */
async function abandonedCart(opts: { price?: number } = {}) {
  const shopper = await createShopper(pool);
  const email = `mail-${shopper.slice(0, 8)}@example.com`;
  await pool.query(`update auth.users set is_anonymous = false, email = $2, email_confirmed_at = now() where id = $1`, [shopper, email]);
  const variant = await createVariant(pool, { sku: 'MAIL', stock: 10, price: opts.price ?? 12500 });
  await addToCart(pool, shopper, variant.id, 2);
  await setCartIdle(pool, shopper, 120);
  await pool.query('select email.detect_abandoned_carts()');
  const { rows } = await pool.query<{ id: string }>(`select id from email.outbox where session_id = $1 and kind = 'cart_reminder'`, [shopper]);
  expect(rows).toHaveLength(1);
  return { shopper, email, variant, outboxId: rows[0]!.id };
}

async function outboxRow(id: string) {
  const { rows } = await pool.query<{ status: string; attempts: number; last_error: Record<string, unknown> | null; provider_id: string | null }>(
    'select status, attempts, last_error, provider_id from email.outbox where id = $1',
    [id],
  );
  return rows[0]!;
}

const to = (email: string) => sink.emails().filter((e: SentEmail) => e.to.includes(email));
const restoreToken = (e: SentEmail) => /[?&]restore=([A-Za-z0-9_.-]+)/.exec(e.text ?? '')![1]!;
const unsubscribeUrl = (e: SentEmail) => /^<(.+)>$/.exec(e.headers['List-Unsubscribe'] ?? '')![1]!;

/** A restore token signed like the function does, with any expiry (for the expired case). */
function signRestore(claims: Record<string, unknown>, secret = LINK_SECRET): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${createHmac('sha256', secret).update(`restore.${payload}`).digest('base64url')}`;
}

describe('send-emails', () => {
  it("sends a reminder: es-AR HTML and text, today's prices, a restore link and one-click unsubscribe headers", async () => {
    const { email, outboxId } = await abandonedCart();
    const r = await send();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ claimed: 1, sent: 1, failed: 0 });
    const mails = to(email);
    expect(mails).toHaveLength(1);
    const m = mails[0]!;
    expect(m.from).toBe('Tienda Demo <tienda@example.com>');
    expect(m.subject).toContain('Tu carrito');
    expect(m.idempotency_key).toBe(`outbox-${outboxId}`);
    // 2 x $ 12.500,00 = $ 25.000,00 in es-AR.
    expect(m.text).toMatch(/2 × \$\s12\.500,00/);
    expect(m.text).toMatch(/Total: \$\s25\.000,00/);
    expect(m.html).toContain('Volver a mi carrito');
    expect(m.html).toMatch(/>TM<\/div>/); // initials of "Test MAIL-...": the product has no image
    expect(m.headers['List-Unsubscribe']).toMatch(/^<http:\/\/127\.0\.0\.1:9\/functions\/v1\/send-emails\/unsubscribe\?token=/);
    expect(m.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(await outboxRow(outboxId)).toMatchObject({ status: 'sent', attempts: 1, provider_id: m.id });
    // Sending again sends nothing.
    expect((await send()).body).toMatchObject({ claimed: 0 });
    expect(to(email)).toHaveLength(1);
  });

  it('provider 429 then 200: retried with backoff, one email', async () => {
    const { email, outboxId } = await abandonedCart();
    sink.inject({ status: 429, count: 1 });
    const r = await send();
    expect(r.body).toMatchObject({ claimed: 1, sent: 1 });
    expect(sink.attempts()).toBe(2);
    expect(to(email)).toHaveLength(1);
    expect((await outboxRow(outboxId)).status).toBe('sent');
  });

  it('provider 500 on every try: left for a later run, then sent once', async () => {
    const { email, outboxId } = await abandonedCart();
    sink.inject({ status: 500, count: 3 });
    expect((await send()).body).toMatchObject({ claimed: 1, sent: 0, retry_later: 1 });
    expect(to(email)).toHaveLength(0);
    const row = await outboxRow(outboxId);
    expect(row).toMatchObject({ status: 'pending' });
    expect(row.last_error).toMatchObject({ status: 500 });
    expect((await send()).body).toMatchObject({ claimed: 0 }); // backing off
    await pool.query('update email.outbox set next_attempt_at = now() where id = $1', [outboxId]);
    expect((await send()).body).toMatchObject({ claimed: 1, sent: 1 });
    expect(to(email)).toHaveLength(1);
  });

  it('a send whose result was lost is not sent twice (same idempotency key)', async () => {
    const { email, outboxId } = await abandonedCart();
    expect((await send()).body).toMatchObject({ sent: 1 });
    // As if the function died after the provider accepted it: the row is due again.
    await pool.query(`update email.outbox set status = 'pending', provider_id = null, sent_at = null where id = $1`, [outboxId]);
    expect((await send()).body).toMatchObject({ claimed: 1, sent: 1 });
    expect(to(email)).toHaveLength(1);
  });

  it('permanent 400: recorded as failed, not retried', async () => {
    const { email, outboxId } = await abandonedCart();
    sink.inject({ status: 400, count: 1 });
    expect((await send()).body).toMatchObject({ claimed: 1, sent: 0, failed: 1 });
    const row = await outboxRow(outboxId);
    expect(row.status).toBe('failed');
    expect(row.last_error).toMatchObject({ status: 400, name: 'validation_error' });
    expect(sink.attempts()).toBe(1);
    expect((await send()).body).toMatchObject({ claimed: 0 });
    expect(to(email)).toHaveLength(0);
  });

  it('the one-click unsubscribe link: no further reminder', async () => {
    const { shopper, email } = await abandonedCart();
    await send();
    const url = new URL(unsubscribeUrl(to(email)[0]!));
    const path = `/send-emails/unsubscribe${url.search}`;
    // Opening the link (a mail scanner may, before the shopper does) only asks.
    const asked = await call(path, { method: 'GET' });
    expect(asked.status).toBe(200);
    expect((asked.body as { text: string }).text).toContain('Darme de baja');
    expect((await pool.query('select 1 from email.unsubscribes where email = lower($1)', [email])).rowCount).toBe(0);
    const post = await call(path);
    expect(post.status).toBe(200);
    expect(post.body).toEqual({ unsubscribed: true });
    expect((await call(path)).body).toEqual({ unsubscribed: true }); // again: still unsubscribed
    // Abandoned again: no reminder is written, none is sent.
    await setCartIdle(pool, shopper, 90);
    await pool.query('select email.detect_abandoned_carts()');
    const { rows } = await pool.query(`select 1 from email.outbox where session_id = $1 and kind = 'cart_reminder'`, [shopper]);
    expect(rows).toHaveLength(1);
    await send();
    expect(to(email)).toHaveLength(1);
    // A forged or truncated token changes nothing.
    const forged = `/send-emails/unsubscribe?token=${url.searchParams.get('token')!.slice(0, -2)}xx`;
    expect((await call(forged)).status).toBe(400);
    expect((await call('/send-emails/unsubscribe?token=abc', { method: 'GET' })).status).toBe(400);
  });

  it("the restore link copies the cart into the caller's session; expired, forged and unsigned-in requests are refused", async () => {
    const { shopper, email, variant } = await abandonedCart();
    await send();
    const token = restoreToken(to(email)[0]!);
    const device = await createShopper(pool); // the shopper's other device: a fresh anonymous session
    const jwt = signHs256(shopperClaims(device), JWT_SECRET);

    expect((await call('/send-emails/restore', { body: { token } })).status).toBe(401);
    const forged = `${token.split('.')[0]}.${'A'.repeat(43)}`;
    expect((await call('/send-emails/restore', { token: jwt, body: { token: forged } })).body).toMatchObject({ error: 'invalid_link' });
    const otherSecret = signRestore({ session_id: shopper, cart_created_at: '2026-01-01T00:00:00Z', exp: 4_000_000_000 }, 'x'.repeat(40));
    expect((await call('/send-emails/restore', { token: jwt, body: { token: otherSecret } })).status).toBe(400);
    const { rows: cart } = await pool.query<{ created_at: string }>(
      `select to_json(created_at) #>> '{}' as created_at from public.carts where session_id = $1`,
      [shopper],
    );
    const expired = signRestore({ session_id: shopper, cart_created_at: cart[0]!.created_at, exp: Math.floor(Date.now() / 1000) - 1 });
    const exp = await call('/send-emails/restore', { token: jwt, body: { token: expired } });
    expect(exp.status).toBe(410);
    expect(exp.body).toMatchObject({ error: 'link_expired' });
    expect((await call('/send-emails/restore', { token: jwt, body: { nope: 1 } })).status).toBe(400);
    expect((await pool.query('select 1 from public.cart_items where session_id = $1', [device])).rows).toHaveLength(0);

    const ok = await call('/send-emails/restore', { token: jwt, body: { token } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ restored: 1, skipped: [] });
    const { rows } = await pool.query<{ variant_id: string; quantity: number }>('select variant_id, quantity from public.cart_items where session_id = $1', [
      device,
    ]);
    expect(rows).toEqual([{ variant_id: variant.id, quantity: 2 }]);
  });

  it('sending needs the service role', async () => {
    const shopper = await createShopper(pool);
    expect((await call('/send-emails', { token: signHs256(shopperClaims(shopper), JWT_SECRET) })).status).toBe(403);
    expect((await call('/send-emails')).status).toBe(401);
    expect((await call('/send-emails', { method: 'GET', token: SERVICE_KEY })).status).toBe(405);
  });
});
