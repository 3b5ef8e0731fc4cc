/**
 * A store in Brazil (site MLB, BRL, pt-BR formats) bought end to end in
 * Chromium: the local stack started with `country: BR` (as `npm start --
 * --country BR`), the demo catalog in reais, a wrong CPF refused with a
 * message on the field before anything is sent, a valid one (typed with dots
 * and a hyphen) accepted and sent to MercadoPago as digits, APRO on the
 * sandbox started for MLB, the paid order shown with money in pt-BR.
 *
 * Screenshots go to test-results/browser/; with UPDATE_SCREENSHOTS=1 to
 * docs/screenshots/ (br-*.png).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { countryOf } from '../../edge/_shared/country.ts';
import { type BrowserStack, ensureBuilt, newPage, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'browser');
const DIST = join(repoRoot, 'web', 'demo', 'dist');

let stack: Stack;
let browser: Browser;
let env: BrowserStack;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt(DIST, ['web/demo', 'web/src', 'edge/_shared'], 'build:web');
  env = await startBrowserStack('country-br-browser', { country: countryOf('BR')!, serveNext: false, serveAdmin: false });
  ({ stack, browser } = env);
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `br-${name}.png`), fullPage: false });
const reais = (n: number) => new Intl.NumberFormat('pt-BR', { style: 'currency', currency: 'BRL' }).format(n);

describe('a store in Brazil in Chromium', () => {
  it('the catalog in reais, a wrong CPF refused, a valid one accepted, APRO, the paid order', async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${stack.webUrl}/`);
      await page.getByTestId('catalog').waitFor();
      // The demo's 12.999,00 ARS remera at the demo rate: R$ 65,00, written as pt-BR writes it.
      await expect.poll(() => page.getByTestId('price-remera-basica').textContent()).toBe(reais(65));
      expect(await page.getByTestId('nav-cart').textContent()).toContain('Carrinho');
      await shot(page, 'catalog');
      await page.getByTestId('variant-REM-NEG-M').click();
      await page.getByTestId('add-remera-basica').click();
      await expect.poll(() => page.getByTestId('cart-count').getAttribute('data-count')).toBe('1');

      await page.getByTestId('nav-cart').click();
      await page.getByTestId('checkout-email').fill('ana.souza@example.com');
      await page.getByTestId('checkout-name').fill('Ana');
      await page.getByTestId('checkout-surname').fill('Souza');
      await page.getByTestId('checkout-streetName').fill('Rua Augusta');
      await page.getByTestId('checkout-streetNumber').fill('1500');
      await page.getByTestId('checkout-zipCode').fill('0!');
      await page.getByTestId('checkout-city').fill('São Paulo');
      // The country's types: CPF first, then CNPJ.
      expect(await page.getByTestId('checkout-idType').locator('option').allTextContents()).toEqual(['CPF', 'CNPJ']);
      await page.getByTestId('checkout-idNumber').fill('529.982.247-24');
      await page.getByTestId('checkout-submit').click();
      await expect.poll(() => page.getByTestId('error-idNumber').textContent()).toBe('Documento inválido');
      // The library's own validation message, in the store's language.
      expect(await page.getByTestId('error-zipCode').textContent()).toBe('CEP inválido');
      expect(await page.locator('.alert-title').textContent()).toBe('Confira os dados marcados no formulário.');
      expect(page.url()).toContain(stack.webUrl);
      await shot(page, 'cpf-refused');

      await page.getByTestId('checkout-zipCode').fill('01304-001');
      await page.getByTestId('checkout-idNumber').fill('529.982.247-25');
      await page.getByTestId('checkout-submit').click();
      await page.waitForURL(/\/checkout\/v1\/redirect\?pref_id=/);
      const prefId = new URL(page.url()).searchParams.get('pref_id')!;
      const pref = stack.sandbox.state().preferences.find((p) => p.id === prefId)!;
      expect(pref.site_id).toBe('MLB');
      expect((pref as unknown as { payer: { identification: unknown } }).payer.identification).toEqual({ type: 'CPF', number: '52998224725' });
      expect(await page.locator('#total').getAttribute('data-currency')).toBe('BRL');
      expect(await page.locator('#total').getAttribute('data-amount')).toBe('65');
      await page.locator('#payment-type-credit_card').check();
      await page.locator('#cardholder-name').fill('APRO');
      await page.locator('#pay-button').click();

      await page.waitForURL(/\/checkout\/return\?/);
      await page.getByTestId('return-paid').waitFor();
      await expect.poll(() => page.getByTestId('cart-count').getAttribute('data-count')).toBe('0');
      await expect.poll(() => page.getByTestId('return-paid').textContent(), { timeout: 15_000 }).toContain(reais(65));
      const paid = (await page.getByTestId('return-paid').textContent())!;
      expect(paid).toContain('Obrigado pela sua compra!');
      expect(paid).toContain('Seu pagamento foi aprovado. Enviamos os detalhes para ana.souza@example.com.');
      expect(await page.getByTestId('order-status').textContent()).toBe('Pago');
      expect(await page.getByTestId('continue-shopping').textContent()).toBe('Continuar comprando');
      await shot(page, 'order-paid');
    } finally {
      await context.close();
    }
  });
});
