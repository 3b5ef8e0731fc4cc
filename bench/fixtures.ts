/** Bulk fixtures for the benchmark, made with set-based SQL. */
import pg from 'pg';

export async function createVariants(db: pg.Client, n: number, opts: { stock: number; price?: number; prefix: string }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `with p as (
       insert into public.products (slug, title) values ($1 || '-' || substr(md5(random()::text), 1, 6), 'Bench ' || $1) returning id
     )
     insert into public.variants (product_id, sku, title, price, stock_on_hand)
     select p.id, $1 || '-' || substr(md5(random()::text), 1, 6) || '-' || g, 'Bench ' || g, $3, $4
       from p, generate_series(1, $2) g
     returning id`,
    [opts.prefix.toLowerCase(), n, opts.price ?? 1000, opts.stock],
  );
  return rows.map((r) => r.id);
}

/** `count` anonymous shoppers, each with a cart: `lines` random distinct variants from `variantIds`, quantity 1. */
export async function createShoppersWithCarts(db: pg.Client, count: number, variantIds: string[], lines: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `with u as (
       insert into auth.users (id, is_anonymous) select gen_random_uuid(), true from generate_series(1, $1) returning id
     ), c as (
       insert into public.carts (session_id) select id from u returning session_id
     ), picks as (
       select c.session_id, v.variant_id
         from c cross join lateral (
           select variant_id from unnest($2::uuid[]) variant_id
            where c.session_id is not null
            order by random() limit $3
         ) v
     ), items as (
       insert into public.cart_items (session_id, variant_id, quantity) select session_id, variant_id, 1 from picks returning session_id
     )
     select distinct session_id as id from items`,
    [count, variantIds, lines],
  );
  return rows.map((r) => r.id);
}

/** Active order sessions with reservations, straight from the checkout routine. */
export async function createSessions(db: pg.Client, shopperIds: string[]): Promise<{ id: string; token: string; total: number }[]> {
  await db.query('set role service_role');
  const { rows } = await db.query<{ s: { id: string; token: string; total: number } }>(
    `select checkout.begin_checkout(id, '{"email": "bench@example.com"}', '{}') as s from unnest($1::uuid[]) id`,
    [shopperIds],
  );
  await db.query('reset role');
  return rows.map((r) => r.s);
}
