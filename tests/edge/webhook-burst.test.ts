/**
 * Issue 25, the webhook's memory: a burst of notifications beyond what one
 * webhook instance keeps waiting (`MP_WEBHOOK_MAX_WAITING`) is answered 503
 * `webhook_busy` at once, not held in memory; MercadoPago sends each again,
 * and a payment whose notifications were all refused is found by the
 * reconcile function. Either way every approved payment ends as exactly one
 * order. Real Deno functions, the sandbox, the real database.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { freePort } from '../../dev/pg/cluster.ts';
import { checkoutOneUnit, type FunctionCheckout } from '../helpers/checkout.ts';
import { newPool } from '../helpers/db.ts';
import { paymentFunctionEnv, stopAll } from '../helpers/functions.ts';
import { callFunction } from '../helpers/http.ts';

const JWT_SECRET = 'webhook-burst-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'webhook-burst-service-role-key';

/** The sandbox's delays between attempts; emptied for the second burst (no retries: every refused notification is lost). */
const retrySchedule = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000];

let pool: pg.Pool;
let sandbox: Sandbox;
let fn: Record<'create' | 'webhook' | 'reconcile', RunningFunction>;

beforeAll(async () => {
  pool = newPool(4);
  sandbox = await startSandbox({ retrySchedule, webhookTimeoutMs: 20_000 });
  const webhookPort = await freePort();
  const env = (extra: Record<string, string> = {}) => paymentFunctionEnv({ sandbox, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY }, extra);
  const [create, webhook, reconcile] = await Promise.all([
    startFunction('create-preference', env({ FUNCTIONS_URL: `http://127.0.0.1:${webhookPort}` })),
    // One connection: 4 notifications worked on at once, 2 waiting, the rest refused.
    startFunction('mercadopago-webhook', env({ CHECKOUT_DB_POOL_MAX: '1', MP_WEBHOOK_MAX_WAITING: '2' }), { port: webhookPort }),
    startFunction('reconcile', env({ RECONCILE_BATCH: '500' })),
  ]);
  fn = { create, webhook, reconcile };
}, 180_000);

afterAll(() => stopAll({ fn, sandbox, pool }));

/** `n` shoppers check out one unit each through create-preference, then pay; their notifications are held, then sent all at once. */
async function burst(n: number, sku: string): Promise<{ checkouts: FunctionCheckout[]; statuses: number[] }> {
  const checkouts: FunctionCheckout[] = [];
  for (let i = 0; i < n; i++) checkouts.push(await checkoutOneUnit(pool, fn.create.url, JWT_SECRET, { sku: `${sku}-${i}`, price: 1500 }));
  await sandbox.settle(30_000);
  const seen = sandbox.deliveries().length;
  sandbox.holdNotifications();
  for (const c of checkouts) sandbox.pay(c.preferenceId, { cardholderName: 'APRO' });
  await sandbox.releaseNotifications('fifo', { parallel: true });
  await sandbox.settle(120_000);
  return { checkouts, statuses: sandbox.deliveries().slice(seen).map((d) => d.statusCode ?? 0) };
}

/** Orders per session (0 when none). */
async function ordersPerSession(checkouts: FunctionCheckout[]): Promise<number[]> {
  const { rows } = await pool.query<{ n: number }>(
    `select (select count(*)::int from public.orders o where o.order_session_id = s.id) as n
       from unnest($1::uuid[]) with ordinality s(id, i) order by i`,
    [checkouts.map((c) => c.session.id)],
  );
  return rows.map((r) => r.n);
}

describe("a burst beyond the webhook's bound", () => {
  it("is answered 503 webhook_busy at once; MercadoPago's retries bring every payment to exactly one order", async () => {
    const { checkouts, statuses } = await burst(20, 'HOOK-BURST-A');
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(await ordersPerSession(checkouts)).toEqual(Array(20).fill(1));
  }, 240_000);

  it('a payment whose notifications were all refused is applied by reconcile, once', async () => {
    retrySchedule.length = 0; // the sandbox reads this array on each failure: no more retries
    const { checkouts, statuses } = await burst(20, 'HOOK-BURST-B');
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    const before = await ordersPerSession(checkouts);
    expect(before.filter((n) => n === 0).length).toBeGreaterThan(0);
    expect(before.filter((n) => n > 1)).toEqual([]);
    // Other suites' sessions on this database may fill a run's batch: run until every one is settled.
    // Their first check is due 2 minutes after the checkout: due now.
    await pool.query('update public.order_sessions set next_check_at = now() where id = any($1::uuid[])', [checkouts.map((c) => c.session.id)]);
    for (let i = 0; i < 10 && (await ordersPerSession(checkouts)).includes(0); i++) {
      const run = await callFunction(`${fn.reconcile.url}/reconcile`, { method: 'POST', token: SERVICE_KEY });
      expect(run.status).toBe(200);
    }
    expect(await ordersPerSession(checkouts)).toEqual(Array(20).fill(1));
  }, 240_000);
});
