/**
 * A dashboard refund and a payment notification for the same order take
 * their locks in one order: the order session, then the order. The payment
 * routine (apply_payment) holds the session while it moves the order; the
 * refund's recording used to take the order first and then, through the
 * event log's foreign key, wait for the session: a deadlock (40P01), which
 * the end-to-end suite met as a 500 with the refund made at MercadoPago
 * but left owed. Here the two transactions are interleaved by hand on two
 * real connections.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addToCart, approvedPayment, asService, connect, createShopper, createVariant, newPool, payer, shipping } from '../helpers/db.ts';

let pool: pg.Pool;

beforeAll(() => {
  pool = newPool(4);
});
afterAll(async () => {
  await pool.end();
});

/** A paid order, and one of its refunds owed (as admin.refund_order leaves it before the admin function calls MercadoPago). */
async function orderWithOwedRefund() {
  const v = await createVariant(pool, { sku: 'LOCKORDER', stock: 5, price: 3000 });
  const shopper = await createShopper(pool);
  await addToCart(pool, shopper, v.id, 1);
  const session = await asService(pool, async (c) => (await c.query('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping])).rows[0].s);
  const payment = approvedPayment(session);
  await asService(pool, (c) => c.query('select checkout.apply_payment($1)', [payment]));
  const { rows: [order] } = await pool.query('select id, order_session_id from public.orders where order_session_id = $1', [session.id]);
  const { rows: [refund] } = await pool.query(
    `insert into checkout.order_refunds (order_id, payment_id, amount, currency) values ($1, $2, 1000, 'ARS') returning id`,
    [order.id, payment.id],
  );
  return { order, refundId: refund.id as string };
}

async function waitUntilBlocked(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await pool.query('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
    if (rows[0]?.wait_event_type === 'Lock') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the refund never waited for a lock');
}

it('recording a dashboard refund while a payment notification holds the session: both commit, no deadlock', async () => {
  const { order, refundId } = await orderWithOwedRefund();
  const payment = await connect();
  const dashboard = await connect();
  try {
    // The payment routine: the session first ...
    await payment.query('begin');
    await payment.query('select 1 from public.order_sessions where id = $1 for update', [order.order_session_id]);
    // ... while the admin function records the refund MercadoPago made.
    const pid = (await dashboard.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const recorded = asService(dashboard, (c) => c.query('select checkout.record_order_refund($1, $2) as r', [refundId, 'mp-refund-1']));
    await waitUntilBlocked(pid);
    // ... then the order (a refunded part moves its status).
    await payment.query('update public.orders set status = status where id = $1', [order.id]);
    await payment.query('commit');
    const { rows } = await recorded;
    expect(rows[0].r).toMatchObject({ status: 'refunded', order_status: 'partially_refunded' });
  } finally {
    await payment.query('rollback').catch(() => undefined);
    await payment.end();
    await dashboard.end();
  }
});
