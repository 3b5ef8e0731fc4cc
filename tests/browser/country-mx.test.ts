/**
 * A store in Mexico (site MLM, MXN, es-MX): a smoke test of the dashboard and
 * the emails in the store's locale. The stack started with `country: MX`; a
 * paid order (through the real routines); its confirmation email, sent by
 * send-emails, reads es-MX (tú) with pesos as es-MX writes them; staff see the
 * order on the dashboard with the same format, in es-MX; the demo's account
 * and orders pages in es-MX (tú, <html lang="es-MX">); the Next.js
 * storefront, rendered on the server, in es-MX too (its texts, pesos as es-MX
 * writes them, the library's validation messages).
 *
 * Screenshots go to test-results/browser/; with UPDATE_SCREENSHOTS=1 to
 * docs/screenshots/ (mx-*.png).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { countryOf } from '../../edge/_shared/country.ts';
import { formatMoney } from '../../edge/_shared/i18n/format.ts';
import { type BrowserStack, ensureBuilt, ensureNextBuilt, newPage, startBrowserStack } from '../helpers/browser.ts';
import { approvedPayment } from '../helpers/db.ts';

const STAFF = { email: 'duena@tienda.test', password: 'tacos-al-pastor' };
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'browser');

let stack: Stack;
let browser: Browser;
let db: pg.Pool;
let env: BrowserStack;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt('web/admin/dist', ['web/admin', 'edge/_shared'], 'build:admin');
  ensureBuilt(join(repoRoot, 'web', 'demo', 'dist'), ['web/demo', 'web/src', 'edge/_shared'], 'build:web');
  await ensureNextBuilt();
  env = await startBrowserStack('country-mx-browser', {
    country: countryOf('MX')!,
    serveAdmin: true,
    serveNext: true,
    functions: ['admin', 'send-emails'],
    sendEmailsEveryMs: 300,
  });
  ({ stack, db, browser } = env);
  await addStaff(stack.dbUrl, STAFF.email, { password: STAFF.password });
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

/** A paid order of one REM-NEG-M (the demo remera, in MXN), through begin_checkout and apply_payment; by a new anonymous shopper unless one is given. */
async function paidOrder(shopperId?: string): Promise<{ orderNumber: string; total: string }> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = shopperId ??
      (await client.query<{ id: string }>(`insert into auth.users (id, is_anonymous) values (gen_random_uuid(), true) returning id`)).rows[0]!.id;
    await client.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [
      JSON.stringify({ sub: shopper, role: 'authenticated', is_anonymous: true }),
    ]);
    await client.query(`select public.add_to_cart((select id from public.variants where sku = 'REM-NEG-M'), 1)`);
    await client.query('set local role service_role');
    const s = (await client.query<{ s: { id: string; token: string; total: string } }>(`select checkout.begin_checkout($1, $2, $3, null) as s`, [
      shopper,
      { email: 'lucia@example.com', name: 'Lucía', surname: 'Hernández', identification: { type: 'RFC', number: 'GODE561231GR8' } },
      { street_name: 'Av. Insurgentes Sur', street_number: '1602', zip_code: '03940', city: 'Ciudad de México', state: 'CDMX' },
    ])).rows[0]!.s;
    const r = await client.query<{ r: { order: { order_number: string } } }>('select checkout.apply_payment($1) as r', [{
      ...approvedPayment(s),
      currency_id: 'MXN',
    }]);
    await client.query('commit');
    return { orderNumber: r.rows[0]!.r.order.order_number, total: s.total };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

describe('a store in Mexico: the emails and the dashboard in es-MX', () => {
  it('the confirmation email says tú and writes pesos as es-MX does; the dashboard shows the order the same way', async () => {
    const { orderNumber, total } = await paidOrder();
    const pesos = formatMoney(total, 'MXN', 'es-MX');
    await expect.poll(() => stack.mailSink.emails().find((e) => e.subject.includes(orderNumber)), { timeout: 20_000 }).toBeTruthy();
    const email = stack.mailSink.emails().find((e) => e.subject.includes(orderNumber))!;
    expect(email.subject).toBe(`Recibimos tu pedido ${orderNumber}`);
    expect(email.text).toContain(`Número de pedido ${orderNumber}. Guarda este correo como comprobante.`);
    expect(email.text).toContain(`Total: ${pesos}`);
    expect(email.html).toContain('<html lang="es-MX">');

    const { context, page } = await newPage(browser, { viewport: { width: 1280, height: 860 } });
    try {
      await page.goto(stack.adminUrl);
      expect(await page.getAttribute('html', 'lang')).toBe('es-MX');
      await page.getByLabel('Correo').fill(STAFF.email);
      await page.getByLabel('Contraseña').fill(STAFF.password);
      await page.getByRole('button', { name: 'Iniciar sesión' }).click();
      await page.getByTestId('who').waitFor();
      expect(await page.locator('nav.nav').textContent()).toContain('Inventario');
      await page.goto(`${stack.adminUrl}#/pedidos`);
      await page.getByTestId('orders').waitFor();
      await expect.poll(() => page.getByTestId('orders').textContent()).toContain(orderNumber);
      expect(await page.getByTestId('orders').textContent()).toContain(pesos);
    } finally {
      await context.close();
    }
  });

  it("the demo's account and orders pages in es-MX: tú, not vos", async () => {
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${stack.webUrl}/cuenta/crear`);
      await expect.poll(() => page.locator('h1.page-title').textContent()).toBe('Crear cuenta');
      expect(await page.getAttribute('html', 'lang')).toBe('es-MX');
      expect(await page.locator('.account p.muted').textContent()).toBe(
        'Guarda tu carrito y tus pedidos en una cuenta para verlos desde cualquier dispositivo.',
      );
      await page.getByTestId('account-email-input').fill('sofia.ramirez@example.com');
      await page.getByTestId('account-password-input').fill('mole-poblano-123');
      await page.getByTestId('signup-submit').click();
      await page.getByTestId('signup-done').waitFor();
      const userId = await page.evaluate(() => {
        const key = Object.keys(localStorage).find((k) => k.endsWith('-auth-token'))!;
        return (JSON.parse(localStorage.getItem(key)!) as { user: { id: string } }).user.id;
      });
      const { orderNumber, total } = await paidOrder(userId);
      await page.goto(`${stack.webUrl}/orders`);
      await page.getByTestId(`order-${orderNumber}`).waitFor();
      expect(await page.locator('h1.page-title').textContent()).toBe('Mis pedidos');
      expect(await page.getByTestId('order-status').textContent()).toBe('Pagado');
      expect(await page.getByTestId('order-total').textContent()).toBe(formatMoney(total, 'MXN', 'es-MX'));
      await page.screenshot({ path: join(SHOTS, 'mx-orders.png'), fullPage: false });
      await page.goto(`${stack.webUrl}/cuenta/ingresar`);
      await page.getByTestId('account-signed-in').waitFor();
      expect(await page.getByTestId('account-signed-in').textContent()).toBe('Tu cuentaIniciaste sesión como sofia.ramirez@example.com.');
      await page.screenshot({ path: join(SHOTS, 'mx-account.png'), fullPage: false });
    } finally {
      await context.close();
    }
  });

  it('the Next.js storefront in es-MX: <html lang>, pesos as es-MX writes them, tú in the texts and the field errors', async () => {
    const { context, page } = await newPage(browser);
    try {
      const { rows } = await db.query<{ price: string }>(`select price::text from public.variants where sku = 'REM-NEG-M'`);
      const res = await page.goto(`${stack.nextUrl}/`);
      expect(await res!.text()).toContain('<html lang="es-MX"');
      expect(await page.getByTestId('price-REM-NEG-M').textContent()).toBe(formatMoney(rows[0]!.price, 'MXN', 'es-MX'));
      await page.getByTestId('add-REM-NEG-M').click();
      await page.waitForURL(/\?ok=REM-NEG-M$/);
      await page.goto(`${stack.nextUrl}/cart`);
      expect(await page.locator('form.checkout').textContent()).toContain('Número exterior');
      await page.getByTestId('checkout-email').fill('sofia.ramirez@example.com');
      await page.getByTestId('checkout-submit').click();
      await page.getByTestId('error-zipCode').waitFor();
      expect(await page.getByTestId('error-zipCode').textContent()).toBe('Ingresa el código postal');
      expect(await page.getByTestId('error-streetNumber').textContent()).toBe('Ingresa el número exterior');
      expect(await page.getByTestId('checkout-error').textContent()).toBe('Revisa los datos marcados.');
      await page.screenshot({ path: join(SHOTS, 'mx-next-cart.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
