import assert from '../_test/assert.ts';
import type { ApplyResult } from '../_shared/checkout.ts';
import type { PaymentSnapshot } from '../_shared/contract.ts';
import { harness, request, signedNotification } from '../_test/fakes.ts';
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
