/**
 * The cart follows the shopper, through the storefront library against the
 * local stack: sign-up keeps the cart and the orders, signing in from another
 * device merges its anonymous cart into the account (both devices then share
 * one cart), sign-out returns to a fresh anonymous cart; the coupon preview.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, CheckoutError, createStorefront, type Storefront, ValidationError } from '../../web/src/index.ts';
import {
  createVariant,
  memoryStorage,
  newClient,
  pay,
  payer,
  remoteConfigured,
  returnQuery,
  shippingAddress,
  sql,
  startTarget,
  type Target,
} from './helpers.ts';

let t: Target;

beforeAll(async () => {
  t = await startTarget();
}, 240_000);

afterAll(async () => {
  await t?.stop();
});

const device = (storage = memoryStorage()): Storefront => createStorefront({ supabase: newClient(t, storage) });
const email = () => `cliente-${randomUUID().slice(0, 8)}@example.com`;
const password = 'una-clave-larga-123';

describe.skipIf(remoteConfigured)('accounts', () => {
  it('sign-up keeps the id, the cart and the orders; the same browser after a reload is the account', async () => {
    const v = await createVariant(t.dbUrl!, { sku: 'ACC-UP', stock: 20, price: 1200 });
    const storage = memoryStorage();
    const sf = device(storage);
    const anonymous = await sf.account.current();
    expect(anonymous.isAnonymous).toBe(true);
    await sf.cart.add(v.id, 1);
    const r = await sf.checkout({ payer, shippingAddress });
    const payment = await pay(t, r.preferenceId, 'APRO');
    expect((await sf.confirmReturn(returnQuery({ paymentId: payment.id, status: 'approved', externalReference: r.orderSession.token }))).status).toBe('paid');
    await sf.cart.add(v.id, 2);

    const address = email();
    const account = await sf.account.signUp({ email: address, password });
    expect(account).toEqual({ id: anonymous.id, email: address, isAnonymous: false });
    await expect(sf.account.signUp({ email: email(), password })).rejects.toMatchObject({ code: 'already_signed_in' });

    const reloaded = device(storage);
    expect(await reloaded.account.current()).toEqual(account);
    expect((await reloaded.cart.get()).lines.map((l) => [l.variant_id, l.quantity])).toEqual([[v.id, 2]]);
    expect((await reloaded.orders()).map((o) => o.order_session_id)).toEqual([r.orderSession.id]);
  });

  it('signing in from another device merges its anonymous cart; both devices share one cart; the report lists capped lines', async () => {
    const shared = await createVariant(t.dbUrl!, { sku: 'ACC-SHARED', stock: 5 });
    const other = await createVariant(t.dbUrl!, { sku: 'ACC-OTHER', stock: 50 });
    const address = email();
    const a = device();
    await a.cart.add(shared.id, 3);
    const account = await a.account.signUp({ email: address, password });

    const b = device();
    await b.cart.add(shared.id, 4);
    await b.cart.add(other.id, 1);
    const anonymousB = await b.account.current();
    const { shopper, merge } = await b.account.signIn({ email: address, password });
    expect(shopper).toEqual(account);
    expect(merge).toMatchObject({ strategy: 'merge', already_merged: false, lines_moved: 2 });
    expect(merge!.changes).toEqual([expect.objectContaining({ variant_id: shared.id, requested: 4, quantity: 2, reason: 'insufficient_stock' })]);

    const lines = (c: { lines: { variant_id: string; quantity: number }[] }) => Object.fromEntries(c.lines.map((l) => [l.variant_id, l.quantity]));
    expect(lines(await b.cart.get())).toEqual({ [shared.id]: 5, [other.id]: 1 });
    expect(lines(await a.cart.get())).toEqual({ [shared.id]: 5, [other.id]: 1 });
    // The anonymous user of device B keeps nothing.
    expect(await sql(t.dbUrl!, 'select 1 from public.cart_items where session_id = $1', [anonymousB.id])).toEqual([]);

    // A change on one device is what the other reads next.
    await a.cart.remove(other.id);
    expect(lines(await b.cart.get())).toEqual({ [shared.id]: 5 });

    // Sign-out: back to a fresh, empty anonymous cart; the other device stays signed in.
    const fresh = await b.account.signOut();
    expect(fresh).not.toBe(account.id);
    expect(await b.account.current()).toMatchObject({ id: fresh, isAnonymous: true, email: null });
    expect((await b.cart.get()).lines).toEqual([]);
    expect((await a.account.current()).id).toBe(account.id);
    expect(lines(await a.cart.get())).toEqual({ [shared.id]: 5 });
  });

  it('a wrong password or an unknown account: AuthenticationError, the anonymous cart untouched', async () => {
    const v = await createVariant(t.dbUrl!, { sku: 'ACC-WRONG', stock: 5 });
    const address = email();
    await device().account.signUp({ email: address, password });
    const sf = device();
    await sf.cart.add(v.id, 1);
    const before = await sf.account.current();
    const err = await sf.account.signIn({ email: address, password: 'otra-clave-123' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ code: 'invalid_credentials', status: 400 });
    expect(await sf.account.current()).toEqual(before);
    expect((await sf.cart.get()).lines).toHaveLength(1);
    await expect(device().account.signUp({ email: address, password })).rejects.toMatchObject({ code: 'email_exists' });
    await expect(sf.account.signIn({ email: 'no-es-email', password })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe.skipIf(remoteConfigured)('coupon preview', () => {
  it('shows the discount and the total checkout then charges; errors carry their codes', async () => {
    const v = await createVariant(t.dbUrl!, { sku: 'ACC-CPN', stock: 20, price: 2000 });
    const code = `PV${randomUUID().slice(0, 6).toUpperCase().replace(/-/g, '')}`;
    await sql(t.dbUrl!, `insert into checkout.coupons (code, kind, value) values ($1, 'percent', 10)`, [code]);
    const sf = device();
    await sf.cart.add(v.id, 2);
    const preview = await sf.cart.previewCoupon(code.toLowerCase());
    expect(preview).toMatchObject({ coupon: code, subtotal: 4000, discount: 400, total: 3600, currency: 'ARS' });
    const r = await sf.checkout({ payer, shippingAddress, coupon: code });
    expect(Number(r.orderSession.total)).toBe(preview.total);
    const unknown = await sf.cart.previewCoupon('NOEXISTE').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(CheckoutError);
    expect(unknown).toMatchObject({ code: 'coupon_unknown' });
    await expect(sf.cart.previewCoupon('x')).rejects.toBeInstanceOf(ValidationError);
  });
});
