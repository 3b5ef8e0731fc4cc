/**
 * A merged cart is paid once (issue 20): the checkout a merge cancels and the
 * account's checkouts are one checkout group, so whichever is paid first
 * becomes the order and the other payment is owed back as `superseded`, in
 * either order and when the notifications race on real parallel
 * connections. Every step commits on its own, as the functions do.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, approvedPayment, asService, connect, createShopper, createVariant, newPool, payer, race, shipping, signIn } from '../helpers/db.ts';

let pool: pg.Pool;

beforeAll(() => {
  pool = newPool(6);
});
afterAll(async () => {
  await pool.end();
});

interface Session {
  id: string;
  token: string;
  total: string;
}
interface Applied {
  outcome: string;
  refund?: { reason: string };
}

async function createAccount(): Promise<string> {
  const id = randomUUID();
  await pool.query('insert into auth.users (id, is_anonymous, email, email_confirmed_at) values ($1, false, $2, now())', [id, `${id}@example.com`]);
  return id;
}

const checkout = (shopper: string) =>
  asService(pool, async (c) => (await c.query<{ s: Session }>('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping])).rows[0]!.s);

const apply = (payment: ReturnType<typeof approvedPayment>, db: pg.Pool | pg.Client = pool) =>
  asService(db, async (c) => (await c.query<{ r: Applied }>('select checkout.apply_payment($1) as r', [payment])).rows[0]!.r);

async function merge(anonymous: string, account: string): Promise<void> {
  const session = await signIn(pool, anonymous);
  await asService(pool, (c) => c.query('select checkout.merge_carts($1, $2, $3)', [anonymous, account, session]));
}

/** An anonymous shopper with 2 units in checkout S_A, who then logs in to a new account: the merge. */
async function mergedCheckout(sku: string) {
  const v = await createVariant(pool, { sku, stock: 10, price: 1500 });
  const anon = await createShopper(pool);
  const account = await createAccount();
  await addToCart(pool, anon, v.id, 2);
  const sA = await checkout(anon);
  await merge(anon, account);
  return { v, account, sA };
}

async function outcome(account: string, variantId: string) {
  const orders = await pool.query<{ payment_id: string }>('select payment_id from public.orders where session_id = $1 order by created_at', [account]);
  const refunds = await pool.query<{ payment_id: string; reason: string }>(
    `select r.payment_id, r.reason from checkout.payment_refunds r join public.order_sessions s on s.id = r.order_session_id where s.session_id = $1`,
    [account],
  );
  const stock = await pool.query<{ stock_on_hand: number; reserved: number }>('select stock_on_hand, reserved from public.variants where id = $1', [variantId]);
  return { orders: orders.rows.map((r) => Number(r.payment_id)), refunds: refunds.rows.map((r) => [Number(r.payment_id), r.reason]), ...stock.rows[0]! };
}

const audit = async () => (await asService(pool, (c) => c.query<{ a: unknown[] }>('select checkout.audit() as a'))).rows[0]!.a;

describe('a merged cart paid twice', () => {
  it("the issue's sequence: the account checks out and pays, then the old tab pays S_A: one order, S_A's payment owed back as superseded", async () => {
    const { v, account, sA } = await mergedCheckout('MPAY-FWD');
    const sX = await checkout(account);
    const pX = approvedPayment(sX);
    const pA = approvedPayment(sA);
    expect((await apply(pX)).outcome).toBe('order_created');
    const late = await apply(pA);
    expect(late).toMatchObject({ outcome: 'refund_owed', refund: { reason: 'superseded' } });
    expect(await outcome(account, v.id)).toEqual({ orders: [pX.id], refunds: [[pA.id, 'superseded']], stock_on_hand: 8, reserved: 0 });
  });

  it("the reverse: the old tab pays first and takes over the account's unpaid checkout, whose payment is then owed back", async () => {
    const { v, account, sA } = await mergedCheckout('MPAY-REV');
    const sX = await checkout(account);
    const pA = approvedPayment(sA);
    const pX = approvedPayment(sX);
    expect((await apply(pA)).outcome).toBe('order_created');
    expect(await apply(pX)).toMatchObject({ outcome: 'refund_owed', refund: { reason: 'superseded' } });
    expect(await outcome(account, v.id)).toEqual({ orders: [pA.id], refunds: [[pX.id, 'superseded']], stock_on_hand: 8, reserved: 0 });
  });

  it('both notifications racing, each delivered twice, on real parallel connections: one order, one refund, the stock taken once', async () => {
    for (let round = 0; round < 6; round++) {
      const { v, account, sA } = await mergedCheckout(`MPAY-RACE-${round}`);
      const sX = await checkout(account);
      const pA = approvedPayment(sA);
      const pX = approvedPayment(sX);
      const payments = round % 2 ? [pA, pX, pA, pX] : [pX, pA, pX, pA];
      const results = await race(payments.length, (i, c) => c.query<{ r: Applied }>('select checkout.apply_payment($1) as r', [payments[i]]));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const after = await outcome(account, v.id);
      expect(after.orders).toHaveLength(1);
      const loser = after.orders[0] === pA.id ? pX.id : pA.id;
      expect(after).toEqual({ orders: [expect.any(Number)], refunds: [[loser, 'superseded']], stock_on_hand: 8, reserved: 0 });
    }
  });

  it("a merge racing the old tab's payment: one order, its lines leave the account's cart, nothing left to pay twice", async () => {
    for (let round = 0; round < 4; round++) {
      const v = await createVariant(pool, { sku: `MPAY-MRG-${round}`, stock: 10 });
      const anon = await createShopper(pool);
      const account = await createAccount();
      await addToCart(pool, anon, v.id, 2);
      const sA = await checkout(anon);
      const session = await signIn(pool, anon);
      const pA = approvedPayment(sA);
      const results = await race<unknown>(
        2,
        (i, c) => i === 0 ? c.query('select checkout.merge_carts($1, $2, $3)', [anon, account, session]) : c.query('select checkout.apply_payment($1)', [pA]),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(await outcome(account, v.id)).toEqual({ orders: [pA.id], refunds: [], stock_on_hand: 8, reserved: 0 });
      const lines = await pool.query('select 1 from public.cart_items where session_id = any($1)', [[anon, account]]);
      expect(lines.rowCount).toBe(0);
    }
  });

  it("the old tab's payment waiting on the merge: it then queues behind the account's payment, whose cart the session moved to", async () => {
    // v is in the anonymous checkout S_A, w in the account's own checkout
    // S_X, open before the merge (so the merge joins S_A to S_X's group).
    const v = await createVariant(pool, { sku: 'MPAY-WAIT-V', stock: 10 });
    const w = await createVariant(pool, { sku: 'MPAY-WAIT-W', stock: 10 });
    const anon = await createShopper(pool);
    const account = await createAccount();
    await addToCart(pool, anon, v.id, 2);
    const sA = await checkout(anon);
    await addToCart(pool, account, w.id, 1);
    const sX = await checkout(account);
    const session = await signIn(pool, anon);
    const pA = approvedPayment(sA);
    const pX = approvedPayment(sX);

    const [merger, paysA, paysX, holdsW, holdsEvent] = await Promise.all([connect(), connect(), connect(), connect(), connect()]);
    const pid = async (c: pg.Client) => (await c.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]!.p;
    const [pidA, pidX, pidW] = await Promise.all([pid(paysA), pid(paysX), pid(holdsW)]);
    const blockers = async (p: number) => (await pool.query<{ b: number[] }>('select pg_blocking_pids($1) as b', [p])).rows[0]!.b;
    const blockedBy = async (p: number, by: number[]) => {
      await expect.poll(async () => (await blockers(p)).some((b) => by.includes(b)), { timeout: 15_000 }).toBe(true);
    };
    try {
      await Promise.all([merger, paysA, paysX].map((c) => c.query('set role service_role')));
      // S_X's payment will pause on w's row; S_A's on its payment event row.
      await holdsW.query('begin');
      await holdsW.query('select 1 from public.variants where id = $1 for update', [w.id]);
      await holdsEvent.query('begin');
      await holdsEvent.query(`insert into checkout.payment_events (payment_id, status, payload) values ($1, 'approved', '{}')`, [pA.id]);
      // The merge holds both carts, uncommitted; both payments queue behind it.
      await merger.query('begin');
      await merger.query('select checkout.merge_carts($1, $2, $3)', [anon, account, session]);
      const mergerPid = await pid(merger);
      const resultA = paysA.query<{ r: Applied }>('select checkout.apply_payment($1) as r', [pA]);
      await blockedBy(pidA, [mergerPid]);
      const resultX = paysX.query<{ r: Applied }>('select checkout.apply_payment($1) as r', [pX]);
      await blockedBy(pidX, [mergerPid]);
      await merger.query('commit');
      // S_X's payment holds the account's cart and S_X, and waits on w (or,
      // if S_A's payment took the account's cart first, waits behind it).
      await blockedBy(pidX, [pidW, pidA]);
      await holdsEvent.query('rollback');
      // S_A's payment goes on until it meets S_X's (or w, if it went first).
      await blockedBy(pidA, [pidX, pidW]);
      await holdsW.query('rollback');
      const results = [(await resultA).rows[0]!.r, (await resultX).rows[0]!.r];
      expect(results.map((r) => r.outcome).sort()).toEqual(['order_created', 'refund_owed']);
      const after = await outcome(account, v.id);
      expect(after.orders).toHaveLength(1);
      expect(after.refunds).toEqual([[after.orders[0] === pA.id ? pX.id : pA.id, 'superseded']]);
    } finally {
      await Promise.all([merger, paysA, paysX, holdsW, holdsEvent].map((c) => c.end()));
    }
  });

  it('a purchase the account makes after the merged checkout became an order is a new one (and the audit agrees)', async () => {
    const { v, account, sA } = await mergedCheckout('MPAY-LATER');
    const pA = approvedPayment(sA);
    expect((await apply(pA)).outcome).toBe('order_created');
    await addToCart(pool, account, v.id, 1);
    const later = await checkout(account);
    const pLater = approvedPayment(later);
    expect((await apply(pLater)).outcome).toBe('order_created');
    expect(await outcome(account, v.id)).toEqual({ orders: [pA.id, pLater.id], refunds: [], stock_on_hand: 7, reserved: 0 });
  });

  it('leaves the audit empty', async () => {
    expect(await audit()).toEqual([]);
  });
});
