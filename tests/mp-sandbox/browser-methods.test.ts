/**
 * The checkout page's other choices in a real browser (Debian's Chromium):
 * a cash ticket, Pix (Brazil), two cards, and installments.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MercadoPagoConfig, MerchantOrder, Payment, Preference } from 'mercadopago';
import { AppConfig } from 'mercadopago/dist/utils/config/index.js';
import { financing, type Sandbox } from '../../dev/mp-sandbox/index.ts';
import { launchBrowser, newPage } from '../helpers/browser.ts';
import { BASIC_TOTAL, basicItems, sandboxWithSdk } from './helpers.ts';

const SHOTS = 'test-results/mp-sandbox';
let sandbox: Sandbox;
let config: MercadoPagoConfig;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ sandbox, config } = await sandboxWithSdk({ merchantOrderTopic: 'none' }));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.reset();
  Object.assign(AppConfig, { BASE_URL: sandbox.url });
});

async function withPage(run: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.newPage();
  try {
    await run(page);
  } finally {
    await page.close();
  }
}

const resultIds = async (page: Page): Promise<string[]> => {
  await page.waitForURL(/\/checkout\/v1\/result\?payment_id=\d+/);
  return new URL(page.url()).searchParams.getAll('payment_id');
};

describe('checkout page choices in Chromium', () => {
  it('a Pago Fácil ticket: pending, with its ticket page showing the barcode and the deadline', async () => {
    const deadline = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const pref = await new Preference(config).create({ body: { items: basicItems, external_reference: 'os_ticket', date_of_expiration: deadline } });
    await withPage(async (page) => {
      await page.goto(pref.init_point as string);
      await page.locator('#payment-type-ticket').check();
      await page.locator('#payment-method-ticket').selectOption('pagofacil');
      await page.locator('#pay-button').click();
      const [id] = await resultIds(page);
      expect(await page.locator('#payment-result').getAttribute('data-status')).toBe('pending');
      await page.locator('#ticket-link').click();
      await page.waitForURL(/\/checkout\/v1\/ticket\?payment_id=\d+$/);
      const payment = await new Payment(config).get({ id: id ?? '' });
      expect([payment.payment_method_id, payment.status_detail]).toEqual(['pagofacil', 'pending_waiting_payment']);
      const barcode = (payment as unknown as { barcode: { content: string } }).barcode.content;
      expect(await page.locator('#barcode').textContent()).toBe(barcode);
      expect(await page.locator('#barcode-image').isVisible()).toBe(true);
      expect(Date.parse((await page.locator('#ticket-expiration').getAttribute('data-date')) ?? '')).toBe(Date.parse(deadline));
      await page.screenshot({ path: `${SHOTS}/ticket-pagofacil.png`, fullPage: true });
      sandbox.payOffline(id ?? '');
      await page.reload();
      expect(await page.locator('#ticket-status').textContent()).toBe('approved');
    });
  });

  it('Pix in Brazil: the ticket page shows the QR image and the copy-and-paste code', async () => {
    const br = await sandboxWithSdk({ siteId: 'MLB', merchantOrderTopic: 'none' });
    try {
      const pref = await new Preference(br.config).create({ body: { items: basicItems.map((i) => ({ ...i, currency_id: 'BRL' })) } });
      await withPage(async (page) => {
        await page.goto(pref.init_point as string);
        await page.locator('#payment-type-bank_transfer').check();
        expect(await page.locator('#payment-method-bank_transfer').inputValue()).toBe('pix');
        await page.locator('#pay-button').click();
        const [id] = await resultIds(page);
        await page.locator('#ticket-link').click();
        const payment = await new Payment(br.config).get({ id: id ?? '' });
        const data = payment.point_of_interaction?.transaction_data;
        expect(await page.locator('#pix-code').inputValue()).toBe(data?.qr_code);
        const size = await page.locator('#pix-qr').evaluate((img: HTMLImageElement) => [img.complete, img.naturalWidth, img.naturalHeight]);
        expect(size[0]).toBe(true);
        expect(size[1]).toBeGreaterThan(100); // the browser decoded the PNG
        expect(size[1]).toBe(size[2]);
        await page.screenshot({ path: `${SHOTS}/pix.png`, fullPage: true });
      });
    } finally {
      await br.sandbox.close();
    }
  });

  it('two cards: APRO for 1500 and OTHE for the rest make two payments of one order', async () => {
    const pref = await new Preference(config).create({ body: { items: basicItems, external_reference: 'os_two' } });
    await withPage(async (page) => {
      await page.goto(pref.init_point as string);
      await page.locator('#payment-type-credit_card').check();
      await page.locator('#cardholder-name').fill('APRO');
      await page.locator('#two-cards').check();
      await page.locator('#first-card-amount').fill('1500');
      await page.locator('#cardholder-name-2').fill('OTHE');
      await page.screenshot({ path: `${SHOTS}/two-cards-form.png`, fullPage: true });
      await page.locator('#pay-button').click();
      const ids = await resultIds(page);
      expect(ids).toHaveLength(2);
      // The rejected part is shown first, with a retry.
      expect(await page.locator('#payment-result').getAttribute('data-status')).toBe('rejected');
      expect(await page.locator('#card-results li').count()).toBe(2);
      expect(await page.locator('#retry-payment').isVisible()).toBe(true);
      await page.screenshot({ path: `${SHOTS}/two-cards-result.png`, fullPage: true });
    });
    const payments = sandbox.state().payments;
    expect(payments.map((p) => [p.transaction_amount, p.status, p.external_reference])).toEqual([
      [1500, 'approved', 'os_two'],
      [BASIC_TOTAL - 1500, 'rejected', 'os_two'],
    ]);
    const order = await new MerchantOrder(config).get({ merchantOrderId: payments[0]?.order.id ?? '' });
    expect([order.order_status, order.paid_amount, order.payments?.length]).toEqual(['partially_paid', 1500, 2]);
  });

  it('installments: the page lists 1..N with the table interest, and the payment carries them', async () => {
    const pref = await new Preference(config).create({ body: { items: basicItems, payment_methods: { installments: 6, default_installments: 3 } } });
    await withPage(async (page) => {
      await page.goto(pref.init_point as string);
      const options = await page.locator('#installments option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
      expect(options).toEqual(['1', '2', '3', '4', '5', '6']);
      expect(await page.locator('#installments').inputValue()).toBe('3');
      await page.locator('#installments').selectOption('6');
      await page.locator('#cardholder-name').fill('APRO');
      await page.locator('#pay-button').click();
      const [id] = await resultIds(page);
      const payment = await new Payment(config).get({ id: id ?? '' });
      const plan = financing(BASIC_TOTAL, 6, 'MLA');
      expect([payment.installments, payment.transaction_details?.installment_amount, payment.transaction_details?.total_paid_amount]).toEqual([
        6,
        plan.installmentAmount,
        plan.totalPaid,
      ]);
      expect(await page.locator('#payment-result').textContent()).toContain('en 6 cuotas');
    });
  });

  it('on a phone (390x844, touch) the form fits its width and the pay button is reachable, long installment lines included', async () => {
    const pref = await new Preference(config).create({ body: { items: basicItems.map((i) => ({ ...i, unit_price: 12_999 })) } });
    const { context, page } = await newPage(browser, { timeoutMs: 5_000 });
    try {
      await page.goto(pref.init_point as string);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.locator('#cardholder-name').fill('APRO');
      await page.locator('#pay-button').click();
      await resultIds(page);
    } finally {
      await context.close();
    }
  });
});
