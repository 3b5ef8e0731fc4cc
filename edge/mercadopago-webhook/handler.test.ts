import assert from '../_test/assert.ts';
import type { ApplyResult, CheckoutRoutines } from '../_shared/checkout.ts';
import { HttpError } from '../_shared/http.ts';
import type { PaymentSnapshot } from '../_shared/contract.ts';
import { harness, NOW, request, signedNotification } from '../_test/fakes.ts';
import { hmacSha256Hex, signatureManifest } from '../_shared/signature.ts';
import { MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import { webhookHandler } from './handler.ts';

const payment: PaymentSnapshot = { id: 123, status: 'approved', transaction_amount: 3000, currency_id: 'ARS', external_reference: 'tok_1' };
const applied: ApplyResult = { order_session_id: 'os-1', outcome: 'order_created', payment_id: 123 };

Deno.test('webhook: a signed payment notification fetches the payment and applies it', async () => {
  const h = harness({ applyPayment: () => Promise.resolve(applied) }, { getPayment: () => Promise.resolve(payment) });
  const res = await webhookHandler(h.deps)(await signedNotification('123'));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { received: true, outcome: 'order_created' });
  assert.deepEqual(h.calls.map((c) => [c.name, c.args[0]]), [['getPayment', '123'], ['applyPayment', payment]]);
});

Deno.test('webhook: a wrong signature is 401 and nothing is fetched', async () => {
  const h = harness();
  const res = await webhookHandler(h.deps)(await signedNotification('123', 'another-secret'));
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, 'invalid_signature');
  assert.equal(h.calls.length, 0);
});

Deno.test('webhook: an unsigned request is 401, another method 405', async () => {
  const h = harness();
  const handler = webhookHandler(h.deps);
  assert.equal((await handler(request('mercadopago-webhook?type=payment&data.id=1', { method: 'POST', json: {} }))).status, 401);
  assert.equal((await handler(request('mercadopago-webhook', { method: 'GET' }))).status, 405);
});

Deno.test('webhook: MercadoPago unavailable answers 500 so MercadoPago retries', async () => {
  const h = harness({}, { getPayment: () => Promise.reject(new MercadoPagoUnavailable('down')) });
  const res = await webhookHandler(h.deps)(await signedNotification('123'));
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, 'upstream_unavailable');
  assert.ok(h.logs.some((l) => l.event === 'webhook_retry_later'));
});

const fraudBody = {
  action: 'Created',
  data: { description: 'Fraud alert', merchant_order: 77, payment_id: 123, site_id: 'MLA' },
  id: '123',
  type: 'stop_delivery_op_wh',
};

Deno.test('webhook: a fraud alert is stored before the answer, 200, then processed', async () => {
  const order: string[] = [];
  const disputes = {
    store: (...args: unknown[]) => {
      order.push(`store ${JSON.stringify(args.slice(0, 3))}`);
      return Promise.resolve({ id: 9, stored: true, processed: false });
    },
    claim: (...args: unknown[]) => {
      order.push(`claim ${args[2]}`);
      return Promise.resolve([]);
    },
  } as unknown as CheckoutRoutines['disputes'];
  const h = harness({ disputes });
  const res = await webhookHandler(h.deps)(await signedNotification('123', undefined, 'stop_delivery_op_wh', fraudBody));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { received: true, stored: true });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(order, ['store ["stop_delivery_op_wh","123","123"]', 'claim 9']);
});

Deno.test('webhook: a fraud alert the database cannot store is a 500 (not a 200 that loses it)', async () => {
  const disputes = {
    store: () => Promise.reject(new HttpError(503, 'database_unavailable', 'down')),
  } as unknown as CheckoutRoutines['disputes'];
  const h = harness({ disputes });
  const res = await webhookHandler(h.deps)(await signedNotification('123', undefined, 'stop_delivery_op_wh', fraudBody));
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, 'database_unavailable');
});

Deno.test('webhook: a chargeback with a malformed id, or a body naming another, is a 400 and nothing is stored', async () => {
  const h = harness();
  const handler = webhookHandler(h.deps);
  const bad = await handler(await signedNotification('12 34', undefined, 'topic_chargebacks_wh'));
  assert.equal(bad.status, 400);
  const other = await handler(await signedNotification('1234', undefined, 'topic_chargebacks_wh', { type: 'topic_chargebacks_wh', data: { id: 99 } }));
  assert.equal(other.status, 400);
  assert.equal(h.calls.length, 0);
});

/** A merchant_order feed notification (`?id=&topic=merchant_order`), signed over its id. */
async function merchantOrderNotification(orderId: string): Promise<Request> {
  const ts = String(Math.floor(NOW.getTime() / 1000));
  const v1 = await hmacSha256Hex('unit-test-webhook-secret', signatureManifest(orderId, 'req-mo', ts));
  return request(`mercadopago-webhook?id=${orderId}&topic=merchant_order`, {
    method: 'POST',
    headers: { 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': 'req-mo' },
    json: { resource: `https://api.mercadolibre.com/merchant_orders/${orderId}`, topic: 'merchant_order' },
  });
}

Deno.test('webhook: a merchant_order notification fetches the order and applies each of its payments', async () => {
  const second: PaymentSnapshot = { ...payment, id: 124, transaction_amount: 1000 };
  const h = harness(
    { applyPayment: (p: PaymentSnapshot) => Promise.resolve({ ...applied, payment_id: p.id, outcome: p.id === 123 ? 'partly_paid' : 'order_created' }) },
    {
      getMerchantOrder: () => Promise.resolve({ id: '77', external_reference: 'tok_1', payment_ids: ['123', '124'] }),
      getPayment: (id: string) => Promise.resolve(id === '123' ? payment : second),
    },
  );
  const res = await webhookHandler(h.deps)(await merchantOrderNotification('77'));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { received: true, outcomes: ['partly_paid', 'order_created'] });
  assert.deepEqual(h.calls.map((c) => [c.name, c.args[0]]), [
    ['getMerchantOrder', '77'],
    ['getPayment', '123'],
    ['applyPayment', payment],
    ['getPayment', '124'],
    ['applyPayment', second],
  ]);
});

Deno.test('webhook: a merchant_order MercadoPago does not know is 200, ignored; unavailable is 500', async () => {
  const { MercadoPagoRejected } = await import('../_shared/mercadopago.ts');
  const unknown = harness({}, { getMerchantOrder: () => Promise.reject(new MercadoPagoRejected('not found', 404)) });
  const res = await webhookHandler(unknown.deps)(await merchantOrderNotification('78'));
  assert.deepEqual([res.status, await res.json()], [200, { received: true, ignored: 'unknown merchant order' }]);
  const down = harness({}, { getMerchantOrder: () => Promise.reject(new MercadoPagoUnavailable('down')) });
  assert.equal((await webhookHandler(down.deps)(await merchantOrderNotification('79'))).status, 500);
});
