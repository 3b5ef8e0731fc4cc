/**
 * Issue 23, end to end: a two-card purchase whose first card is approved and
 * whose second stays in review (CONT: in_process) when the hold ends. The
 * reconcile function refunds the approved part and cancels the pending one
 * at the sandbox (PUT /v1/payments/{id} {status: cancelled}); when the
 * pending part was approved just before the cancel, that approval is applied
 * and refunded, once, however late its notification comes. Real Deno
 * functions, the sandbox, the real database.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { freePort } from '../../dev/pg/cluster.ts';
import { newPool } from '../helpers/db.ts';
import { checkoutOneUnit } from '../helpers/checkout.ts';
import { paymentFunctionEnv, stopAll } from '../helpers/functions.ts';
import { callFunction } from '../helpers/http.ts';

const JWT_SECRET = 'pending-parts-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'pending-parts-service-role-key';

let pool: pg.Pool;
let sandbox: Sandbox;
let fn: Record<'create' | 'webhook' | 'reconcile', RunningFunction>;

beforeAll(async () => {
  pool = newPool(4);
  sandbox = await startSandbox({ retrySchedule: [300, 600, 1200], webhookTimeoutMs: 5000 });
  const webhookPort = await freePort();
  const env = (extra: Record<string, string> = {}) => paymentFunctionEnv({ sandbox, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY }, extra);
  const [create, webhook, reconcile] = await Promise.all([
    startFunction('create-preference', env({ FUNCTIONS_URL: `http://127.0.0.1:${webhookPort}` })),
    startFunction('mercadopago-webhook', env(), { port: webhookPort }),
    startFunction('reconcile', env({ RECONCILE_UNPAIRED_GRACE_MINUTES: '0', RECONCILE_BATCH: '500' })),
  ]);
  fn = { create: create!, webhook: webhook!, reconcile: reconcile! };
}, 180_000);

afterAll(() => stopAll({ fn, sandbox, pool }));

/** A shopper's checkout of one unit at `price`, through create-preference. */
const checkout = (price: number) => checkoutOneUnit(pool, fn.create.url, JWT_SECRET, { sku: 'PENDING-PART', price });

async function endHold(sessionId: string) {
  await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where id = $1`, [sessionId]);
  await pool.query(`update checkout.stock_reservations set expires_at = now() - interval '1 minute' where order_session_id = $1`, [sessionId]);
}

/** Runs reconcile until `done` (other suites' work on this database may fill a run's batches). */
async function reconcileUntil(done: () => boolean, paymentIds: number[], runs = 10) {
  for (let i = 0; i < runs && !done(); i++) {
    await pool.query(`update checkout.payment_refunds set next_attempt_at = now() where payment_id = any($1) and status = 'owed'`, [paymentIds]);
    await pool.query(`update checkout.offline_holds set next_cancel_at = now() where payment_id = any($1) and status = 'ended'`, [paymentIds]);
    const run = await callFunction(`${fn.reconcile.url}/reconcile`, { method: 'POST', token: SERVICE_KEY });
    expect(run.status).toBe(200);
  }
}

const sessionStatus = async (id: string) => (await pool.query('select status from public.order_sessions where id = $1', [id])).rows[0].status as string;
const ordersOf = async (id: string) => (await pool.query('select id from public.orders where order_session_id = $1', [id])).rows;
const refundsOf = async (ids: number[]) =>
  (await pool.query('select payment_id::text as id, reason, status from checkout.payment_refunds where payment_id = any($1) order by payment_id', [ids]))
    .rows;
const holdOf = async (id: number) =>
  (await pool.query('select status, cancel_attempts from checkout.offline_holds where payment_id = $1', [id])).rows[0] as
    | { status: string; cancel_attempts: number }
    | undefined;
const violationsFor = async (subjects: string[]) =>
  ((await pool.query('select checkout.audit() as a')).rows[0].a as { subject: string }[]).filter((v) => subjects.includes(v.subject));

describe('a part still pending when the hold ends', () => {
  it('one card approved, the other in review: the approved part is refunded, the pending one cancelled at MercadoPago; the audit is empty', async () => {
    const { session, preferenceId } = await checkout(4000);
    const approved = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 1500 });
    const pending = sandbox.pay(preferenceId, { cardholderName: 'CONT', amount: 2500 });
    await sandbox.settle(30_000);
    expect(pending.status).toBe('in_process');
    expect(await ordersOf(session.id)).toEqual([]);

    await endHold(session.id);
    await reconcileUntil(
      () => sandbox.getPayment(approved.id).status === 'refunded' && sandbox.getPayment(pending.id).status === 'cancelled',
      [approved.id, pending.id],
    );
    await sandbox.settle(30_000);

    expect(sandbox.getPayment(pending.id)).toMatchObject({ status: 'cancelled', status_detail: 'by_collector' });
    expect(sandbox.getPayment(approved.id).status).toBe('refunded');
    expect(sandbox.getPayment(approved.id).refunds).toHaveLength(1);
    expect(await refundsOf([approved.id, pending.id])).toEqual([{ id: String(approved.id), reason: 'unpaired_part', status: 'refunded' }]);
    expect(await holdOf(pending.id)).toEqual({ status: 'cancelled', cancel_attempts: 1 });
    expect(await sessionStatus(session.id)).toBe('refunded');
    expect(await ordersOf(session.id)).toEqual([]);
    expect(await violationsFor([String(approved.id), String(pending.id), session.id])).toEqual([]);
  });

  it('the pending part approved just before the cancel: applied and refunded, never an order; its late notification changes nothing', async () => {
    const { session, preferenceId } = await checkout(3000);
    const approved = sandbox.pay(preferenceId, { cardholderName: 'APRO', amount: 1000 });
    const pending = sandbox.pay(preferenceId, { cardholderName: 'CONT', amount: 2000 });
    await sandbox.settle(30_000);
    expect(await sessionStatus(session.id)).toBe('active');

    // reconcile looked at the session a moment ago (it saw the part in
    // review), and MercadoPago approves it now, its notification held back:
    // the next run meets the approval only when it tries to cancel.
    await pool.query(`update public.order_sessions set next_check_at = now() + interval '1 hour' where id = $1`, [session.id]);
    sandbox.holdNotifications();
    sandbox.approve(pending.id);
    await endHold(session.id);
    await reconcileUntil(
      () => sandbox.getPayment(approved.id).status === 'refunded' && sandbox.getPayment(pending.id).status === 'refunded',
      [approved.id, pending.id],
    );

    expect(sandbox.getPayment(pending.id).refunds).toHaveLength(1);
    expect(sandbox.getPayment(approved.id).refunds).toHaveLength(1);
    expect(await refundsOf([approved.id, pending.id])).toEqual([
      { id: String(approved.id), reason: 'unpaired_part', status: 'refunded' },
      { id: String(pending.id), reason: 'duplicate_payment', status: 'refunded' },
    ]);
    expect(await holdOf(pending.id)).toMatchObject({ status: 'paid' });

    // The approval's notification (and the refunds') arrive now, late, twice.
    await sandbox.releaseNotifications('fifo');
    sandbox.resendNotification(pending.id, { copies: 2 });
    await sandbox.settle(30_000);
    await reconcileUntil(() => false, [approved.id, pending.id], 2);

    expect(sandbox.getPayment(pending.id).refunds).toHaveLength(1);
    expect(await refundsOf([approved.id, pending.id])).toEqual([
      { id: String(approved.id), reason: 'unpaired_part', status: 'refunded' },
      { id: String(pending.id), reason: 'duplicate_payment', status: 'refunded' },
    ]);
    expect(await ordersOf(session.id)).toEqual([]);
    expect(await sessionStatus(session.id)).toBe('refunded');
    expect(await violationsFor([String(approved.id), String(pending.id), session.id])).toEqual([]);
  });
});
