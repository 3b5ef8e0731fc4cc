/**
 * The email outbox under real parallel connections: detection runs that
 * overlap write one reminder per cart and idle period; senders claiming at
 * once never take the same row; a payment applied by many callers at once
 * enqueues one confirmation.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, approvedPayment, asService, createShopper, createVariant, newPool, payer, race, setCartIdle, shipping } from '../helpers/db.ts';

let pool: pg.Pool;

beforeAll(() => {
  pool = newPool(10);
});
afterAll(async () => {
  await pool.end();
});

/** A signed-up shopper (email known) with an item in a cart idle for `minutes`. */
async function idleCart(variantId: string, minutes: number): Promise<string> {
  const shopper = await createShopper(pool);
  await pool.query(`update auth.users set is_anonymous = false, email = $2, email_confirmed_at = now() where id = $1`, [
    shopper,
    `idle-${shopper}@example.com`,
  ]);
  await addToCart(pool, shopper, variantId, 1);
  await setCartIdle(pool, shopper, minutes);
  return shopper;
}

describe('email outbox concurrency', () => {
  it('12 detection runs at once: one reminder per abandoned cart', async () => {
    const v = await createVariant(pool, { sku: 'MAIL-RACE', stock: 100 });
    const shoppers = await Promise.all(Array.from({ length: 8 }, () => idleCart(v.id, 61 + Math.floor(Math.random() * 30))));
    const results = await race(12, (_i, c) => c.query<{ n: number }>('select email.detect_abandoned_carts() as n'));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const { rows } = await pool.query<{ session_id: string; n: number }>(
      `select session_id, count(*)::int as n from email.outbox where kind = 'cart_reminder' and session_id = any($1) group by session_id`,
      [shoppers],
    );
    expect(rows).toHaveLength(8);
    expect(rows.every((r) => r.n === 1)).toBe(true);

    // Abandoned again (a new idle period): again exactly one more each.
    for (const s of shoppers) await setCartIdle(pool, s, 65);
    await race(12, (_i, c) => c.query('select email.detect_abandoned_carts()'));
    const again = await pool.query<{ n: number }>(
      `select count(*)::int as n from email.outbox where kind = 'cart_reminder' and session_id = any($1)`,
      [shoppers],
    );
    expect(again.rows[0]!.n).toBe(16);
  });

  it('6 senders claiming at once never take the same row', async () => {
    const v = await createVariant(pool, { sku: 'MAIL-CLAIM', stock: 100 });
    const shoppers = await Promise.all(Array.from({ length: 10 }, () => idleCart(v.id, 70)));
    await pool.query('select email.detect_abandoned_carts()');
    // Rows other suites left due are claimed too: each sender takes enough
    // that together they take every due row.
    const { rows: due } = await pool.query<{ n: number }>(
      `select count(*)::int as n from email.outbox where status = 'pending' and next_attempt_at <= now()`,
    );
    const each = Math.ceil(due[0]!.n / 6) + 1;
    const results = await race(6, (_i, c) => c.query<{ r: { id: number; session_id: string }[] }>('select email.claim($1) as r', [each]));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const claimed = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.rows[0]!.r : []));
    const ids = claimed.map((x) => x.id);
    try {
      expect(new Set(ids).size).toBe(ids.length);
      // Every due row was taken, or skipped (a reminder that no longer applies).
      const { rows: left } = await pool.query<{ n: number }>(
        `select count(*)::int as n from email.outbox where status = 'pending' and next_attempt_at <= now()`,
      );
      expect(left[0]!.n).toBe(0);
      const mine = claimed.filter((x) => shoppers.includes(x.session_id));
      expect(mine).toHaveLength(10);
    } finally {
      // Hand back what this test claimed, as if the senders had not run.
      await pool.query(`update email.outbox set status = 'pending', claimed_until = null, attempts = attempts - 1 where id = any($1)`, [ids]);
    }
  });

  it('one payment applied by 10 callers at once: one order, one confirmation', async () => {
    const v = await createVariant(pool, { sku: 'MAIL-PAY', stock: 5, price: 1500 });
    const shopper = await createShopper(pool);
    await addToCart(pool, shopper, v.id, 1);
    const session = await asService(
      pool,
      async (c) => (await c.query<{ s: { token: string } }>('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping])).rows[0]!.s,
    );
    const paymentId = Number.parseInt(randomUUID().replace(/\D/g, '').slice(0, 9), 10);
    const payment = approvedPayment({ token: session.token, total: 1500 }, paymentId);
    const results = await race(10, (_i, c) => c.query('select checkout.apply_payment($1) as r', [payment]));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const { rows } = await pool.query<{ orders: number; confirmations: number }>(
      `select (select count(*)::int from public.orders where session_id = $1) as orders,
              (select count(*)::int from email.outbox where kind = 'order_confirmation' and session_id = $1) as confirmations`,
      [shopper],
    );
    expect(rows[0]).toEqual({ orders: 1, confirmations: 1 });
  });
});
