/**
 * The store owner's dashboard on a large store: 200,000 orders (10,000 with --quick; with their
 * sessions and lines) spread over a year, then the admin routines as the
 * `admin` Edge Function calls them (service_role, a staff member's claims):
 * the first page of the order list, a page deep in the list by keyset cursor,
 * searches by email prefix, order number and payment id, one order's page,
 * and the dashboard's figures for 30 and 366 days. Ratios are against the
 * first page.
 */
import type pg from 'pg';
import { asService, closeClients, openServiceClients, type Row, runClients, type Stats } from './lib.ts';

export async function adminWorkload(url: string, admin: pg.Client, opts: { quick: boolean; log: (m: string) => void }): Promise<Row[]> {
  const { log } = opts;
  // The full run pages through 200,000 orders; --quick through 10,000 (creating them is most of its time).
  const ORDERS = opts.quick ? 10_000 : 200_000;
  const iterations = opts.quick ? 20 : 200;
  // Emails are buyer<n % 50,000>: the orders whose email starts with "buyer1".
  const buyer1 = Array.from({ length: Math.min(ORDERS, 50_000) }, (_, n) => n).filter((n) => String(n).startsWith('1')).length *
    Math.ceil(ORDERS / 50_000);
  log(`admin: creating ${ORDERS.toLocaleString('en')} orders`);
  const t0 = performance.now();
  await admin.query(`
    insert into auth.users (id, email, is_anonymous, raw_app_meta_data)
    values ('00000000-0000-4000-8000-0000000be9c1', 'bench-owner@example.com', false, '{"store_role": "staff"}');
    with p as (insert into public.products (slug, title) values ('bench-admin', 'Bench admin') returning id)
    insert into public.variants (product_id, sku, title, price, stock_on_hand) select p.id, 'BENCH-ADMIN', 'Único', 1500, 1000 from p;`);
  await admin.query('begin');
  await admin.query(`
    create temporary table bench_orders on commit drop as
      select g as n, gen_random_uuid() as session_uuid, gen_random_uuid() as os_id, gen_random_uuid() as order_id,
             now() - (g::double precision / ${ORDERS} * interval '365 days') as at
        from generate_series(1, ${ORDERS}) g`);
  await admin.query(`
    insert into public.order_sessions (id, session_id, status, lines, item_count, subtotal, total, currency, payer, shipping_address, payment_id, expires_at, created_at, paid_at)
    select b.os_id, b.session_uuid, 'paid',
           jsonb_build_array(jsonb_build_object('variant_id', v.id, 'sku', v.sku, 'title', 'Bench', 'unit_price', 1500, 'quantity', 1 + b.n % 3, 'line_total', 1500 * (1 + b.n % 3))),
           1 + b.n % 3, 1500 * (1 + b.n % 3), 1500 * (1 + b.n % 3), 'ARS',
           jsonb_build_object('email', 'buyer' || (b.n % 50000) || '@example.com', 'name', 'Comprador ' || b.n),
           '{"street_name": "Calle", "street_number": "1", "zip_code": "1000", "city": "CABA"}', 5000000000 + b.n,
           b.at + interval '15 minutes', b.at, b.at
      from bench_orders b, public.variants v where v.sku = 'BENCH-ADMIN'`);
  await admin.query(`
    insert into public.orders (id, order_session_id, session_id, payment_id, status, subtotal, discount, total, currency, payer, shipping_address, created_at)
    select b.order_id, b.os_id, b.session_uuid, 5000000000 + b.n, 'paid', 1500 * (1 + b.n % 3), 0, 1500 * (1 + b.n % 3), 'ARS',
           jsonb_build_object('email', 'buyer' || (b.n % 50000) || '@example.com', 'name', 'Comprador ' || b.n),
           '{"street_name": "Calle", "street_number": "1", "zip_code": "1000", "city": "CABA"}', b.at
      from bench_orders b`);
  await admin.query(`
    insert into public.order_lines (order_id, line_no, variant_id, sku, title, unit_price, quantity, line_total)
    select b.order_id, 1, v.id, v.sku, 'Bench', 1500, 1 + b.n % 3, 1500 * (1 + b.n % 3)
      from bench_orders b, public.variants v where v.sku = 'BENCH-ADMIN'`);
  await admin.query('commit');
  await admin.query('vacuum analyze public.orders, public.order_lines, public.order_sessions, auth.users');
  log(`admin: ${((performance.now() - t0) / 1000).toFixed(1)} s to create them`);

  const claims = {
    sub: '00000000-0000-4000-8000-0000000be9c1',
    role: 'authenticated',
    aud: 'authenticated',
    is_anonymous: false,
    email: 'bench-owner@example.com',
    app_metadata: { store_role: 'staff' },
  };
  const middle = (await admin.query<{ created_at: string; id: string; order_number: string; payment_id: string }>(
    `select created_at, id, order_number, payment_id::text from public.orders order by created_at desc, id desc offset ${ORDERS / 2} limit 1`,
  )).rows[0]!;
  const [c] = await openServiceClients(url, 1);
  const clients = [c!];
  const one = (sql: string, params: unknown[]) => () => asService(c!, sql, params);
  const cases: [string, () => Promise<unknown>][] = [
    ['order list: first page (50)', one('select admin.orders($1, null, null, null, 50) as r', [claims])],
    [
      `order list: page ${(ORDERS / 100).toLocaleString('en')} by cursor (50)`,
      one('select admin.orders($1, null, $2, $3, 50) as r', [claims, middle.created_at, middle.id]),
    ],
    ['search: email prefix "buyer4242@"', one('select admin.orders($1, $2, null, null, 50) as r', [claims, 'buyer4242@'])],
    [
      `search: email prefix "buyer1" (~${buyer1.toLocaleString('en')} matching orders)`,
      one('select admin.orders($1, $2, null, null, 50) as r', [claims, 'buyer1']),
    ],
    ['search: order number', one('select admin.orders($1, $2, null, null, 50) as r', [claims, middle.order_number])],
    ['search: payment id', one('select admin.orders($1, $2, null, null, 50) as r', [claims, middle.payment_id])],
    ['order page (detail)', one('select admin.order_detail($1, $2) as r', [claims, middle.order_number])],
    ['dashboard: 30 days', one(`select admin.dashboard($1, current_date - 29, current_date, 'UTC') as r`, [claims])],
    ['dashboard: 366 days', one(`select admin.dashboard($1, current_date - 365, current_date, 'UTC') as r`, [claims])],
  ];
  const rows: Row[] = [];
  let first: Stats | undefined;
  for (const [name, op] of cases) {
    // Warm-up, not measured.
    for (let i = 0; i < 5; i++) await op();
    const stats = await runClients(clients, name.startsWith('dashboard: 366') ? Math.ceil(iterations / 4) : iterations, op);
    first ??= stats;
    rows.push({
      workload: 'admin',
      variant: `${name}, ${ORDERS.toLocaleString('en')} orders`,
      stats,
      ratios: { 'p99 vs first page': stats.p99 / first.p99 },
    });
    log(`admin: ${name} p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms`);
  }
  // The same first page from 8 clients at once (a few staff members, live refresh on).
  const eight = await openServiceClients(url, 8);
  const parallel = await runClients(eight, iterations, (_ci, _i, cl) => asService(cl, 'select admin.orders($1, null, null, null, 50) as r', [claims]));
  rows.push({ workload: 'admin', variant: 'order list: first page, 8 clients', stats: parallel, ratios: { 'p99 vs one client': parallel.p99 / first!.p99 } });
  await closeClients([...clients, ...eight]);
  return rows;
}
