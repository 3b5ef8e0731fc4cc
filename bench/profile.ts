/**
 * `npm run bench:profile`: where one checkout's time goes inside PostgreSQL,
 * per statement, the statements inside routines and triggers included
 * (pg_stat_statements with `track = all`), and per routine (self time,
 * `track_functions = all`).
 *
 * On a fresh cluster built from this tree's migrations, one hot variant
 * (stock for everyone), each shopper a one-line cart, as the hot product's
 * cells: `--clients 1` first (no lock waits, so time is CPU), then
 * `--crowd 32` clients (the same calls with the hot row's queue). For each
 * phase: PostgreSQL's CPU per checkout (from /proc), the floor's (one bare
 * update per transaction) rate beside it, and the table. `--fn
 * checkout.begin_client_checkout` profiles create-preference's routine;
 * `--explain` logs `EXPLAIN (ANALYZE, BUFFERS)` of every inner statement of
 * a few warm checkouts (auto_explain) and prints the heaviest; `--soldout`
 * adds the sold-out crowd (64 clients, 64 units, 320 shoppers) and its 409s.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startClusterOnFreePort } from '../dev/pg/cluster.ts';
import { prepareDatabase } from '../dev/pg/prepare.ts';
import { postmasterPid, treeCpuSeconds } from './cpu.ts';
import { createSessions, createShoppersWithCarts, createVariants } from './fixtures.ts';
import { closeClients, fmt, openServiceClients, summarize } from './lib.ts';
import { floorOp, runBounded } from './latency.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1] ?? dflt : dflt);
const fn = opt('--fn', 'checkout.begin_checkout');
const crowd = Number(opt('--crowd', '32'));
const perPhase = Number(opt('--checkouts', '2000'));
const top = Number(opt('--top', '25'));
const payer = { email: 'bench@example.com', name: 'Bench' };
const shipping = { street_name: 'Calle', street_number: '1', zip_code: '1000', city: 'CABA' };
let addresses = 0;
/** The routine's arguments; create-preference's routine gets each shopper its own client address (one address's holds are capped). */
const callArgs = (shopper: string) => {
  const a = addresses++;
  return fn === 'checkout.begin_client_checkout'
    ? [shopper, payer, shipping, null, `10.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`, false]
    : [shopper, payer, shipping];
};
const call = `select ${fn}(${fn === 'checkout.begin_client_checkout' ? '$1, $2, $3, $4, $5, $6' : '$1, $2, $3'}) as s`;

/** pg_stat_statements' and pg_stat_user_functions' figures since the last reset, per checkout (n of them). */
async function printStats(admin: pg.Client, n: number) {
  const { rows: stmts } = await admin.query(
    `select toplevel, calls, total_exec_time, rows, shared_blks_hit + shared_blks_read as blks, shared_blks_dirtied as dirtied,
            regexp_replace(query, '\\s+', ' ', 'g') as query
       from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database()) and calls > 0
        and query not like '%pg_stat_statements%' and query not ilike 'update public.variants set stock_on_hand = stock_on_hand - 1%'
      order by total_exec_time desc limit $1`,
    [top],
  );
  const table = (header: string[], body: string[][]) => {
    const w = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i < cells.length - 1 ? c.padStart(w[i]!) : c)).join('  ');
    console.log(line(header));
    for (const b of body) console.log(line(b));
  };
  console.log('\n   per statement (time includes what it calls and its waits; per checkout):');
  table(
    ['calls', 'ms', 'mean ms', 'rows', 'buffers', 'dirtied', 'statement'],
    stmts.map((s) => [
      fmt(s.calls / n, 2),
      fmt(s.total_exec_time / n, 3),
      fmt(s.total_exec_time / s.calls, 3),
      fmt(s.rows / s.calls, 1),
      fmt(s.blks / s.calls, 1),
      fmt(s.dirtied / s.calls, 2),
      `${s.toplevel ? '' : '  '}${String(s.query).slice(0, 110)}`,
    ]),
  );
  const { rows: fns } = await admin.query(
    `select schemaname || '.' || funcname as name, calls, total_time, self_time from pg_stat_user_functions where calls > 0 order by self_time desc limit $1`,
    [top],
  );
  console.log('\n   per routine (self: its own statements, not the routines it calls; per checkout):');
  table(['calls', 'self ms', 'total ms', 'routine'], fns.map((f) => [fmt(f.calls / n, 2), fmt(f.self_time / n, 3), fmt(f.total_time / n, 3), f.name]));
}

async function phase(url: string, admin: pg.Client, dataDir: string, clients: number) {
  const [variant] = await createVariants(admin, 1, { stock: 1_000_000_000, prefix: `prof${clients}` });
  const shoppers = await createShoppersWithCarts(admin, perPhase + clients * 6, [variant!], 1);
  await admin.query(
    'vacuum (analyze) public.carts, public.cart_items, public.variants, public.order_sessions, checkout.stock_reservations, checkout.order_session_events, analytics.cart_facts',
  );
  const conns = await openServiceClients(url, clients);
  let k = 0;
  const op = (_: number, c: pg.Client) => c.query(call, callArgs(shoppers[k++]!));
  // Warm-up: PL/pgSQL settles on its generic plans after five calls per connection.
  await runBounded(conns, { maxOps: clients * 6, seconds: 60 }, op);
  const floor = await runBounded(conns, { maxOps: perPhase * 2, seconds: 2 }, floorOp(variant!));
  await admin.query('select pg_stat_statements_reset(), pg_stat_reset()');
  const pid = postmasterPid(dataDir);
  const cpu0 = treeCpuSeconds(pid);
  const run = await runBounded(conns, { maxOps: perPhase, seconds: 120 }, op);
  const cpuMs = ((treeCpuSeconds(pid) - cpu0) * 1000) / run.ops;
  await closeClients(conns);
  // Give the stats collector its last reports (pg 15 flushes at most once a second).
  await new Promise((r) => setTimeout(r, 1100));
  const n = run.ops;
  console.log(
    `\n== ${fn}, ${clients} client${clients > 1 ? 's' : ''}: ${n} checkouts, ${run.errors} errors, ${fmt(run.throughput, 0)}/s, p99 ${fmt(run.p99, 2)} ms`,
  );
  console.log(
    `   PostgreSQL CPU per checkout ${fmt(cpuMs, 3)} ms (all backends, /proc); floor (bare update) ${fmt(floor.throughput, 0)}/s; vs floor ${
      fmt(run.throughput / floor.throughput, 2)
    }x`,
  );
  await printStats(admin, n);
  return { throughput: run.throughput, floor: floor.throughput, cpuMs, p99: run.p99 };
}

/** The sold-out crowd of bench/run.ts: 64 clients, 64 units, 5 shoppers each; how soon do the 409s come? */
async function soldOut(url: string, admin: pg.Client) {
  const clients = 64;
  const [variant] = await createVariants(admin, 1, { stock: 64, prefix: 'profsold' });
  const [warm] = await createVariants(admin, 1, { stock: 1_000_000, prefix: 'profsoldwarm' });
  const conns = await openServiceClients(url, clients);
  const warmShoppers = await createShoppersWithCarts(admin, clients * 6, [warm!], 1);
  await Promise.all(conns.map(async (c, ci) => {
    for (let i = 0; i < 6; i++) await c.query(call, callArgs(warmShoppers[ci * 6 + i]!));
  }));
  const shoppers = await createShoppersWithCarts(admin, clients * 5, [variant!], 1);
  await admin.query('select pg_stat_statements_reset(), pg_stat_reset()');
  const won: number[] = [];
  const lost: number[] = [];
  const t0 = performance.now();
  await Promise.all(conns.map(async (c, ci) => {
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      try {
        await c.query(call, callArgs(shoppers[ci * 5 + i]!));
        won.push(performance.now() - t);
      } catch (err) {
        if ((err as { code?: string }).code !== 'CKS01') throw err;
        lost.push(performance.now() - t);
      }
    }
  }));
  await closeClients(conns);
  const s = (performance.now() - t0) / 1000;
  const w = summarize(won, 0, s);
  const l = summarize(lost, 0, s);
  console.log(`\n== sold out, ${fn}: ${won.length} sessions (p99 ${fmt(w.p99, 1)} ms), ${lost.length} × 409: p50 ${fmt(l.p50, 1)} ms, p99 ${fmt(l.p99, 1)} ms`);
  await new Promise((r) => setTimeout(r, 1100));
  await printStats(admin, won.length + lost.length);
}

async function explain(url: string, admin: pg.Client, logFile: string) {
  const [variant] = await createVariants(admin, 1, { stock: 1_000_000, prefix: 'profexplain' });
  const shoppers = await createShoppersWithCarts(admin, 12, [variant!], 1);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('set role service_role');
  for (const s of shoppers.slice(0, 8)) await c.query(call, callArgs(s));
  await c.query('reset role');
  const from = readFileSync(logFile, 'utf8').length;
  await c.query(`load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_buffers = on;
                 set auto_explain.log_nested_statements = on; set auto_explain.log_timing = on; set role service_role`);
  for (const s of shoppers.slice(8)) await c.query(call, callArgs(s));
  await c.end();
  const plans = readFileSync(logFile, 'utf8').slice(from).split(/\n(?=\S.*LOG:)/).filter((p) => p.includes('duration:'));
  const dur = (p: string) => Number(/duration: ([\d.]+) ms/.exec(p)?.[1] ?? 0);
  console.log(`\n== EXPLAIN (ANALYZE, BUFFERS) of the inner statements of 4 warm checkouts, heaviest first (auto_explain, ${logFile})`);
  for (const p of plans.filter((p) => !p.includes(`Query Text: select ${fn}(`)).sort((a, b) => dur(b) - dur(a)).slice(0, 8)) console.log(p.trim(), '\n');
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'checkout-profile-'));
  const cluster = await startClusterOnFreePort({
    dataDir,
    durable: false,
    settings: {
      max_connections: 200,
      shared_buffers: "'256MB'",
      shared_preload_libraries: "'pg_cron,pg_stat_statements'",
      'pg_stat_statements.track': 'all',
      'pg_stat_statements.max': 5000,
      track_functions: "'all'",
      log_min_messages: 'log',
    },
  });
  try {
    await prepareDatabase(cluster.url);
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('create extension if not exists pg_stat_statements');
    // A store that has been selling: 5,000 sessions held on another variant, so
    // that the planner's statistics are those of a table with rows (on empty
    // tables it picks sequential scans that a live store never sees).
    const [bg] = await createVariants(admin, 1, { stock: 1_000_000, prefix: 'profbg' });
    await createSessions(admin, await createShoppersWithCarts(admin, 5_000, [bg!], 1));
    const solo = await phase(cluster.url, admin, dataDir, 1);
    const many = await phase(cluster.url, admin, dataDir, crowd);
    if (args.includes('--soldout')) await soldOut(cluster.url, admin);
    if (args.includes('--explain')) await explain(cluster.url, admin, cluster.logFile);
    console.log(
      `\nsummary ${fn}: CPU per checkout ${fmt(solo.cpuMs, 3)} ms (1 client), ${fmt(many.cpuMs, 3)} ms (${crowd}); vs floor ${
        fmt(many.throughput / many.floor, 2)
      }x at ${crowd} clients (shared machine: compare within one run)`,
    );
    await admin.end();
  } finally {
    await cluster.stop({ remove: true });
  }
}

await main();
