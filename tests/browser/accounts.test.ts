/**
 * Accounts in the demo storefront, in Debian's Chromium against the whole
 * local stack: sign-up keeps the cart and the orders across a reload; a
 * second device (another browser context) with an anonymous cart signs in to
 * the account and the carts merge, with a notice of what changed, and both
 * devices show the one cart; sign-out returns to an empty anonymous cart; the
 * coupon preview on the cart page. Phone-sized (390x844).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { type BrowserStack, createProduct, ensureBuilt, newPage, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = join(repoRoot, 'test-results', 'browser');
const DIST = join(repoRoot, 'web', 'demo', 'dist');

let stack: Stack;
let browser: Browser;
let db: pg.Pool;
let env: BrowserStack;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt(DIST, ['web/demo', 'web/src'], 'build:web');
  env = await startBrowserStack('storefront-accounts', { sandbox: { retrySchedule: [200, 400, 800], webhookTimeoutMs: 5000 } });
  ({ stack, db, browser } = env);
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

/** A bounded wait on a condition (vitest's default of 1 s is short on a loaded 2-core machine). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 30_000, interval: 100 });

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `accounts-${name}.png`), fullPage: false });
}

const device = () => newPage(browser, { timeoutMs: 45_000 });
const product = (title: string, stock: number, price = 10000) => createProduct(db, title, stock, { price, skuPrefix: 'ACC' });

async function openStore(page: Page): Promise<void> {
  await page.goto(stack.webUrl);
  await page.getByTestId('catalog').waitFor();
}

const cartCount = async (page: Page) => Number(await page.getByTestId('cart-count').getAttribute('data-count'));

async function addToCart(page: Page, p: { slug: string; sku: string }, qty = 1): Promise<void> {
  const before = await cartCount(page);
  await page.getByTestId(`variant-${p.sku}`).click();
  await page.getByTestId(`qty-${p.slug}`).fill(String(qty));
  await page.getByTestId(`add-${p.slug}`).click();
  await poll(() => cartCount(page)).toBe(before + qty);
}

async function account(page: Page, mode: 'signup' | 'signin', email: string, password: string): Promise<void> {
  await page.getByTestId(mode === 'signup' ? 'nav-signup' : 'nav-signin').click();
  await page.getByTestId('account-email-input').fill(email);
  await page.getByTestId('account-password-input').fill(password);
  await page.getByTestId(`${mode}-submit`).click();
}

async function lineQuantity(page: Page, sku: string): Promise<string | null> {
  const line = page.getByTestId(`cart-line-${sku}`);
  return (await line.count()) ? line.getAttribute('data-quantity') : null;
}

describe('accounts in the demo storefront (Chromium, 390x844)', () => {
  it('anonymous cart and order -> "Crear cuenta" -> reload: same cart and orders, now under the account', async () => {
    const { context, page } = await device();
    try {
      const p = await product('Taza esmaltada', 10, 8000);
      await openStore(page);
      await addToCart(page, p, 1);
      // An order paid as an anonymous shopper.
      await page.getByTestId('nav-cart').click();
      await page.getByTestId('checkout-email').fill('ana.garcia@example.com');
      await page.getByTestId('checkout-name').fill('Ana');
      await page.getByTestId('checkout-streetName').fill('Av. Corrientes');
      await page.getByTestId('checkout-streetNumber').fill('1234');
      await page.getByTestId('checkout-zipCode').fill('C1043');
      await page.getByTestId('checkout-city').fill('CABA');
      await page.getByTestId('checkout-submit').click();
      await page.waitForURL(/\/checkout\/v1\/redirect\?pref_id=/);
      await page.locator('#payment-type-credit_card').check();
      await page.locator('#cardholder-name').fill('APRO');
      await page.locator('#pay-button').click();
      await page.getByTestId('return-paid').waitFor();
      const orderNumber = (await page.getByTestId('order-number').textContent())!.replace('Pedido ', '');
      await page.getByTestId('continue-shopping').click();
      await page.getByTestId('catalog').waitFor();
      await addToCart(page, p, 2);
      const anonymousId = await page.evaluate(() => {
        const key = Object.keys(localStorage).find((k) => k.endsWith('-auth-token'))!;
        return (JSON.parse(localStorage.getItem(key)!) as { user: { id: string } }).user.id;
      });

      const email = `ana-${randomUUID().slice(0, 8)}@example.com`;
      await account(page, 'signup', email, 'clave-segura-123');
      await page.getByTestId('signup-done').waitFor();
      await poll(() => page.getByTestId('account-email').textContent()).toBe(email);
      await shot(page, 'signed-up');

      await page.reload();
      await poll(() => page.getByTestId('account-email').textContent()).toBe(email);
      await page.getByTestId('nav-cart').click();
      await poll(() => lineQuantity(page, p.sku)).toBe('2');
      await page.getByTestId('nav-orders').click();
      await page.getByTestId(`order-${orderNumber}`).waitFor();
      const { rows } = await db.query('select is_anonymous, email from auth.users where id = $1', [anonymousId]);
      expect(rows).toEqual([{ is_anonymous: false, email }]);
    } finally {
      await context.close();
    }
  }, 180_000);

  it("device B with an anonymous cart signs in to device A's account: one merged cart on both, the notice, then logout", async () => {
    const a = await device();
    const b = await device();
    try {
      const scarce = await product('Mate de calabaza', 3);
      const other = await product('Bombilla de alpaca', 20);
      const email = `beto-${randomUUID().slice(0, 8)}@example.com`;
      await openStore(a.page);
      await addToCart(a.page, scarce, 2);
      await account(a.page, 'signup', email, 'clave-segura-123');
      await a.page.getByTestId('signup-done').waitFor();

      await openStore(b.page);
      await addToCart(b.page, scarce, 2);
      await addToCart(b.page, other, 1);
      await account(b.page, 'signin', email, 'clave-segura-123');
      const notice = b.page.getByTestId('merge-notice');
      await notice.waitFor();
      const text = (await notice.textContent())!;
      expect(text).toContain('Unimos tu carrito');
      expect(text).toContain('Mate de calabaza - Único: sumamos 1 de 2 unidades, no hay más stock.');
      await poll(() => b.page.getByTestId('account-email').textContent()).toBe(email);
      await poll(() => lineQuantity(b.page, scarce.sku)).toBe('3');
      expect(await lineQuantity(b.page, other.sku)).toBe('1');
      await shot(b.page, 'merged-notice');

      // Device A learns of it when its window comes back to the front.
      await a.page.bringToFront();
      await a.page.evaluate(() => window.dispatchEvent(new Event('focus')));
      await poll(() => cartCount(a.page)).toBe(4);
      await a.page.getByTestId('nav-cart').click();
      await poll(() => lineQuantity(a.page, scarce.sku)).toBe('3');
      expect(await lineQuantity(a.page, other.sku)).toBe('1');

      // And a change on A shows on B the same way.
      await a.page.getByTestId(`cart-remove-${other.sku}`).click();
      await poll(() => cartCount(a.page)).toBe(3);
      await b.page.bringToFront();
      await b.page.evaluate(() => window.dispatchEvent(new Event('focus')));
      await poll(() => lineQuantity(b.page, other.sku)).toBe(null);

      // Logout: device B gets a fresh, empty anonymous cart; A stays signed in.
      await b.page.getByTestId('nav-signout').click();
      await b.page.getByTestId('signed-out').waitFor();
      await b.page.getByTestId('nav-signup').waitFor();
      await poll(() => cartCount(b.page)).toBe(0);
      await b.page.getByTestId('nav-cart').click();
      await b.page.getByTestId('cart-empty').waitFor();
      await shot(b.page, 'signed-out');
      await a.page.reload();
      await poll(() => a.page.getByTestId('account-email').textContent()).toBe(email);
      await poll(() => cartCount(a.page)).toBe(3);
    } finally {
      await a.context.close();
      await b.context.close();
    }
  }, 180_000);

  it('a wrong password is told in Spanish and changes nothing', async () => {
    const { context, page } = await device();
    try {
      const email = `caro-${randomUUID().slice(0, 8)}@example.com`;
      await openStore(page);
      await account(page, 'signup', email, 'clave-segura-123');
      await page.getByTestId('signup-done').waitFor();
      await page.getByTestId('nav-signout').click();
      await page.getByTestId('signed-out').waitFor();
      await account(page, 'signin', email, 'otra-clave-456');
      await poll(() => page.getByTestId('auth-error').textContent()).toContain('Email o contraseña incorrectos.');
      expect(await page.getByTestId('nav-signin').isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  }, 180_000);

  it('the cart previews a coupon: discount and total before paying; a bad code is told in Spanish', async () => {
    const { context, page } = await device();
    try {
      const p = await product('Yerba orgánica', 10, 5000);
      const code = `DEMO${Math.random().toString(36).slice(2, 6).toUpperCase()}`;
      await db.query(`insert into checkout.coupons (code, kind, value) values ($1, 'percent', 20)`, [code]);
      await openStore(page);
      await addToCart(page, p, 2);
      await page.getByTestId('nav-cart').click();
      await page.getByTestId('checkout-coupon').fill('NOEXISTE');
      await page.getByTestId('coupon-apply').click();
      await poll(() => page.getByTestId('error-coupon').textContent()).toBe('Ese cupón no existe.');
      await page.getByTestId('checkout-coupon').fill(code.toLowerCase());
      await page.getByTestId('coupon-apply').click();
      await page.getByTestId('coupon-discount').waitFor();
      expect(await page.getByTestId('coupon-discount').getAttribute('data-amount')).toBe('2000');
      expect(await page.getByTestId('checkout-total').getAttribute('data-amount')).toBe('8000');
      expect(await page.getByTestId('checkout-total').textContent()).toMatch(/\$\s?8\.000,00/);
      await page.getByTestId('checkout-total').scrollIntoViewIfNeeded();
      await shot(page, 'coupon-preview');
      // The cart changes: the preview follows.
      await page.getByTestId(`cart-inc-${p.sku}`).click();
      await poll(() => page.getByTestId('checkout-total').getAttribute('data-amount')).toBe('12000');
    } finally {
      await context.close();
    }
  }, 180_000);
});
