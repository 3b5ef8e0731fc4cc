/**
 * The hot product at production's client↔database distance. The product
 * (begin_checkout, one statement per call as the Edge Function makes it), the
 * naive read-check-write design (the variant row locked across several round
 * trips) and the physical floor (one bare decrement per transaction), at 8,
 * 32 and 128 clients, each on plain loopback (~0.05 ms round trip) and
 * through a delaying proxy (default 2 ms round trip, `--rtt <ms>`).
 *
 * Each measurement runs for a fixed time (or a fixed number of checkouts,
 * whichever comes first) on a fresh hot variant, after an unmeasured warm-up
 * on the same connections.
 */
import pg from 'pg';
import { createShoppersWithCarts, createVariants } from './fixtures.ts';
import { closeClients, openClients, openServiceClients, type Stats, summarize } from './lib.ts';
import { startDelayProxy } from './netdelay.ts';
import { cpuDuring, postmasterPid, treeCpuSeconds } from './cpu.ts';
import type { Row } from './lib.ts';
import { sampleWaits, type Span } from './waits.ts';

const payer = { email: 'bench@example.com', name: 'Bench' };
const shipping = { street_name: 'Calle', street_number: '1', zip_code: '1000', city: 'CABA' };

/**
 * Runs `op(k, client)` on every client in a loop, k drawn from one shared
 * counter, until `maxOps` were started or `seconds` passed.
 */
export async function runBounded(
  clients: pg.Client[],
  limits: { maxOps: number; seconds: number },
  op: (k: number, c: pg.Client) => Promise<unknown>,
  spans?: Span[],
): Promise<Stats> {
  const latencies: number[] = [];
  const samples: string[] = [];
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + limits.seconds * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (next < limits.maxOps && performance.now() < deadline) {
        const k = next++;
        const t0 = performance.now();
        try {
          await op(k, c);
          const t1 = performance.now();
          latencies.push(t1 - t0);
          spans?.push({ pid: (c as unknown as { processID: number }).processID, t0, t1 });
        } catch (err) {
          errors++;
          if (samples.length < 3) samples.push((err as Error).message);
          await c.query('rollback').catch(() => undefined);
        }
      }
    }),
  );
  return summarize(latencies, errors, (performance.now() - start) / 1000, samples);
}

/** The product: the routine as one statement on a service_role connection. */
export const productOp = (shoppers: string[], fn = 'checkout.begin_checkout') => (k: number, c: pg.Client) =>
  c.query(`select ${fn}($1, $2, $3) as s`, [shoppers[k % shoppers.length], payer, shipping]);

/** The physical floor: one bare decrement per transaction. */
export const floorOp = (variant: string) => (_k: number, c: pg.Client) =>
  c.query('update public.variants set stock_on_hand = stock_on_hand - 1 where id = $1', [variant]);

/** The naive design: read, check and write from the application, the variant locked across three round trips. */
export const naiveOp = (variant: string, shoppers: string[]) => async (k: number, c: pg.Client) => {
  const shopper = shoppers[k % shoppers.length];
  await c.query('begin');
  const items = await c.query('select variant_id, quantity from public.cart_items where session_id = $1', [shopper]);
  const v = await c.query('select price, stock_on_hand from public.variants where id = $1 for update', [variant]);
  const reserved = await c.query('select coalesce(sum(quantity), 0)::int as n from bench.naive_reservations where variant_id = $1 and expires_at > now()', [
    variant,
  ]);
  const want = items.rows[0]?.quantity ?? 1;
  if (v.rows[0].stock_on_hand - reserved.rows[0].n < want) throw new Error('out of stock');
  await c.query(`insert into bench.naive_reservations (variant_id, quantity, expires_at) values ($1, $2, now() + interval '15 minutes')`, [variant, want]);
  await c.query('commit');
};

/**
 * Calls per connection before a routine is measured. PL/pgSQL plans each
 * statement for its parameters on a connection's first five calls and then
 * settles on a generic plan, so a routine warmed with fewer calls is
 * measured partly cold; the one measured first in a cell was (the current
 * routine, with 3 calls a connection, ran 15-25% slower at 128 clients than
 * the same body measured after it as a candidate).
 */
const WARM_CALLS = 6;

/**
 * Vacuumed tables and fresh planner statistics after the fixtures grew them,
 * so that no routine is measured beside an autovacuum (thousands of rows
 * just inserted cross its insert threshold). Before the warm-up:
 * an analyze invalidates every connection's cached plans, and the first
 * call after it on each connection plans again (after the warm-up, that put
 * the whole slowest 1% at 128 clients in the run's first 250 ms).
 */
async function settle(admin: pg.Client): Promise<void> {
  await admin.query(
    'vacuum (analyze) auth.users, public.carts, public.cart_items, public.variants, public.order_sessions, checkout.stock_reservations, checkout.order_session_events, analytics.cart_facts',
  );
}

/** Median round trip of `select 1` on one connection, in ms. */
async function pingMs(url: string): Promise<number> {
  const [c] = await openClients(url, 1);
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await c!.query('select 1');
    times.push(performance.now() - t0);
  }
  await closeClients([c!]);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export interface LatencyOptions {
  quick: boolean;
  log: (m: string) => void;
  /** Added round trip in ms (the proxy's); 0 runs only on loopback. */
  roundTripMs: number;
  clientCounts?: number[];
  /** Other begin_checkouts to run beside the product (bench/before.ts). */
  before?: { fn: string; label: string }[];
  /** Seconds per measurement (default 5, 0.75 with --quick). */
  seconds?: number;
  /** The cluster's data directory: PostgreSQL's CPU per checkout is counted from /proc. */
  dataDir?: string;
  /** Sample pg_stat_activity and the backends' run-queue time during each measured run (bench/waits.ts). */
  waits?: boolean;
}

export async function latencyWorkload(url: string, admin: pg.Client, opts: LatencyOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const seconds = opts.seconds ?? (opts.quick ? 0.75 : 5);
  const maxOps = opts.quick ? 600 : 6_000;
  // --quick: the two crowds whose tail matters (issue 14), not the 8 clients.
  const counts = opts.clientCounts ?? (opts.quick ? [32, 128] : [8, 32, 128]);
  const rtts = opts.roundTripMs > 0 ? [0, opts.roundTripMs] : [0];
  for (const rtt of rtts) {
    const proxy = rtt > 0 ? await startDelayProxy({ upstreamUrl: url, roundTripMs: rtt }) : undefined;
    try {
      const target = proxy?.url ?? url;
      const ping = await pingMs(target);
      opts.log(`latency: round trip ${ping.toFixed(2)} ms (${rtt} ms added)`);
      for (const clients of counts) {
        const [variant] = await createVariants(admin, 1, { stock: 1_000_000_000, prefix: `lat${rtt}x${clients}` });
        const shoppers = await createShoppersWithCarts(admin, maxOps, [variant!], 1);
        const warmShoppers = await createShoppersWithCarts(admin, clients * WARM_CALLS, [variant!], 1);
        const service = await openServiceClients(target, clients);
        const conns = await openClients(target, clients);
        try {
          // Fresh statistics, then the warm-up, not measured (see WARM_CALLS).
          await settle(admin);
          await runBounded(service, { maxOps: clients * WARM_CALLS, seconds: 30 }, productOp(warmShoppers));
          await runBounded(conns, { maxOps: clients * WARM_CALLS, seconds: 30 }, naiveOp(variant!, warmShoppers));
          const pgPid = opts.dataDir ? postmasterPid(opts.dataDir) : undefined;
          const at = `${clients} clients, ${rtt} ms round trip`;
          // With --waits: where each run's time goes inside PostgreSQL (bench/waits.ts).
          const watched = async (label: string, cs: pg.Client[], run: (spans?: Span[]) => Promise<Stats>): Promise<Stats> => {
            if (!opts.waits) return run();
            const spans: Span[] = [];
            const pids = cs.map((c) => (c as unknown as { processID: number }).processID);
            const { result, report } = await sampleWaits(url, pids, spans, () => run(spans));
            opts.log(`waits, ${at}, ${label} (p99 ${result.p99.toFixed(0)} ms, ${result.throughput.toFixed(0)}/s):\n    ${report.join('\n    ')}`);
            return result;
          };
          const { result: product, cpu } = await cpuDuring(
            { pg: () => treeCpuSeconds(pgPid) },
            () => watched('begin_checkout', service, (spans) => runBounded(service, { maxOps, seconds }, productOp(shoppers), spans)),
          );
          const floor = await runBounded(conns, { maxOps: maxOps * 4, seconds }, floorOp(variant!));
          const naive = await watched('naive', conns, (spans) => runBounded(conns, { maxOps, seconds }, naiveOp(variant!, shoppers), spans));
          const befores: { label: string; stats: Stats; cpuMs: number }[] = [];
          for (const b of opts.before ?? []) {
            // Its own fresh hot variant, as the product had.
            const [fresh] = await createVariants(admin, 1, { stock: 1_000_000_000, prefix: `lat${rtt}x${clients}b` });
            const others = await createShoppersWithCarts(admin, maxOps, [fresh!], 1);
            const warmOthers = await createShoppersWithCarts(admin, clients * WARM_CALLS, [fresh!], 1);
            await settle(admin);
            await runBounded(service, { maxOps: clients * WARM_CALLS, seconds: 30 }, productOp(warmOthers, b.fn));
            const { result, cpu: bcpu } = await cpuDuring(
              { pg: () => treeCpuSeconds(pgPid) },
              () => watched(b.label, service, (spans) => runBounded(service, { maxOps, seconds }, productOp(others, b.fn), spans)),
            );
            befores.push({ label: b.label, stats: result, cpuMs: (bcpu.pg! * 1000) / result.ops });
          }
          rows.push({
            workload: 'hot product',
            variant: `${at}: begin_checkout`,
            stats: product,
            figures: {
              ...(rtt > 0 ? { 'measured round trip ms': ping } : {}),
              ...(pgPid ? { 'PostgreSQL CPU ms per checkout': (cpu.pg! * 1000) / product.ops } : {}),
            },
            ratios: {
              'vs naive': product.throughput / naive.throughput,
              'vs floor': product.throughput / floor.throughput,
              'p99 vs naive': product.p99 / naive.p99,
            },
          });
          for (const b of befores) {
            rows.push({
              workload: 'hot product',
              variant: `${at}: begin_checkout ${b.label}`,
              stats: b.stats,
              figures: pgPid ? { 'PostgreSQL CPU ms per checkout': b.cpuMs } : {},
              ratios: {
                'vs naive': b.stats.throughput / naive.throughput,
                'p99 vs naive': b.stats.p99 / naive.p99,
                'vs current': b.stats.throughput / product.throughput,
                'p99 vs current': b.stats.p99 / product.p99,
              },
            });
          }
          rows.push({ workload: 'hot product', variant: `${at}: naive read-check-write`, stats: naive });
          rows.push({ workload: 'hot product', variant: `${at}: floor (bare update)`, stats: floor });
          opts.log(`hot product ${at} done`);
        } finally {
          await closeClients([...service, ...conns]);
        }
      }
    } finally {
      await proxy?.stop();
    }
  }
  return rows;
}
