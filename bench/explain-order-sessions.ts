/**
 * `npx tsx bench/explain-order-sessions.ts`: which index each query of
 * public.order_sessions uses, on a store-sized table. A fresh cluster from
 * this tree's migrations gets 200,000 sessions of a store that has been
 * selling for 60 days (2% active, 45% paid, 40% expired, 13% cancelled; a
 * preference on 90%, a coupon on 10%, a client address on half), is
 * analyzed, and each query that reads the table by something other than its
 * id prints the index its plan starts from (EXPLAIN, no ANALYZE). Used to
 * check that dropping or narrowing an index leaves every query indexed
 * (docs/performance.md, "Where a checkout's time goes").
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startClusterOnFreePort } from '../dev/pg/cluster.ts';
import { prepareDatabase } from '../dev/pg/prepare.ts';

const queries: [string, string][] = [
  ["shopper's own sessions (RLS, storefront)", `select id from public.order_sessions where session_id = $S order by created_at desc`],
  ["begin_checkout: the shopper's active session", `select id from public.order_sessions where session_id = $S and status = 'active' for update`],
  [
    'fair hold: unpaid expiries',
    `select expires_at from public.order_sessions s where s.session_id = $S and s.status in ('active', 'expired', 'cancelled') and s.expires_at > now() - interval '1 hour' and s.expires_at <= now()`,
  ],
  ['token (external_reference)', `select id from public.order_sessions where token = 'os_x'`],
  ['settle: the checkout group', `select id from public.order_sessions where checkout_group = $G and id <> $I and status = 'active'`],
  [
    'coupon holders',
    `select count(*) from public.order_sessions os where os.coupon_id = $C and (os.status = 'paid' or (os.status = 'active' and os.expires_at > now()))`,
  ],
  [
    'client address cap',
    `select sum(item_count), min(expires_at) from public.order_sessions s where s.client_address = $A and s.status = 'active' and s.expires_at > now()`,
  ],
  ['expire_sessions', `select id from public.order_sessions where status = 'active' and expires_at <= now() order by expires_at limit 1000`],
  [
    'claim_reconciliation',
    `select s.id from public.order_sessions s where s.status in ('active', 'expired', 'cancelled') and s.preference_id is not null and s.next_check_at <= now() and (s.status = 'active' or s.closed_at > now() - interval '3 days') order by s.next_check_at limit 500`,
  ],
  [
    'claim_preference_expiry',
    `select s.id from public.order_sessions s where s.status in ('expired', 'cancelled') and s.preference_id is not null and s.preference_expired_at is null and s.expires_at > now() order by s.closed_at limit 50`,
  ],
  [
    'trim_sessions',
    `select s.id from public.order_sessions s where s.status in ('expired', 'cancelled') and s.closed_at < now() - interval '30 days' order by s.closed_at limit 5000`,
  ],
  [
    'analytics: expired that day',
    `select count(*) from public.order_sessions s where s.closed_at >= now() - interval '2 days' and s.closed_at < now() - interval '1 day' and s.status = 'expired'`,
  ],
  [
    'analytics: outcomes that day',
    `select count(*) from public.order_sessions s where s.closed_at >= now() - interval '2 days' and s.closed_at < now() - interval '1 day' and s.status <> 'active'`,
  ],
  [
    'dashboard: sessions in a range',
    `select count(*) filter (where s.status = 'paid') from public.order_sessions s where s.created_at >= now() - interval '1 day' and s.created_at < now()`,
  ],
  ['dashboard: active checkouts', `select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at > now()`],
];

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'checkout-explain-'));
  const cluster = await startClusterOnFreePort({ dataDir, durable: false, settings: { shared_buffers: "'256MB'" } });
  try {
    await prepareDatabase(cluster.url);
    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    await db.query(`
      insert into public.order_sessions (session_id, status, lines, item_count, subtotal, total, currency, payer, shipping_address,
                                         expires_at, created_at, closed_at, preference_id, coupon_id, client_address, next_check_at, preference_expired_at)
      select gen_random_uuid(), st, '[{"quantity": 1}]', 1, 100, 100, 'ARS', '{}', '{}',
             t + interval '15 minutes', t, case when st = 'active' then null else t + interval '10 minutes' end,
             case when i % 10 <> 0 then 'pref-' || i end, null,
             case when i % 2 = 0 then encode(extensions.digest(i::text, 'sha256'), 'hex') end,
             t + interval '1 hour' * (i % 50), case when st <> 'active' and i % 3 = 0 then t + interval '1 hour' end
        from (select i, now() - interval '60 days' * (1 - i / 200000.0) as t,
                     (case when i > 196000 then 'active' when i % 20 < 9 then 'paid' when i % 20 < 17 then 'expired' else 'cancelled' end)::public.order_session_status as st
                from generate_series(1, 200000) i) x`);
    await db.query('analyze public.order_sessions');
    const { rows: [r] } = await db.query(
      `select session_id, checkout_group, id, client_address from public.order_sessions where client_address is not null and status = 'active' limit 1`,
    );
    const subst = (q: string) =>
      q.replaceAll('$S', `'${r.session_id}'`).replaceAll('$G', `'${r.checkout_group}'`).replaceAll('$I', `'${r.id}'`)
        .replaceAll('$C', `'${r.id}'`).replaceAll('$A', `'${r.client_address}'`);
    for (const [name, q] of queries) {
      const { rows } = await db.query(`explain ${subst(q)}`);
      const plan = rows.map((x) => x['QUERY PLAN'] as string);
      const idx = plan.map((l) => l.match(/(?:Index|Index Only|Bitmap Index) Scan(?: Backward)? using (\S+)|on (order_sessions_\S+)/)).filter(Boolean).map((
        m,
      ) => m![1] ?? m![2]);
      const seq = plan.some((l) => /Seq Scan on order_sessions/.test(l));
      console.log(`${name.padEnd(45)} ${seq ? 'SEQ SCAN ' : ''}${[...new Set(idx)].join(', ')}`);
    }
    const { rows: ix } = await db.query(
      `select indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) as size from pg_stat_user_indexes where relname = 'order_sessions' order by 1`,
    );
    console.log('\nindexes:', ix.map((x) => `${x.indexrelname} ${x.size}`).join('; '));
    await db.end();
  } finally {
    await cluster.stop({ remove: true });
  }
}
await main();
