/**
 * The dashboard's Disputas screen in Debian's Chromium against the whole
 * local stack (the real `admin` Edge Function under Deno, the MercadoPago
 * sandbox): chargebacks and claims listed soonest deadline first, a
 * fraud-alerted order shown "no enviar", evidence uploaded to MercadoPago
 * (review_pending at the sandbox) and a wrong file refused with a clear
 * message. The screenshot goes to test-results/browser/ (docs/screenshots/
 * with UPDATE_SCREENSHOTS=1, as tests/browser/admin.test.ts does).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import type { Stack } from '../../dev/stack/stack.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { type BrowserStack, ensureBuilt, newPage, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : join(repoRoot, 'test-results', 'browser');
const DIST = join(repoRoot, 'web', 'admin', 'dist');
const STAFF = { email: 'duena-disputas@tienda.test', password: 'mate-y-facturas' };

let env: BrowserStack;
let stack: Stack;
let browser: Browser;
let db: pg.Pool;

/** A paid order of one unit of `sku`, paid at the sandbox and applied as the webhook would. Returns its order number and payment id. */
async function paidOrder(sku: string, email: string): Promise<{ orderNumber: string; paymentId: number }> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const shopper = (await client.query<{ id: string }>(`insert into auth.users (id, is_anonymous) values (gen_random_uuid(), true) returning id`)).rows[0]!.id;
    await client.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [
      JSON.stringify({ sub: shopper, role: 'authenticated', is_anonymous: true }),
    ]);
    await client.query('select public.add_to_cart((select id from public.variants where sku = $1), 1)', [sku]);
    await client.query('set local role service_role');
    const s = (await client.query<{ s: { token: string; total: string } }>(`select checkout.begin_checkout($1, $2, $3, null) as s`, [
      shopper,
      { email, name: 'Ana', surname: 'García' },
      { street_name: 'Av. Santa Fe', street_number: '1860', zip_code: 'C1123', city: 'CABA' },
    ])).rows[0]!.s;
    const pref = await fetch(`${stack.mpUrl}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ title: sku, quantity: 1, unit_price: Number(s.total), currency_id: 'ARS' }], external_reference: s.token }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const payment = stack.sandbox.pay(pref.id, { cardholderName: 'APRO' });
    const r = (await client.query<{ r: { order: { order_number: string } } }>('select checkout.apply_payment($1) as r', [payment])).rows[0]!.r;
    await client.query('commit');
    return { orderNumber: r.order.order_number, paymentId: payment.id };
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** What the webhook records for a chargeback or claim: MercadoPago's resource, as fetched. */
async function record(kind: 'chargeback' | 'claim', id: string | number) {
  const path = kind === 'chargeback' ? `/v1/chargebacks/${id}` : `/post-purchase/v1/claims/${id}`;
  const resource = await fetch(`${stack.mpUrl}${path}`, { headers: { authorization: `Bearer ${stack.sandbox.accessToken}` } }).then((r) => r.json());
  await db.query('select checkout.record_dispute($1, $2)', [kind, resource]);
}

let soon: { id: string };
let later: { id: string };
let fraudOrder: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ensureBuilt(DIST, ['web/admin'], 'build:admin');
  env = await startBrowserStack('disputes-browser', { serveAdmin: true, functions: ['admin'] });
  ({ stack, db, browser } = env);
  await addStaff(stack.dbUrl, STAFF.email, { password: STAFF.password });
  await db.query(
    `with p as (insert into public.products (slug, title) values ('disputa-termo', 'Termo 1 L') returning id)
     insert into public.variants (product_id, sku, title, price, stock_on_hand) select p.id, 'DISP-1', 'Único', 42000, 20 from p`,
  );
  const a = await paidOrder('DISP-1', 'ana@example.com');
  const b = await paidOrder('DISP-1', 'bruno@example.com');
  const c = await paidOrder('DISP-1', 'carla@example.com');
  const d = await paidOrder('DISP-1', 'diego@example.com');
  later = stack.sandbox.openChargeback(a.paymentId, { documentationDeadline: new Date(Date.now() + 9 * 86_400_000).toISOString() });
  soon = stack.sandbox.openChargeback(b.paymentId, { documentationDeadline: new Date(Date.now() + 2 * 86_400_000).toISOString() });
  const claim = stack.sandbox.openClaim(c.paymentId);
  await record('chargeback', later.id);
  await record('chargeback', soon.id);
  await record('claim', claim.id);
  await db.query(`select checkout.apply_fraud_alert($1, 'Fraud alert: cancel the order without delivering it.')`, [
    { id: d.paymentId, status: 'approved', external_reference: null },
  ]);
  fraudOrder = d.orderNumber;
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

async function signedIn(): Promise<Page> {
  const { page } = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  await page.goto(stack.adminUrl);
  await page.getByLabel('Email').fill(STAFF.email);
  await page.getByLabel('Contraseña').fill(STAFF.password);
  await page.getByRole('button', { name: 'Ingresar' }).click();
  await page.getByTestId('who').waitFor();
  return page;
}

describe('the Disputas screen', () => {
  it('lists disputes by deadline, shows the fraud alert as "no enviar", uploads evidence to MercadoPago', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Disputas' }).click();
    await page.getByTestId('disputes').waitFor();
    const rows = page.locator('[data-testid=disputes] tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-mp-id')))).toEqual([soon.id, later.id, expect.any(String)]);
    expect(await rows.nth(2).textContent()).toContain('Reclamo');
    expect(await rows.nth(0).textContent()).toContain('Falta enviar');
    const alert = page.locator('[data-testid=fraud-alerts] tbody tr');
    expect(await alert.textContent()).toContain(fraudOrder);
    expect(await alert.textContent()).toContain('no enviar');

    // A wrong file: refused with MercadoPago's rule, nothing sent.
    const dir = join(tmpdir(), `disputes-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'nota.txt'), 'hola');
    writeFileSync(join(dir, 'factura.pdf'), '%PDF-1.4\n% factura de prueba\n');
    await page.getByLabel(`Documentación del contracargo ${soon.id}`).setInputFiles(join(dir, 'nota.txt'));
    await expect.poll(() => page.getByTestId('notice').textContent()).toBe('nota.txt: MercadoPago solo acepta archivos .jpg, .png o .pdf.');
    expect(stack.sandbox.state().chargebacks.find((c) => c.id === soon.id)?.documentation).toEqual([]);

    // The evidence: sent, review_pending at MercadoPago and on the screen.
    await page.getByLabel(`Documentación del contracargo ${soon.id}`).setInputFiles(join(dir, 'factura.pdf'));
    await expect.poll(() => page.getByTestId('notice').textContent()).toContain(`Documentación del contracargo ${soon.id} enviada`);
    expect(stack.sandbox.state().chargebacks.find((c) => c.id === soon.id)?.documentation_status).toBe('review_pending');
    await expect.poll(() => rows.nth(0).textContent()).toContain('Enviada, en revisión');
    await page.screenshot({ path: join(SHOTS, 'admin-disputes.png'), fullPage: true });

    // The order itself says so too.
    await page.goto(`${stack.adminUrl}#/pedidos/${fraudOrder}`);
    await expect.poll(() => page.getByTestId('do-not-ship').textContent()).toContain('no enviar');
  });
});
