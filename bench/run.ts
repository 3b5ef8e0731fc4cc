/**
 * `npm run bench`: throughput, latency and scaling of the checkout backend,
 * each workload against baselines measured in the same run on the same
 * database, printed as ratios (absolute numbers drift on shared machines;
 * ratios hold). `--quick` is a smoke run under two minutes.
 * `--only hot,spread,payments,rls,cleanup,webhook,flash,admin,funnel,offline` runs a subset (`latency`:
 * only hot's 8/32/128-client matrix; `soldout`: only the sold-out crowd); `--rtt <ms>`
 * sets the client↔database round trip the checkout workloads also run at
 * (default 2, through a delaying proxy; 0 for loopback only). `--before
 * <source>[,<source>...]` runs other begin_checkouts beside the current one:
 * a migration's, a candidate file, either at a commit (bench/before.ts). `--durable` runs PostgreSQL with fsync and
 * synchronous_commit on (the default is off, as docs/performance.md's figures were taken).
 * `--waits` samples pg_stat_activity of the hot product matrix's backends every
 * 10 ms and reads their run-queue time from /proc (bench/waits.ts; optional, one
 * extra connection).
 * `--repeat N` runs every selected cell N times in this one invocation and
 * prints each figure and ratio as the median (min–max) of the N runs, then
 * issue 25's goals (bench/repeat.ts, bench/goals.ts).
 * Writes bench-results/latest.json with every run's figures, their summary and the machine.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Cluster, startClusterOnFreePort } from '../dev/pg/cluster.ts';
import { prepareDatabase, repoRoot } from '../dev/pg/prepare.ts';
import { createSessions, createShoppersWithCarts, createVariants } from './fixtures.ts';
import { asService, asShopper, closeClients, openClients, openServiceClients, type Row, runClients, runUntil, type Stats, summarize } from './lib.ts';
import { cpuDuring, postmasterPid, treeCpuSeconds } from './cpu.ts';
import { evaluateGoals, printGoals } from './goals.ts';
import { printSummary, summarizeRuns } from './repeat.ts';
import { adminWorkload } from './admin.ts';
import { funnelWorkload } from './funnel.ts';
import { offlineWorkload } from './offline.ts';
import { flashSaleWorkload } from './flash.ts';
import { latencyWorkload } from './latency.ts';
import { installBefore, parseBefore, readBefore } from './before.ts';
import { webhookWorkload } from './webhook.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args[args.indexOf('--only') + 1];
const only = args.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const wants = (w: string) => !only || only.has(w);
/** Round trip the proxy adds for the checkout workloads (`--rtt <ms>`, 0 for loopback only). */
const rttArg = args.includes('--rtt') ? Number(args[args.indexOf('--rtt') + 1]) : 2;
/** Runs of every selected cell in this invocation (`--repeat N`). */
const repeat = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : 1;
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a whole number of runs, 1 or more (got ${args[args.indexOf('--repeat') + 1]})`);
let run = 1;

const rows: Row[] = [];
const benchStart = performance.now();
const log = (msg: string) =>
  console.error(`[bench +${((performance.now() - benchStart) / 1000).toFixed(0)}s${repeat > 1 ? ` run ${run}/${repeat}` : ''}] ${msg}`);

const payer = { email: 'bench@example.com', name: 'Bench' };
const shipping = { street_name: 'Calle', street_number: '1', zip_code: '1000', city: 'CABA' };

/** One checkout per call, each client working through its own slice of `shoppers`, the way the Edge Function calls the routine. */
function checkoutOp(shoppers: string[], per: number, fn = 'checkout.begin_checkout') {
  return (ci: number, i: number, c: pg.Client) => asService(c, `select ${fn}($1, $2, $3) as s`, [shoppers[ci * per + i], payer, shipping]);
}

type Candidate = { fn: string; label: string };

async function hotProduct(url: string, admin: pg.Client, candidates: Candidate[]) {
  // 8, 32 and 128 clients, on loopback and at production's distance: latency.ts.
  // Here: the rush at 32 clients, with reservations held and shoppers' carts beside it.
  for (const clients of [32]) {
    const per = quick ? Math.round(320 / clients) : Math.round(4000 / clients);
    const [variant] = await createVariants(admin, 1, { stock: 1_000_000_000, prefix: `hot${clients}` });
    const shoppers = await createShoppersWithCarts(admin, clients * per, [variant!], 1);
    const service = await openServiceClients(url, clients);
    // Warm-up, not measured: each connection plans the routine's statements once.
    const warm = quick ? 3 : 10;
    await runClients(service, warm, checkoutOp(await createShoppersWithCarts(admin, clients * warm, [variant!], 1), warm));
    // The product: the routine, called as the Edge Function calls it.
    const product = await runClients(
      service,
      per,
      checkoutOp(shoppers, per),
    );
    rows.push({ workload: 'hot product', variant: `${clients} clients: begin_checkout (none held)`, stats: product });
    if (clients === 32) {
      // A flash sale in full swing: thousands of shoppers already hold a
      // 15-minute reservation of the same product.
      const held = quick ? 1_000 : 20_000;
      await createSessions(admin, await createShoppersWithCarts(admin, held, [variant!], 1));
      const more = await createShoppersWithCarts(admin, clients * per, [variant!], 1);
      const loaded = await runClients(
        service,
        per,
        checkoutOp(more, per),
      );
      rows.push({
        workload: 'hot product',
        variant: `${clients} clients, ${held.toLocaleString('en')} reservations already held`,
        stats: loaded,
        ratios: { 'vs none held': loaded.throughput / product.throughput, 'p99 vs none held': loaded.p99 / product.p99 },
      });

      // Other shoppers putting the hot product in their carts meanwhile: does
      // the checkout queue on the variant block them?
      const browsers = await createShoppersWithCarts(admin, 8, [variant!], 1);
      const browserConns = await openClients(url, 8);
      const cartOp = (ci: number, i: number, c: pg.Client) =>
        i % 2 === 0
          ? asShopper(c, browsers[ci]!, 'select public.remove_from_cart($1) as r', [variant])
          : asShopper(c, browsers[ci]!, 'select public.add_to_cart($1, 1) as r', [variant]);
      const calm = runUntil(browserConns, cartOp);
      await new Promise((r) => setTimeout(r, quick ? 500 : 3000));
      const alone = await calm.stop();
      const busy = runUntil(browserConns, cartOp);
      const rush = await createShoppersWithCarts(admin, clients * per, [variant!], 1);
      await runClients(service, per, checkoutOp(rush, per));
      const during = await busy.stop();
      rows.push({
        workload: 'hot product',
        variant: 'cart adds/removes of the hot product during 32-client checkouts',
        stats: during,
        figures: { 'p99 ms alone': alone.p99 },
        ratios: { 'p99 vs alone': during.p99 / alone.p99 },
      });
      // The same beside each candidate begin_checkout (--before), on a fresh hot variant.
      for (const cand of candidates) {
        const [fresh] = await createVariants(admin, 1, { stock: 1_000_000_000, prefix: 'hotcand' });
        const candBrowsers = await createShoppersWithCarts(admin, 8, [fresh!], 1);
        const candOp = (ci: number, i: number, c: pg.Client) =>
          i % 2 === 0
            ? asShopper(c, candBrowsers[ci]!, 'select public.remove_from_cart($1) as r', [fresh])
            : asShopper(c, candBrowsers[ci]!, 'select public.add_to_cart($1, 1) as r', [fresh]);
        await runClients(service, 2, checkoutOp(await createShoppersWithCarts(admin, clients * 2, [fresh!], 1), 2, cand.fn));
        const calmC = runUntil(browserConns, candOp);
        await new Promise((r) => setTimeout(r, quick ? 500 : 3000));
        const aloneC = await calmC.stop();
        const busyC = runUntil(browserConns, candOp);
        const rushC = await runClients(service, per, checkoutOp(await createShoppersWithCarts(admin, clients * per, [fresh!], 1), per, cand.fn));
        const duringC = await busyC.stop();
        rows.push({
          workload: 'hot product',
          variant: `cart adds/removes during 32-client checkouts by ${cand.label}`,
          stats: duringC,
          figures: { 'p99 ms alone': aloneC.p99, 'checkouts/s': rushC.throughput },
          ratios: { 'p99 vs alone': duringC.p99 / aloneC.p99, 'p99 vs alone, vs current': duringC.p99 / aloneC.p99 / (during.p99 / alone.p99) },
        });
      }
      await closeClients(browserConns);
    }
    await closeClients(service);
    log(`hot product ${clients} clients done`);
  }
}

/**
 * A sold-out crowd: 64 clients check out one variant with 64 units, ten
 * shoppers a unit. Exactly 64 get a session; the others get CKS01 (409).
 * How long do the losers wait for their answer? The current routine, then
 * each candidate (--before), each on its own variant.
 */
async function soldOut(url: string, admin: pg.Client, candidates: Candidate[]) {
  const clients = 64;
  const units = 64;
  const shoppersPer = quick ? 5 : 10;
  const conns = await openServiceClients(url, clients);
  const results: { label: string; won: Stats; lost: Stats }[] = [];
  for (const cand of [{ fn: 'checkout.begin_checkout', label: 'begin_checkout' }, ...candidates]) {
    const [variant] = await createVariants(admin, 1, { stock: units, prefix: 'soldout' });
    // Warm-up, not measured: another variant, plenty of stock.
    const [warmV] = await createVariants(admin, 1, { stock: 1_000_000, prefix: 'soldoutwarm' });
    await runClients(conns, 1, checkoutOp(await createShoppersWithCarts(admin, clients, [warmV!], 1), 1, cand.fn));
    const shoppers = await createShoppersWithCarts(admin, clients * shoppersPer, [variant!], 1);
    const won: number[] = [];
    const lost: number[] = [];
    const other: string[] = [];
    const t0 = performance.now();
    await Promise.all(conns.map(async (c, ci) => {
      for (let i = 0; i < shoppersPer; i++) {
        const t = performance.now();
        try {
          await c.query(`select ${cand.fn}($1, $2, $3) as s`, [shoppers[ci * shoppersPer + i], payer, shipping]);
          won.push(performance.now() - t);
        } catch (err) {
          if ((err as { code?: string }).code === 'CKS01') lost.push(performance.now() - t);
          else other.push((err as Error).message);
        }
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const { rows: v } = await admin.query('select stock_on_hand - reserved as left from public.variants where id = $1', [variant]);
    if (won.length !== units || v[0].left !== 0 || other.length) {
      await closeClients(conns);
      throw new Error(`sold out (${cand.label}): ${won.length} sessions for ${units} units, ${v[0].left} left, errors: ${other.slice(0, 3).join('; ')}`);
    }
    results.push({ label: cand.label, won: summarize(won, 0, seconds), lost: summarize(lost, 0, seconds) });
  }
  await closeClients(conns);
  const base = results[0]!;
  for (const r of results) {
    rows.push({
      workload: 'sold out',
      variant: `${clients} clients, ${units} units, ${clients * shoppersPer} shoppers: ${r.label}, the 409s`,
      stats: r.lost,
      figures: { 'p99 ms of the sessions': r.won.p99, 'seconds to serve all': r.lost.seconds },
      ratios: r === base ? {} : { '409 p99 vs current': r.lost.p99 / base.lost.p99, 'sessions p99 vs current': r.won.p99 / base.won.p99 },
    });
  }
  log('sold out done');
}

async function spreadCatalog(url: string, admin: pg.Client) {
  const clients = 32;
  const per = quick ? 10 : 120;
  const variants = await createVariants(admin, 1000, { stock: 1_000_000, prefix: 'spread' });
  const shoppers = await createShoppersWithCarts(admin, clients * per, variants, 3);
  const hot = await createShoppersWithCarts(admin, clients * per, [variants[0]!], 1);
  const conns = await openServiceClients(url, clients);
  // Warm-up, not measured.
  await runClients(conns, 5, checkoutOp(await createShoppersWithCarts(admin, clients * 5, variants, 3), 5));
  const spread = await runClients(
    conns,
    per,
    checkoutOp(shoppers, per),
  );
  // Baseline: the same clients on one-line carts of a single variant.
  const single = await runClients(
    conns,
    per,
    checkoutOp(hot, per),
  );
  await closeClients(conns);
  rows.push({
    workload: 'spread catalog',
    variant: '1000 variants, 3-line carts, 32 clients',
    stats: spread,
    ratios: { 'vs 1-line hot': spread.throughput / single.throughput },
  });
  rows.push({ workload: 'spread catalog', variant: 'baseline: 1-line carts, one variant, 32 clients', stats: single });
  log('spread catalog done');
}

/** Payments each connection applies before the payments cell is measured. */
const WARM_PAYMENTS = 6;

async function payments(url: string, admin: pg.Client, dataDir: string) {
  const pgPid = postmasterPid(dataDir);
  const clients = 16;
  const n = quick ? 240 : 4000;
  const variants = await createVariants(admin, 50, { stock: 1_000_000, prefix: 'pay' });
  const conns = await openServiceClients(url, clients);
  const results: Record<string, Stats> = {};
  let cpuMsPerPayment = NaN;
  const pay = (c: pg.Client, id: number, s: { total: number; token: string }) =>
    asService(c, 'select checkout.apply_payment($1) as r', [
      { id, status: 'approved', transaction_amount: s.total, currency_id: 'ARS', external_reference: s.token },
    ]);
  // Warm-up, not measured, as the checkout cells do (latency.ts, WARM_CALLS):
  // a connection's first calls compile the payment routines and plan their
  // statements, and the functions' pool and the pooler keep their
  // connections. Without it the quick cell's p99 (240 payments, 16 of them a
  // connection's first) measured the first calls.
  {
    const warmFirstId = 7_000_000_000 + run * 10_000_000 + 5_000_000;
    const warmSessions = await createSessions(admin, await createShoppersWithCarts(admin, clients * WARM_PAYMENTS, variants, 2));
    await runClients(conns, WARM_PAYMENTS, (ci, i, c) => pay(c, warmFirstId + ci * WARM_PAYMENTS + i, warmSessions[ci * WARM_PAYMENTS + i]!));
  }
  for (const copies of [1, 3]) {
    // Payment ids of their own in each run (--repeat): an id already applied is a duplicate delivery.
    const firstId = 7_000_000_000 + run * 10_000_000 + copies * 1_000_000;
    const shoppers = await createShoppersWithCarts(admin, n, variants, 2);
    const sessions = await createSessions(admin, shoppers);
    const deliveries = sessions.flatMap((s, k) => Array.from({ length: copies }, () => ({ s, id: firstId + k })));
    // Shuffle so duplicates race each other.
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    const per = Math.ceil(deliveries.length / clients);
    const { result: stats, cpu } = await cpuDuring({ pg: () => treeCpuSeconds(pgPid) }, () =>
      runClients(conns, per, async (ci, i, c) => {
        const d = deliveries[ci * per + i];
        if (d) await pay(c, d.id, d.s);
      }));
    if (copies === 1) cpuMsPerPayment = (cpu.pg! * 1000) / n;
    const { rows: check } = await admin.query('select count(*)::int as n from public.orders where payment_id between $1 and $2', [
      firstId,
      firstId + n,
    ]);
    if (check[0].n !== n) throw new Error(`payments x${copies}: expected ${n} orders, found ${check[0].n}`);
    results[copies] = stats;
  }
  await closeClients(conns);
  const once = results[1]!;
  const thrice = results[3]!;
  rows.push({
    workload: 'payment application',
    variant: `${n} approved payments, once each, 16 clients`,
    stats: once,
    figures: { 'PostgreSQL CPU ms per payment': cpuMsPerPayment },
  });
  rows.push({
    workload: 'payment application',
    variant: `${n} approved payments, each delivered 3x`,
    stats: thrice,
    figures: { 'orders per second': n / thrice.seconds },
    ratios: { 'orders/s vs once': n / thrice.seconds / (n / once.seconds) },
  });
  log('payments done');
}

async function rlsCost(url: string, admin: pg.Client) {
  const clients = 8;
  const per = quick ? 40 : 600;
  const variants = await createVariants(admin, 200, { stock: 1_000_000, prefix: 'rls' });
  const shoppers = await createShoppersWithCarts(admin, clients * 2, variants, 5);
  const conns = await openClients(url, clients);
  const ops = async (withRls: boolean) => {
    const add = await runClients(conns, per, (ci, i, c) => {
      const sql = 'select public.add_to_cart($1, 1) as r';
      const shopper = shoppers[ci * 2 + (i % 2)]!;
      const v = variants[(ci * 31 + i) % variants.length];
      return withRls ? asShopper(c, shopper, sql, [v]) : asOwner(c, shopper, sql, [v]);
    });
    const get = await runClients(conns, per, (ci, i, c) => {
      const sql = 'select public.get_cart() as r';
      const shopper = shoppers[ci * 2 + (i % 2)]!;
      return withRls ? asShopper(c, shopper, sql, []) : asOwner(c, shopper, sql, []);
    });
    return { add, get };
  };
  const withRls = await ops(true);
  const without = await ops(false);
  await closeClients(conns);
  for (const [op, routine] of [['add', 'add_to_cart'], ['get', 'get_cart']] as const) {
    const ratios = { 'vs no RLS': withRls[op].throughput / without[op].throughput };
    rows.push({ workload: 'cart through RLS', variant: `${routine} as the shopper (RLS)`, stats: withRls[op], ratios });
    rows.push({ workload: 'cart through RLS', variant: `${routine} as the table owner (no RLS)`, stats: without[op] });
  }
  log('rls done');
}

/** The same call as the table owner (RLS does not apply), with the same claims. */
async function asOwner<T>(c: pg.Client, shopperId: string, sql: string, params: unknown[]): Promise<T> {
  await c.query('begin');
  await c.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify({ sub: shopperId, role: 'authenticated' })]);
  const { rows: r } = await c.query(sql, params);
  await c.query('commit');
  return r[0] as T;
}

async function cleanup(url: string, admin: pg.Client) {
  const expireSizes = quick ? [500, 5_000] : [10_000, 100_000];
  const purgeSizes = quick ? [2_000, 20_000] : [100_000, 1_000_000];
  const [variant] = await createVariants(admin, 1, { stock: 1_000_000_000, prefix: 'cleanup' });
  const perRow: number[] = [];
  for (const n of expireSizes) {
    await admin.query(
      `with s as (
         insert into public.order_sessions (session_id, lines, item_count, subtotal, total, currency, payer, shipping_address, expires_at)
         select gen_random_uuid(), jsonb_build_array(jsonb_build_object('variant_id', $1::uuid, 'quantity', 1)), 1, 100, 100, 'ARS',
                '{"email": "bench@example.com"}', '{}', now() - interval '1 minute'
           from generate_series(1, $2) returning id, expires_at)
       insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at) select id, $1, 1, expires_at from s`,
      [variant, n],
    );
    await admin.query('vacuum analyze public.order_sessions, checkout.stock_reservations');
    const command = (await admin.query(`select command from cron.job where jobname = 'checkout-expire-sessions'`)).rows[0].command as string;
    const t0 = performance.now();
    await admin.query(command);
    const ms = performance.now() - t0;
    const left = (await admin.query(`select count(*)::int as n from public.order_sessions where status = 'active' and expires_at <= now()`)).rows[0].n;
    if (left !== 0) throw new Error(`expiry left ${left} due sessions`);
    perRow.push((ms * 1000) / n);
    rows.push({ workload: 'cleanup', variant: `expire ${n.toLocaleString('en')} sessions`, figures: { seconds: ms / 1000, 'µs per row': (ms * 1000) / n } });
  }
  rows.at(-1)!.ratios = { 'per-row vs smaller': perRow[1]! / perRow[0]! };

  const purgePerRow: number[] = [];
  const shoppers = await createShoppersWithCarts(admin, 64, [variant!], 1);
  const conns = await openClients(url, 8);
  for (const n of purgeSizes) {
    log(`creating ${n} expired carts`);
    await admin.query(`alter table public.carts disable trigger carts_slide_expiry`);
    await admin.query(
      `with u as (insert into auth.users (id, is_anonymous) select gen_random_uuid(), true from generate_series(1, $1) returning id)
       insert into public.carts (session_id, expires_at) select id, now() - interval '1 day' from u`,
      [n],
    );
    await admin.query(`alter table public.carts enable trigger carts_slide_expiry`);
    await admin.query('vacuum analyze public.carts, auth.users');
    // Shoppers working on live carts meanwhile: p99 without, then during the purge.
    const shopperOp = (ci: number, i: number, c: pg.Client) =>
      i % 2 === 0
        ? asShopper(c, shoppers[ci * 8 + (i % 8)]!, 'select public.add_to_cart($1, 1) as r', [variant])
        : asShopper(c, shoppers[ci * 8 + (i % 8)]!, 'select public.get_cart() as r', []);
    const idle = runUntil(conns, shopperOp);
    await new Promise((r) => setTimeout(r, quick ? 500 : 3000));
    const quiet = await idle.stop();
    const busy = runUntil(conns, shopperOp);
    const command = (await admin.query(`select command from cron.job where jobname = 'checkout-purge-carts'`)).rows[0].command as string;
    const t0 = performance.now();
    await admin.query(command);
    const ms = performance.now() - t0;
    const during = await busy.stop();
    const left = (await admin.query(`select count(*)::int as n from public.carts where expires_at < now()`)).rows[0].n;
    if (left !== 0) throw new Error(`purge left ${left} expired carts`);
    await admin.query(`delete from auth.users u where not exists (select 1 from public.carts c where c.session_id = u.id)
                         and not exists (select 1 from public.order_sessions s where s.session_id = u.id)`);
    purgePerRow.push((ms * 1000) / n);
    rows.push({
      workload: 'cleanup',
      variant: `purge ${n.toLocaleString('en')} carts`,
      figures: { seconds: ms / 1000, 'µs per row': (ms * 1000) / n, 'shopper p99 ms before': quiet.p99, 'shopper p99 ms during': during.p99 },
      ratios: { 'shopper p99 during/before': during.p99 / quiet.p99 },
    });
  }
  await closeClients(conns);
  rows.at(-1)!.ratios = { ...rows.at(-1)!.ratios, 'per-row vs smaller': purgePerRow[1]! / purgePerRow[0]! };
  log('cleanup done');
}

function machine() {
  const pgVersion = (() => {
    try {
      return readFileSync('/usr/share/postgresql-common/supported_versions', 'utf8').trim();
    } catch {
      return 'unknown';
    }
  })();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    freeMemoryGiB: +(freemem() / 2 ** 30).toFixed(1),
    loadAverage: loadavg().map((l) => +l.toFixed(2)),
    node: process.version,
    postgresSupported: pgVersion,
    platform: `${process.platform} ${process.arch}`,
  };
}

async function main() {
  const started = new Date();
  const loadAverageAtStart = loadavg().map((l) => +l.toFixed(2));
  /** Each run's rows (`--repeat`). */
  const runs: Row[][] = [];
  // Read before anything starts, so a mistyped commit or path fails at once.
  const candidates = parseBefore(args.includes('--before') ? args[args.indexOf('--before') + 1] : undefined).map((source) => ({
    source,
    text: readBefore(source, repoRoot),
  }));
  let cluster: Cluster | undefined;
  try {
    cluster = await startClusterOnFreePort({
      dataDir: mkdtempSync(join(tmpdir(), 'checkout-bench-')),
      // As docs/performance.md's figures were measured, unless --durable: fsync and
      // synchronous_commit on, so each commit waits for its WAL flush.
      durable: args.includes('--durable'),
      settings: { max_connections: 400, shared_buffers: "'512MB'", max_wal_size: "'4GB'", checkpoint_timeout: "'30min'" },
    });
    await prepareDatabase(cluster.url);
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    // The cluster is stopped on any failure below: that failure is the one to report, not the admin connection's end.
    admin.on('error', () => undefined);
    await admin.query(`create schema if not exists bench;
      create table if not exists bench.naive_reservations (id bigint generated always as identity primary key, variant_id uuid not null, quantity int not null, expires_at timestamptz not null);
      create index if not exists naive_reservations_variant on bench.naive_reservations (variant_id, expires_at) include (quantity);`);
    log(`database ${cluster.url}${quick ? ' (quick)' : ''}${args.includes('--durable') ? ' (durable)' : ''}`);
    const before = [];
    for (const [i, { source, text }] of candidates.entries()) before.push({ fn: await installBefore(admin, source, text, i), label: source.label });
    const secondsArg = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : undefined;
    for (run = 1; run <= repeat; run++) {
      if (wants('hot') || wants('latency')) {
        rows.push(
          ...(await latencyWorkload(cluster.url, admin, {
            quick,
            log,
            roundTripMs: rttArg,
            before,
            seconds: secondsArg,
            dataDir: cluster.dataDir,
            waits: args.includes('--waits'),
          })),
        );
      }
      if (wants('hot')) await hotProduct(cluster.url, admin, before);
      if (wants('hot') || wants('soldout')) {
        await soldOut(cluster.url, admin, before).catch((err) => {
          log(`sold out failed: ${err.message}`);
          throw err;
        });
      }
      if (wants('spread')) await spreadCatalog(cluster.url, admin);
      if (wants('payments')) await payments(cluster.url, admin, cluster.dataDir);
      if (wants('rls')) await rlsCost(cluster.url, admin);
      if (wants('webhook')) rows.push(...(await webhookWorkload(cluster.url, admin, { quick, log, dataDir: cluster.dataDir })));
      if (wants('flash')) rows.push(...(await flashSaleWorkload(cluster.url, admin, { quick, log, dataDir: cluster.dataDir })));
      if (wants('cleanup')) await cleanup(cluster.url, admin);
      // Each builds a large store once (its fixtures have fixed ids) and measures against it: in the first run only.
      if (run === 1) {
        if (wants('admin')) rows.push(...(await adminWorkload(cluster.url, admin, { quick, log })));
        if (wants('funnel')) rows.push(...(await funnelWorkload(cluster.url, admin, { quick, log })));
        if (wants('offline')) rows.push(...(await offlineWorkload(cluster.url, admin, { quick, log })));
      }
      runs.push(rows.splice(0));
      if (repeat > 1) log('run done');
    }
    await admin.end();
  } finally {
    await cluster?.stop({ remove: true });
  }
  const summary = summarizeRuns(runs);
  const goals = evaluateGoals(summary);
  printSummary(summary, repeat);
  printGoals(goals);
  const out = join(repoRoot, 'bench-results');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        started: started.toISOString(),
        seconds: (Date.now() - started.getTime()) / 1000,
        args,
        quick,
        repeat,
        machine: { ...machine(), loadAverageAtStart },
        // Every run's rows as measured, then each figure's median and min–max over the runs, then the goals.
        runs: runs.map((rows, i) => ({ run: i + 1, rows })),
        summary,
        goals,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwritten ${file} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`);
}

await main();
