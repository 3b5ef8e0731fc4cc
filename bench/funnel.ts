/**
 * Abandoned-cart analytics on a big store: 1,000,000 carts (analytics facts
 * over 90 days, the last week's carts live with their lines) and 200,000 order
 * sessions (paid, expired, cancelled, rejected, out of stock, with orders and
 * event log). Measures each report the admin function serves, as
 * service_role, and the same 30-day funnel computed live from the facts (no
 * rollup) as the baseline that justifies the rollup. Also the hourly rollup
 * and one detection run of recovery emails.
 * `--quick`: 20,000 carts and 4,000 order sessions.
 */
import pg from 'pg';
import { createVariants } from './fixtures.ts';
import { summarize } from './lib.ts';
import type { Row } from './lib.ts';

const DAYS = 90;

async function timeIt(admin: pg.Client, runs: number, sql: string, params: unknown[] = []) {
  const ms: number[] = [];
  await admin.query(sql, params); // warm-up: plans and caches
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await admin.query(sql, params);
    ms.push(performance.now() - t0);
  }
  return summarize(ms, 0, ms.reduce((a, b) => a + b, 0) / 1000);
}

export async function funnelWorkload(url: string, admin: pg.Client, opts: { quick: boolean; log: (m: string) => void }): Promise<Row[]> {
  try {
    return await funnel(url, admin, opts);
  } catch (err) {
    opts.log(`funnel failed: ${(err as Error).message}`);
    throw err;
  }
}

async function funnel(_url: string, admin: pg.Client, opts: { quick: boolean; log: (m: string) => void }): Promise<Row[]> {
  const carts = opts.quick ? 20_000 : 1_000_000;
  const sessions = opts.quick ? 4_000 : 200_000;
  const liveCarts = Math.round(carts * 7 / DAYS);
  const rows: Row[] = [];
  const variants = await createVariants(admin, 200, { stock: 1_000_000_000, prefix: 'funnel', price: 2500 });
  await admin.query(`update private.settings set analytics_time_zone = 'America/Argentina/Buenos_Aires'`);
  // The hourly job is measured here by calling its SQL; pg_cron running it
  // meanwhile would only add noise.
  await admin.query(`select cron.unschedule('analytics-rollup')`);

  opts.log(`funnel: ${carts.toLocaleString('en')} cart facts, ${sessions.toLocaleString('en')} order sessions`);
  const t0 = performance.now();
  // Bulk history, as the triggers and the purge would have written it; the
  // fixtures skip the triggers (replica) because they set past timestamps.
  await admin.query(`set session_replication_role = replica`);
  await admin.query(
    `insert into analytics.cart_facts (session_id, created_at, first_item_at, checkout_at, paid_at, reminded_at, purged_at, abandoned_units, abandoned_value, currency)
     select gen_random_uuid(), t,
            case when r < 0.62 then t + interval '3 minutes' end,
            case when r < $2::float8 then t + interval '20 minutes' end,
            case when r < $2::float8 * 0.4 then t + interval '35 minutes' end,
            case when r between 0.3 and 0.33 then t + interval '2 hours' end,
            case when t < now() - interval '7 days' then t + interval '7 days' end,
            case when t < now() - interval '7 days' and r between $2::float8 * 0.4 and 0.62 then 1 + (r * 100)::int % 3 end,
            case when t < now() - interval '7 days' and r between $2::float8 * 0.4 and 0.62 then 2500 * (1 + (r * 100)::int % 3) end,
            'ARS'
       from (select now() - random() * interval '${DAYS} days' as t, random() as r from generate_series(1, $1)) g`,
    [carts, sessions / carts],
  );
  // The last week's carts are still live, with their lines.
  await admin.query(
    `with f as (select session_id, created_at from analytics.cart_facts f
                where purged_at is null and first_item_at is not null
                  -- only the facts made above, not the carts of earlier workloads
                  and not exists (select 1 from auth.users u where u.id = f.session_id)
                limit $1),
          u as (insert into auth.users (id, is_anonymous, email, email_confirmed_at)
                select session_id, (random() < 0.7), 'b' || md5(session_id::text) || '@example.com', now() from f returning id),
          c as (insert into public.carts (session_id, created_at, updated_at, expires_at)
                select f.session_id, f.created_at, f.created_at + interval '10 minutes', f.created_at + interval '10 minutes' + interval '7 days' from f returning session_id)
     insert into public.cart_items (session_id, variant_id, quantity)
     select c.session_id, ($2::uuid[])[1 + (abs(hashtext(c.session_id::text)) % 200)], 1 + abs(hashtext(c.session_id::text)) % 3 from c`,
    [liveCarts, variants],
  );
  // The sessions made here, apart from those of earlier workloads.
  await admin.query(`create table if not exists bench.funnel_sessions (id uuid primary key); truncate bench.funnel_sessions`);
  await admin.query(
    `with made as (
     insert into public.order_sessions (id, session_id, status, lines, item_count, subtotal, total, currency, payer, shipping_address,
                                        expires_at, created_at, updated_at, closed_at, paid_at, payment_id)
     select id, gen_random_uuid(), st::public.order_session_status,
            jsonb_build_array(jsonb_build_object('variant_id', v, 'sku', 'FUNNEL', 'title', 'Bench', 'unit_price', 2500, 'quantity', q, 'line_total', 2500 * q)),
            q, 2500 * q, 2500 * q, 'ARS', '{"email": "bench@example.com"}', '{}',
            t + interval '15 minutes', t, t, case when st <> 'active' then t + interval '15 minutes' end,
            case when st in ('paid', 'refund_owed') then t + interval '5 minutes' end,
            case when st in ('paid', 'refund_owed') then 900000000000 + n end
       from (select n, gen_random_uuid() as id, now() - random() * interval '${DAYS} days' as t, 1 + n % 3 as q,
                    ($2::uuid[])[1 + n % 200] as v,
                    case when n % 20 < 8 then 'paid' when n % 20 < 17 then 'expired' when n % 20 < 19 then 'cancelled' else 'refund_owed' end as st
               from generate_series(1, $1) n) g
     returning id)
     insert into bench.funnel_sessions select id from made`,
    [sessions, variants],
  );
  await admin.query(
    `insert into public.orders (order_session_id, session_id, payment_id, subtotal, discount, total, currency, payer, shipping_address, created_at)
     select id, session_id, payment_id, subtotal, 0, total, currency, payer, shipping_address, paid_at from public.order_sessions join bench.funnel_sessions using (id) where status = 'paid'`,
  );
  await admin.query(
    `insert into checkout.order_session_events (order_session_id, kind, payment_id, detail, created_at)
     select id, 'payment_seen', 1, '{"status": "rejected"}'::jsonb, created_at + interval '3 minutes' from public.order_sessions join bench.funnel_sessions using (id)
      where status = 'expired' and abs(hashtext(id::text)) % 5 = 0
     union all
     select id, 'created', null, '{}'::jsonb, created_at from public.order_sessions join bench.funnel_sessions using (id)`,
  );
  await admin.query(
    `insert into checkout.payment_refunds (payment_id, order_session_id, amount, currency, reason, created_at)
     select payment_id, id, total, currency, 'out_of_stock', closed_at from public.order_sessions join bench.funnel_sessions using (id) where status = 'refund_owed'`,
  );
  await admin.query(
    `insert into analytics.abandoned_products (day, source, variant_id, sku, title, currency, carts, units, value)
     select d, 'cart', v, 'FUNNEL-' || i, 'Bench ' || i, 'ARS', 1 + (i * 7 + extract(doy from d)::int) % 40, 2 * (1 + (i * 7 + extract(doy from d)::int) % 40),
            5000 * (1 + (i * 7 + extract(doy from d)::int) % 40)
       from generate_series(analytics.today() - ${DAYS}, analytics.today() - 8, interval '1 day') d, unnest($1::uuid[]) with ordinality as x(v, i)`,
    [variants],
  );
  await admin.query(`set session_replication_role = origin`);
  await admin.query(
    'vacuum analyze analytics.cart_facts, public.carts, public.cart_items, public.order_sessions, public.orders, checkout.order_session_events, checkout.payment_refunds, analytics.abandoned_products',
  );
  opts.log(`funnel: fixtures in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  // The hourly job's first run: every day of the history.
  await admin.query('set role service_role');
  let t = performance.now();
  const days = (await admin.query<{ n: number }>('select analytics.rollup(2) as n')).rows[0]!.n;
  const rollupMs = performance.now() - t;
  t = performance.now();
  await admin.query('select analytics.rollup(2)');
  const hourlyMs = performance.now() - t;
  rows.push({
    workload: 'funnel',
    variant: `rollup ${days} days (first run), then the hourly run`,
    figures: { 'first run s': rollupMs / 1000, 'ms per day': rollupMs / days, 'hourly run ms': hourlyMs },
  });

  const runs = opts.quick ? 3 : 20;
  const reports: [string, string][] = [
    ['funnel, today (live)', `select analytics.funnel(analytics.today(), analytics.today())`],
    ['funnel, last 30 days', `select analytics.funnel(analytics.today() - 29, analytics.today())`],
    ['funnel, last 90 days', `select analytics.funnel(analytics.today() - 89, analytics.today())`],
    ['abandoned products, 30 days', `select analytics.abandoned_products_report(analytics.today() - 29, analytics.today(), 20)`],
    ['checkout outcomes, 30 days', `select analytics.checkout_outcomes(analytics.today() - 29, analytics.today())`],
  ];
  const stats: Record<string, number> = {};
  for (const [name, sql] of reports) {
    const s = await timeIt(admin, runs, sql);
    stats[name] = s.p50;
    rows.push({ workload: 'funnel', variant: name, stats: s });
  }
  // Baseline: the same 30 days computed live from the facts, no rollup.
  const liveRun = await timeIt(
    admin,
    Math.max(3, runs / 4),
    `select analytics.compute_day(d::date) from generate_series(analytics.today() - 29, analytics.today(), interval '1 day') d`,
  );
  rows.push({
    workload: 'funnel',
    variant: '30 days computed live (no rollup)',
    stats: liveRun,
    ratios: { 'rollup speed-up': liveRun.p50 / stats['funnel, last 30 days']! },
  });

  // Recovery emails: one detection run over the live carts (a 5-minute job).
  await admin.query('reset role');
  const live = Number((await admin.query<{ n: string }>('select count(*) as n from public.carts')).rows[0]!.n);
  // Idle for two hours: only the trigger that stamps the cart's clock is off, for this one transaction.
  await admin.query(
    `begin;
     alter table public.carts disable trigger carts_slide_expiry;
     update public.carts set updated_at = now() - interval '2 hours', expires_at = now() - interval '2 hours' + interval '7 days'
      where session_id in (select session_id from public.carts limit 5000);
     alter table public.carts enable trigger carts_slide_expiry;
     commit`,
  );
  await admin.query('set role service_role');
  t = performance.now();
  const written = (await admin.query<{ n: number }>('select email.detect_abandoned_carts(1000) as n')).rows[0]!.n;
  rows.push({
    workload: 'funnel',
    variant: `detect abandoned carts among ${live.toLocaleString('en')} live carts (5,000 idle)`,
    figures: { ms: performance.now() - t, 'outbox rows written': written },
  });
  await admin.query('reset role');
  return rows;
}
