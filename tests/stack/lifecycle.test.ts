/**
 * startStack's data directory: a restart keeps the data (and neither
 * re-applies migrations nor duplicates the seed), `reset` wipes it; settings
 * from options; the storefront server (env.js, SPA fallback).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../dev/stack/stack.ts';
import { readFileSync } from 'node:fs';
import { sql as query } from '../helpers/db.ts';
import { client, isAlive, tempDir, VARIANTS, waitFor } from './helpers.ts';

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

const logs: string[] = [];
const start = async (opts: { reset?: boolean; reservationTtlSeconds?: number } = {}) => {
  current = await startStack({
    dataDir,
    ports: { api: 0, db: 0, mp: 0, mail: 0, web: 0 },
    functions: [], // the functions are covered by api.test.ts; this suite is about the data
    storefrontDist: distDir,
    log: (line) => logs.push(line),
    ...opts,
  });
  return current;
};

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

    // A database built from a migration history this checkout no longer has
    // (issue 21 replaced the first migrations by a baseline): start refuses
    // it and says what to do, rather than supabase db push's `migration
    // repair` advice, which would leave it half-built.
    await query(stack.dbUrl, `insert into supabase_migrations.schema_migrations (version, name) values ('20261123000100', 'foundation')`);
    await stack.stop();
    await expect(start()).rejects.toThrow(/1 migration\(s\) this checkout does not have \(20261123000100\)[\s\S]*npm start -- --reset/);

    stack = await start({ reset: true });
    expect(await query(stack.dbUrl, 'select id from auth.users where id = $1', [userId])).toEqual([]);
    expect((await counts(stack.dbUrl)).variants).toBe(before.variants);
    expect((await counts(stack.dbUrl)).ttl).toBe(900);

    // The storefront: env.js points at the API; client-side routes fall back to index.html.
    const env = await (await fetch(`${stack.webUrl}/env.js`)).text();
    expect(env).toBe(
      `window.__STOREFRONT_ENV__ = ${JSON.stringify({ supabaseUrl: stack.apiUrl, supabaseAnonKey: stack.anonKey, siteId: 'MLA', locale: 'es-AR' })};\n`,
    );
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

describe('startStack and PostgreSQL faults', () => {
  it('keeps data durably: fsync, synchronous_commit and full_page_writes are on', async () => {
    await current?.stop(); // the suite above leaves its last stack running
    const stack = await start();
    const rows = await query<{ name: string; setting: string }>(
      stack.dbUrl,
      `select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name`,
    );
    expect(rows).toEqual([
      { name: 'fsync', setting: 'on' },
      { name: 'full_page_writes', setting: 'on' },
      { name: 'synchronous_commit', setting: 'on' },
    ]);
    await stack.stop();
  });

  it('rides out PostgreSQL killed with SIGKILL: reports it, restarts it, reconnects; the sandbox keeps its state', async () => {
    const stack = await start();
    const sb = client(stack.apiUrl, stack.anonKey);
    await sb.auth.signInAnonymously();
    expect((await sb.rpc('add_to_cart', { p_variant_id: VARIANTS.remeraNegraM, p_quantity: 3 })).error).toBeNull();
    const pref = await fetch(`${stack.mpUrl}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ title: 'A', quantity: 1, unit_price: 100, currency_id: 'ARS' }] }),
    });
    expect(pref.status).toBe(201);
    const paid = stack.sandbox.pay(((await pref.json()) as { id: string }).id, { cardholderName: 'APRO' });

    // Requests in flight when the server dies: their pooled connections break
    // while checked out (this used to end npm start with an uncaught error).
    let traffic = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (traffic) await sb.rpc('get_cart');
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const postmaster = Number(readFileSync(join(dataDir, 'db', 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    await waitFor('the old server to die', () => !isAlive(postmaster) || undefined);
    await waitFor('the watchdog to report', () => logs.some((l) => l.startsWith('PostgreSQL is unreachable')) || undefined);
    await waitFor('PostgreSQL to be back', () => logs.some((l) => l === 'PostgreSQL is back; reconnected.') || undefined, 60_000);
    traffic = false;
    await load;

    // The same API, the same data (the committed cart line survived), the same sandbox.
    const cart = await waitFor('the cart through the API', async () => {
      const r = await sb.rpc('get_cart');
      return r.error ? undefined : r.data;
    });
    expect(cart.lines).toEqual([expect.objectContaining({ variant_id: VARIANTS.remeraNegraM, quantity: 3 })]);
    expect(stack.sandbox.getPayment(paid.id).status).toBe('approved');
    await stack.stop();
  });
});
