/**
 * Several anonymous sessions from one client address cannot empty the store:
 * through the local API (which passes the connection's address to the
 * functions in X-Forwarded-For, whatever the client sent) and the real
 * create-preference under Deno, four sessions from 127.0.0.1 try to hold the
 * whole demo catalog, each within the per-shopper caps. The address's
 * checkouts stop at max_units_per_address (30): 409 hold_limit_address. A
 * client at another address (127.0.0.2) checks out as usual, and a forged
 * X-Forwarded-For changes nothing.
 */
import { rmSync } from 'node:fs';
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../dev/stack/stack.ts';
import { client, httpFrom, tempDir } from './helpers.ts';

let stack: Stack;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('stack-address-cap-');
  stack = await startStack({ dataDir, ports: { api: 0, db: 0, mp: 0, mail: 0, web: 0 }, serveStorefront: false, functions: ['create-preference'] });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const body = {
  payer: { email: 'ana@example.com', name: 'Ana' },
  shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
};

interface Shopper {
  sb: SupabaseClient;
  token: string;
}

async function shopper(): Promise<Shopper> {
  const sb = client(stack.apiUrl, stack.anonKey);
  const { data, error } = await sb.auth.signInAnonymously();
  expect(error).toBeNull();
  return { sb, token: data.session!.access_token };
}

/** The demo catalog's units still available, by variant. */
async function available(): Promise<Map<string, number>> {
  const { data } = await client(stack.apiUrl, stack.anonKey).rpc('get_catalog');
  const units = new Map<string, number>();
  for (const p of data as { variants: { id: string; available: number }[] }[]) for (const v of p.variants) units.set(v.id, v.available);
  return units;
}

/** Fills a shopper's cart with what is left, within the per-shopper caps (10 of a product, 30 a checkout). */
async function fillCart(s: Shopper, left: Map<string, number>): Promise<number> {
  let units = 0;
  for (const [variant, n] of left) {
    const q = Math.min(n, 10, 30 - units);
    if (q <= 0) continue;
    const { error } = await s.sb.rpc('add_to_cart', { p_variant_id: variant, p_quantity: q });
    expect(error).toBeNull();
    left.set(variant, n - q);
    units += q;
  }
  return units;
}

const checkout = (s: Shopper, from = '127.0.0.1', headers: Record<string, string> = {}) =>
  httpFrom(`${stack.apiUrl}/functions/v1/create-preference`, { body, localAddress: from, headers: { authorization: `Bearer ${s.token}`, ...headers } });

describe('four anonymous sessions from one address', () => {
  it('cannot hold the whole demo catalog; another address is unaffected; a forged X-Forwarded-For changes nothing', async () => {
    const before = await available();
    const total = [...before.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(30);
    const left = new Map(before);
    const sessions = await Promise.all([shopper(), shopper(), shopper(), shopper()]);
    const asked: number[] = [];
    for (const s of sessions) asked.push(await fillCart(s, left));
    // Four carts of (at most) 30 units hold the whole catalog between them.
    expect(asked.reduce((a, b) => a + b, 0)).toBe(total);

    const results = [];
    for (const s of sessions) results.push(await checkout(s));
    const held = results.flatMap((r, i) => (r.status === 201 ? [asked[i]!] : [])).reduce((a, b) => a + b, 0);
    expect(held).toBeLessThanOrEqual(30);
    const refused = results.filter((r) => r.status === 409);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const r of refused) expect(r.body).toMatchObject({ error: 'hold_limit_address', max: 30 });
    const after = await available();
    expect([...after.values()].reduce((a, b) => a + b, 0)).toBe(total - held);

    // A client at another address checks out one of the refused carts.
    const refusedSession = sessions[results.findIndex((r) => r.status === 409)]!;
    const elsewhere = await checkout(refusedSession, '127.0.0.2');
    expect([elsewhere.status, (elsewhere.body.order_session as { item_count: number }).item_count]).toEqual([
      201,
      asked[results.findIndex((r) => r.status === 409)],
    ]);

    // Claiming another address from 127.0.0.1 does not help: the API sets the header from the connection.
    const forger = refused.length > 1 ? sessions[results.findLastIndex((r) => r.status === 409)]! : await shopper();
    const forged = await checkout(forger, '127.0.0.1', { 'x-forwarded-for': '203.0.113.99', 'x-real-ip': '203.0.113.99', 'cf-connecting-ip': '203.0.113.99' });
    expect([forged.status, forged.body.error]).toEqual([409, 'hold_limit_address']);
  });
});
