/**
 * Offline payments' expiry pass (docs/offline-payments.md): 100,000 pending
 * tickets (10,000 with --quick) whose holds all ended unpaid, each an active
 * order session with its reservation rows over 1,000 variants, then
 * `checkout.claim_offline_expiry(1000)` called until nothing is left (each
 * call expires up to 1,000 sessions, releases their stock and claims their
 * cancellations, as the reconcile function does before calling MercadoPago).
 * Meanwhile 8 shoppers' clients check out other products; their p99 is
 * compared with the same checkouts without the pass.
 */
import type pg from 'pg';
import { createShoppersWithCarts, createVariants } from './fixtures.ts';
import { asService, closeClients, openServiceClients, type Row, runClients, runUntil } from './lib.ts';

const payer = { email: 'bench@example.com', name: 'Bench' };
const shipping = { street_name: 'Calle', street_number: '1', zip_code: '1000', city: 'CABA' };

export async function offlineWorkload(url: string, admin: pg.Client, opts: { quick: boolean; log: (m: string) => void }): Promise<Row[]> {
  const { log } = opts;
  const HOLDS = opts.quick ? 10_000 : 100_000;
  const BATCH = 1000;
  const held = await createVariants(admin, 1000, { stock: 1_000_000, prefix: 'offline-held' });
  log(`offline: creating ${HOLDS.toLocaleString('en')} pending tickets whose holds ended`);
  const t0 = performance.now();
  await createHolds(admin, HOLDS, held, 0, true);
  log(`offline: ${((performance.now() - t0) / 1000).toFixed(1)} s to create them`);

  // The shoppers' checkouts, on other products: without the pass, then during it.
  const [other] = await createVariants(admin, 1, { stock: 100_000_000, prefix: 'offline-shop' });
  const clients = await openServiceClients(url, 8);
  const per = opts.quick ? 50 : 250;
  let shoppers = await createShoppersWithCarts(admin, clients.length * per, [other!], 1);
  const checkout = (list: string[]) => (ci: number, i: number, c: pg.Client) =>
    asService(c, 'select checkout.begin_checkout($1, $2, $3) as s', [list[(ci * per + i) % list.length], payer, shipping]);
  await runClients(clients, 5, checkout(await createShoppersWithCarts(admin, clients.length * 5, [other!], 1)));
  const alone = await runClients(clients, per, checkout(shoppers));
  log(`offline: checkouts alone p99 ${alone.p99.toFixed(2)} ms`);

  shoppers = await createShoppersWithCarts(admin, clients.length * per * 4, [other!], 1);
  const load = runUntil(clients, checkout(shoppers));
  const [pass] = await openServiceClients(url, 1);
  const batches: number[] = [];
  const passStart = performance.now();
  for (;;) {
    const b0 = performance.now();
    const claimed = await asService<{ r: unknown[] }>(pass!, 'select checkout.claim_offline_expiry($1) as r', [BATCH]);
    batches.push(performance.now() - b0);
    if (claimed.r.length === 0) break;
  }
  const passSeconds = (performance.now() - passStart) / 1000;
  const during = await load.stop();
  const left = (await admin.query<{ n: number }>(`select count(*)::int as n from checkout.offline_holds where status = 'holding'`)).rows[0]!.n;
  const reserved = (await admin.query<{ n: number }>(`select coalesce(sum(reserved), 0)::int as n from public.variants where id = any($1::uuid[])`, [held]))
    .rows[0]!.n;
  if (left !== 0 || reserved !== 0) throw new Error(`offline: ${left} holds left, ${reserved} units still counted reserved`);
  const sorted = [...batches].sort((a, b) => a - b);
  // The steady state: as many holds still live, nothing due; what every reconcile run pays.
  await createHolds(admin, HOLDS, held, HOLDS, false);
  const idle = await runClients([pass!], opts.quick ? 10 : 30, () => asService(pass!, 'select checkout.claim_offline_expiry($1) as r', [50]));
  log(`offline: a pass with ${HOLDS.toLocaleString('en')} live holds and nothing due: p50 ${idle.p50.toFixed(2)} ms`);
  log(`offline: the pass took ${passSeconds.toFixed(1)} s in ${batches.length} calls; checkouts meanwhile p99 ${during.p99.toFixed(2)} ms`);
  await closeClients([...clients, pass!]);
  return [
    {
      workload: 'offline expiry',
      variant: `the pass: ${HOLDS.toLocaleString('en')} ended holds, claim_offline_expiry(${BATCH}) until empty`,
      figures: {
        seconds: Number(passSeconds.toFixed(2)),
        calls: batches.length,
        'call p50 ms': Number(sorted[Math.floor(sorted.length / 2)]!.toFixed(1)),
        'call max ms': Number(sorted.at(-1)!.toFixed(1)),
        'holds per second': Math.round(HOLDS / passSeconds),
      },
    },
    { workload: 'offline expiry', variant: `the pass with ${HOLDS.toLocaleString('en')} live holds, nothing due (every minute)`, stats: idle },
    { workload: 'offline expiry', variant: '8 clients: begin_checkout, no pass running', stats: alone },
    {
      workload: 'offline expiry',
      variant: '8 clients: begin_checkout while the pass runs',
      stats: during,
      ratios: { 'p99 vs no pass': during.p99 / alone.p99 },
    },
  ];
}

/** `n` pending tickets, each an active session with one reservation row of one of `variants`: their holds ended a minute ago, or end in 3 days. */
async function createHolds(admin: pg.Client, n: number, variants: string[], offset: number, ended: boolean): Promise<void> {
  const end = ended ? "now() - interval '1 minute'" : "now() + interval '3 days'";
  await admin.query('begin');
  await admin.query(
    `
    create temporary table bench_holds on commit drop as
      select g as n, gen_random_uuid() as os_id, ($2::uuid[])[1 + g % array_length($2::uuid[], 1)] as variant_id
        from generate_series($3::integer + 1, $3::integer + $1::integer) g`,
    [n, variants, offset],
  );
  await admin.query(`
    insert into public.order_sessions (id, session_id, status, lines, item_count, subtotal, total, currency, payer, shipping_address,
                                       expires_at, created_at, next_check_at)
    select b.os_id, gen_random_uuid(), 'active',
           jsonb_build_array(jsonb_build_object('variant_id', b.variant_id, 'sku', 'OFF', 'title', 'Bench', 'unit_price', 1000, 'quantity', 1, 'line_total', 1000)),
           1, 1000, 1000, 'ARS', '{"email": "bench@example.com"}', '{}', ${end}, now() - interval '4 days', now() + interval '1 day'
      from bench_holds b`);
  await admin.query(`
    insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
    select b.os_id, b.variant_id, 1, ${end} from bench_holds b`);
  await admin.query(`
    insert into checkout.offline_holds (payment_id, order_session_id, session_id, payment_type, payment_method, status, deadline, hold_until, created_at)
    select 6000000000 + b.n, b.os_id, s.session_id, 'ticket', 'rapipago', 'holding', ${end} - interval '2 hours', ${end}, now() - interval '4 days'
      from bench_holds b join public.order_sessions s on s.id = b.os_id`);
  await admin.query('commit');
  await admin.query('vacuum analyze public.order_sessions, checkout.stock_reservations, checkout.offline_holds, public.variants');
}
