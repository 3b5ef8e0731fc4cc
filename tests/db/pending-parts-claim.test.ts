/**
 * Issue 23: two reconcile runs at the same instant, on real parallel
 * connections, each closing the sessions whose hold ended with an approved
 * part and a part still in review (checkout.refund_unpaired_parts), then
 * claiming cancellations (checkout.claim_offline_expiry): each session is
 * closed once, each approved part owed back once, each pending part's
 * cancellation handed to one run only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, approvedPayment, asService, createShopper, createVariant, newPool, payer, race, shipping } from '../helpers/db.ts';

let pool: pg.Pool;
beforeAll(() => {
  pool = newPool(4);
});
afterAll(async () => await pool?.end());

const SESSIONS = 6;

describe('pending parts cancelled when the hold ends: the claim, in parallel', () => {
  it('two runs at once: every session closed once, every pending part claimed by one run only', async () => {
    const variant = await createVariant(pool, { sku: 'PENDING-CLAIM', stock: 50, price: 1000 });
    const base = 9_600_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
    const sessions: string[] = [];
    const approvedIds: number[] = [];
    const pendingIds: number[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const shopper = await createShopper(pool);
      await addToCart(pool, shopper, variant.id, 1);
      const s = await asService(
        pool,
        async (c) =>
          (await c.query('select checkout.begin_checkout($1, $2, $3, null) as s', [shopper, payer, shipping])).rows[0].s as { id: string; token: string },
      );
      const approved = { ...approvedPayment({ token: s.token, total: 400 }, base + i * 2) };
      const pending = { ...approved, id: base + i * 2 + 1, status: 'in_process', status_detail: 'pending_contingency', transaction_amount: 600 };
      await asService(pool, async (c) => {
        await c.query('select checkout.apply_payment($1)', [approved]);
        await c.query('select checkout.apply_payment($1)', [pending]);
      });
      sessions.push(s.id);
      approvedIds.push(approved.id);
      pendingIds.push(pending.id);
    }
    await pool.query(`update public.order_sessions set expires_at = now() - interval '1 minute' where id = any($1)`, [sessions]);
    await pool.query(`update checkout.stock_reservations set expires_at = now() - interval '1 minute' where order_session_id = any($1)`, [sessions]);

    const runs = await race(2, async (_i, c) => {
      const closed = (await c.query(`select checkout.refund_unpaired_parts(interval '0', 500) as r`)).rows[0].r as { order_session_id: string }[];
      const claimed = (await c.query('select checkout.claim_offline_expiry(1000) as r')).rows[0].r as { payment_id: number }[];
      return { closed: closed.map((x) => x.order_session_id), claimed: claimed.map((x) => Number(x.payment_id)) };
    });
    const answers = runs.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });

    const closed = answers.flatMap((a) => a.closed).filter((id) => sessions.includes(id));
    expect(closed.sort()).toEqual([...sessions].sort());
    const claimed = answers.flatMap((a) => a.claimed).filter((id) => pendingIds.includes(id));
    expect(claimed.sort()).toEqual([...pendingIds].sort());
    const { rows } = await pool.query(
      'select payment_id::bigint as id, count(*)::int as n, min(reason) as reason from checkout.payment_refunds where payment_id = any($1) group by 1 order by 1',
      [[...approvedIds, ...pendingIds]],
    );
    expect(rows.map((r) => [Number(r.id), r.n, r.reason])).toEqual(approvedIds.map((id) => [id, 1, 'unpaired_part']));
    const holds = await pool.query('select status, cancel_attempts from checkout.offline_holds where payment_id = any($1)', [pendingIds]);
    expect(holds.rows).toEqual(pendingIds.map(() => ({ status: 'ended', cancel_attempts: 1 })));

    // Nothing is left for a later suite's reconcile run: the cancellations
    // and refunds are recorded as made.
    await pool.query('select checkout.record_offline_cancel(id, null) from unnest($1::bigint[]) id', [pendingIds]);
    await pool.query(`select checkout.record_refund(payment_id, null) from checkout.payment_refunds where payment_id = any($1) and status = 'owed'`, [
      approvedIds,
    ]);
  });
});
