/**
 * checkout.merge_carts: an anonymous shopper's cart, checkout in progress,
 * order sessions and orders move into a permanent account. Each strategy,
 * the caps, idempotency, and races with real parallel connections.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addToCart,
  approvedPayment,
  asService,
  asShopper,
  createShopper,
  createVariant,
  type DbError,
  newPool,
  payer,
  race,
  shipping,
  signIn,
} from '../helpers/db.ts';

let pool: pg.Pool;

beforeAll(() => {
  pool = newPool(6);
});
afterEach(async () => {
  await pool.query(`update private.settings set cart_merge_strategy = 'merge', max_line_quantity = 99`);
});
afterAll(async () => {
  await pool.end();
});

interface Change {
  variant_id: string;
  sku: string;
  from: 'anonymous' | 'account';
  requested: number;
  quantity: number;
  reason: string;
}
interface Report {
  strategy: string;
  changes: Change[];
  lines_moved: number;
  cancelled_order_session: string | null;
  order_sessions_moved: number;
  orders_moved: number;
  already_merged: boolean;
  cart: { lines: { variant_id: string; quantity: number }[] };
}

async function createAccount(db: pg.Pool | pg.Client): Promise<string> {
  const id = randomUUID();
  await db.query('insert into auth.users (id, is_anonymous, email) values ($1, false, $2)', [id, `${id}@example.com`]);
  return id;
}

/** Merges with a live Auth session of the anonymous user, as merge-cart does with its token's session_id. */
async function merge(db: pg.Pool | pg.Client, anonymous: string, account: string): Promise<Report> {
  const session = await signIn(db, anonymous);
  return asService(db, async (c) => (await c.query<{ r: Report }>('select checkout.merge_carts($1, $2, $3) as r', [anonymous, account, session])).rows[0]!.r);
}

async function cartOf(shopper: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ variant_id: string; quantity: number }>('select variant_id, quantity from public.cart_items where session_id = $1', [
    shopper,
  ]);
  return Object.fromEntries(rows.map((r) => [r.variant_id, r.quantity]));
}

const setStrategy = (s: string) => pool.query('update private.settings set cart_merge_strategy = $1', [s]);

async function checkout(shopper: string) {
  return asService(pool, async (c) =>
    (await c.query('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping])).rows[0].s as {
      id: string;
      token: string;
      total: string;
    });
}

async function pay(session: { token: string; total: string }) {
  const payment = approvedPayment(session);
  await asService(pool, (c) => c.query('select checkout.apply_payment($1)', [payment]));
}

async function reservedFor(variantId: string): Promise<number> {
  const { rows } = await pool.query<{ reserved: number }>('select reserved from public.variants where id = $1', [variantId]);
  return rows[0]!.reserved;
}

describe('strategies', () => {
  it('merge (the default): sums per variant; lines only in one cart are kept', async () => {
    const [a, b, c] = await Promise.all(['MRG-A', 'MRG-B', 'MRG-C'].map((sku) => createVariant(pool, { sku, stock: 50 })));
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, a!.id, 2);
    await addToCart(pool, anon, b!.id, 1);
    await addToCart(pool, account, a!.id, 3);
    await addToCart(pool, account, c!.id, 4);
    const report = await merge(pool, anon, account);
    expect(report).toMatchObject({ strategy: 'merge', changes: [], lines_moved: 2, already_merged: false });
    expect(await cartOf(account)).toEqual({ [a!.id]: 5, [b!.id]: 1, [c!.id]: 4 });
    expect(report.cart.lines).toHaveLength(3);
    expect(await cartOf(anon)).toEqual({});
    const carts = await pool.query('select 1 from public.carts where session_id = $1', [anon]);
    expect(carts.rowCount).toBe(0);
  });

  it('keep_account: a cart with lines wins and every anonymous line is reported dropped; an empty one takes the anonymous lines', async () => {
    await setStrategy('keep_account');
    const [a, b] = await Promise.all(['KEEP-A', 'KEEP-B'].map((sku) => createVariant(pool, { sku, stock: 50 })));
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, a!.id, 2);
    await addToCart(pool, account, b!.id, 1);
    const report = await merge(pool, anon, account);
    expect(report.strategy).toBe('keep_account');
    expect(report.changes).toEqual([expect.objectContaining({ variant_id: a!.id, from: 'anonymous', requested: 2, quantity: 0, reason: 'kept_account_cart' })]);
    expect(await cartOf(account)).toEqual({ [b!.id]: 1 });

    const anon2 = await createShopper(pool);
    const empty = await createAccount(pool);
    await addToCart(pool, anon2, a!.id, 2);
    const second = await merge(pool, anon2, empty);
    expect(second.changes).toEqual([]);
    expect(await cartOf(empty)).toEqual({ [a!.id]: 2 });
  });

  it("replace: the anonymous lines replace the account's, which are reported; an empty anonymous cart replaces nothing", async () => {
    await setStrategy('replace');
    const [a, b] = await Promise.all(['REPL-A', 'REPL-B'].map((sku) => createVariant(pool, { sku, stock: 50 })));
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, a!.id, 2);
    await addToCart(pool, account, a!.id, 5);
    await addToCart(pool, account, b!.id, 1);
    const report = await merge(pool, anon, account);
    expect(report.changes).toEqual([expect.objectContaining({ variant_id: b!.id, from: 'account', requested: 1, quantity: 0, reason: 'replaced' })]);
    expect(await cartOf(account)).toEqual({ [a!.id]: 2 });

    const anon2 = await createShopper(pool);
    await merge(pool, anon2, account);
    expect(await cartOf(account)).toEqual({ [a!.id]: 2 });
  });
});

describe('caps', () => {
  it('by stock and by max_line_quantity, each reported; a line not for sale is dropped', async () => {
    await pool.query('update private.settings set max_line_quantity = 10');
    const scarce = await createVariant(pool, { sku: 'CAP-STOCK', stock: 4 });
    const plenty = await createVariant(pool, { sku: 'CAP-MAX', stock: 100 });
    const gone = await createVariant(pool, { sku: 'CAP-GONE', stock: 100 });
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, scarce.id, 3);
    await addToCart(pool, anon, plenty.id, 8);
    await addToCart(pool, anon, gone.id, 1);
    await addToCart(pool, account, scarce.id, 2);
    await addToCart(pool, account, plenty.id, 6);
    await pool.query('update public.variants set active = false where id = $1', [gone.id]);

    const report = await merge(pool, anon, account);
    const bySku = Object.fromEntries(report.changes.map((c) => [c.variant_id, c]));
    expect(bySku[scarce.id]).toMatchObject({ requested: 3, quantity: 2, reason: 'insufficient_stock' });
    expect(bySku[plenty.id]).toMatchObject({ requested: 8, quantity: 4, reason: 'max_line_quantity' });
    expect(bySku[gone.id]).toMatchObject({ requested: 1, quantity: 0, reason: 'not_for_sale' });
    expect(report.changes).toHaveLength(3);
    expect(await cartOf(account)).toEqual({ [scarce.id]: 4, [plenty.id]: 10 });
  });
});

describe('the anonymous history', () => {
  it('cancels the checkout in progress and releases its stock; order sessions and orders move to the account', async () => {
    const v = await createVariant(pool, { sku: 'HIST', stock: 10, price: 1500 });
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, v.id, 1);
    const paid = await checkout(anon);
    await pay(paid);
    await addToCart(pool, anon, v.id, 3);
    const active = await checkout(anon);
    expect(await reservedFor(v.id)).toBe(3);

    const report = await merge(pool, anon, account);
    expect(report).toMatchObject({ cancelled_order_session: active.token, order_sessions_moved: 2, orders_moved: 1 });
    expect(await reservedFor(v.id)).toBe(0);
    const sessions = await pool.query('select status, session_id from public.order_sessions where id = any($1) order by created_at', [[paid.id, active.id]]);
    expect(sessions.rows).toEqual([{ status: 'paid', session_id: account }, { status: 'cancelled', session_id: account }]);
    const events = await pool.query(
      `select detail ->> 'reason' as reason from checkout.order_session_events where order_session_id = $1 and kind = 'cancelled'`,
      [
        active.id,
      ],
    );
    expect(events.rows).toEqual([{ reason: 'merged into an account' }]);
    expect(await cartOf(account)).toEqual({ [v.id]: 3 });

    // get_my_orders shows the anonymous purchase to the account.
    const mine = await asShopper(pool, account, async (c) => (await c.query('select public.get_my_orders() as o')).rows[0].o as { order_session_id: string }[]);
    expect(mine.map((o) => o.order_session_id)).toEqual([paid.id]);
    // And the moved rows are otherwise as immutable as before.
    await expect(pool.query('update public.orders set session_id = $1 where order_session_id = $2', [anon, paid.id])).rejects.toMatchObject({ code: 'CKI02' });
    await expect(pool.query('update public.order_sessions set session_id = $1 where id = $2', [anon, paid.id])).rejects.toMatchObject({ code: 'CKI02' });
  });
});

describe('idempotency and refusals', () => {
  it('a retry returns the same report and changes nothing more; another account is refused', async () => {
    const v = await createVariant(pool, { sku: 'IDEM', stock: 50 });
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, v.id, 2);
    await addToCart(pool, account, v.id, 1);
    const first = await merge(pool, anon, account);
    const again = await merge(pool, anon, account);
    expect(again.already_merged).toBe(true);
    const { already_merged: _a, cart: _c, ...rest } = first;
    expect(again).toMatchObject(rest);
    expect(await cartOf(account)).toEqual({ [v.id]: 3 });

    const other = await createAccount(pool);
    await expect(merge(pool, anon, other)).rejects.toMatchObject({ code: 'CKU02' });
    expect(await cartOf(other)).toEqual({});
  });

  it('refuses a non-anonymous source, an anonymous target, the same user, with nothing written', async () => {
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    const otherAnon = await createShopper(pool);
    const otherAccount = await createAccount(pool);
    await expect(merge(pool, account, otherAccount)).rejects.toMatchObject({ code: 'CKU01' });
    await expect(merge(pool, anon, otherAnon)).rejects.toMatchObject({ code: 'CKU01' });
    await expect(merge(pool, anon, anon)).rejects.toMatchObject({ code: 'CKU01' });
    await expect(merge(pool, anon, null as unknown as string)).rejects.toMatchObject({ code: 'CKI01' });
    const rows = await pool.query('select 1 from checkout.cart_merges where anonymous_id = any($1)', [[anon, account, otherAnon]]);
    expect(rows.rowCount).toBe(0);
  });

  it('is for service_role only', async () => {
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    const session = await signIn(pool, anon);
    const err = await asShopper(pool, anon, (c) => c.query('select checkout.merge_carts($1, $2, $3)', [anon, account, session])).catch((e: DbError) => e);
    expect((err as DbError).code).toBe('42501');
  });
});

/** Opens n connections as service_role, then runs job(i, client) on all of them at the same instant. */
/** Runs each job on a connection of its own, all at the same instant. */
const raceJobs = <T>(jobs: ((c: pg.Client) => Promise<T>)[]) => race(jobs.length, (i, c) => jobs[i]!(c));

describe('races (real parallel connections)', () => {
  it('merges of the same anonymous cart racing: one merges, the others return its report; quantities added once', async () => {
    const v = await createVariant(pool, { sku: 'RACE-MRG', stock: 100 });
    const anon = await createShopper(pool);
    const account = await createAccount(pool);
    await addToCart(pool, anon, v.id, 2);
    await addToCart(pool, account, v.id, 1);
    const session = await signIn(pool, anon);
    const results = await raceJobs(
      Array.from({ length: 6 }, () => (c: pg.Client) => c.query<{ r: Report }>('select checkout.merge_carts($1, $2, $3) as r', [anon, account, session])),
    );
    const reports = results.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value.rows[0]!.r;
    });
    expect(reports.filter((r) => !r.already_merged)).toHaveLength(1);
    expect(await cartOf(account)).toEqual({ [v.id]: 3 });
  });

  it('two anonymous carts merging into one account at once: both land, no deadlock', async () => {
    const v = await createVariant(pool, { sku: 'RACE-TWO', stock: 100 });
    const account = await createAccount(pool);
    const anons = await Promise.all([createShopper(pool), createShopper(pool), createShopper(pool)]);
    for (const a of anons) await addToCart(pool, a, v.id, 2);
    const sessions = await Promise.all(anons.map((a) => signIn(pool, a)));
    const results = await raceJobs(anons.map((a, i) => (c: pg.Client) => c.query('select checkout.merge_carts($1, $2, $3)', [a, account, sessions[i]])));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await cartOf(account)).toEqual({ [v.id]: 6 });
  });

  it('a merge racing a checkout of the anonymous cart: no reservation survives for the anonymous user, the lines reach the account', async () => {
    for (let round = 0; round < 4; round++) {
      const v = await createVariant(pool, { sku: `RACE-CO-${round}`, stock: 10 });
      const anon = await createShopper(pool);
      const account = await createAccount(pool);
      await addToCart(pool, anon, v.id, 3);
      const session = await signIn(pool, anon);
      const results = await raceJobs<unknown>([
        (c) => c.query('select checkout.begin_checkout($1, $2, $3)', [anon, payer, shipping]),
        (c) => c.query('select checkout.merge_carts($1, $2, $3)', [anon, account, session]),
      ]);
      const co = results[0]!;
      expect(results[1]!.status).toBe('fulfilled');
      // The checkout either went first (then the merge cancelled it) or found the cart gone.
      if (co.status === 'rejected') expect((co.reason as DbError).code).toBe('CKC01');
      expect(await reservedFor(v.id)).toBe(0);
      const active = await pool.query(`select 1 from public.order_sessions where session_id = any($1) and status = 'active'`, [[anon, account]]);
      expect(active.rowCount).toBe(0);
      expect(await cartOf(account)).toEqual({ [v.id]: 3 });
    }
  });
});

describe('the audit after the merges', () => {
  it('lists no broken invariant (reserved counters, stock, orders and payments)', async () => {
    const { rows } = await asService(pool, (c) => c.query<{ a: unknown[] }>('select checkout.audit() as a'));
    expect(rows[0]!.a).toEqual([]);
  });
});
