/**
 * A flash sale through the real path: anonymous shoppers (each with the hot
 * product in their cart, and an access token as Supabase Auth issues one)
 * call create-preference over HTTP, all at once within a bounded number of
 * concurrent requests; the Deno function reaches the database through
 * PgBouncer in transaction mode (Supavisor's stand-in) and creates each
 * preference at the MercadoPago sandbox; the sandbox then pays every
 * preference and delivers the webhooks to the real webhook function.
 *
 * Checked (the bench fails loudly otherwise, bench/flash-sale.ts): exactly
 * `units` paid orders, nothing left reserved, every other answer a clear 409
 * (insufficient_stock), no other error through the pooler. Measured: create-preference p99, of the 409s (which
 * never reach the sandbox) and of the 201s less the sandbox's own p99 for a
 * preference (measured alone in the same run), and the peak
 * number of client backends (pg_stat_activity). The same sale then runs
 * with the functions connected directly, to show what the pooler buys.
 * Loopback only.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startFunction } from '../dev/functions/serve.ts';
import { startSandbox } from '../dev/mp-sandbox/index.ts';
import { startPooler } from '../dev/pg/pooler.ts';
import { shopperClaims, signHs256, TEST_SUPABASE_URL } from '../tests/helpers/jwt.ts';
import { createShoppersWithCarts, createVariants } from './fixtures.ts';
import { BENCH_RETRY_SCHEDULE, percentile, summarize } from './lib.ts';
import { checkoutRequest, flashSale, flashSaleProblems } from './flash-sale.ts';
import { cpuDuring, postmasterPid, selfCpuSeconds, treeCpuSeconds } from './cpu.ts';
import type { Row } from './lib.ts';

const JWT_SECRET = 'bench-flash-jwt-secret-with-at-least-32-characters';

export async function flashSaleWorkload(
  url: string,
  admin: pg.Client,
  opts: { quick: boolean; log: (m: string) => void; dataDir?: string },
): Promise<Row[]> {
  const shoppers = opts.quick ? 200 : 2000;
  const units = opts.quick ? 20 : 200;
  const concurrency = opts.quick ? 50 : 100;
  // The sandbox alone at the concurrency the paying requests reach it.
  const sandboxConcurrency = 10;
  const poolSize = 15;
  // One local Deno process stands for a crowd of isolates: 16 isolates x 3
  // connections (CHECKOUT_DB_POOL_MAX's default) = 48.
  const isolateConnections = 48;
  const rows: Row[] = [];
  const sandbox = await startSandbox({ retrySchedule: [...BENCH_RETRY_SCHEDULE], webhookTimeoutMs: 22_000 });
  const upstreamPort = Number(new URL(url).port);
  try {
    // The sandbox alone: the same number of preferences, same concurrency,
    // after a warm-up burst of its own (not measured).
    const alone: number[] = [];
    let k = -sandboxConcurrency * 2;
    await Promise.all(
      Array.from({ length: sandboxConcurrency }, async () => {
        while (k++ < units) {
          const t = performance.now();
          const res = await fetch(`${sandbox.url}/checkout/preferences`, {
            method: 'POST',
            headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ items: [{ id: 'x', title: 'flash', quantity: 1, unit_price: 1000, currency_id: 'ARS' }], external_reference: `alone-${k}` }),
          });
          await res.arrayBuffer();
          if (k > 0) alone.push(performance.now() - t);
        }
      }),
    );
    const sandboxP99 = percentile(alone.sort((a, b) => a - b), 99);

    for (const mode of ['pooler', 'direct'] as const) {
      const pooler = mode === 'pooler' ? await startPooler({ upstreamPort, dir: mkdtempSync(join(tmpdir(), 'bench-pooler-')), poolSize }) : undefined;
      const dbUrl = pooler?.url ?? url;
      const env = {
        SUPABASE_URL: TEST_SUPABASE_URL,
        CHECKOUT_DB_URL: dbUrl,
        SUPABASE_DB_URL: url,
        SUPABASE_SERVICE_ROLE_KEY: 'bench-service-key',
        JWT_SECRET,
        MP_ACCESS_TOKEN: sandbox.accessToken,
        MP_WEBHOOK_SECRET: sandbox.webhookSecret,
        MP_API_BASE_URL: sandbox.url,
        CHECKOUT_DB_POOL_MAX: String(isolateConnections),
      };
      const webhook = await startFunction('mercadopago-webhook', env);
      const create = await startFunction('create-preference', { ...env, FUNCTIONS_URL: webhook.url });
      const peak = { n: 0 };
      let sampling = true;
      const sampler = (async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        while (sampling) {
          const { rows: r } = await c.query(
            `select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`,
          );
          peak.n = Math.max(peak.n, r[0].n - 1); // less the bench's own admin connection
          await new Promise((res) => setTimeout(res, 20));
        }
        await c.end();
      })();
      try {
        // Warm-up, not measured: shoppers of another variant, so both
        // functions have compiled their paths and opened their connections.
        const [warmVariant] = await createVariants(admin, 1, { stock: 1_000_000, prefix: `flash-warm-${mode}` });
        const warmIds = await createShoppersWithCarts(admin, concurrency, [warmVariant!], 1);
        await Promise.all(warmIds.map((id) => checkoutRequest(create.url, signHs256(shopperClaims(id), JWT_SECRET))));
        peak.n = 0;
        const pgPid = opts.dataDir ? postmasterPid(opts.dataDir) : undefined;
        // CPU seconds of each process while the crowd is answered (payments and webhooks after it, apart).
        let cpu: Record<string, number> = {};
        const measure = async (crowd: () => Promise<void>) => {
          ({ cpu } = await cpuDuring({
            pg: () => treeCpuSeconds(pgPid),
            deno: () => treeCpuSeconds(create.process.pid),
            pgbouncer: () => (pooler ? treeCpuSeconds(pooler.pid) : 0),
            node: selfCpuSeconds,
          }, crowd));
        };
        const sale = await flashSale({
          admin,
          createUrl: create.url,
          sandbox,
          jwtSecret: JWT_SECRET,
          shoppers,
          units,
          concurrency,
          prefix: `flash-${mode}`,
          measure,
        });
        sampling = false;
        await sampler;
        // Fail loudly: a flash sale that oversold, left stock behind or
        // answered anything but 201 or a clear 409 is a bug, not a figure.
        // Connected directly, the functions may also answer 503 when their
        // connections run out: counted, not fatal (that is what the pooler is for).
        const problems = flashSaleProblems(sale, { tolerate: mode === 'direct' ? '503 database_unavailable' : undefined });
        if (problems.length) throw new Error(`flash sale (${mode}): ${problems.join('; ')}`);
        const p99 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 99);
        rows.push({
          workload: 'flash sale',
          variant:
            `${shoppers} shoppers, ${units} units, ${concurrency} at a time, functions holding up to ${isolateConnections} connections: create-preference ${
              mode === 'pooler' ? `through PgBouncer (transaction mode, pool ${poolSize})` : 'connected directly'
            }`,
          stats: summarize(sale.latencies, sale.otherErrors, sale.seconds),
          figures: {
            'paid orders': sale.paidOrders,
            'clear 409s': sale.clear409s,
            'other errors': sale.otherErrors,
            'failed webhook attempts': sale.failedDeliveries,
            'p99 of the 409s ms (no sandbox call)': p99(sale.refused),
            'p99 of the 201s less the sandbox p99 alone ms': p99(sale.created) - sandboxP99,
            'peak client connections': peak.n,
            'CPU ms per answer: PostgreSQL': (cpu.pg! * 1000) / shoppers,
            'Deno (create-preference)': (cpu.deno! * 1000) / shoppers,
            PgBouncer: (cpu.pgbouncer! * 1000) / shoppers,
            'bench client and sandbox': (cpu.node! * 1000) / shoppers,
            answers: [...sale.answers].map(([key, n]) => `${key}: ${n}`).join(', '),
          },
        });
        opts.log(`flash sale (${mode}) done`);
      } finally {
        sampling = false;
        await sampler.catch(() => undefined);
        await create.stop();
        await webhook.stop();
        await pooler?.stop();
      }
    }
    rows.push({
      workload: 'flash sale',
      variant: `the sandbox alone: ${units} preferences, ${sandboxConcurrency} at a time`,
      stats: summarize(alone, 0, NaN),
    });
    const [viaPooler, direct] = rows;
    if (viaPooler?.figures && direct?.figures) {
      viaPooler.ratios = {
        'p99 vs direct': viaPooler.stats!.p99 / direct.stats!.p99,
        'peak connections vs direct': Number(viaPooler.figures['peak client connections']) / Number(direct.figures['peak client connections']),
      };
    }
    return rows;
  } finally {
    await sandbox.close();
  }
}
