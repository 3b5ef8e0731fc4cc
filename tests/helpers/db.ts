/**
 * Database helpers for the vitest suites: real connections to the test
 * database, acting as PostgREST would (role + request.jwt.claims) or as the
 * Edge Functions do (service_role).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export function databaseUrl(): string {
  return inject('databaseUrl');
}

/** The URL to give Edge Functions under test: direct, or PgBouncer in transaction mode (TEST_VIA_POOLER=1). */
export function functionsDatabaseUrl(): string {
  return inject('functionsDatabaseUrl');
}

export function newPool(max = 10): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl(), max });
}

/** A client of its own (a separate backend), for real parallelism. */
/** One query on a connection of its own to the database at dbUrl (a stack's, not the test database): its rows. */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(dbUrl: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  return client;
}

export async function createShopper(db: pg.Pool | pg.Client): Promise<string> {
  const id = randomUUID();
  await db.query('insert into auth.users (id, is_anonymous) values ($1, true)', [id]);
  return id;
}

/** A live Auth session of a user, as Supabase Auth keeps it: the `session_id` claim of its access tokens names it. */
export async function signIn(db: pg.Pool | pg.Client, userId: string): Promise<string> {
  const id = randomUUID();
  await db.query('insert into auth.sessions (id, user_id) values ($1, $2)', [id, userId]);
  return id;
}

/** A product with one variant; returns the variant id. SKUs get a random suffix so suites never collide. */
export async function createVariant(
  db: pg.Pool | pg.Client,
  opts: { sku: string; stock: number; price?: number; currency?: string },
): Promise<{ id: string; sku: string }> {
  const sku = `${opts.sku}-${randomUUID().slice(0, 8)}`;
  const { rows } = await db.query<{ id: string }>(
    `with p as (insert into public.products (slug, title) values ($1, $2) returning id)
     insert into public.variants (product_id, sku, title, price, currency, stock_on_hand)
     select p.id, $3, $2, $4, $5, $6 from p returning id`,
    [sku.toLowerCase().replace(/[^a-z0-9]+/g, '-'), `Test ${sku}`, sku, opts.price ?? 1000, opts.currency ?? 'ARS', opts.stock],
  );
  return { id: rows[0]!.id, sku };
}

/** Runs fn in a transaction after `setup` (which sets the role and claims); rolls back on error. */
async function inTransaction<T>(db: pg.Pool | pg.Client, setup: (c: pg.ClientBase) => Promise<unknown>, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  const pooled = db instanceof pg.Pool;
  const c: pg.ClientBase = pooled ? await db.connect() : db;
  try {
    await c.query('begin');
    await setup(c);
    const result = await fn(c);
    await c.query('commit');
    return result;
  } catch (err) {
    await c.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    if (pooled) (c as pg.PoolClient).release();
  }
}

/** Runs fn in a transaction as the shopper, the way PostgREST runs an RPC. */
export function asShopper<T>(db: pg.Pool | pg.Client, shopperId: string, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  const claims = JSON.stringify({ sub: shopperId, role: 'authenticated', aud: 'authenticated', is_anonymous: true });
  return inTransaction(db, (c) => c.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [claims]), fn);
}

/** Runs fn in a transaction as service_role, the role the Edge Functions call the checkout routines with. */
export function asService<T>(db: pg.Pool | pg.Client, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  return inTransaction(db, (c) => c.query('set local role service_role'), fn);
}

export async function addToCart(db: pg.Pool | pg.Client, shopperId: string, variantId: string, quantity: number): Promise<void> {
  await asShopper(db, shopperId, (c) => c.query('select public.add_to_cart($1, $2)', [variantId, quantity]));
}

/**
 * Makes a shopper's cart look idle for `minutes`, as if nobody had touched it
 * since. Only the trigger that stamps the cart's clock is switched off, for
 * this one committed write (DDL is transactional: no other connection ever
 * sees it off); every other trigger and constraint runs.
 */
export async function setCartIdle(db: pg.Pool | pg.Client, shopperId: string, minutes: number): Promise<void> {
  await inTransaction(db, (c) => c.query('alter table public.carts disable trigger carts_slide_expiry'), async (c) => {
    await c.query(
      `update public.carts set updated_at = now() - make_interval(mins => $2),
              expires_at = now() - make_interval(mins => $2) + (private.current_settings()).cart_ttl
        where session_id = $1`,
      [shopperId, minutes],
    );
    await c.query('alter table public.carts enable trigger carts_slide_expiry');
  });
}

/** Opens n connections as service_role, then runs job(i, client) on all of them at the same instant. */
export async function race<T>(n: number, job: (i: number, c: pg.Client) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => connect()));
  try {
    await Promise.all(clients.map((c) => c.query('set role service_role')));
    return await Promise.allSettled(clients.map((c, i) => job(i, c)));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** The payment MercadoPago reports when it approves an order session's total by card (what apply_payment takes). */
export function approvedPayment(session: { token: string; total: string | number }, id = 9_300_000_000 + Math.floor(Math.random() * 1_000_000_000)) {
  return {
    id,
    status: 'approved',
    status_detail: 'accredited',
    transaction_amount: Number(session.total),
    currency_id: 'ARS',
    external_reference: session.token,
    payment_type_id: 'credit_card',
    payment_method_id: 'visa',
  };
}

export interface DbError extends Error {
  code?: string;
  detail?: string;
}

export const payer = { email: 'comprador@example.com', name: 'Ana', surname: 'García' };
export const shipping = { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA', state: 'Buenos Aires' };
