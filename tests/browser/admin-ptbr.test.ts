/**
 * The dashboard of a store in Brazil (the stack started with `country: BR`,
 * private.settings.locale pt-BR) in Chromium: every screen in Portuguese
 * (Resumo, Pedidos, Estornar), <html lang="pt-BR">, money in reais as pt-BR
 * writes it; an order paid with two cards refunded by lines from its page,
 * the refund spread over both cards and the notice naming which got how much.
 *
 * Screenshots go to test-results/browser/; with UPDATE_SCREENSHOTS=1 to
 * docs/screenshots/ (admin-ptbr-*.png).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { countryOf } from '../../edge/_shared/country.ts';
import { type BrowserStack, ensureBuilt, newPage, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'browser');
const STAFF = { email: 'dona@loja.test', password: 'cafe-com-pao-de-queijo' };
const reais = (n: number) => new Intl.NumberFormat('pt-BR', { style: 'currency', currency: 'BRL' }).format(n);

let stack: Stack;
let browser: Browser;
let env: BrowserStack;

/** A paid order of 2 t-shirts (R$ 100) and 1 cap (R$ 50): R$ 250, paid with two cards in the sandbox (R$ 100 and R$ 150). */
async function twoCardOrder(): Promise<{ orderNumber: string; small: number; large: number }> {
  const client = await env.db.connect();
  try {
    await client.query('begin');
    const shopper = (await client.query<{ id: string }>(`insert into auth.users (id, is_anonymous) values (gen_random_uuid(), true) returning id`)).rows[0]!.id;
    await client.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [
      JSON.stringify({ sub: shopper, role: 'authenticated', is_anonymous: true }),
    ]);
    for (const [sku, n] of [['BR-CAMISETA', 2], ['BR-BONE', 1]] as const) {
      await client.query('select public.add_to_cart((select id from public.variants where sku = $1), $2)', [sku, n]);
    }
    await client.query('set local role service_role');
    const s = (await client.query<{ s: { token: string; total: string } }>(`select checkout.begin_checkout($1, $2, $3, null) as s`, [
      shopper,
      { email: 'ana.souza@example.com', name: 'Ana', surname: 'Souza' },
      { street_name: 'Rua Augusta', street_number: '1500', zip_code: '01304-001', city: 'São Paulo', state: 'SP' },
    ])).rows[0]!.s;
    const pref = await fetch(`${stack.mpUrl}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ title: 'Dois cartões', quantity: 1, unit_price: Number(s.total), currency_id: 'BRL' }], external_reference: s.token }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const payments = [100, Number(s.total) - 100].map((amount) => stack.sandbox.pay(pref.id, { cardholderName: 'APRO', amount }));
    let orderNumber = '';
    for (const p of payments) {
      const r = (await client.query<{ r: { order?: { order_number: string } } }>('select checkout.apply_payment($1) as r', [p])).rows[0]!.r;
      orderNumber = r.order?.order_number ?? orderNumber;
    }
    await client.query('commit');
    return { orderNumber, small: payments[0]!.id, large: payments[1]!.id };
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt(join(repoRoot, 'web', 'admin', 'dist'), ['web/admin', 'edge/_shared'], 'build:admin');
  env = await startBrowserStack('admin-ptbr-browser', { country: countryOf('BR')!, serveAdmin: true, serveNext: false, functions: ['admin'] });
  ({ stack, browser } = env);
  await addStaff(stack.dbUrl, STAFF.email, { password: STAFF.password });
  for (const [sku, title, price] of [['BR-CAMISETA', 'Camiseta', 100], ['BR-BONE', 'Boné', 50]] as const) {
    await env.db.query(
      `with p as (insert into public.products (slug, title) values (lower($1), $2) returning id)
       insert into public.variants (product_id, sku, title, price, currency, stock_on_hand) select p.id, $1, 'Único', $3, 'BRL', 20 from p`,
      [sku, title, price],
    );
  }
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `admin-ptbr-${name}.png`), fullPage: true });

describe('the dashboard of a store in Brazil', () => {
  it('in Portuguese: signed in, the overview, an order, refunded by lines across two cards', async () => {
    const order = await twoCardOrder();
    const { context, page } = await newPage(browser, { viewport: { width: 1280, height: 860 } });
    try {
      await page.goto(stack.adminUrl);
      expect(await page.getAttribute('html', 'lang')).toBe('pt-BR');
      await page.getByLabel('E-mail').fill(STAFF.email);
      await page.getByLabel('Senha').fill(STAFF.password);
      await page.getByRole('button', { name: 'Entrar' }).click();
      await page.getByTestId('who').waitFor();

      await expect.poll(() => page.getByTestId('today-orders').textContent()).toBe('1');
      expect(await page.getByTestId('today-revenue').textContent()).toBe(reais(250));
      expect(await page.locator('nav.nav').textContent()).toBe('ResumoPedidosAtençãoDisputasPagamentos pendentesEstoqueManutenção');
      expect(await page.locator('h1').textContent()).toBe('Resumo');
      await page.getByTestId('chart-per-day').waitFor();
      await shot(page, 'overview');

      await page.goto(`${stack.adminUrl}#/pedidos/${order.orderNumber}`);
      await expect.poll(() => page.getByTestId('order-number').textContent()).toBe(order.orderNumber);
      expect(await page.locator('h1 .tag').textContent()).toBe('Pago');
      expect(await page.getByTestId('payments').textContent()).toContain('Aprovado');
      expect(await page.getByTestId('payment-parts').textContent()).toContain(reais(150));
      await shot(page, 'order');

      // Both t-shirts back: R$ 200, more than either card brought in (R$ 150 and R$ 100).
      await page.getByLabel('Unidades a estornar de Camiseta').fill('2');
      await expect.poll(() => page.getByTestId('refund-preview').textContent()).toBe(
        `Serão estornados ${reais(200)} (com o desconto abatido), divididos entre os pagamentos.`,
      );
      await page.getByRole('button', { name: 'Estornar' }).click();
      await expect.poll(() => page.locator('[data-testid=refund-parts] li').count()).toBe(2);
      const parts = await page.locator('[data-testid=refund-parts] li').evaluateAll((lis) =>
        lis.map((li) => [(li as HTMLElement).dataset.paymentId, Number((li as HTMLElement).dataset.amount)])
      );
      expect(parts).toEqual([[String(order.large), 150], [String(order.small), 50]]);
      expect(await page.getByTestId('refund-notice').textContent()).toContain(
        `Estorno: ${reais(150)} do pagamento ${order.large}, ${reais(50)} do pagamento ${order.small}.`,
      );
      await expect.poll(() => page.locator('h1 .tag').textContent()).toBe('Estornado em parte');
      await expect.poll(() => page.getByTestId('refund-left').textContent()).toBe(`Ainda a estornar: ${reais(50)}`);
      expect(stack.sandbox.getPayment(order.large).status).toBe('refunded');
      expect(stack.sandbox.getPayment(order.small)).toMatchObject({ status: 'approved', transaction_amount_refunded: 50 });
      await shot(page, 'refund');

      // More than is left: refused, with what is left, nothing made.
      await page.getByLabel('Unidades a estornar de Boné').fill('1');
      await page.getByLabel('Unidades a estornar de Camiseta').fill('1');
      await page.getByRole('button', { name: 'Estornar' }).click();
      await expect.poll(() => page.getByTestId('refund-notice').textContent()).toBe(`É mais do que resta a estornar (${reais(50)}).`);
      expect(await page.locator('[data-testid=order-refunds] li').count()).toBe(2);
    } finally {
      await context.close();
    }
  });
});
