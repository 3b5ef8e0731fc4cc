/**
 * startStack's data directory: a restart keeps the data (and neither
 * re-applies migrations nor duplicates the seed), `reset` wipes it; settings
 * from options; the storefront server (env.js, SPA fallback).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../dev/stack/stack.ts';
import { client, tempDir, VARIANTS } from './helpers.ts';

const dataDir = tempDir('stack-life-');
const distDir = tempDir('stack-dist-');
mkdirSync(join(distDir, 'assets'));
writeFileSync(join(distDir, 'index.html'), '<!doctype html><script src="/env.js"></script><div id="root"></div>');
writeFileSync(join(distDir, 'assets', 'app.js'), 'console.log(1)');

let current: Stack | undefined;
afterAll(async () => {
  await current?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(distDir, { recursive: true, force: true });
});

const start = async (opts: { reset?: boolean; reservationTtlSeconds?: number } = {}) => {
  current = await startStack({
    dataDir,
    ports: { api: 0, db: 0, mp: 0, web: 0 },
    functions: [], // the functions are covered by api.test.ts; this suite is about the data
    storefrontDist: distDir,
    ...opts,
  });
  return current;
};

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('startStack data directory', () => {
  it('keeps data across restarts, does not duplicate the seed, and reset wipes it', async () => {
    let stack = await start({ reservationTtlSeconds: 45 });
    const sb = client(stack.apiUrl, stack.anonKey);
    const { data } = await sb.auth.signInAnonymously();
    const userId = data.user!.id;
    const refreshToken = data.session!.refresh_token;
    expect((await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraS, p_quantity: 2 })).error).toBeNull();
    const counts = async (url: string) =>
      (await query<{ variants: number; migrations: number; ttl: number }>(
        url,
        `select (select count(*)::int from public.variants) as variants,
                (select count(*)::int from supabase_migrations.schema_migrations) as migrations,
                (select extract(epoch from reservation_ttl)::int from private.settings limit 1) as ttl`,
      ))[0]!;
    const before = await counts(stack.dbUrl);
    expect(before.ttl).toBe(45);
    await stack.stop();

    stack = await start();
    const after = await counts(stack.dbUrl);
    expect(after).toEqual(before); // same seed rows, no migration re-applied, settings kept
    // The same session still works: refresh it and read the cart.
    const again = client(stack.apiUrl, stack.anonKey);
    const refreshed = await again.auth.refreshSession({ refresh_token: refreshToken });
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.user?.id).toBe(userId);
    const cart = await again.rpc('get_cart');
    expect(cart.data.lines).toEqual([expect.objectContaining({ variant_id: VARIANTS.remeraNegraS, quantity: 2 })]);
    await stack.stop();

    stack = await start({ reset: true });
    expect(await query(stack.dbUrl, 'select id from auth.users where id = $1', [userId])).toEqual([]);
    expect((await counts(stack.dbUrl)).variants).toBe(before.variants);
    expect((await counts(stack.dbUrl)).ttl).toBe(900);

    // The storefront: env.js points at the API; client-side routes fall back to index.html.
    const env = await (await fetch(`${stack.webUrl}/env.js`)).text();
    expect(env).toBe(`window.__STOREFRONT_ENV__ = ${JSON.stringify({ supabaseUrl: stack.apiUrl, supabaseAnonKey: stack.anonKey })};\n`);
    const route = await fetch(`${stack.webUrl}/checkout/return?payment_id=1`);
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('id="root"');
    const asset = await fetch(`${stack.webUrl}/assets/app.js`);
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${stack.webUrl}/assets/missing.js`)).status).toBe(404);
    // No way out of dist: a traversal is just another client-side route.
    expect(await (await fetch(`${stack.webUrl}/..%2f..%2f..%2fetc/passwd`)).text()).not.toContain('root:');
  });
});
