/**
 * Consent before marketing, end to end under real Deno: create-preference
 * with and without the marketing box, send-emails sending the confirmation
 * email through the official `resend` client to the local Resend emulator,
 * the link in it opened and its button pressed, then the abandoned-cart
 * detection and the reminder, then the one-click unsubscribe. A payer email
 * nobody confirmed never gets a reminder.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type MailSink, startMailSink } from '../../dev/mail-sink/index.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { addToCart, createShopper, createVariant, newPool, setCartIdle } from '../helpers/db.ts';
import { functionEnv, stopAll } from '../helpers/functions.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';
import { shopperClaims, signHs256, TEST_SUPABASE_URL } from '../helpers/jwt.ts';

const JWT_SECRET = 'consent-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'consent-test-service-role-key';

let pool: pg.Pool;
let sandbox: Sandbox;
let sink: MailSink;
let fn: Record<'create' | 'emails', RunningFunction>;

beforeAll(async () => {
  pool = newPool(5);
  sandbox = await startSandbox({ retrySchedule: [60_000] });
  sink = await startMailSink();
  const env = functionEnv(
    { sandbox, sink, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY, linkSecret: 'consent-test-link-secret-with-32-characters' },
    { STORE_NAME: 'Tienda Demo', FUNCTIONS_URL: `${TEST_SUPABASE_URL}/functions/v1` },
  );
  const [create, emails] = await Promise.all([startFunction('create-preference', env), startFunction('send-emails', env)]);
  fn = { create: create!, emails: emails! };
  // Whatever earlier suites left in the outbox goes out now, so the tests below see only their own emails.
  await pool.query(`update email.outbox set next_attempt_at = now() where status = 'pending'`);
  for (let i = 0; i < 50 && (await send()).body.claimed !== 0; i++);
}, 120_000);

afterAll(() => stopAll({ fn, sandbox, sink, pool }));

const call = (f: RunningFunction, path: string, init: CallInit = {}) => callFunction(`${f.url}${path}`, init);
const send = () => call(fn.emails, '/send-emails', { token: SERVICE_KEY });

/** A shopper who checked out with `email` (the box ticked or not) and left: the reservation lapsed, the cart idle for 2 hours. */
async function abandonedCheckout(email: string, marketingOptIn?: boolean) {
  const shopper = await createShopper(pool);
  const variant = await createVariant(pool, { sku: 'CONSENT', stock: 10, price: 4200 });
  await addToCart(pool, shopper, variant.id, 1);
  const res = await call(fn.create, '/create-preference', {
    token: signHs256(shopperClaims(shopper), JWT_SECRET),
    body: {
      payer: { email, name: 'Ana' },
      shipping_address: { street_name: 'Mitre', street_number: '50', zip_code: 'B1900', city: 'La Plata' },
      ...(marketingOptIn === undefined ? {} : { marketing_opt_in: marketingOptIn }),
    },
  });
  expect(res.status).toBe(201);
  await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where session_id = $1`, [shopper]);
  await pool.query(
    `update checkout.stock_reservations r set expires_at = now() - interval '1 minute'
                      from public.order_sessions s where s.id = r.order_session_id and s.session_id = $1`,
    [shopper],
  );
  return shopper;
}

/** Detection, then a sending run; the emails that reached `email`. */
async function remindersTo(shopper: string, email: string) {
  await setCartIdle(pool, shopper, 120);
  await pool.query('select email.detect_abandoned_carts()');
  await send();
  return sink.emails().filter((e) => e.to.includes(email) && e.subject.includes('Tu carrito'));
}

/** The link in an email's text, pointed at the function under test. */
function linkIn(text: string | null | undefined, path: string): string {
  const token = new RegExp(`/send-emails/${path}\\?token=([A-Za-z0-9_.-]+)`).exec(text ?? '')?.[1];
  expect(token, `a ${path} link`).toBeTruthy();
  return `/send-emails/${path}?token=${token}`;
}

describe('consent before marketing', () => {
  it('a typed payer email without the box gets no reminder, nor any other email', async () => {
    const email = `typed-${Date.now()}@example.com`;
    const shopper = await abandonedCheckout(email);
    expect(await remindersTo(shopper, email)).toHaveLength(0);
    expect(sink.emails().filter((e) => e.to.includes(email))).toHaveLength(0);
  });

  it('the box ticked: a confirmation email; no reminder until its link is clicked; then one; unsubscribing withdraws it', async () => {
    const email = `box-${Date.now()}@example.com`;
    const shopper = await abandonedCheckout(email, true);

    // The confirmation email, in Spanish, with the link.
    await send();
    const asked = sink.emails().filter((e) => e.to.includes(email));
    expect(asked.map((e) => e.subject)).toEqual(['Confirmá que querés recibir recordatorios de Tienda Demo']);
    const link = linkIn(asked[0]!.text, 'opt-in');

    // Not clicked: no reminder.
    expect(await remindersTo(shopper, email)).toHaveLength(0);

    // Opened (a page that only asks: a link scanner confirms nothing), then the button.
    const page = await call(fn.emails, link, { method: 'GET' });
    expect([page.status, String(page.body.text)]).toEqual([200, expect.stringContaining('Sí, quiero recibirlos')]);
    expect((await pool.query(`select state from email.marketing_consents where email = $1`, [email])).rows[0]?.state).toBe('pending');
    const confirmed = await call(fn.emails, link, { method: 'POST', headers: { accept: 'text/html' } });
    expect([confirmed.status, String(confirmed.body.text)]).toEqual([200, expect.stringContaining('Vas a recibir recordatorios')]);

    const reminders = await remindersTo(shopper, email);
    expect(reminders).toHaveLength(1);

    // The reminder's one-click unsubscribe (RFC 8058) withdraws the consent.
    const unsubscribe = /^<(.+)>$/.exec(reminders[0]!.headers['List-Unsubscribe'] ?? '')![1]!;
    const done = await call(fn.emails, unsubscribe.slice(unsubscribe.indexOf('/send-emails')), {
      method: 'POST',
      raw: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(done.body).toEqual({ unsubscribed: true });
    const { rows } = await pool.query(`select email.marketing_consent($1, $2) as c`, [shopper, email]);
    expect(rows[0].c).toMatchObject({ state: 'unsubscribed', source: 'unsubscribe_link' });
    // Touched and abandoned again: no further reminder.
    await addToCart(pool, shopper, (await createVariant(pool, { sku: 'CONSENT-2', stock: 5 })).id, 1);
    expect(await remindersTo(shopper, email)).toHaveLength(1);
  });
});
