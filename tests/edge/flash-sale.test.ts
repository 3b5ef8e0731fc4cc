/**
 * A flash sale through the whole path, small (the bench's is 2,000 shoppers
 * for 200 units, bench/flash.ts): shoppers call create-preference under real
 * Deno (through PgBouncer in transaction mode when the suite runs via the
 * pooler), the sandbox pays every preference and delivers its webhooks to
 * the real webhook function. Correctness only, no timing: every unit sold
 * and paid exactly once, every other shopper a clear 409.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { flashSale, flashSaleProblems } from '../../bench/flash-sale.ts';
import { databaseUrl, functionsDatabaseUrl, newPool } from '../helpers/db.ts';
import { TEST_SUPABASE_URL } from '../helpers/jwt.ts';
import { stopAll } from '../helpers/functions.ts';

const JWT_SECRET = 'flash-test-jwt-secret-with-at-least-32-characters';

let pool: pg.Pool;
let sandbox: Sandbox;
let fn: Record<'create' | 'webhook', RunningFunction>;

beforeAll(async () => {
  pool = newPool(4);
  sandbox = await startSandbox({ retrySchedule: [200, 500, 1000, 2000], webhookTimeoutMs: 22_000 });
  const env = {
    SUPABASE_URL: TEST_SUPABASE_URL,
    // Direct, or PgBouncer in transaction mode when the suite runs via the pooler.
    CHECKOUT_DB_URL: functionsDatabaseUrl(),
    SUPABASE_DB_URL: databaseUrl(),
    SUPABASE_SERVICE_ROLE_KEY: 'flash-test-service-role-key',
    JWT_SECRET,
    MP_ACCESS_TOKEN: sandbox.accessToken,
    MP_WEBHOOK_SECRET: sandbox.webhookSecret,
    MP_API_BASE_URL: sandbox.url,
    // More connections than the pooler's pool: requests queue at PgBouncer, as they do behind Supavisor.
    CHECKOUT_DB_POOL_MAX: '24',
  };
  const webhook = await startFunction('mercadopago-webhook', env);
  fn = { webhook, create: await startFunction('create-preference', { ...env, FUNCTIONS_URL: webhook.url }) };
});

afterAll(() => stopAll({ fn, sandbox, pool }));

describe('a flash sale through the functions, the sandbox and its webhooks', () => {
  it('300 shoppers, 30 at a time, for 30 units: 30 paid orders, 270 clear 409s, nothing else, nothing left reserved', async () => {
    const sale = await flashSale({
      admin: pool,
      createUrl: fn.create.url,
      sandbox,
      jwtSecret: JWT_SECRET,
      shoppers: 300,
      units: 30,
      concurrency: 30,
      prefix: 'flash-test',
    });
    expect(flashSaleProblems(sale)).toEqual([]);
    expect(Object.fromEntries(sale.answers)).toEqual({ '201': 30, '409 insufficient_stock': 270 });
    expect([sale.paidOrders, sale.stockLeft, sale.reserved, sale.failedDeliveries]).toEqual([30, 0, 0, 0]);
    // Each paid order is its own shopper's, once.
    const { rows } = await pool.query(
      `select count(*)::int as orders, count(distinct o.session_id)::int as shoppers
         from public.orders o join public.order_sessions s on s.id = o.order_session_id
        where s.lines @> jsonb_build_array(jsonb_build_object('variant_id', $1::text))`,
      [sale.variant],
    );
    expect(rows[0]).toEqual({ orders: 30, shoppers: 30 });
  });
});
