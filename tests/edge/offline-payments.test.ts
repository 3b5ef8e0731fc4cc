/**
 * Offline payments end to end (docs/offline-payments.md): the Edge Functions
 * under real Deno, the real database and the MercadoPago sandbox on a
 * Brazilian account (boleto and Pix). The clock is moved the way the other
 * suites move it: a checkout's stamped times (the session, its reservation
 * rows, its offline hold) are moved into the past, as time passing would.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type MailSink, startMailSink } from '../../dev/mail-sink/index.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { freePort } from '../../dev/pg/cluster.ts';
import { addToCart, createShopper, createVariant, newPool, payer, race } from '../helpers/db.ts';
import { functionEnv } from '../helpers/functions.ts';
import { shopperClaims, signHs256 } from '../helpers/jwt.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';
import { waitFor } from '../helpers/wait.ts';

const JWT_SECRET = 'offline-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'offline-test-service-role-key';

let pool: pg.Pool;
let sandbox: Sandbox;
let sink: MailSink;
let fn: Record<'create' | 'webhook' | 'status' | 'reconcile' | 'emails', RunningFunction>;
/** The store's site before this suite made it a Brazilian store (put back after). */
let previousSite: string;

beforeAll(async () => {
  pool = newPool(10);
  previousSite = (await pool.query<{ site_id: string }>('select site_id from private.settings')).rows[0]!.site_id;
  await pool.query(`update private.settings set site_id = 'MLB'`);
  sandbox = await startSandbox({ siteId: 'MLB', retrySchedule: [300, 600, 1200], webhookTimeoutMs: 5000 });
  sink = await startMailSink();
  const env = (extra: Record<string, string> = {}) =>
    functionEnv(
      { sandbox, sink, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY, linkSecret: 'offline-test-email-link-secret-32-characters' },
      { MP_TIMEOUT_MS: '5000', SITE_URL: 'http://127.0.0.1:5173', ...extra },
    );
  const webhookPort = await freePort();
  const [create, webhook, status, reconcile, emails] = await Promise.all([
    startFunction('create-preference', env({ FUNCTIONS_URL: `http://127.0.0.1:${webhookPort}` })),
    startFunction('mercadopago-webhook', env(), { port: webhookPort }),
    startFunction('payment-status', env()),
    startFunction('reconcile', env()),
    startFunction('send-emails', env()),
  ]);
  fn = { create: create!, webhook: webhook!, status: status!, reconcile: reconcile!, emails: emails! };
}, 180_000);

afterAll(async () => {
  // The payment-instructions emails queued here go out now: the next suites find the outbox as they would.
  for (let i = 0; fn && i < 50 && (await call(fn.emails, '/send-emails', { token: SERVICE_KEY })).body.claimed !== 0; i++);
  await Promise.all(Object.values(fn ?? {}).map((f) => f.stop()));
  await sandbox?.close();
  await sink?.close();
  if (previousSite) await pool.query('update private.settings set site_id = $1', [previousSite]);
  await pool?.end();
});

const call = (f: RunningFunction, path: string, init: CallInit = {}) => callFunction(`${f.url}${path}`, init);
const MINUTE = 60_000;

/** A shopper with `qty` units of `variant` in the cart, checked out: the session and its preference. */
async function checkedOut(variantId: string, qty: number) {
  const shopper = await createShopper(pool);
  await addToCart(pool, shopper, variantId, qty);
  const token = signHs256(shopperClaims(shopper), JWT_SECRET);
  const res = await call(fn.create, '/create-preference', {
    token,
    body: {
      payer: { email: payer.email, name: payer.name, identification: { type: 'CPF', number: '52998224725' } },
      shipping_address: { street_name: 'Av. Paulista', street_number: '1000', zip_code: '01310-100', city: 'São Paulo' },
    },
  });
  expect(res.status).toBe(201);
  return { shopper, token, session: res.body.order_session as { id: string; token: string }, preferenceId: res.body.preference_id as string };
}

const variant = (stock: number) => createVariant(pool, { sku: 'OFF', stock, price: 100, currency: 'BRL' });

/** Time passes for one checkout: every time it stamped moves `ms` into the past. */
async function moveClock(orderSessionId: string, ms: number) {
  const by = `${ms} milliseconds`;
  await pool.query(
    `with s as (update public.order_sessions set created_at = created_at - $2::interval, expires_at = expires_at - $2::interval where id = $1),
          r as (update checkout.stock_reservations set expires_at = expires_at - $2::interval where order_session_id = $1)
     update checkout.offline_holds set deadline = deadline - $2::interval, hold_until = hold_until - $2::interval,
            created_at = created_at - $2::interval where order_session_id = $1`,
    [orderSessionId, by],
  );
}

async function holdOf(paymentId: number) {
  const { rows } = await pool.query('select status, refusal, deadline, hold_until from checkout.offline_holds where payment_id = $1', [paymentId]);
  return rows[0] as { status: string; refusal: string | null; deadline: Date; hold_until: Date } | undefined;
}

/** A pending payment on the sandbox, and its hold once the webhook applied it. */
async function payPending(preferenceId: string, paymentMethodId: string) {
  const payment = sandbox.pay(preferenceId, { paymentMethodId }) as { id: number; status: string };
  expect(payment.status).toBe('pending');
  await waitFor('the offline payment to get there', () => holdOf(payment.id));
  return payment;
}

async function sessionOf(id: string) {
  const { rows } = await pool.query(
    `select s.status, (select count(*)::int from public.orders o where o.order_session_id = s.id) as orders,
            (select count(*)::int from checkout.payment_refunds r where r.order_session_id = s.id) as refunds,
            (select coalesce(sum(quantity), 0)::int from checkout.stock_reservations r where r.order_session_id = s.id) as reserved
       from public.order_sessions s where s.id = $1`,
    [id],
  );
  return rows[0] as { status: string; orders: number; refunds: number; reserved: number };
}

async function stockOf(variantId: string) {
  const { rows } = await pool.query('select stock_on_hand, private.available_stock(id) as available from public.variants where id = $1', [variantId]);
  return rows[0] as { stock_on_hand: number; available: number };
}

async function runReconcile() {
  const res = await call(fn.reconcile, '/reconcile', { token: SERVICE_KEY, body: {} });
  expect(res.status).toBe(200);
  return res.body as { offline_cancelled: number; offline_cancel_failed: number };
}

async function expectAuditEmpty() {
  await sandbox.settle(30_000);
  const { rows } = await pool.query('select checkout.audit() as r');
  expect(rows[0].r).toEqual([]);
}

describe('a boleto (cash ticket)', () => {
  it('holds the stock until its deadline; the pending page gets the ticket; paid one minute before the deadline: one order, no refund, nothing oversold', async () => {
    const v = await variant(4);
    const { session, preferenceId, token } = await checkedOut(v.id, 2);
    const payment = await payPending(preferenceId, 'bolbradesco');
    const hold = (await holdOf(payment.id))!;
    expect(hold.status).toBe('holding');
    // The ticket is payable for 3 days (the preference's date_of_expiration), held 2 business hours more.
    expect(Math.abs(hold.deadline.getTime() - (Date.now() + 3 * 24 * 60 * MINUTE))).toBeLessThan(5 * MINUTE);
    expect(hold.hold_until.getTime()).toBeGreaterThan(hold.deadline.getTime());

    const status = await call(fn.status, '/payment-status', { token, body: { payment_id: payment.id } });
    expect(status.status).toBe(200);
    expect(status.body.status).toBe('active');
    expect(status.body.pending_payment).toMatchObject({
      payment_id: payment.id,
      payment_type_id: 'ticket',
      payment_method_id: 'bolbradesco',
      label: 'esperando pago',
      waiting: true,
      external_resource_url: expect.stringContaining(`payment_id=${payment.id}`),
      barcode: expect.stringMatching(/^\d{44}$/),
    });

    // The instructions and the deadline by email, exactly once (however often the sender runs).
    await Promise.all(Array.from({ length: 3 }, () => call(fn.emails, '/send-emails', { token: SERVICE_KEY })));
    await call(fn.emails, '/send-emails', { token: SERVICE_KEY });
    const barcode = (status.body.pending_payment as { barcode: string }).barcode;
    const mails = sink.emails().filter((e) => e.text?.includes(barcode));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toMatch(/^Pagá tu compra con boleto bancario antes del /);
    expect(mails[0]!.text).toContain(`payment_id=${payment.id}`);

    // Three days later, a minute before the deadline; another buyer wants the last units.
    await moveClock(session.id, hold.deadline.getTime() - Date.now() - MINUTE);
    await runReconcile();
    expect((await holdOf(payment.id))!.status).toBe('holding');
    expect(sandbox.getPayment(payment.id).status).toBe('pending');
    expect((await stockOf(v.id)).available).toBe(2);
    sandbox.payOffline(payment.id);
    await waitFor('the offline payment to get there', async () => (await sessionOf(session.id)).orders === 1);
    expect(await sessionOf(session.id)).toEqual({ status: 'paid', orders: 1, refunds: 0, reserved: 0 });
    expect(await stockOf(v.id)).toEqual({ stock_on_hand: 2, available: 2 });
    const { rows } = await pool.query('select paid_late from public.orders where order_session_id = $1', [session.id]);
    expect(rows[0].paid_late).toBe(false);
    await runReconcile();
    expect((await holdOf(payment.id))!.status).toBe('paid');
    expect(sandbox.getPayment(payment.id).status).toBe('approved');
    await expectAuditEmpty();
  });

  it('left to expire: the stock comes back and the payment is cancelled at the sandbox in one reconcile pass', async () => {
    const v = await variant(4);
    const { session, preferenceId } = await checkedOut(v.id, 2);
    const payment = await payPending(preferenceId, 'bolbradesco');
    expect((await stockOf(v.id)).available).toBe(2);
    // No notification in flight (one would hold the session's lock, and the pass skips a locked session).
    await sandbox.settle(30_000);
    // A delivered notification may still be acted on after its 200 (the merchant order's too): wait until nothing holds the session.
    await waitFor(
      'the offline payment to get there',
      async () => (await pool.query('select 1 from public.order_sessions where id = $1 for update skip locked', [session.id])).rowCount === 1,
    );
    await moveClock(session.id, (await holdOf(payment.id))!.hold_until.getTime() - Date.now() + MINUTE);

    // The suites share the database, and another suite's reconcile pass may
    // claim this hold first (the pass takes every due hold): whichever pass
    // claims it cancels it, once.
    await runReconcile();
    await waitFor(
      'the hold to be cancelled',
      async () => (await holdOf(payment.id))!.status !== 'holding' && sandbox.getPayment(payment.id).status === 'cancelled',
    );
    expect(await sessionOf(session.id)).toMatchObject({ status: 'expired', orders: 0, reserved: 0 });
    expect((await stockOf(v.id)).available).toBe(4);
    expect(sandbox.getPayment(payment.id).status).toBe('cancelled');
    expect(() => sandbox.payOffline(payment.id)).toThrow();
    await sandbox.settle(30_000);
    expect((await holdOf(payment.id))!.status).toBe('cancelled');
    // Never twice: the next pass sends nothing for it.
    await runReconcile();
    const { rows } = await pool.query('select cancel_attempts from checkout.offline_holds where payment_id = $1', [payment.id]);
    expect(rows[0].cancel_attempts).toBe(1);
    await expectAuditEmpty();
  });

  it('expired by MercadoPago first (its cancelled notification): the hold ends, the stock comes back, nothing left to cancel', async () => {
    const v = await variant(4);
    const { session, preferenceId } = await checkedOut(v.id, 2);
    const payment = await payPending(preferenceId, 'bolbradesco');
    await moveClock(session.id, 20 * MINUTE);
    sandbox.expire(payment.id);
    await waitFor('the offline payment to get there', async () => (await holdOf(payment.id))!.status === 'cancelled');
    expect(await sessionOf(session.id)).toMatchObject({ status: 'expired', orders: 0, reserved: 0 });
    expect((await stockOf(v.id)).available).toBe(4);
    expect(await runReconcile()).toMatchObject({ offline_cancel_failed: 0 });
    await expectAuditEmpty();
  });

  it('paid after its hold ended (before the cancellation went out): re-reserved while the stock is there, else refunded; never lost', async () => {
    const v = await variant(4);
    const a = await checkedOut(v.id, 1);
    const b = await checkedOut(v.id, 1);
    const pa = await payPending(a.preferenceId, 'bolbradesco');
    const pb = await payPending(b.preferenceId, 'bolbradesco');
    await sandbox.settle(30_000);
    const past = (await holdOf(pa.id))!.hold_until.getTime() - Date.now() + MINUTE;
    for (const { session } of [a, b]) await moveClock(session.id, past);
    // The cron's expiry ran, the reconcile pass not yet: both still payable at MercadoPago.
    await pool.query('select checkout.expire_sessions(1000)');
    expect((await stockOf(v.id)).available).toBe(4);

    sandbox.payOffline(pa.id);
    await waitFor('the offline payment to get there', async () => (await sessionOf(a.session.id)).orders === 1);
    const { rows } = await pool.query('select paid_late from public.orders where order_session_id = $1', [a.session.id]);
    expect(rows[0].paid_late).toBe(true);

    // The last units go elsewhere, then b pays: refunded.
    await pool.query('update public.variants set stock_on_hand = 0 where id = $1', [v.id]);
    sandbox.payOffline(pb.id);
    // Refunded at MercadoPago first, then recorded: wait for the record.
    await waitFor(
      'the refund to be recorded',
      async () => sandbox.getPayment(pb.id).status === 'refunded' && (await sessionOf(b.session.id)).status === 'refunded',
    );
    expect(await sessionOf(b.session.id)).toMatchObject({ status: 'refunded', orders: 0, refunds: 1 });

    // The reconcile pass finds them paid: nothing to cancel (a pass skips a
    // session a late notification still holds: the next one sees it).
    await waitFor('the holds to be marked paid', async () => {
      expect(await runReconcile()).toMatchObject({ offline_cancel_failed: 0 });
      return (await holdOf(pa.id))!.status === 'paid' && (await holdOf(pb.id))!.status === 'paid';
    });
    expect([(await holdOf(pa.id))!.status, (await holdOf(pb.id))!.status]).toEqual(['paid', 'paid']);
    expect((await stockOf(v.id)).stock_on_hand).toBe(0);
    await expectAuditEmpty();
  });
});

describe('Pix', () => {
  it('approved 20 minutes into a 15-minute card hold: an order, no refund; the pending page had the QR', async () => {
    const v = await variant(2);
    const { session, preferenceId, token } = await checkedOut(v.id, 1);
    const payment = await payPending(preferenceId, 'pix');
    const status = await call(fn.status, '/payment-status', { token, body: { external_reference: session.token } });
    expect(status.body.pending_payment).toMatchObject({
      payment_type_id: 'bank_transfer',
      payment_method_id: 'pix',
      label: 'esperando pago',
      qr_code: expect.stringMatching(/^000201/),
      qr_code_base64: expect.stringMatching(/^iVBOR/),
    });
    // Pix is payable 30 minutes (transfer_deadline), held 15 more.
    const hold = (await holdOf(payment.id))!;
    expect(Math.round((hold.hold_until.getTime() - hold.deadline.getTime()) / MINUTE)).toBe(15);

    await moveClock(session.id, 20 * MINUTE);
    await runReconcile();
    expect((await sessionOf(session.id)).status).toBe('active');
    sandbox.payOffline(payment.id);
    await waitFor('the offline payment to get there', async () => (await sessionOf(session.id)).orders === 1);
    expect(await sessionOf(session.id)).toEqual({ status: 'paid', orders: 1, refunds: 0, reserved: 0 });
    const { rows } = await pool.query('select paid_late from public.orders where order_session_id = $1', [session.id]);
    expect(rows[0].paid_late).toBe(false);
    await runReconcile();
    await expectAuditEmpty();
  });
});

describe('hoarding', () => {
  it(
    '50 shoppers each generating a boleto for 2 of 120 units hold at most offline_stock_share (half: 60) of the variant; past it, the preference is cards only',
    async () => {
      const v = await variant(120);
      const buyers = [];
      for (let i = 0; i < 50; i += 10) buyers.push(...(await Promise.all(Array.from({ length: 10 }, () => checkedOut(v.id, 2)))));
      const payments = buyers.map((b) => sandbox.pay(b.preferenceId, { paymentMethodId: 'bolbradesco' }) as { id: number });
      await sandbox.settle(60_000);
      await waitFor('the offline payment to get there', async () => {
        const { rows } = await pool.query('select count(*)::int as n from checkout.offline_holds where payment_id = any($1::bigint[])', [
          payments.map((p) => p.id),
        ]);
        return rows[0].n === 50;
      }, 60_000);
      const { rows } = await pool.query(
        `select status, count(*)::int as n from checkout.offline_holds where payment_id = any($1::bigint[]) group by status order by status`,
        [payments.map((p) => p.id)],
      );
      expect(rows).toEqual([{ status: 'holding', n: 30 }, { status: 'refused', n: 20 }]);

      // A further cart: its preference leaves the offline methods out.
      const more = await checkedOut(v.id, 2);
      const pref = (await (await fetch(`${sandbox.url}/checkout/preferences/${more.preferenceId}`, {
        headers: { authorization: `Bearer ${sandbox.accessToken}` },
      })).json()) as { payment_methods: { excluded_payment_types: { id: string }[] } };
      expect(pref.payment_methods.excluded_payment_types.map((t) => t.id)).toEqual(['ticket', 'atm', 'bank_transfer']);
      expect(() => sandbox.pay(more.preferenceId, { paymentMethodId: 'bolbradesco' })).toThrow();

      // The card time passes: only the holds keep their units; the refused tickets are cancelled.
      for (const b of [...buyers, more]) await moveClock(b.session.id, 16 * MINUTE);
      await runReconcile();
      await runReconcile();
      expect((await stockOf(v.id)).available).toBe(60);
      const cancelled = payments.filter((p) => sandbox.getPayment(p.id).status === 'cancelled').length;
      expect(cancelled).toBe(20);
      // Leave nothing live behind: the holds end.
      for (const b of buyers) await moveClock(b.session.id, 4 * 24 * 60 * MINUTE);
      await runReconcile();
      await runReconcile();
      expect((await stockOf(v.id)).available).toBe(120);
      await expectAuditEmpty();
    },
    180_000,
  );
});

describe('a hold ending while its approval arrives, on parallel connections', () => {
  it('exactly one outcome, whichever wins', async () => {
    for (let round = 0; round < 8; round++) {
      const v = await variant(2);
      const shopper = await createShopper(pool);
      await addToCart(pool, shopper, v.id, 1);
      const { rows } = await pool.query(
        `select checkout.begin_checkout($1, $2, '{"street_name": "Rua A", "street_number": "1", "zip_code": "01000-000", "city": "SP"}', null) as s`,
        [shopper, { email: 'race@example.com', name: 'Race' }],
      );
      const s = rows[0].s as { id: string; token: string; total: number; currency: string };
      const id = 8_800_000_000 + round * 1000 + Math.floor(Math.random() * 1000);
      const base = {
        id,
        external_reference: s.token,
        transaction_amount: Number(s.total),
        currency_id: s.currency,
        payment_type_id: 'ticket',
        payment_method_id: 'bolbradesco',
      };
      await pool.query('select checkout.apply_payment($1)', [{
        ...base,
        status: 'pending',
        date_of_expiration: new Date(Date.now() + 3 * 86_400_000).toISOString(),
      }]);
      expect((await holdOf(id))!.status).toBe('holding');
      await moveClock(s.id, (await holdOf(id))!.hold_until.getTime() - Date.now() + 1000);

      await race(
        2,
        (i, c) =>
          i === 0
            ? c.query('select checkout.claim_offline_expiry(1000)')
            : c.query('select checkout.apply_payment($1)', [{ ...base, status: 'approved', status_detail: 'accredited' }]),
      );
      // The cancellation, if it was claimed, meets the approval (MercadoPago's 400): recorded paid.
      await pool.query('select checkout.claim_offline_expiry(1000)');
      await pool.query('select checkout.record_offline_cancel($1, null)', [id]);
      const after = await sessionOf(s.id);
      expect(after.orders + after.refunds).toBe(1);
      expect(after.orders).toBe(1);
      expect((await holdOf(id))!.status).toBe('paid');
      expect(await stockOf(v.id)).toEqual({ stock_on_hand: 1, available: 1 });
    }
    await expectAuditEmpty();
  });
});
