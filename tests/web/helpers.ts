/**
 * Where the storefront library's tests run: the local stack (default: a
 * throw-away one on free ports, no storefront), or a real Supabase stack when
 * SUPABASE_URL and SUPABASE_ANON_KEY are set (e.g. `supabase start` +
 * `supabase functions serve`). Against a real stack, tests that need the
 * MercadoPago sandbox's control API use MP_SANDBOX_URL when it is set (the
 * sandbox the functions point at) and are skipped otherwise; tests that need
 * the database itself (SUPABASE_DB_URL) are skipped without it.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { type Stack, startStack } from '../../dev/stack/stack.ts';
import type { Database } from '../../web/src/index.ts';
import { serverRealtimeOptions } from '../../web/src/ssr.ts';

export interface Target {
  apiUrl: string;
  anonKey: string;
  /** The local stack, when we started one. */
  stack?: Stack;
  /** A superuser connection string, when known (local stack, or SUPABASE_DB_URL). */
  dbUrl?: string;
  /** The MercadoPago sandbox's base URL, when known. */
  mpUrl?: string;
  remote: boolean;
  stop(): Promise<void>;
}

export const remoteConfigured = Boolean(process.env['SUPABASE_URL'] && process.env['SUPABASE_ANON_KEY']);

/** One target for a whole suite: `use` receives it once started; it is stopped after the suite. */
export function useTarget(use: (t: Target) => void): void {
  let target: Target | undefined;
  beforeAll(async () => {
    target = await startTarget();
    use(target);
  }, 240_000);
  afterAll(async () => {
    await target?.stop();
  });
}

export async function startTarget(opts: { reservationTtlSeconds?: number; serveStorefront?: boolean; reconcileIntervalMs?: number } = {}): Promise<Target> {
  if (remoteConfigured) {
    const dbUrl = process.env['SUPABASE_DB_URL'];
    const mpUrl = process.env['MP_SANDBOX_URL'];
    return {
      apiUrl: process.env['SUPABASE_URL']!.replace(/\/+$/, ''),
      anonKey: process.env['SUPABASE_ANON_KEY']!,
      ...(dbUrl ? { dbUrl } : {}),
      ...(mpUrl ? { mpUrl } : {}),
      remote: true,
      stop: async () => {},
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'storefront-test-'));
  // mkdtemp makes it 0700; PostgreSQL runs as its own user (when we are root) and must reach dataDir/db.
  const stack = await startStack({
    dataDir,
    ports: { api: 0, db: 0, mp: 0, mail: 0, web: 0 },
    serveStorefront: opts.serveStorefront ?? false,
    ...(opts.reservationTtlSeconds !== undefined ? { reservationTtlSeconds: opts.reservationTtlSeconds } : {}),
    ...(opts.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: opts.reconcileIntervalMs } : {}),
    sandbox: { retrySchedule: [200, 400, 800], webhookTimeoutMs: 5000 },
    // These suites sign in more shoppers from one address than the 30 per
    // hour config.toml allows (tests/stack/auth-guard.test.ts tests that limit).
    auth: { anonymousUsersPerHour: 10_000 },
  });
  return {
    apiUrl: stack.apiUrl,
    anonKey: stack.anonKey,
    stack,
    dbUrl: stack.dbUrl,
    mpUrl: stack.mpUrl,
    remote: false,
    stop: async () => {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An in-memory Web Storage, shared between clients to play "the same browser after a reload". */
export function memoryStorage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    keys: () => [...m.keys()],
  };
}

export function newClient(t: Pick<Target, 'apiUrl' | 'anonKey'>, storage = memoryStorage()): SupabaseClient<Database> {
  return createClient<Database>(t.apiUrl, t.anonKey, {
    auth: { storage, persistSession: true, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: serverRealtimeOptions(),
  });
}

/** Pays a preference on the sandbox as the buyer would on the checkout page. */
export async function pay(t: Target, preferenceId: string, cardholderName: string): Promise<{ id: string; status: string }> {
  if (t.stack) {
    const p = t.stack.sandbox.pay(preferenceId, { cardholderName });
    return { id: String(p.id), status: String(p.status) };
  }
  if (!t.mpUrl) throw new Error('MP_SANDBOX_URL is not set');
  const res = await fetch(`${t.mpUrl}/__sandbox/preferences/${encodeURIComponent(preferenceId)}/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ cardholderName }),
  });
  if (!res.ok) throw new Error(`sandbox pay: ${res.status} ${await res.text()}`);
  const p = (await res.json()) as { id: number | string; status: string };
  return { id: String(p.id), status: p.status };
}

/** The query MercadoPago appends to back_urls for a payment (missing values as the string 'null'). */
export function returnQuery(p: { paymentId?: string; status?: string; externalReference?: string; preferenceId?: string }): URLSearchParams {
  return new URLSearchParams({
    collection_id: p.paymentId ?? 'null',
    collection_status: p.status ?? 'null',
    payment_id: p.paymentId ?? 'null',
    status: p.status ?? 'null',
    external_reference: p.externalReference ?? 'null',
    payment_type: 'credit_card',
    merchant_order_id: 'null',
    preference_id: p.preferenceId ?? 'null',
    site_id: 'MLA',
    processing_mode: 'aggregator',
    merchant_account_id: 'null',
  });
}

/** A product with one variant, created with a superuser connection; SKUs get a random suffix. */
export async function createVariant(
  dbUrl: string,
  opts: { sku: string; stock: number; price?: number; currency?: string; title?: string },
): Promise<{ id: string; sku: string; slug: string }> {
  const suffix = Math.random().toString(36).slice(2, 8);
  const sku = `${opts.sku}-${suffix}`.toUpperCase();
  const slug = sku.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `with p as (insert into public.products (slug, title, description) values ($1, $2, 'Producto de prueba') returning id)
       insert into public.variants (product_id, sku, title, attributes, price, currency, stock_on_hand)
       select p.id, $3, 'Única', '{"talle":"único"}', $4, $5, $6 from p returning id`,
      [slug, opts.title ?? `Prueba ${sku}`, sku, opts.price ?? 1000, opts.currency ?? 'ARS', opts.stock],
    );
    return { id: rows[0]!.id, sku, slug };
  } finally {
    await client.end();
  }
}

export { sql } from '../helpers/db.ts';

export const payer = { email: 'ana@example.com', name: 'Ana', surname: 'García' };
export const shippingAddress = { streetName: 'Av. Corrientes', streetNumber: '1234', zipCode: 'C1043', city: 'CABA', state: 'Buenos Aires' };
