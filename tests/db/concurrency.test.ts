/**
 * Concurrency of the database core, with real parallel connections: each
 * competitor has its own backend, and all fire at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { addToCart, approvedPayment, asService, connect, createShopper, createVariant, type DbError, newPool, payer, race, shipping } from '../helpers/db.ts';

let pool: pg.Pool;

beforeAll(() => {
  pool = newPool(10);
});
afterAll(async () => {
  await pool.end();
});

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function stockState(variantIds: string[]) {
  const { rows } = await pool.query<{ id: string; on_hand: number; reserved: number; available: number }>(
    `select v.id, v.stock_on_hand as on_hand,
            coalesce((select sum(r.quantity) from checkout.stock_reservations r where r.variant_id = v.id and r.expires_at > now()), 0)::int as reserved,
            private.available_stock(v.id) as available
       from public.variants v where v.id = any($1)`,
    [variantIds],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** The backend process id of a connection. */
const pidOf = (c: pg.Client) => (c as unknown as { processID: number }).processID;

/** Opens a transaction on `holder` that holds every admission slot of the variant (begin_checkout's turns). */
async function holdEverySlot(holder: pg.Client, variantId: string) {
  await holder.query('begin');
  await holder.query(
    `select pg_advisory_xact_lock(hashtext($1::text), s) from generate_series(0, (private.current_settings()).checkout_slots_per_variant - 1) s`,
    [variantId],
  );
}

/** What a backend waits for (its variant's line or a slot), and the advisory locks it holds. */
async function locksOf(c: pg.Client) {
  const { rows } = await pool.query<{ waiting: string | null; held: number }>(
    `select (select case when objid = 4294967295 then 'line' else 'slot' end from pg_locks
              where pid = $1 and locktype = 'advisory' and not granted) as waiting,
            (select count(*)::int from pg_locks where pid = $1 and locktype = 'advisory' and granted) as held`,
    [pidOf(c)],
  );
  return rows[0]!;
}

/**
 * Polls until the backend is seen waiting for `waiting` (up to 5 s) and
 * returns it, or what it waits for at the end. (A checkout of a variant that
 * may sell out waits for its slot in 20 ms spells: a sample may fall between two.)
 */
async function until(c: pg.Client, waiting: string) {
  for (let i = 0; i < 100; i++) {
    if ((await locksOf(c)).waiting === waiting) return waiting;
    await new Promise((r) => setTimeout(r, 50));
  }
  return (await locksOf(c)).waiting;
}

describe('concurrent checkouts', () => {
  it('40 multi-line checkouts for 10 + 5 units: no oversell, exactly as many succeed as stock allows, no deadlock', async () => {
    const a = await createVariant(pool, { sku: 'RACE-A', stock: 10 });
    const b = await createVariant(pool, { sku: 'RACE-B', stock: 5 });
    const c = await createVariant(pool, { sku: 'RACE-C', stock: 1000 });
    const shoppers = await Promise.all(Array.from({ length: 40 }, () => createShopper(pool)));
    // Every cart wants one A and one C; half of them also one B. Lines go in
    // in a random order, so the carts list them differently.
    for (const [i, shopper] of shoppers.entries()) {
      const lines = i % 2 === 0 ? [a, b, c] : [a, c];
      for (const v of shuffle(lines)) await addToCart(pool, shopper, v.id, 1);
    }

    const results = await race(40, (i, client) => client.query('select checkout.begin_checkout($1, $2, $3) as s', [shoppers[i], payer, shipping]));

    const ok = results.filter((r) => r.status === 'fulfilled');
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DbError] : []));
    expect(errors.filter((e) => e.code === '40P01')).toHaveLength(0);
    expect(errors.map((e) => e.code).filter((code) => code !== 'CKS01')).toEqual([]);
    // A is in every cart, so it runs out: exactly 10 checkouts succeed.
    expect(ok).toHaveLength(10);
    for (const e of errors) {
      const short = (JSON.parse(e.detail ?? '{}') as { short: { sku: string; requested: number; available: number }[] }).short;
      expect(short.length).toBeGreaterThan(0);
      for (const line of short) expect(line.available).toBeLessThan(line.requested);
    }

    const state = await stockState([a.id, b.id, c.id]);
    for (const v of [a, b, c]) {
      const s = state.get(v.id)!;
      expect(s.on_hand).toBeGreaterThanOrEqual(0);
      expect(s.reserved).toBeLessThanOrEqual(s.on_hand);
      expect(s.available).toBeGreaterThanOrEqual(0);
    }
    // The counter the availability reads agrees with the reservation rows.
    const counters = await pool.query('select id, reserved from public.variants where id = any($1)', [[a.id, b.id, c.id]]);
    for (const row of counters.rows) expect(row.reserved).toBe(state.get(row.id)!.reserved);
    expect(state.get(a.id)!.reserved).toBe(10);
    expect(state.get(b.id)!.reserved).toBeLessThanOrEqual(5);
    expect(state.get(c.id)!.reserved).toBe(10);
    const { rows } = await pool.query(`select count(*)::int as n from public.order_sessions where session_id = any($1) and status = 'active'`, [shoppers]);
    expect(rows[0].n).toBe(10);
  });

  it('a shopper who cannot have the units hears "sold out" without queueing for the variant lock', async () => {
    const v = await createVariant(pool, { sku: 'RACE-SOLD', stock: 1 });
    const [buyer, late] = await Promise.all([createShopper(pool), createShopper(pool)]);
    await addToCart(pool, buyer, v.id, 1);
    await addToCart(pool, late, v.id, 1);
    await asService(pool, (c) => c.query('select checkout.begin_checkout($1, $2, $3)', [buyer, payer, shipping]));
    // Another transaction holds the hot row's lock (a checkout in progress).
    const holder = await connect();
    const shopper = await connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from public.variants where id = $1 for update', [v.id]);
      await shopper.query('set role service_role');
      // Had the refusal queued for that lock, it would end in lock_timeout (55P03) instead.
      await shopper.query(`set lock_timeout = '5s'`);
      const err = await shopper.query('select checkout.begin_checkout($1, $2, $3)', [late, payer, shipping]).then(() => undefined, (e: DbError) => e);
      expect(err?.code).toBe('CKS01');
      expect(JSON.parse(err!.detail!).short).toEqual([expect.objectContaining({ sku: v.sku, requested: 1, available: 0, reason: 'insufficient_stock' })]);
    } finally {
      await holder.query('rollback');
      await Promise.all([holder.end(), shopper.end()]);
    }
  });

  it('checkouts of one variant take turns: with every admission slot taken, a checkout waits; a cart that looks short does not', async () => {
    const v = await createVariant(pool, { sku: 'RACE-TURN', stock: 5 });
    const [buyer, next, greedy] = await Promise.all([createShopper(pool), createShopper(pool), createShopper(pool)]);
    await addToCart(pool, buyer, v.id, 1);
    await addToCart(pool, next, v.id, 1);
    await addToCart(pool, greedy, v.id, 5);
    // The buyer's unit leaves 4: the greedy cart (5) now looks short.
    await asService(pool, (c) => c.query('select checkout.begin_checkout($1, $2, $3)', [buyer, payer, shipping]));
    const holder = await connect();
    const waiter = await connect();
    const refused = await connect();
    try {
      // Another transaction holds every admission slot of the variant.
      await holdEverySlot(holder, v.id);
      await waiter.query('set role service_role');
      const pending = waiter.query<{ s: { status: string } }>('select checkout.begin_checkout($1, $2, $3) as s', [next, payer, shipping]);
      // It waits for a slot: an advisory lock it asked for and was not granted.
      let waiting = 0;
      for (let i = 0; i < 100 && waiting === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const { rows } = await pool.query(`select count(*)::int as n from pg_locks where pid = $1 and locktype = 'advisory' and not granted`, [pidOf(waiter)]);
        waiting = rows[0].n;
      }
      expect(waiting).toBe(1);
      // The greedy cart is answered at once, without queueing for a slot
      // (had it queued, it would end in lock_timeout, 55P03).
      await refused.query('set role service_role');
      await refused.query(`set lock_timeout = '5s'`);
      const err = await refused.query('select checkout.begin_checkout($1, $2, $3)', [greedy, payer, shipping]).then(() => undefined, (e: DbError) => e);
      expect(err?.code).toBe('CKS01');
      // The slot freed, the waiting checkout goes through.
      await holder.query('commit');
      expect((await pending).rows[0]!.s.status).toBe('active');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await Promise.all([holder.end(), waiter.end(), refused.end()]);
    }
  });

  it('the line of a variant: the next checkout waits behind the first; a wait cancelled leaves no lock on its connection', async () => {
    const v = await createVariant(pool, { sku: 'RACE-LINE', stock: 50 });
    const [first, second] = await Promise.all([createShopper(pool), createShopper(pool)]);
    await addToCart(pool, first, v.id, 1);
    await addToCart(pool, second, v.id, 1);
    const holder = await connect();
    const a = await connect();
    const b = await connect();
    try {
      await holdEverySlot(holder, v.id);
      await a.query('set role service_role');
      await b.query('set role service_role');
      const firstTry = a.query('select checkout.begin_checkout($1, $2, $3)', [first, payer, shipping]).then(() => undefined, (e: DbError) => e);
      // The first in line waits for a slot, holding its place in the line...
      expect(await until(a, 'slot')).toBe('slot');
      expect((await locksOf(a)).held).toBe(1);
      const secondTry = b.query<{ s: { status: string } }>('select checkout.begin_checkout($1, $2, $3) as s', [second, payer, shipping]);
      // ...so the second waits in the line behind it.
      expect(await until(b, 'line')).toBe('line');
      // The first gives up (cancelled, as a statement timeout would): its
      // place in the line is left with it, and the second moves up.
      await pool.query('select pg_cancel_backend($1)', [pidOf(a)]);
      expect((await firstTry)?.code).toBe('57014');
      expect(await locksOf(a)).toEqual({ waiting: null, held: 0 });
      expect(await until(b, 'slot')).toBe('slot');
      await holder.query('commit');
      expect((await secondTry).rows[0]!.s.status).toBe('active');
      // The cancelled shopper's connection checks out normally afterwards.
      const again = await a.query<{ s: { status: string } }>('select checkout.begin_checkout($1, $2, $3) as s', [first, payer, shipping]);
      expect(again.rows[0]!.s.status).toBe('active');
      expect(await locksOf(a)).toEqual({ waiting: null, held: 0 });
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await Promise.all([holder.end(), a.end(), b.end()]);
    }
  });

  it('checkouts waiting in the line of a variant that sells out meanwhile hear "sold out" at once; one whose units remain keeps its turn', async () => {
    const v = await createVariant(pool, { sku: 'RACE-LINE-SOLD', stock: 2 });
    const [first, second, patient] = await Promise.all([createShopper(pool), createShopper(pool), createShopper(pool)]);
    await addToCart(pool, first, v.id, 2);
    await addToCart(pool, second, v.id, 2);
    await addToCart(pool, patient, v.id, 1);
    const holder = await connect();
    const conns = await Promise.all([connect(), connect(), connect()]);
    const [a, b, c] = conns as [pg.Client, pg.Client, pg.Client];
    const attempt = (conn: pg.Client, shopper: string) =>
      conn.query<{ s: { status: string } }>('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping]).then(
        (r) => r.rows[0]!.s.status,
        (e: DbError) => e,
      );
    try {
      // Checkouts in progress hold every slot: the first waits for a slot at
      // the head of the line, the other two in the line behind it.
      await holdEverySlot(holder, v.id);
      await Promise.all(conns.map((conn) => conn.query('set role service_role')));
      const firstTry = attempt(a, first);
      expect(await until(a, 'slot')).toBe('slot');
      const secondTry = attempt(b, second);
      expect(await until(b, 'line')).toBe('line');
      const patientTry = attempt(c, patient);
      expect(await until(c, 'line')).toBe('line');
      // A unit goes elsewhere (committed): carts of 2 can no longer be had, the cart of 1 still can.
      await pool.query('update public.variants set stock_on_hand = stock_on_hand - 1 where id = $1', [v.id]);
      const t0 = performance.now();
      const [e1, e2] = (await Promise.all([firstTry, secondTry])) as DbError[];
      // Answered while the slots are still held, within a few of the head's 20 ms spells.
      expect(performance.now() - t0).toBeLessThan(2_000);
      for (const e of [e1!, e2!]) {
        expect(e.code).toBe('CKS01');
        expect(JSON.parse(e.detail!).short).toEqual([expect.objectContaining({ sku: v.sku, requested: 2, available: 1 })]);
      }
      // The cart of 1 keeps its turn: now the head of the line, waiting for a slot.
      expect(await until(c, 'slot')).toBe('slot');
      await holder.query('commit');
      expect(await patientTry).toBe('active');
      // Nothing left held on the connections that waited.
      for (const conn of conns) expect(await locksOf(conn)).toEqual({ waiting: null, held: 0 });
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await Promise.all([holder.end(), ...conns.map((conn) => conn.end())]);
    }
  });

  it('the same shopper checking out 10 times at once keeps one active session and one reservation', async () => {
    const v = await createVariant(pool, { sku: 'RACE-SELF', stock: 3 });
    const shopper = await createShopper(pool);
    await addToCart(pool, shopper, v.id, 2);
    const results = await race(10, (_i, client) => client.query('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping]));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DbError] : []));
    expect(errors).toEqual([]);
    const { rows } = await pool.query(
      `select count(*) filter (where status = 'active')::int as active, count(*) filter (where status = 'cancelled')::int as cancelled
         from public.order_sessions where session_id = $1`,
      [shopper],
    );
    expect(rows[0]).toEqual({ active: 1, cancelled: 9 });
    expect((await stockState([v.id])).get(v.id)!.reserved).toBe(2);
  });
});

describe('concurrent payment application', () => {
  it('20 applications of one approved payment and 5 of a second one for the same session: exactly one order', async () => {
    const v = await createVariant(pool, { sku: 'PAY-RACE', stock: 5, price: 2500 });
    const shopper = await createShopper(pool);
    await addToCart(pool, shopper, v.id, 2);
    const session = await asService(pool, async (c) => {
      const { rows } = await c.query('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping]);
      return rows[0].s as { id: string; token: string; total: string };
    });
    const payment = (id: number) => approvedPayment(session, id);
    const first = 9_100_000_000 + Math.floor(Math.random() * 1_000_000);
    const second = first + 1;
    const results = await race(25, (i, client) => client.query('select checkout.apply_payment($1) as r', [payment(i < 20 ? first : second)]));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DbError] : []));
    expect(errors).toEqual([]);
    const outcomes = results.map((r) => (r.status === 'fulfilled' ? (r.value.rows[0].r as { outcome: string }).outcome : 'error'));
    const firstOutcomes = outcomes.slice(0, 20);
    const secondOutcomes = outcomes.slice(20);

    const orders = await pool.query('select payment_id::bigint as payment_id from public.orders where order_session_id = $1', [session.id]);
    expect(orders.rows).toHaveLength(1);
    const winner = Number(orders.rows[0].payment_id);
    // Whichever payment won created the order once; every other call saw it.
    expect(outcomes.filter((o) => o === 'order_created')).toHaveLength(1);
    const loserOutcomes = winner === first ? secondOutcomes : firstOutcomes;
    expect(new Set(loserOutcomes)).toEqual(new Set(['refund_owed']));
    const winnerOutcomes = winner === first ? firstOutcomes : secondOutcomes;
    expect(winnerOutcomes.filter((o) => o === 'already_paid')).toHaveLength(winnerOutcomes.length - 1);

    const refunds = await pool.query('select payment_id::bigint as p, reason from checkout.payment_refunds where order_session_id = $1', [session.id]);
    expect(refunds.rows).toEqual([{ p: String(winner === first ? second : first), reason: 'duplicate_payment' }]);
    const stock = await pool.query('select stock_on_hand from public.variants where id = $1', [v.id]);
    expect(stock.rows[0].stock_on_hand).toBe(3);
    const events = await pool.query(`select count(*)::int as n from checkout.order_session_events where order_session_id = $1 and kind = 'committed'`, [
      session.id,
    ]);
    expect(events.rows[0].n).toBe(1);
  });
});

describe('concurrent coupon redemptions', () => {
  it('a coupon with 3 redemptions under 20 concurrent checkouts is held by exactly 3', async () => {
    const v = await createVariant(pool, { sku: 'COUPON-RACE', stock: 100, price: 5000 });
    const code = `RACE${Math.floor(Math.random() * 1e6)}`;
    await pool.query(`insert into checkout.coupons (code, kind, value, max_redemptions) values ($1, 'percent', 10, 3)`, [code]);
    const shoppers = await Promise.all(Array.from({ length: 20 }, () => createShopper(pool)));
    for (const s of shoppers) await addToCart(pool, s, v.id, 1);
    const results = await race(
      20,
      (i, client) => client.query('select checkout.begin_checkout($1, $2, $3, $4) as s', [shoppers[i], payer, shipping, code.toLowerCase()]),
    );
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DbError] : []));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(errors.map((e) => e.code)).toEqual(Array(17).fill('CKP03'));
    const { rows } = await pool.query(
      `select count(*)::int as n from public.order_sessions s join checkout.coupons c on c.id = s.coupon_id where c.code = $1`,
      [code],
    );
    expect(rows[0].n).toBe(3);
  });
});

describe('concurrent payments for superseded checkouts', () => {
  it('an old tab and the newer checkout of one cart paid at the same instant, 10 carts: one order per cart, the other payment owed back', async () => {
    const v = await createVariant(pool, { sku: 'SUPERSEDED-RACE', stock: 10, price: 800 });
    const carts = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const shopper = await createShopper(pool);
        await addToCart(pool, shopper, v.id, 1);
        const begin = () =>
          asService(
            pool,
            async (c) =>
              (await c.query<{ s: { token: string } }>('select checkout.begin_checkout($1, $2, $3) as s', [shopper, payer, shipping])).rows[0]!.s.token,
          );
        const old = await begin();
        return { shopper, old, newer: await begin() };
      }),
    );
    const jobs = shuffle(carts.flatMap((cart, i) => [{ token: cart.old, id: 7_700_000 + i * 2 }, { token: cart.newer, id: 7_700_001 + i * 2 }]));
    const results = await race(jobs.length, (i, client) => {
      const job = jobs[i]!;
      const payment = { id: job.id, status: 'approved', transaction_amount: 800, currency_id: 'ARS', external_reference: job.token };
      return client.query<{ r: { outcome: string } }>('select checkout.apply_payment($1) as r', [payment]);
    });
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const { rows } = await pool.query<{ orders: number; refunds: number }>(
      `select (select count(*)::int from public.orders o where o.session_id = s.sid) as orders,
              (select count(*)::int from checkout.payment_refunds r join public.order_sessions os on os.id = r.order_session_id
                where os.session_id = s.sid and r.reason = 'superseded') as refunds
         from unnest($1::uuid[]) s(sid)`,
      [carts.map((c) => c.shopper)],
    );
    expect(rows).toEqual(Array(10).fill({ orders: 1, refunds: 1 }));
    expect((await stockState([v.id])).get(v.id)).toMatchObject({ on_hand: 0, reserved: 0 });
  });
});

describe('the audit after the concurrent tests', () => {
  it('lists no broken invariant', async () => {
    const { rows } = await asService(pool, (c) => c.query<{ a: unknown[] }>('select checkout.audit() as a'));
    expect(rows[0]!.a).toEqual([]);
  });
});
