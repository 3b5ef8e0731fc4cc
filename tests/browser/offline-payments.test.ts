/**
 * Offline payments in the demo storefront, in Debian's Chromium, against the
 * whole local stack with the MercadoPago sandbox on a Brazilian account: a
 * boleto and a Pix chosen on MercadoPago's page, the return page showing how
 * to pay (the ticket's link and barcode, the Pix QR) and by when, then the
 * paid order once the sandbox pays, without a reload; in the store's locale
 * (pt-BR: aguardando pagamento, boleto bancário).
 *
 * Screenshots go to test-results/browser/, or with UPDATE_SCREENSHOTS=1 to
 * docs/screenshots/ (pending-ticket.png, pending-pix.png, pending-paid.png).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { countryOf } from '../../edge/_shared/country.ts';
import { type BrowserStack, ensureBuilt, fillCheckout, newPage, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'browser');
const DIST = join(repoRoot, 'web', 'demo', 'dist');

let stack: Stack;
let browser: Browser;
let db: pg.Pool;
let env: BrowserStack;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt(DIST, ['web/demo', 'web/src', 'edge/_shared'], 'build:web');
  env = await startBrowserStack('offline-browser', {
    country: countryOf('BR')!,
    sandbox: { retrySchedule: [200, 400, 800], webhookTimeoutMs: 5000 },
    auth: { anonymousUsersPerHour: 10_000 },
  });
  ({ stack, db, browser } = env);
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

/** A product of its own in reais (the sandbox's account is Brazilian). */
async function brazilianProduct(title: string): Promise<{ slug: string; sku: string }> {
  const suffix = Math.random().toString(36).slice(2, 7);
  const slug = `${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${suffix}`;
  const sku = `BR-${suffix}`.toUpperCase();
  await db.query(
    `with p as (insert into public.products (slug, title, description) values ($1, $2, 'Edição de teste.') returning id)
     insert into public.variants (product_id, sku, title, price, currency, stock_on_hand) select p.id, $3, 'Único', 120, 'BRL', 10 from p`,
    [slug, title, sku],
  );
  return { slug, sku };
}

/** Catalog → cart → form → MercadoPago's page → an offline method → back to the store's return page. Returns the payment id. */
async function payOffline(page: Page, product: { slug: string; sku: string }, type: 'ticket' | 'bank_transfer', method: string): Promise<number> {
  await page.goto(stack.webUrl);
  await page.getByTestId('catalog').waitFor();
  await page.getByTestId(`variant-${product.sku}`).click();
  await page.getByTestId(`add-${product.slug}`).click();
  await expect.poll(async () => Number(await page.getByTestId('cart-count').getAttribute('data-count'))).toBe(1);
  await page.getByTestId('nav-cart').click();
  await fillCheckout(page);
  await page.getByTestId('checkout-idNumber').fill('529.982.247-25');
  await page.getByTestId('checkout-submit').click();
  await page.waitForURL(/\/checkout\/v1\/redirect\?pref_id=/);
  await page.locator(`#payment-type-${type}`).check();
  await page.locator(`#payment-method-${type}`).selectOption(method);
  await page.locator('#pay-button').click();
  await page.waitForURL(/\/checkout\/v1\/result\?payment_id=\d+/);
  const paymentId = Number(new URL(page.url()).searchParams.get('payment_id'));
  await page.locator('#return-to-store').click();
  await page.waitForURL(/\/checkout\/return\?/);
  return paymentId;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('the pending page (demo storefront, a Brazilian store: pt-BR)', () => {
  it('a boleto: its link, barcode and deadline, aguardando pagamento; then the paid order once the sandbox pays, by itself', async () => {
    const { context, page } = await newPage(browser);
    try {
      const product = await brazilianProduct('Caneca de cerâmica');
      const paymentId = await payOffline(page, product, 'ticket', 'bolbradesco');
      await page.getByTestId('pending-payment').waitFor();
      expect(await page.getByTestId('return').getAttribute('data-status')).toBe('pending');
      expect(await page.getByTestId('pending-label').textContent()).toBe('aguardando pagamento');
      expect(await page.getByTestId('pending-method').textContent()).toBe('boleto bancário');
      expect(await page.getByTestId('pending-payment').textContent()).toContain('Esta página se atualiza sozinha');
      expect(await page.getByTestId('ticket-link').getAttribute('href')).toContain(`payment_id=${paymentId}`);
      expect(await page.getByTestId('ticket-barcode').textContent()).toMatch(/^\d{44}$/);
      const deadline = Date.parse((await page.getByTestId('pending-deadline').getAttribute('data-date'))!);
      expect(Math.abs(deadline - (Date.now() + 3 * 86_400_000))).toBeLessThan(10 * 60_000);
      await shot(page, 'pending-ticket');

      stack.sandbox.payOffline(paymentId);
      await page.getByTestId('return-paid').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('order-number').textContent()).toMatch(/Pedido ORD-\d+/);
      await shot(page, 'pending-paid');
    } finally {
      await context.close();
    }
  });

  it('Pix: the QR (a real PNG) and its copy-and-paste code; then the paid order', async () => {
    const { context, page } = await newPage(browser);
    try {
      const product = await brazilianProduct('Camiseta de algodão');
      const paymentId = await payOffline(page, product, 'bank_transfer', 'pix');
      await page.getByTestId('pix-qr').waitFor();
      expect(await page.getByTestId('pending-method').textContent()).toBe('Pix');
      const size = await page.getByTestId('pix-qr').evaluate((img) => (img as HTMLImageElement).naturalWidth);
      expect(size).toBeGreaterThan(50);
      expect(await page.getByTestId('pix-code').textContent()).toMatch(/^000201/);
      // Pix is payable for transfer_deadline (30 minutes), not the boleto's 3 days.
      const deadline = Date.parse((await page.getByTestId('pending-deadline').getAttribute('data-date'))!);
      expect(Math.abs(deadline - (Date.now() + 30 * 60_000))).toBeLessThan(5 * 60_000);
      await shot(page, 'pending-pix');

      stack.sandbox.payOffline(paymentId);
      await page.getByTestId('return-paid').waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
    }
  });
});
