/**
 * The store owner's dashboard in a real browser (Debian's Chromium through
 * playwright-core) against the whole local stack: staff sign in with email
 * and password through the local Auth, every screen reads the real `admin`
 * Edge Function under Deno; a shopper's account is refused on every screen.
 *
 * Screenshots of the main screens go to test-results/browser/; with
 * UPDATE_SCREENSHOTS=1 they replace the ones in docs/screenshots/ that
 * docs/dashboard.md shows (a test run never changes tracked files otherwise).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { type BrowserStack, ensureBuilt, newPage, startBrowserStack } from '../helpers/browser.ts';
import { approvedPayment } from '../helpers/db.ts';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'browser');
const DIST = join(repoRoot, 'web', 'admin', 'dist');
const STAFF = { email: 'duena@tienda.test', password: 'mate-y-facturas' };
const SHOPPER = { email: 'cliente@tienda.test', password: 'solo-compro' };

let stack: Stack;
let browser: Browser;
let db: pg.Pool;
let env: BrowserStack;

/** A new anonymous shopper with `qty` units of `sku` in the cart (added as PostgREST would, through add_to_cart). Inside the caller's transaction. */
async function shopperWithCart(client: pg.PoolClient, sku: string, qty: number): Promise<string> {
  const shopper = (await client.query<{ id: string }>(`insert into auth.users (id, is_anonymous) values (gen_random_uuid(), true) returning id`)).rows[0]!.id;
  await client.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [
    JSON.stringify({ sub: shopper, role: 'authenticated', is_anonymous: true }),
  ]);
  await client.query('select public.add_to_cart((select id from public.variants where sku = $1), $2)', [sku, qty]);
  await client.query('set local role service_role');
  return shopper;
}

/** A paid order of `qty` units, created `daysAgo` days ago (as if time had passed). */
async function paidOrder(sku: string, email: string, name: string, qty: number, daysAgo: number): Promise<{ orderNumber: string; paymentId: number }> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = await shopperWithCart(client, sku, qty);
    const s = (await client.query<{ s: { id: string; token: string; total: string } }>(`select checkout.begin_checkout($1, $2, $3, null) as s`, [
      shopper,
      { email, name: name.split(' ')[0], surname: name.split(' ')[1] ?? '' },
      { street_name: 'Av. Santa Fe', street_number: '1860', zip_code: 'C1123', city: 'CABA', state: 'Buenos Aires', floor: '4', apartment: 'B' },
    ])).rows[0]!.s;
    const paymentId = 1_300_000_000 + Math.floor(Math.random() * 1e8);
    const r = await client.query<{ r: { order: { order_number: string } } }>('select checkout.apply_payment($1) as r', [approvedPayment(s, paymentId)]);
    await client.query('reset role');
    if (daysAgo > 0) {
      await client.query(`update public.orders set created_at = created_at - make_interval(days => $2) where payment_id = $1`, [paymentId, daysAgo]);
      await client.query(`update public.order_sessions set created_at = created_at - make_interval(days => $2) where id = $1`, [s.id, daysAgo]);
    }
    await client.query('commit');
    return { orderNumber: r.rows[0]!.r.order.order_number, paymentId };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** A checkout in progress holding `qty` units of `sku`. */
async function activeCheckout(sku: string, qty: number): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = await shopperWithCart(client, sku, qty);
    await client.query(`select checkout.begin_checkout($1, '{"email": "lucia@example.com", "name": "Lucía"}', $2, null)`, [shopper, {
      street_name: 'Mitre',
      street_number: '50',
      zip_code: 'B1900',
      city: 'La Plata',
    }]);
    await client.query('commit');
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** A checkout paid with a cash ticket (Rapipago) still waiting for the buyer: it holds its units until the ticket's deadline. */
async function pendingTicket(sku: string, qty: number): Promise<number> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = await shopperWithCart(client, sku, qty);
    const s = (await client.query<{ s: { token: string; total: string } }>(
      `select checkout.begin_checkout($1, '{"email": "rosa@example.com", "name": "Rosa"}', $2, null) as s`,
      [shopper, { street_name: 'Belgrano', street_number: '300', zip_code: 'S2000', city: 'Rosario' }],
    )).rows[0]!.s;
    const paymentId = 1_400_000_000 + Math.floor(Math.random() * 1e8);
    await client.query('select checkout.apply_payment($1)', [{
      ...approvedPayment(s, paymentId),
      status: 'pending',
      status_detail: 'pending_waiting_payment',
      payment_type_id: 'ticket',
      payment_method_id: 'rapipago',
      date_of_expiration: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    }]);
    await client.query('commit');
    return paymentId;
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** An order paid with two cards in the sandbox (`first` and the rest), each payment applied as the webhook would. */
async function twoCardOrder(sku: string, first: number): Promise<{ orderNumber: string; paymentIds: number[] }> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = await shopperWithCart(client, sku, 1);
    const s = (await client.query<{ s: { token: string; total: string } }>(
      `select checkout.begin_checkout($1, '{"email": "dos@example.com", "name": "Dos"}', $2, null) as s`,
      [
        shopper,
        { street_name: 'Mitre', street_number: '2', zip_code: 'S2000', city: 'Rosario' },
      ],
    )).rows[0]!.s;
    const pref = await fetch(`${stack.mpUrl}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ title: 'Dos tarjetas', quantity: 1, unit_price: Number(s.total), currency_id: 'ARS' }], external_reference: s.token }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const payments = [first, Number(s.total) - first].map((amount) => stack.sandbox.pay(pref.id, { cardholderName: 'APRO', amount }));
    let orderNumber = '';
    for (const p of payments) {
      const r = (await client.query<{ r: { order?: { order_number: string } } }>('select checkout.apply_payment($1) as r', [p])).rows[0]!.r;
      orderNumber = r.order?.order_number ?? orderNumber;
    }
    await client.query('commit');
    return { orderNumber, paymentIds: payments.map((p) => p.id) };
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** A payment for the wrong amount, made in the sandbox: a refund owed (as if the first refund attempt had failed). */
async function owedRefund(sku: string): Promise<number> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = await shopperWithCart(client, sku, 1);
    const s =
      (await client.query<{ s: { token: string } }>(`select checkout.begin_checkout($1, '{"email": "martin@example.com", "name": "Martín"}', $2, null) as s`, [
        shopper,
        { street_name: 'San Martín', street_number: '10', zip_code: 'M5500', city: 'Mendoza' },
      ])).rows[0]!.s;
    const pref = await fetch(`${stack.mpUrl}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        items: [{ title: 'Pago con monto equivocado', quantity: 1, unit_price: 999999, currency_id: 'ARS' }],
        external_reference: s.token,
      }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const payment = stack.sandbox.pay(pref.id, { cardholderName: 'APRO' });
    const r = (await client.query<{ r: { outcome: string } }>('select checkout.apply_payment($1) as r', [payment])).rows[0]!.r;
    if (r.outcome !== 'amount_mismatch') throw new Error(`expected amount_mismatch, got ${r.outcome}`);
    await client.query('commit');
    return payment.id;
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

let firstOrder: string;
let refundPaymentId: number;
let ticketPaymentId: number;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt(DIST, ['web/admin'], 'build:admin');
  env = await startBrowserStack('admin-browser', { serveAdmin: true, functions: ['admin'] });
  ({ stack, db, browser } = env);
  await addStaff(stack.dbUrl, STAFF.email, { password: STAFF.password });
  await db.query(
    `insert into auth.users (id, aud, role, email, encrypted_password, is_anonymous)
     values (gen_random_uuid(), 'authenticated', 'authenticated', $1, extensions.crypt($2, extensions.gen_salt('bf')), false)`,
    [SHOPPER.email, SHOPPER.password],
  );
  // A store with some history: orders over the last ten days, a checkout in progress, a refund owed.
  const skus: string[] = [];
  for (
    const [i, [title, price]] of ([['Yerba mate 1 kg', 5200], ['Mate de calabaza', 18500], ['Bombilla de alpaca', 9900], ['Termo 1 L', 42000]] as const)
      .entries()
  ) {
    const sku = `PANEL-${i + 1}`;
    await db.query(
      `with p as (insert into public.products (slug, title) values ($1, $2) returning id)
       insert into public.variants (product_id, sku, title, price, stock_on_hand) select p.id, $3, 'Único', $4, 60 from p`,
      [`panel-${i + 1}`, title, sku, price],
    );
    skus.push(sku);
  }
  const buyers = ['Ana García', 'Bruno Díaz', 'Carla Pérez', 'Diego López', 'Elena Ruiz', 'Facundo Sosa'];
  for (let i = 0; i < 14; i++) {
    const buyer = buyers[i % buyers.length]!;
    const { orderNumber } = await paidOrder(
      skus[i % skus.length]!,
      `${buyer.split(' ')[0]!.toLowerCase()}@example.com`,
      buyer,
      1 + (i % 3),
      [0, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 9, 9][i]!,
    );
    if (i === 0) firstOrder = orderNumber;
  }
  await activeCheckout(skus[0]!, 2);
  refundPaymentId = await owedRefund(skus[1]!);
  ticketPaymentId = await pendingTicket(skus[3]!, 2);
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

async function signedIn(who: { email: string; password: string }): Promise<Page> {
  const { page } = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  await page.goto(stack.adminUrl);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Contraseña').fill(who.password);
  await page.getByRole('button', { name: 'Ingresar' }).click();
  await page.getByTestId('who').waitFor();
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `admin-${name}.png`), fullPage: true });

describe('the dashboard, as staff', () => {
  let page: Page;
  beforeAll(async () => {
    page = await signedIn(STAFF);
  }, 60_000);

  it('overview: today and the range, charts, refreshed without a reload', async () => {
    await expect.poll(() => page.getByTestId('today-orders').textContent()).toBe('2');
    expect(await page.getByTestId('range-orders').textContent()).toBe('14');
    expect(await page.getByTestId('range-revenue').textContent()).toMatch(/^\$\s?[\d.]+,\d{2}$/);
    await page.getByTestId('chart-per-day').waitFor();
    await page.getByTestId('chart-outcomes').waitFor();
    // The canvases were drawn on (not blank).
    const drawn = await page.getByTestId('chart-per-day').evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let ink = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) ink++;
      return ink;
    });
    expect(drawn).toBeGreaterThan(1000);
    await shot(page, 'overview');
    // A new order arrives: the number changes on its own (polling), no reload.
    const marker = await page.evaluate(() => ((window as unknown as { marker: number }).marker = Math.random()));
    await paidOrder('PANEL-3', 'nuevo@example.com', 'Nuevo Cliente', 1, 0);
    await expect.poll(() => page.getByTestId('today-orders').textContent(), { timeout: 20_000 }).toBe('3');
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(marker);
  });

  it('orders: search, pages, one order with its payment, lines, address and history', async () => {
    await page.goto(`${stack.adminUrl}#/pedidos`);
    await page.getByTestId('orders').waitFor();
    expect(await page.locator('[data-testid=orders] tbody tr').count()).toBe(15);
    await shot(page, 'orders');
    await page.getByTestId('order-search').fill('ANA@');
    await page.getByRole('button', { name: 'Buscar' }).click();
    await expect.poll(() => page.locator('[data-testid=orders] tbody tr').count()).toBe(3);
    await page.getByTestId('order-search').fill(firstOrder);
    await page.getByRole('button', { name: 'Buscar' }).click();
    await expect.poll(() => page.locator('[data-testid=orders] tbody tr').count()).toBe(1);
    await page.getByRole('link', { name: firstOrder }).click();
    await expect.poll(() => page.getByTestId('order-number').textContent()).toBe(firstOrder);
    await page.getByTestId('events').waitFor();
    expect(await page.getByTestId('payer-email').textContent()).toBe('ana@example.com');
    expect(await page.getByTestId('address').textContent()).toContain('Av. Santa Fe 1860');
    expect(await page.getByTestId('payment-id').textContent()).toMatch(/^\d+$/);
    expect(await page.getByTestId('payments').textContent()).toContain('Aprobado');
    expect(await page.getByTestId('events').textContent()).toContain('Pedido creado');
    await shot(page, 'order');
  });

  it('a two-card order refunded in part from its page: the refund spread over both payments, the status follows', async () => {
    const { orderNumber, paymentIds } = await twoCardOrder('PANEL-3', 100);
    await page.goto(`${stack.adminUrl}#/pedidos/${orderNumber}`);
    await expect.poll(() => page.getByTestId('order-number').textContent()).toBe(orderNumber);
    expect(await page.getByTestId('payment-parts').textContent()).toContain(String(paymentIds[1]));
    await page.getByTestId('refund-mode-amount').check();
    await page.getByTestId('refund-amount').fill('99999999');
    await page.getByRole('button', { name: 'Reembolsar' }).click();
    await expect.poll(() => page.getByTestId('refund-notice').textContent()).toBeTruthy();
    expect(await page.locator('[data-testid=order-refunds] li').count()).toBe(0);
    const total = Number((await db.query('select total from public.orders where order_number = $1', [orderNumber])).rows[0].total);
    await page.getByTestId('refund-amount').fill(String(total - 50));
    await page.getByRole('button', { name: 'Reembolsar' }).click();
    await expect.poll(() => page.getByTestId('refund-notice').textContent()).toContain(`del pago ${paymentIds[0]}`);
    await expect.poll(() => page.locator('[data-testid=order-refunds] li').count()).toBe(2);
    await expect.poll(() => page.locator('h1 .tag').textContent()).toBe('Reembolsado en parte');
    expect(stack.sandbox.getPayment(paymentIds[1]!).status).toBe('refunded');
    expect(stack.sandbox.getPayment(paymentIds[0]!)).toMatchObject({ status: 'approved', transaction_amount_refunded: 50 });
  });

  it("an order's page says whether its payer gets cart reminders: not asked, pending, confirmed (double opt-in), withdrawn", async () => {
    const consent = () => page.getByTestId('marketing-consent');
    await page.goto(`${stack.adminUrl}#/pedidos/${firstOrder}`);
    await expect.poll(async () => (await consent().textContent()) ?? '').toContain('No aceptó recordatorios');
    const { rows } = await db.query<{ order_number: string; session_id: string }>(
      `select order_number, session_id from public.orders where payer ->> 'email' = 'bruno@example.com' order by created_at desc limit 1`,
    );
    const bruno = rows[0]!;
    await page.goto(`${stack.adminUrl}#/pedidos/${bruno.order_number}`);
    await expect.poll(() => consent().getAttribute('data-state')).toBe('not_subscribed');
    // Bruno ticks the box at his next checkout, then clicks the link of the email (the page polls: no reload).
    await db.query(`select email.request_marketing_opt_in('bruno@example.com', $1, null)`, [bruno.session_id]);
    await expect.poll(async () => (await consent().textContent()) ?? '', { timeout: 20_000 }).toContain('falta que confirme desde el correo');
    await db.query(`select email.confirm_marketing_opt_in('bruno@example.com')`);
    await expect.poll(async () => (await consent().textContent()) ?? '', { timeout: 20_000 }).toMatch(
      /^Confirmó la suscripción desde el correo el .+ \(doble opt-in\): recibe recordatorios\.$/,
    );
    await shot(page, 'order-consent');
    // The one-click unsubscribe of a reminder withdraws it.
    await db.query(`select email.unsubscribe('bruno@example.com')`);
    await expect.poll(async () => (await consent().textContent()) ?? '', { timeout: 20_000 }).toMatch(
      /^Se dio de baja el .*: no se le envían recordatorios\.$/,
    );
  });

  it('money needing attention: a refund owed, retried through MercadoPago', async () => {
    await page.goto(`${stack.adminUrl}#/atencion`);
    await page.getByTestId('refunds-owed').waitFor();
    expect(await page.getByTestId('mismatches').textContent()).toContain(String(refundPaymentId));
    await shot(page, 'attention');
    await page.getByRole('button', { name: 'Reintentar reembolso' }).click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toContain(`Reembolso del pago ${refundPaymentId} hecho`);
    await expect.poll(() => page.getByTestId('refunds-owed').count()).toBe(0);
    expect(stack.sandbox.getPayment(refundPaymentId).status).toBe('refunded');
    // The audit, on demand: everything here is consistent.
    await page.getByTestId('run-audit').click();
    await expect.poll(() => page.getByTestId('audit-result').textContent()).toContain('Sin problemas');
  });

  it('stock: on hand, reserved, available; adjustments refused with a clear message, then made', async () => {
    const { rows } = await db.query<{ id: string; sku: string; stock_on_hand: number }>(
      `select v.id, v.sku, v.stock_on_hand from public.variants v where exists (
         select 1 from checkout.stock_reservations r where r.variant_id = v.id and r.expires_at > now()) limit 1`,
    );
    const v = rows[0]!;
    await page.goto(`${stack.adminUrl}#/stock`);
    await page.getByTestId('stock').waitFor();
    const row = page.locator(`tr[data-sku="${v.sku}"]`);
    expect(await row.locator('[data-col=reserved]').textContent()).toBe('2 (1 compra)');
    const adjust = async (delta: string, reason: string) => {
      await page.getByTestId('adjust-variant').selectOption(v.id);
      await page.getByTestId('adjust-delta').fill(delta);
      await page.getByTestId('adjust-reason').fill(reason);
      await page.getByRole('button', { name: 'Ajustar' }).click();
      await page.getByTestId('notice').waitFor();
      return page.getByTestId('notice').textContent();
    };
    expect(await adjust('abc', 'Conteo')).toContain('número entero');
    expect(await adjust(String(-(v.stock_on_hand - 1)), 'Conteo')).toContain('2 unidad(es) están reservadas por 1 compra(s) en curso');
    await shot(page, 'stock');
    expect(await adjust('-1', '')).toContain('motivo');
    const unchanged = await db.query('select stock_on_hand, (select count(*)::int from admin.stock_adjustments) as n from public.variants where id = $1', [
      v.id,
    ]);
    expect(unchanged.rows[0]).toEqual({ stock_on_hand: v.stock_on_hand, n: 0 });
    expect(await adjust('5', 'Ingreso de mercadería')).toContain(`ahora hay ${v.stock_on_hand + 5} en stock`);
    await expect.poll(() => row.locator('[data-col=on_hand]').textContent()).toBe(String(v.stock_on_hand + 5));
    expect(await page.getByTestId('adjustments').textContent()).toContain('Ingreso de mercadería');
  });

  it('housekeeping: the cron jobs, and the cleanup on demand', async () => {
    await page.goto(`${stack.adminUrl}#/mantenimiento`);
    await page.getByTestId('jobs').waitFor();
    expect(await page.getByTestId('jobs').textContent()).toContain('checkout-expire-sessions');
    await page.getByTestId('run-cleanup').click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toContain('Limpieza hecha');
    await shot(page, 'housekeeping');
  });

  it('offline payments: the units a pending ticket holds, the payment awaiting with its deadline', async () => {
    await page.goto(`${stack.adminUrl}#/pagos-pendientes`);
    await page.getByTestId('offline-list').waitFor();
    expect(await page.getByTestId('offline-held').textContent()).toContain('Termo 1 L');
    const row = await page.getByTestId('offline-list').textContent();
    expect(row).toContain(String(ticketPaymentId));
    expect(row).toContain('esperando pago');
    expect(row).toContain('rapipago');
    expect(await page.getByTestId('offline-units').textContent()).toBe('2');
    await shot(page, 'offline-payments');
  });

  it('never holds the service role key', async () => {
    const env = await (await fetch(`${stack.webUrl}/env.js`)).text();
    const html = await (await fetch(stack.adminUrl)).text();
    const scripts = [...html.matchAll(/src="([^"]+\.js)"/g)].map((m) => m[1]!);
    const bundles = await Promise.all(scripts.map(async (s) => (await fetch(new URL(s, stack.adminUrl))).text()));
    for (const text of [env, html, ...bundles]) expect(text).not.toContain(stack.serviceRoleKey);
    const stored = await page.evaluate(() => JSON.stringify(localStorage));
    expect(stored).not.toContain(stack.serviceRoleKey);
  });
});

describe('the dashboard, as a shopper', () => {
  it('refuses every screen and shows no data', async () => {
    const page = await signedIn(SHOPPER);
    for (const route of ['', 'pedidos', `pedidos/${firstOrder}`, 'atencion', 'pagos-pendientes', 'stock', 'mantenimiento']) {
      await page.goto(`${stack.adminUrl}#/${route}`);
      await page.reload();
      await page.getByTestId('refused').waitFor();
      expect(await page.locator('table').count()).toBe(0);
      expect(await page.locator('canvas').count()).toBe(0);
    }
    await shot(page, 'refused');
    // The API refuses the shopper's token too.
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem('store-admin-auth') ?? '{}').access_token as string);
    for (const path of ['dashboard', 'orders', 'attention', 'stock', 'housekeeping']) {
      const res = await fetch(`${stack.apiUrl}/functions/v1/admin/${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
  });

  it('a wrong password is refused at sign-in', async () => {
    const context = await browser.newContext({ locale: 'es-AR' });
    const page = await context.newPage();
    await page.goto(stack.adminUrl);
    await page.getByLabel('Email').fill(STAFF.email);
    await page.getByLabel('Contraseña').fill('no-es-esta');
    await page.getByRole('button', { name: 'Ingresar' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Email o contraseña incorrectos.');
    await context.close();
  });
});
