/**
 * The Next.js storefront's pending page, in Debian's Chromium, against the
 * whole local stack with the MercadoPago sandbox on a Brazilian account: a
 * boleto and a Pix chosen on MercadoPago's page, and back on the store's
 * return page (rendered on the server, from the session cookie) how to pay
 * it and by when: the method, the deadline, the ticket's link and barcode,
 * or the Pix QR and its copy-and-paste code. Once the sandbox pays, the
 * page's "Já paguei" shows the paid order. The store is Brazilian, so every
 * page is in pt-BR (STORE_SITE_ID from private.settings): `<html lang>`,
 * the texts, reais as pt-BR writes them, and the library's validation
 * messages.
 *
 * Screenshots go to test-results/next/, or with UPDATE_SCREENSHOTS=1 to
 * docs/screenshots/ (next-pending-ticket.png, next-pending-pix.png).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { countryOf } from '../../edge/_shared/country.ts';
import { type BrowserStack, ensureNextBuilt, fillCheckout, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'next');
// A browser asking for Spanish: the store has one language, and it is Portuguese.
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, locale: 'es-AR', timezoneId: 'America/Argentina/Buenos_Aires' };
const reais = (n: number) => new Intl.NumberFormat('pt-BR', { style: 'currency', currency: 'BRL' }).format(n);

let env: BrowserStack;
let url: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await ensureNextBuilt();
  env = await startBrowserStack('next-pending', {
    country: countryOf('BR')!,
    serveStorefront: false,
    serveNext: true,
    sandbox: { retrySchedule: [200, 400, 800], webhookTimeoutMs: 5000 },
    auth: { anonymousUsersPerHour: 10_000 },
  });
  url = env.stack.nextUrl;
}, 600_000);

afterAll(async () => {
  await env?.stop();
});

/** A product of its own in reais (the sandbox's account is Brazilian). */
async function brazilianProduct(title: string): Promise<string> {
  const suffix = Math.random().toString(36).slice(2, 7);
  const sku = `NXTBR-${suffix}`.toUpperCase();
  await env.db.query(
    `with p as (insert into public.products (slug, title, description) values ($1, $2, 'Edição de teste.') returning id)
     insert into public.variants (product_id, sku, title, price, currency, stock_on_hand) select p.id, $3, 'Único', 120, 'BRL', 10 from p`,
    [`${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${suffix}`, title, sku],
  );
  return sku;
}

/** Catalog → cart → form → MercadoPago's page → an offline method → back to the store. Returns the payment id and the return page's HTML. */
async function payOffline(page: Page, sku: string, type: 'ticket' | 'bank_transfer', method: string): Promise<{ paymentId: number; html: string }> {
  await page.goto(`${url}/`);
  await page.getByTestId(`qty-${sku}`).fill('1');
  await page.getByTestId(`add-${sku}`).click();
  await page.waitForURL(new RegExp(`\\?ok=${sku}$`));
  await page.goto(`${url}/cart`);
  await fillCheckout(page);
  await page.getByTestId('checkout-submit').click();
  await page.waitForURL(/\/checkout\/v1\/redirect\?pref_id=/);
  await page.locator(`#payment-type-${type}`).check();
  await page.locator(`#payment-method-${type}`).selectOption(method);
  await page.locator('#pay-button').click();
  await page.waitForURL(/\/checkout\/v1\/result\?payment_id=\d+/);
  const paymentId = Number(new URL(page.url()).searchParams.get('payment_id'));
  const returned = page.waitForResponse((r) => r.url().startsWith(`${url}/checkout/return?`) && r.request().resourceType() === 'document');
  await page.locator('#return-to-store').click();
  const html = await (await returned).text();
  await page.getByTestId('return').waitFor();
  return { paymentId, html };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('a Brazilian store: the Next.js storefront in pt-BR', () => {
  it('<html lang="pt-BR">, reais as pt-BR writes them, the texts and a refused form in Portuguese', async () => {
    const context = await env.browser.newContext(phone);
    try {
      const page = await context.newPage();
      const sku = await brazilianProduct('Garrafa térmica');
      const res = await page.goto(`${url}/`);
      // Rendered on the server in the store's language, not the browser's (es-AR here).
      const html = await res!.text();
      expect(html).toContain('<html lang="pt-BR"');
      expect(html).toContain(`>${reais(120)}<`);
      expect(await page.getByTestId(`price-${sku}`).textContent()).toBe(reais(120));
      expect(await page.getByTestId(`stock-${sku}`).textContent()).toBe('10 disponíveis');
      expect(await page.getByTestId('nav-cart').textContent()).toMatch(/^Carrinho/);
      expect(await page.getByTestId(`add-${sku}`).textContent()).toBe('Adicionar');
      await page.getByTestId(`qty-${sku}`).fill('2');
      await page.getByTestId(`add-${sku}`).click();
      await page.waitForURL(new RegExp(`\\?ok=${sku}$`));
      expect(await page.getByTestId('notice').textContent()).toBe('Adicionado ao carrinho.');
      await page.goto(`${url}/cart`);
      expect(await page.getByTestId('cart-subtotal').textContent()).toBe(reais(240));
      expect(await page.locator('form.checkout h2').textContent()).toBe('Dados para a entrega');
      await fillCheckout(page);
      await page.getByTestId('checkout-zipCode').fill('0!');
      await page.getByTestId('checkout-name').fill('');
      await page.getByTestId('checkout-submit').click();
      // The library's validation messages, on the server, in the store's language.
      await page.getByTestId('error-zipCode').waitFor();
      expect(await page.getByTestId('error-zipCode').textContent()).toBe('CEP inválido');
      expect(await page.getByTestId('error-name').textContent()).toBe('Informe seu nome');
      expect(await page.getByTestId('checkout-error').textContent()).toBe('Confira os dados marcados.');
      expect(await page.getByTestId('checkout-submit').textContent()).toBe('Pagar com MercadoPago');
      await page.goto(`${url}/orders`);
      expect(await page.getByTestId('orders-empty').textContent()).toBe('Você ainda não fez compras.');
      await shot(page, 'next-ptbr-orders');
    } finally {
      await context.close();
    }
  });
});

describe('the pending page (Next.js storefront, rendered on the server)', () => {
  it('a boleto: its link, barcode and deadline, aguardando pagamento; "Já paguei" shows the order once the sandbox pays', async () => {
    const context = await env.browser.newContext(phone);
    try {
      const page = await context.newPage();
      const sku = await brazilianProduct('Caneca de cerâmica');
      const { paymentId, html } = await payOffline(page, sku, 'ticket', 'bolbradesco');
      // In the server's HTML, not built by a script.
      expect(html).toContain('data-testid="pending-payment"');
      expect(await page.getByTestId('return').getAttribute('data-status')).toBe('pending');
      expect(await page.getByTestId('pending-label').textContent()).toBe('aguardando pagamento');
      expect(await page.getByTestId('pending-method').textContent()).toBe('boleto bancário');
      expect(await page.getByTestId('pending-total').textContent()).toBe(reais(120));
      expect(await page.getByTestId('ticket-link').getAttribute('href')).toContain(`payment_id=${paymentId}`);
      expect(await page.getByTestId('ticket-barcode').textContent()).toMatch(/^\d{44}$/);
      const deadline = Date.parse((await page.getByTestId('pending-deadline').getAttribute('data-date'))!);
      expect(Math.abs(deadline - (Date.now() + 3 * 86_400_000))).toBeLessThan(10 * 60_000);
      // The deadline in words, in pt-BR and São Paulo's time: "<weekday>, <day> de <month> de <year> às HH:MM".
      const inWords = new Intl.DateTimeFormat('pt-BR', { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23', timeZone: 'America/Sao_Paulo' });
      expect(await page.getByTestId('pending-deadline').textContent()).toBe(inWords.format(deadline));
      expect(await page.getByTestId('pending-payment').textContent()).toContain('Guardamos os produtos até lá.');
      expect(await page.getByTestId('pix-qr').count()).toBe(0);
      await shot(page, 'next-pending-ticket');

      env.stack.sandbox.payOffline(paymentId);
      await expect.poll(async () => {
        await page.getByTestId('pending-reload').click();
        await page.getByTestId('return').waitFor();
        return page.getByTestId('return').getAttribute('data-status');
      }, { timeout: 30_000 }).toBe('paid');
      expect(await page.getByTestId('order-number').textContent()).toMatch(/^ORD-\d+$/);
    } finally {
      await context.close();
    }
  });

  it('Pix: the QR (a real PNG) and its copy-and-paste code, payable for 30 minutes', async () => {
    const context = await env.browser.newContext(phone);
    try {
      const page = await context.newPage();
      const sku = await brazilianProduct('Camiseta de algodão');
      const { html } = await payOffline(page, sku, 'bank_transfer', 'pix');
      expect(html).toContain('data-testid="pix-qr"');
      expect(await page.getByTestId('pending-method').textContent()).toBe('Pix');
      const size = await page.getByTestId('pix-qr').evaluate((img) => (img as HTMLImageElement).naturalWidth);
      expect(size).toBeGreaterThan(50);
      expect(await page.getByTestId('pix-code').inputValue()).toMatch(/^000201/);
      expect(await page.getByTestId('ticket-barcode').count()).toBe(0);
      const deadline = Date.parse((await page.getByTestId('pending-deadline').getAttribute('data-date'))!);
      expect(Math.abs(deadline - (Date.now() + 30 * 60_000))).toBeLessThan(5 * 60_000);
      await shot(page, 'next-pending-pix');
    } finally {
      await context.close();
    }
  });
});
