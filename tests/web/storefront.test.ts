/**
 * The storefront client library (web/src) against the local stack (or a real
 * Supabase stack: see helpers.ts): sessions, every cart operation and error
 * class, checkout to the MercadoPago sandbox, the buyer's return, orders.
 */
import { describe, expect, it } from 'vitest';
import {
  type CatalogProduct,
  CheckoutError,
  createStorefront,
  fromFunctionError,
  fromPostgrestError,
  HoldLimitError,
  InsufficientStockError,
  NetworkError,
  parseReturnQuery,
  PaymentProviderError,
  ReservationExpiredError,
  SessionRequiredError,
  type Storefront,
  StorefrontError,
  ValidationError,
} from '../../web/src/index.ts';
import { createVariant, memoryStorage, newClient, pay, payer, remoteConfigured, returnQuery, shippingAddress, sql, type Target, useTarget } from './helpers.ts';

let t: Target;

useTarget((target) => (t = target));

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function shopper(storage = memoryStorage()): { sf: Storefront; storage: ReturnType<typeof memoryStorage> } {
  return { sf: createStorefront({ supabase: newClient(t, storage) }), storage };
}

function variantBySku(catalog: CatalogProduct[], sku: string) {
  for (const p of catalog) for (const v of p.variants) if (v.sku === sku) return { product: p, variant: v };
  throw new Error(`no variant ${sku} in the catalog`);
}

/** A variant with exactly `stock` units of our own (local DB), or the seed's when we cannot write. */
async function freshVariant(stock: number, opts: { price?: number; currency?: string } = {}) {
  if (!t.dbUrl) throw new Error('needs SUPABASE_DB_URL');
  return createVariant(t.dbUrl, { sku: 'WEB', stock, ...opts });
}

// Decided at collection time (before beforeAll): what the target offers.
const noDb = remoteConfigured && !process.env['SUPABASE_DB_URL'];
const noSandbox = remoteConfigured && !process.env['MP_SANDBOX_URL'];

describe('session', () => {
  it('signs in anonymously once and returns the user id as the session id', async () => {
    const { sf, storage } = shopper();
    const [a, b] = await Promise.all([sf.ensureSession(), sf.ensureSession()]);
    expect(a).toMatch(UUID_V4);
    expect(b).toBe(a);
    expect(await sf.ensureSession()).toBe(a);
    expect(storage.keys().some((k) => k.endsWith('-auth-token'))).toBe(true);
    const cart = await sf.cart.get();
    expect(cart.session_id).toBe(a);
  });

  it('persists: a new client over the same storage (a reload) keeps the session and the cart', async () => {
    const storage = memoryStorage();
    const first = shopper(storage).sf;
    const id = await first.ensureSession();
    const catalog = await first.catalog();
    const v = catalog.flatMap((p) => p.variants).find((x) => x.available >= 2)!;
    await first.cart.add(v.id, 2);

    const again = shopper(storage).sf;
    expect(await again.ensureSession()).toBe(id);
    const cart = await again.cart.get();
    expect(cart.lines.map((l) => [l.variant_id, l.quantity])).toEqual([[v.id, 2]]);
  });

  it.skipIf(noDb)('a stored session whose user is gone (a database reset) is replaced by a new anonymous one', async () => {
    const storage = memoryStorage();
    const old = await shopper(storage).sf.ensureSession();
    await sql(t.dbUrl!, 'delete from auth.users where id = $1', [old]);
    const { sf } = shopper(storage);
    const fresh = await sf.ensureSession();
    expect(fresh).toMatch(UUID_V4);
    expect(fresh).not.toBe(old);
    expect((await sf.cart.get()).session_id).toBe(fresh);
  });

  it('another shopper has another session and cannot see the first one’s cart', async () => {
    const a = shopper().sf;
    const b = shopper().sf;
    const v = (await a.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 1)!;
    await a.cart.add(v.id, 1);
    expect(await b.ensureSession()).not.toBe(await a.ensureSession());
    expect((await b.cart.get()).lines).toEqual([]);
  });
});

describe('catalog', () => {
  it('lists active products with typed variants and available stock, without a session', async () => {
    const supabase = newClient(t);
    const sf = createStorefront({ supabase });
    const catalog = await sf.catalog();
    expect(catalog.length).toBeGreaterThan(0);
    const { data } = await supabase.auth.getSession();
    expect(data.session).toBeNull();
    for (const p of catalog) {
      expect(p.id).toBeTruthy();
      for (const v of p.variants) {
        expect(typeof v.price).toBe('number');
        expect(v.currency).toMatch(/^[A-Z]{3}$/);
        expect(Number.isInteger(v.available)).toBe(true);
        expect(v.available).toBeGreaterThanOrEqual(0);
      }
    }
    if (!t.remote) {
      // The seed: a limited edition mate with one unit, and variants of a t-shirt.
      expect(variantBySku(catalog, 'MAT-TER-U').variant.attributes).toEqual({ color: 'terracota' });
      expect(variantBySku(catalog, 'REM-NEG-S').variant.price).toBe(12999);
    }
  });
});

describe('cart operations', () => {
  it('get, add (merging), setQuantity, remove and clear, with totals from the database', async () => {
    const { sf } = shopper();
    const catalog = await sf.catalog();
    const [v1, v2] = catalog.flatMap((p) => p.variants).filter((v) => v.available >= 5 && v.currency === 'ARS');
    expect(v1 && v2).toBeTruthy();

    let cart = await sf.cart.get();
    expect(cart).toMatchObject({ item_count: 0, subtotal: 0, lines: [] });

    cart = await sf.cart.add(v1!.id, 1);
    cart = await sf.cart.add(v1!.id, 2);
    expect(cart.lines).toHaveLength(1);
    expect(cart.lines[0]).toMatchObject({ variant_id: v1!.id, quantity: 3, unit_price: v1!.price, line_total: v1!.price * 3, active: true });
    expect(cart.currency).toBe('ARS');
    expect(new Date(cart.expires_at!).getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);

    cart = await sf.cart.add(v2!.id);
    expect(cart.item_count).toBe(4);
    expect(cart.subtotal).toBeCloseTo(v1!.price * 3 + v2!.price, 2);

    cart = await sf.cart.setQuantity(v2!.id, 4);
    expect(cart.lines.find((l) => l.variant_id === v2!.id)?.quantity).toBe(4);

    cart = await sf.cart.setQuantity(v2!.id, 0);
    expect(cart.lines.map((l) => l.variant_id)).toEqual([v1!.id]);

    cart = await sf.cart.remove(v1!.id);
    expect(cart.lines).toEqual([]);

    await sf.cart.add(v1!.id, 1);
    await sf.cart.add(v2!.id, 1);
    cart = await sf.cart.clear();
    expect(cart).toMatchObject({ item_count: 0, lines: [] });
    expect((await sf.cart.get()).lines).toEqual([]);
  });

  it('InsufficientStockError names the line and how many are left; nothing is written', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 1 && x.available < 90)!;
    const err = await sf.cart.add(v.id, v.available + 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientStockError);
    const stock = err as InsufficientStockError;
    expect(stock.code).toBe('insufficient_stock');
    // PostgREST answers 400 for SQLSTATEs it does not know.
    expect(stock.status).toBe(400);
    expect(stock.short).toEqual([{ variant_id: v.id, sku: v.sku, requested: v.available + 1, available: v.available }]);
    expect((await sf.cart.get()).lines).toEqual([]);

    // Growing an existing line past the stock fails the same way.
    await sf.cart.add(v.id, 1);
    await expect(sf.cart.setQuantity(v.id, v.available + 1)).rejects.toBeInstanceOf(InsufficientStockError);
    expect((await sf.cart.get()).lines[0]?.quantity).toBe(1);
  });

  it('ValidationError: bad ids and quantities are refused before any request; the server’s range check maps too', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 1)!;
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      const err = await sf.cart.add(v.id, bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues[0]?.path).toBe('quantity');
    }
    await expect(sf.cart.setQuantity(v.id, -1)).rejects.toBeInstanceOf(ValidationError);
    await expect(sf.cart.add('not-a-uuid', 1)).rejects.toBeInstanceOf(ValidationError);
    // Over max_line_quantity (99): CKQ01 from the database.
    const err = await sf.cart.add(v.id, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe('invalid_quantity');
    expect((err as ValidationError).status).toBe(400);
  });

  it('HoldLimitError: more units of one product than one shopper may hold (CKH01), with the cap and the line', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 11)!;
    const err = await sf.cart.add(v.id, 11).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoldLimitError);
    expect(err).toBeInstanceOf(CheckoutError);
    expect((err as HoldLimitError).code).toBe('hold_limit_product');
    expect((err as HoldLimitError).max).toBe(10);
    expect((err as HoldLimitError).lines).toEqual([{ variant_id: v.id, sku: v.sku, requested: 11 }]);
  });

  it('CheckoutError variant_unavailable for an unknown variant (CKV01)', async () => {
    const { sf } = shopper();
    const err = await sf.cart.add('00000000-0000-4000-8000-00000000dead', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckoutError);
    expect((err as CheckoutError).code).toBe('variant_unavailable');
  });

  it.skipIf(noDb)('CheckoutError mixed_currency when the cart would mix currencies (CKM01)', async () => {
    const usd = await freshVariant(5, { currency: 'USD', price: 10 });
    const { sf } = shopper();
    const ars = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 1 && x.currency === 'ARS')!;
    await sf.cart.add(ars.id, 1);
    const err = await sf.cart.add(usd.id, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckoutError);
    expect((err as CheckoutError).code).toBe('mixed_currency');
  });

  it('SessionRequiredError: the RPCs refuse a request without a user (42501), the functions without a JWT (401)', async () => {
    const supabase = newClient(t);
    const { error, status } = await supabase.rpc('get_cart');
    expect(error).not.toBeNull();
    const mapped = fromPostgrestError(error!, status);
    expect(mapped).toBeInstanceOf(SessionRequiredError);
    expect(mapped.code).toBe('session_required');

    // The anon key is a valid JWT but carries no user.
    const res = await fetch(`${t.apiUrl}/functions/v1/create-preference`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.anonKey}`, apikey: t.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ payer, shipping_address: {} }),
    });
    expect(res.status).toBe(401);
    expect(fromFunctionError(res.status, await res.json())).toBeInstanceOf(SessionRequiredError);
  });

  it('NetworkError when the server cannot be reached', async () => {
    const sf = createStorefront({ supabase: newClient({ apiUrl: 'http://127.0.0.1:9', anonKey: t.anonKey }) });
    const e1 = await sf.catalog().catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NetworkError);
    expect((e1 as NetworkError).code).toBe('network_error');
    const e2 = await sf.ensureSession().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(NetworkError);
  });
});

describe('checkout', () => {
  it('validates the form with zod before calling anything', async () => {
    let calls = 0;
    const sf = createStorefront({
      supabase: newClient(t),
      functionsUrl: `${t.apiUrl}/functions/v1`,
      fetch: async (...args) => {
        calls++;
        return fetch(...args);
      },
    });
    const err = await sf
      .checkout({ payer: { email: 'no-es-un-email', name: ' ' }, shippingAddress: { ...shippingAddress, zipCode: '!' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const v = err as ValidationError;
    expect(v.issues.map((i) => i.path).sort()).toEqual(['payer.email', 'payer.name', 'shippingAddress.zipCode']);
    expect(v.issueFor('payer.email')).toBe('Email inválido');
    expect(calls).toBe(0);
  });

  it('CheckoutError empty_cart on an empty cart', async () => {
    const { sf } = shopper();
    const err = await sf.checkout({ payer, shippingAddress }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckoutError);
    expect((err as CheckoutError).code).toBe('empty_cart');
    expect((err as CheckoutError).status).toBe(409);
  });

  it('CheckoutError for an unknown coupon (422)', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 1)!;
    await sf.cart.add(v.id, 1);
    const err = await sf.checkout({ payer, shippingAddress, coupon: 'NOEXISTE' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckoutError);
    expect((err as CheckoutError).code).toBe('coupon_unknown');
  });

  it('reserves the stock and returns the sandbox checkout URL (init_point)', async () => {
    const { sf } = shopper();
    const before = await sf.catalog();
    const v = before.flatMap((p) => p.variants).find((x) => x.available >= 3)!;
    const cart = await sf.cart.add(v.id, 2);
    const r = await sf.checkout({ payer, shippingAddress });
    expect(r.preferenceId).toBeTruthy();
    if (t.mpUrl) expect(r.redirectUrl.startsWith(t.mpUrl)).toBe(true);
    expect(new URL(r.redirectUrl).searchParams.get('pref_id')).toBe(r.preferenceId);
    expect(r.orderSession).toMatchObject({ status: 'active', total: cart.subtotal, currency: 'ARS', preference_id: r.preferenceId });
    expect(r.orderSession.lines).toEqual([expect.objectContaining({ variant_id: v.id, quantity: 2 })]);
    expect(Date.parse(r.orderSession.expires_at)).toBeGreaterThan(Date.now());
    // Reserved: the catalog shows two fewer.
    const after = variantBySku(await sf.catalog(), v.sku).variant;
    expect(after.available).toBe(v.available - 2);
    // The return page before paying: nothing paid, the reservation holds.
    const open = await sf.confirmReturn(returnQuery({ externalReference: r.orderSession.token }));
    expect(open).toMatchObject({ status: 'open', canRetry: true, order: null, payment: null });
  });

  it.skipIf(noDb)('InsufficientStockError with the short lines when another shopper reserved the last unit', async () => {
    const last = await freshVariant(1);
    const a = shopper().sf;
    const b = shopper().sf;
    await a.cart.add(last.id, 1);
    await b.cart.add(last.id, 1);
    await a.checkout({ payer, shippingAddress });
    const err = await b.checkout({ payer, shippingAddress }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientStockError);
    const short = (err as InsufficientStockError).short;
    expect(short).toEqual([expect.objectContaining({ variant_id: last.id, sku: last.sku, requested: 1, available: 0 })]);
    // B's cart line now shows the shortage.
    expect((await b.cart.get()).lines[0]).toMatchObject({ quantity: 1, available: 0 });
    // And B cannot grow the line either; removing it works.
    await expect(b.cart.add(last.id, 1)).rejects.toBeInstanceOf(InsufficientStockError);
    expect((await b.cart.remove(last.id)).lines).toEqual([]);
  });

  it.skipIf(remoteConfigured)('PaymentProviderError (502) when MercadoPago fails; the reservation is released', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 2)!;
    await sf.cart.add(v.id, 1);
    t.stack!.sandbox.failNextCalls({ mode: 'error', count: 5, pathPrefix: '/checkout/preferences' });
    try {
      const err = await sf.checkout({ payer, shippingAddress }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PaymentProviderError);
      expect(err).toBeInstanceOf(CheckoutError);
      expect((err as PaymentProviderError).status).toBe(502);
    } finally {
      t.stack!.sandbox.clearFaults();
    }
    expect(variantBySku(await sf.catalog(), v.sku).variant.available).toBe(v.available);
  });
});

describe('payment and return', () => {
  it.skipIf(noSandbox)('APRO: confirmReturn reports the order; the stock drops for good, the cart empties, orders() lists it', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 3)!;
    await sf.cart.add(v.id, 2);
    const r = await sf.checkout({ payer, shippingAddress });
    const payment = await pay(t, r.preferenceId, 'APRO');
    expect(payment.status).toBe('approved');

    const q = returnQuery({ paymentId: payment.id, status: 'approved', externalReference: r.orderSession.token, preferenceId: r.preferenceId });
    const ret = await sf.confirmReturn(q);
    expect(ret.status).toBe('paid');
    expect(ret.canRetry).toBe(false);
    expect(ret.payment).toMatchObject({ id: payment.id, status: 'approved' });
    expect(ret.order).toMatchObject({ status: 'paid', total: r.orderSession.total, currency: 'ARS' });
    expect(ret.order!.order_number).toMatch(/^ORD-\d+$/);
    expect(ret.order!.lines).toEqual([expect.objectContaining({ variant_id: v.id, sku: v.sku, quantity: 2, unit_price: v.price })]);
    expect(ret.orderSession.status).toBe('paid');

    // Idempotent: the same return again (a reload) gives the same order.
    const again = await sf.confirmReturn(q.toString());
    expect(again.order?.id).toBe(ret.order!.id);

    expect((await sf.cart.get()).lines).toEqual([]);
    expect(variantBySku(await sf.catalog(), v.sku).variant.available).toBe(v.available - 2);
    const orders = await sf.orders();
    expect(orders.map((o) => o.id)).toEqual([ret.order!.id]);
    expect(orders[0]!.lines[0]).toMatchObject({ sku: v.sku, quantity: 2 });
  });

  it.skipIf(noSandbox)('OTHE then APRO on the same preference: rejected (retry allowed), then one order', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 2)!;
    await sf.cart.add(v.id, 1);
    const r = await sf.checkout({ payer, shippingAddress });

    const rejected = await pay(t, r.preferenceId, 'OTHE');
    expect(rejected.status).toBe('rejected');
    const first = await sf.confirmReturn(returnQuery({ paymentId: rejected.id, status: 'rejected', externalReference: r.orderSession.token }));
    expect(first).toMatchObject({ status: 'rejected', canRetry: true, order: null });
    expect(first.payment?.status_detail).toBe('cc_rejected_other_reason');
    await expect(sf.assertCanRetry(r.orderSession.token)).resolves.toMatchObject({ status: 'open' });

    const approved = await pay(t, r.preferenceId, 'APRO');
    const second = await sf.confirmReturn(returnQuery({ paymentId: approved.id, status: 'approved', externalReference: r.orderSession.token }));
    expect(second.status).toBe('paid');
    // The rejected payment's return, replayed late, still reports the order.
    const replay = await sf.confirmReturn(returnQuery({ paymentId: rejected.id, status: 'rejected', externalReference: r.orderSession.token }));
    expect(replay.status).toBe('paid');
    expect(replay.order?.id).toBe(second.order?.id);
    expect(await sf.orders()).toHaveLength(1);
    if (t.dbUrl) {
      const rows = await sql(t.dbUrl, 'select count(*)::int as n from public.orders where order_session_id = $1', [r.orderSession.id]);
      expect(rows[0]!['n']).toBe(1);
    }
  });

  it.skipIf(noSandbox)('CONT: the payment is in process, the return says pending and no order exists yet', async () => {
    const { sf } = shopper();
    const v = (await sf.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 2)!;
    await sf.cart.add(v.id, 1);
    const r = await sf.checkout({ payer, shippingAddress });
    const p = await pay(t, r.preferenceId, 'CONT');
    expect(p.status).toBe('in_process');
    const ret = await sf.confirmReturn(returnQuery({ paymentId: p.id, status: 'in_process', externalReference: r.orderSession.token }));
    expect(ret).toMatchObject({ status: 'pending', canRetry: false, order: null });
    expect(ret.payment?.status_detail).toBe('pending_contingency');
    expect(await sf.orders()).toEqual([]);
  });

  it.skipIf(noDb)('ReservationExpiredError once the reservation lapsed; the stock comes back', async () => {
    const dbUrl = t.dbUrl!;
    const [{ ttl }] = (await sql<{ ttl: string }>(dbUrl, 'select reservation_ttl::text as ttl from private.settings')) as [{ ttl: string }];
    await sql(dbUrl, "update private.settings set reservation_ttl = interval '2 seconds'");
    try {
      const v = await freshVariant(1);
      const { sf } = shopper();
      await sf.cart.add(v.id, 1);
      const r = await sf.checkout({ payer, shippingAddress });
      expect(variantBySku(await sf.catalog(), v.sku).variant.available).toBe(0);
      await new Promise((res) => setTimeout(res, 2600));
      const err = await sf.assertCanRetry(r.orderSession.token).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReservationExpiredError);
      expect((err as ReservationExpiredError).expiresAt).toBe(r.orderSession.expires_at);
      const ret = await sf.confirmReturn(returnQuery({ externalReference: r.orderSession.token }));
      expect(ret).toMatchObject({ status: 'expired', canRetry: false, order: null });
      expect(variantBySku(await sf.catalog(), v.sku).variant.available).toBe(1);
    } finally {
      await sql(dbUrl, 'update private.settings set reservation_ttl = $1::interval', [ttl]);
    }
  });

  it('confirmReturn: MercadoPago’s "null" strings count as missing', async () => {
    const { sf } = shopper();
    const err = await sf.confirmReturn(returnQuery({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
  });

  it('confirmReturn on another shopper’s order answers as for an unknown one (404)', async () => {
    const a = shopper().sf;
    const b = shopper().sf;
    const v = (await a.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 2)!;
    await a.cart.add(v.id, 1);
    const r = await a.checkout({ payer, shippingAddress });
    const err = await b.confirmReturn(returnQuery({ externalReference: r.orderSession.token })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckoutError);
    expect((err as CheckoutError).code).toBe('not_found');
    expect((err as CheckoutError).status).toBe(404);
  });

  it('orders() is empty for a new shopper', async () => {
    expect(await shopper().sf.orders()).toEqual([]);
  });
});

describe('error mapping (no server)', () => {
  it('maps PostgREST errors by SQLSTATE', () => {
    const stock = fromPostgrestError(
      { code: 'CKS01', message: 'only 1 of X available', details: '{"variant_id":"v","sku":"X","requested":2,"available":1}', hint: null },
      409,
    );
    expect(stock).toBeInstanceOf(InsufficientStockError);
    expect((stock as InsufficientStockError).short).toEqual([{ variant_id: 'v', sku: 'X', requested: 2, available: 1 }]);
    const checkoutShort = fromPostgrestError(
      { code: 'CKS01', message: 'short', details: '{"short":[{"variant_id":"v","sku":"X","requested":2,"available":0}]}' },
      409,
    );
    expect((checkoutShort as InsufficientStockError).short).toHaveLength(1);
    expect(fromPostgrestError({ code: 'CKQ01', message: 'q' }, 400)).toBeInstanceOf(ValidationError);
    expect(fromPostgrestError({ code: '42501', message: 'no' }, 401)).toBeInstanceOf(SessionRequiredError);
    expect(fromPostgrestError({ code: '', message: 'TypeError: fetch failed' }, 0)).toBeInstanceOf(NetworkError);
    expect(fromPostgrestError({ code: 'CKM01', message: 'm' }, 409).code).toBe('mixed_currency');
    const cooldown = fromPostgrestError(
      { code: 'CKH03', message: 'wait', details: '{"expired_unpaid":3,"max":3,"window_seconds":3600,"retry_after":"2026-12-01T12:00:00+00:00"}' },
      400,
    );
    expect([cooldown.constructor, cooldown.code, (cooldown as HoldLimitError).retryAfter]).toEqual([
      HoldLimitError,
      'reservation_cooldown',
      '2026-12-01T12:00:00+00:00',
    ]);
    const other = fromPostgrestError({ code: 'XX000', message: 'boom' }, 500);
    expect(other).toBeInstanceOf(StorefrontError);
    expect(other.code).toBe('XX000');
  });

  it('maps Edge Function errors by code', () => {
    const stock = fromFunctionError(409, {
      error: 'insufficient_stock',
      message: 'not enough',
      short: [{ variant_id: 'v', sku: 'S', title: 'Mate', requested: 2, available: 1, reason: 'short' }],
    });
    expect(stock).toBeInstanceOf(InsufficientStockError);
    expect((stock as InsufficientStockError).short[0]).toMatchObject({ title: 'Mate', available: 1 });
    const v = fromFunctionError(400, {
      error: 'validation_failed',
      message: 'bad',
      issues: [{ path: 'shipping_address.zip_code', message: 'invalid postal code' }],
    });
    expect((v as ValidationError).issues).toEqual([{ path: 'shippingAddress.zipCode', message: 'invalid postal code' }]);
    const cap = fromFunctionError(409, { error: 'hold_limit_checkout', message: 'too many', max: 30, requested: 31 });
    expect(cap).toBeInstanceOf(HoldLimitError);
    expect([(cap as HoldLimitError).max, (cap as HoldLimitError).requested]).toEqual([30, 31]);
    expect(fromFunctionError(502, { error: 'payment_provider_unavailable', message: 'down' })).toBeInstanceOf(PaymentProviderError);
    expect(fromFunctionError(503, { error: 'database_unavailable', message: 'down' })).toBeInstanceOf(NetworkError);
    expect(fromFunctionError(401, { error: 'unauthenticated', message: 'who' })).toBeInstanceOf(SessionRequiredError);
    expect(fromFunctionError(409, { error: 'reservation_expired', message: 'late', expires_at: '2026-01-01T00:00:00Z' })).toBeInstanceOf(
      ReservationExpiredError,
    );
    expect(fromFunctionError(422, { error: 'coupon_not_applicable', message: 'min' }).code).toBe('coupon_not_applicable');
    expect(fromFunctionError(500, 'not json')).toBeInstanceOf(StorefrontError);
  });

  it('parses MercadoPago’s return query', () => {
    expect(
      parseReturnQuery(
        '?collection_id=123&collection_status=approved&payment_id=123&status=approved&external_reference=os_abc-1&payment_type=credit_card&merchant_order_id=null&preference_id=1-x&site_id=MLA',
      ),
    ).toEqual({ paymentId: '123', status: 'approved', externalReference: 'os_abc-1', preferenceId: '1-x', paymentType: 'credit_card' });
    expect(parseReturnQuery({ payment_id: 'null', external_reference: 'null' })).toEqual({});
    // Garbage never reaches the server.
    expect(parseReturnQuery({ payment_id: '12; drop', external_reference: '../x' })).toEqual({});
  });
});
