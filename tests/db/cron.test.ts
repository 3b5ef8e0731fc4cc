/**
 * The pg_cron jobs' commands, run the way pg_cron runs them: as a top-level
 * statement on their own connection, where their COMMIT between batches is
 * allowed. Enough rows for several batches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { newPool } from '../helpers/db.ts';

let pool: pg.Pool;
beforeAll(() => {
  pool = newPool(4);
});
afterAll(async () => {
  await pool.end();
});

async function jobCommand(name: string): Promise<string> {
  const { rows } = await pool.query<{ command: string }>('select command from cron.job where jobname = $1', [name]);
  expect(rows).toHaveLength(1);
  return rows[0]!.command;
}

describe('pg_cron jobs', () => {
  it('the cart purge deletes 12,000 expired carts in committed batches and keeps live ones', async () => {
    await pool.query(`
      with u as (
        insert into auth.users (id, is_anonymous) select gen_random_uuid(), true from generate_series(1, 12001) returning id
      )
      insert into public.carts (session_id) select id from u`);
    // The trigger sets expires_at on every write; move all but one into the past without it.
    await pool.query(`alter table public.carts disable trigger carts_slide_expiry`);
    await pool.query(`update public.carts set expires_at = now() - interval '1 day'
                       where session_id in (select session_id from public.carts order by created_at desc limit 12000)`);
    await pool.query(`alter table public.carts enable trigger carts_slide_expiry`);
    const before = await pool.query(`select count(*)::int as n from public.carts where expires_at < now()`);
    expect(before.rows[0].n).toBeGreaterThanOrEqual(12000);

    const client = await pool.connect();
    try {
      await client.query(await jobCommand('checkout-purge-carts'));
    } finally {
      client.release();
    }
    const after = await pool.query(`select count(*) filter (where expires_at < now())::int as expired, count(*)::int as total from public.carts`);
    expect(after.rows[0].expired).toBe(0);
    expect(after.rows[0].total).toBeGreaterThan(0);
  });

  it('the expiry job expires 2,500 due sessions in batches of 1,000 and releases their stock', async () => {
    const { rows: v } = await pool.query<{ id: string }>(`
      with p as (insert into public.products (slug, title) values ('cron-' || substr(md5(random()::text), 1, 8), 'Cron') returning id)
      insert into public.variants (product_id, sku, title, price, stock_on_hand)
      select p.id, 'CRON-' || substr(md5(random()::text), 1, 8), 'Cron', 100, 5000 from p returning id`);
    const variantId = v[0]!.id;
    await pool.query(
      `with s as (
         insert into public.order_sessions (session_id, lines, item_count, subtotal, total, currency, payer, shipping_address, expires_at)
         select gen_random_uuid(), jsonb_build_array(jsonb_build_object('variant_id', $1::uuid, 'quantity', 1)), 1, 100, 100, 'ARS',
                '{"email": "a@b.co"}', '{}', now() - interval '1 minute'
           from generate_series(1, 2500)
         returning id, expires_at)
       insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
       select id, $1, 1, expires_at from s`,
      [variantId],
    );
    const client = await pool.connect();
    try {
      await client.query(await jobCommand('checkout-expire-sessions'));
    } finally {
      client.release();
    }
    const { rows } = await pool.query(
      `select (select count(*) from public.order_sessions s join checkout.stock_reservations r on r.order_session_id = s.id
                where r.variant_id = $1 and s.status = 'active')::int as active,
              (select count(*) from checkout.stock_reservations where variant_id = $1)::int as reservations,
              (select count(*) from checkout.order_session_events e join public.order_sessions s on s.id = e.order_session_id
                where e.kind = 'expired' and s.lines @> jsonb_build_array(jsonb_build_object('variant_id', $1::uuid)))::int as events`,
      [variantId],
    );
    expect(rows[0]).toEqual({ active: 0, reservations: 0, events: 2500 });
  });
});
