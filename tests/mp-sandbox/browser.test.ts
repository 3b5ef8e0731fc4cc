/**
 * A person paying on the checkout page in a real browser (Debian's Chromium
 * through playwright-core), and the redirects back to a local "store".
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MercadoPagoConfig, Payment, Preference } from 'mercadopago';
import type { Sandbox } from '../../dev/mp-sandbox/index.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { BASIC_TOTAL, basicItems, sandboxWithSdk, waitFor, WebhookReceiver } from './helpers.ts';

const SHOTS = 'test-results/mp-sandbox';
let sandbox: Sandbox;
let config: MercadoPagoConfig;
let browser: Browser;
let store: Server;
let storeUrl = '';
let receiver: WebhookReceiver;
const returns: URL[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ sandbox, config } = await sandboxWithSdk());
  receiver = await new WebhookReceiver().start();
  store = createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    returns.push(new URL(req.url ?? '/', storeUrl));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<h1 id="store-thanks">¡Gracias por tu compra!</h1>');
  });
  await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
  storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  store?.closeAllConnections();
  await new Promise<void>((resolve) => (store ? store.close(() => resolve()) : resolve()));
  await receiver?.close();
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.reset();
  returns.length = 0;
  receiver.received.length = 0;
});

async function preference(externalReference: string): Promise<string> {
  const pref = await new Preference(config).create({
    body: {
      items: basicItems,
      external_reference: externalReference,
      back_urls: { success: `${storeUrl}/success`, failure: `${storeUrl}/failure`, pending: `${storeUrl}/pending` },
      auto_return: 'approved',
      notification_url: receiver.url,
      payment_methods: { excluded_payment_types: [{ id: 'ticket' }, { id: 'atm' }] },
    },
  });
  return pref.init_point as string;
}

async function pay(page: Page, name: string): Promise<void> {
  await page.locator('#payment-type-credit_card').check();
  await page.locator('#cardholder-name').fill(name);
  await page.locator('#pay-button').click();
}

describe('checkout page in Chromium', () => {
  it('pays with APRO and follows auto_return to the store', async () => {
    const initPoint = await preference('os_browser_1');
    const page = await browser.newPage();
    try {
      await page.goto(initPoint);
      expect(await page.locator('#total').getAttribute('data-amount')).toBe(String(BASIC_TOTAL));
      expect(await page.locator('#payment-type-ticket').count()).toBe(0);
      await page.screenshot({ path: `${SHOTS}/apro-form.png`, fullPage: true });
      await pay(page, 'APRO');
      await page.waitForURL(`${storeUrl}/success?**`);
      await page.locator('#store-thanks').waitFor();
      await page.screenshot({ path: `${SHOTS}/apro-store.png`, fullPage: true });
    } finally {
      await page.close();
    }
    expect(returns).toHaveLength(1);
    const back = returns[0]?.searchParams;
    expect(back?.get('status')).toBe('approved');
    expect(back?.get('collection_status')).toBe('approved');
    expect(back?.get('external_reference')).toBe('os_browser_1');
    const paymentId = back?.get('payment_id') ?? '';
    const payment = await new Payment(config).get({ id: paymentId });
    expect([payment.status, payment.external_reference, String(payment.order?.id)]).toEqual([
      'approved',
      'os_browser_1',
      back?.get('merchant_order_id'),
    ]);
    await waitFor(() => receiver.forPayment(paymentId).length === 1);
  });

  it('rejects OTHE, then retries with APRO on the same preference', async () => {
    const initPoint = await preference('os_browser_2');
    const page = await browser.newPage();
    let rejectedId = '';
    try {
      await page.goto(initPoint);
      await pay(page, 'OTHE');
      await page.waitForURL(/\/checkout\/v1\/result\?payment_id=\d+$/);
      const result = page.locator('#payment-result');
      expect(await result.getAttribute('data-status')).toBe('rejected');
      expect(await result.getAttribute('data-status-detail')).toBe('cc_rejected_other_reason');
      rejectedId = (await result.getAttribute('data-payment-id')) ?? '';
      expect(returns).toHaveLength(0); // no automatic return on a rejection
      await page.screenshot({ path: `${SHOTS}/othe-rejected.png`, fullPage: true });

      await page.locator('#retry-payment').click();
      await page.locator('#checkout-form').waitFor();
      await pay(page, 'APRO');
      await page.waitForURL(`${storeUrl}/success?**`);
      await page.screenshot({ path: `${SHOTS}/othe-then-apro-store.png`, fullPage: true });
    } finally {
      await page.close();
    }
    expect(returns).toHaveLength(1);
    const approvedId = returns[0]?.searchParams.get('payment_id') ?? '';
    expect(approvedId).not.toBe(rejectedId);
    expect(Number(approvedId)).toBeGreaterThan(Number(rejectedId));
    expect(sandbox.getPayment(rejectedId).status).toBe('rejected');
    expect(sandbox.getPayment(approvedId).status).toBe('approved');
    expect(returns[0]?.searchParams.get('merchant_order_id')).toBe(sandbox.getPayment(rejectedId).order.id);
  });
});
