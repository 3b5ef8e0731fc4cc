/**
 * One flash sale through the real path, and its check: `shoppers` anonymous
 * shoppers, each with one unit of the same product in the cart (`units` in
 * stock) and an access token as Supabase Auth issues one, call
 * create-preference over HTTP, `concurrency` requests at a time; the sandbox
 * then pays every preference created and delivers its webhooks to the
 * webhook function the preferences name. Used by the bench's flash-sale
 * cell (bench/flash.ts) and, smaller, by tests/edge/flash-sale.test.ts.
 */
import { Agent, request } from 'node:http';
import pg from 'pg';
import type { Sandbox } from '../dev/mp-sandbox/index.ts';
import { shopperClaims, signHs256 } from '../tests/helpers/jwt.ts';
import { createShoppersWithCarts, createVariants } from './fixtures.ts';

export const FLASH_BODY = JSON.stringify({
  payer: { email: 'flash@example.com', name: 'Flash' },
  shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
});

export interface FlashSaleOptions {
  admin: pg.Client | pg.Pool;
  /** The create-preference function's base URL. */
  createUrl: string;
  sandbox: Sandbox;
  /** The secret the functions verify shoppers' HS256 tokens with (JWT_SECRET). */
  jwtSecret: string;
  shoppers: number;
  units: number;
  concurrency: number;
  prefix: string;
  /** How long the sandbox may take to deliver every webhook. */
  settleMs?: number;
  /** Wraps the crowd's requests alone (not the fixtures, not the payments): to count CPU, say. */
  measure?: (crowd: () => Promise<void>) => Promise<void>;
}

export interface FlashSaleResult {
  shoppers: number;
  units: number;
  variant: string;
  seconds: number;
  /** Every answer's time, then the 201s' and the 409s' alone, in ms. */
  latencies: number[];
  created: number[];
  refused: number[];
  /** `<status> <error code>` → how many. */
  answers: Map<string, number>;
  preferences: number;
  clear409s: number;
  otherErrors: number;
  paidOrders: number;
  /** Stock on hand and units still reserved once every webhook was delivered. */
  stockLeft: number;
  reserved: number;
  /** Webhook attempts the function did not answer 2xx to. */
  failedDeliveries: number;
}

/**
 * A create-preference call as the shopper whose token it is: its status and
 * JSON body. Through node:http on kept-alive connections, not fetch: the
 * crowd shares the cores with what it measures, and fetch (undici) cost
 * 1.0–1.4 ms of CPU a request here against 0.2–0.3 ms (a bare server, 100 at a time).
 */
export function checkoutRequest(createUrl: string, token: string, agent?: Agent): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(`${createUrl}/create-preference`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(FLASH_BODY) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // Not JSON: counted by its status alone.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(FLASH_BODY);
  });
}

export async function flashSale(o: FlashSaleOptions): Promise<FlashSaleResult> {
  const [variant] = await createVariants(o.admin as pg.Client, 1, { stock: o.units, prefix: o.prefix });
  const ids = await createShoppersWithCarts(o.admin as pg.Client, o.shoppers, [variant!], 1);
  if (ids.length !== o.shoppers) throw new Error(`flash sale: ${ids.length} shoppers made for ${o.shoppers}`);
  const tokens = ids.map((id) => signHs256(shopperClaims(id), o.jwtSecret));
  const latencies: number[] = [];
  const created: number[] = [];
  const refused: number[] = [];
  const answers = new Map<string, number>();
  const prefs: string[] = [];
  let next = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const t0 = performance.now();
  const crowd = async () => {
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++]!;
        const t = performance.now();
        let key: string;
        try {
          const res = await checkoutRequest(o.createUrl, token, agent);
          const answer = res.body as { preference_id?: string; error?: string };
          const ms = performance.now() - t;
          latencies.push(ms);
          if (res.status === 201 && answer.preference_id) {
            created.push(ms);
            prefs.push(answer.preference_id);
          } else if (res.status === 409 && answer.error === 'insufficient_stock') refused.push(ms);
          key = `${res.status} ${answer.error ?? ''}`.trim();
        } catch (err) {
          // No answer at all (connection refused or reset): an error like any other.
          key = `no answer: ${err instanceof Error ? err.message : String(err)}`;
        }
        answers.set(key, (answers.get(key) ?? 0) + 1);
      }
    }));
  };
  await (o.measure ? o.measure(crowd) : crowd()).finally(() => agent.destroy());
  const seconds = (performance.now() - t0) / 1000;
  const seen = o.sandbox.deliveries().length;
  for (const p of prefs) o.sandbox.pay(p, { cardholderName: 'APRO' });
  await o.sandbox.settle(o.settleMs ?? 120_000);
  const { rows: [counts] } = await o.admin.query(
    `select (select count(*)::int from public.orders o join public.order_sessions s on s.id = o.order_session_id
              where s.lines @> jsonb_build_array(jsonb_build_object('variant_id', $2::text))) as paid,
            v.stock_on_hand as stock_left, v.reserved
       from public.variants v where v.id = $1`,
    [variant, variant],
  );
  return {
    shoppers: o.shoppers,
    units: o.units,
    variant: variant!,
    seconds,
    latencies,
    created,
    refused,
    answers,
    preferences: prefs.length,
    clear409s: refused.length,
    otherErrors: o.shoppers - prefs.length - refused.length,
    paidOrders: counts.paid,
    stockLeft: counts.stock_left,
    reserved: counts.reserved,
    failedDeliveries: o.sandbox.deliveries().slice(seen).filter((d) => !d.ok).length,
  };
}

/**
 * What is wrong with a sale's outcome, if anything: every unit sold and paid
 * once (no oversell, none left reserved), every other shopper a clear 409
 * `insufficient_stock`, no other answer (but `tolerate`'s, e.g. `503 database_unavailable`).
 */
export function flashSaleProblems(r: FlashSaleResult, opts: { tolerate?: string } = {}): string[] {
  const problems: string[] = [];
  const tolerated = opts.tolerate ? (r.answers.get(opts.tolerate) ?? 0) : 0;
  if (r.paidOrders !== r.units) problems.push(`${r.paidOrders} paid orders for ${r.units} units`);
  if (r.preferences !== r.units) problems.push(`${r.preferences} preferences created for ${r.units} units`);
  if (r.clear409s + tolerated !== r.shoppers - r.units) problems.push(`${r.clear409s} clear 409s, not ${r.shoppers - r.units}`);
  if (r.otherErrors - tolerated !== 0) problems.push(`${r.otherErrors - tolerated} other answers`);
  if (r.stockLeft !== 0 || r.reserved !== 0) problems.push(`${r.stockLeft} units left on hand, ${r.reserved} reserved, after the sale`);
  if (problems.length) problems.push(`answers: ${[...r.answers].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  return problems;
}
