import assert from '../_test/assert.ts';
import type { PaymentSnapshot } from '../_shared/contract.ts';
import { harness, orderSession, OTHER_SHOPPER, request, SHOPPER } from '../_test/fakes.ts';
import { HttpError } from '../_shared/http.ts';
import { paymentStatusHandler } from './handler.ts';

const get = (query: string, token = `shopper:${SHOPPER}`) => request(`payment-status?${query}`, { method: 'GET', token });

Deno.test('payment-status: with only external_reference, the order session as it stands', async () => {
  const h = harness({
    findOrderSessionFor: () => Promise.resolve(orderSession()),
    orderForSession: () => Promise.resolve(null),
    offlinePayment: () => Promise.resolve(null),
  });
  const res = await paymentStatusHandler(h.deps)(get('external_reference=tok_1&payment_id=null'));
  assert.equal(res.status, 200);
  const out = await res.json();
  assert.deepEqual([out.status, out.outcome, out.payment, out.order], ['active', 'status', null, null]);
  assert.equal(out.order_session.session_id, undefined, 'the shopper id is not echoed');
});

Deno.test("payment-status: another shopper's order session is the same 404 as an unknown one", async () => {
  const h = harness({
    findOrderSessionFor: (_shopper, token) => Promise.resolve(token === 'tok_1' ? orderSession({ session_id: OTHER_SHOPPER }) : null),
  });
  const handler = paymentStatusHandler(h.deps);
  const theirs = await handler(get('external_reference=tok_1'));
  const unknown = await handler(get('external_reference=tok_2'));
  assert.deepEqual([theirs.status, await theirs.json()], [unknown.status, await unknown.json()]);
  assert.equal(theirs.status, 404);
});

Deno.test('payment-status: with a payment id, the payment is fetched and settled as the webhook does', async () => {
  const payment: PaymentSnapshot = { id: 55, status: 'approved', status_detail: 'accredited', external_reference: 'tok_1' };
  const h = harness({
    noteReturnLookup: () => Promise.resolve(1),
    findOrderSessionFor: () => Promise.resolve(orderSession()),
    findOrderSession: () => Promise.resolve(orderSession()),
    offlinePayment: () => Promise.resolve(null),
    applyPayment: () => Promise.resolve({ order_session_id: 'os-1', outcome: 'order_created', payment_id: 55, order: null }),
    orderForSession: () => Promise.resolve(null),
  }, { getPayment: () => Promise.resolve(payment) });
  const res = await paymentStatusHandler(h.deps)(get('payment_id=55'));
  assert.equal(res.status, 200);
  const out = await res.json();
  assert.deepEqual([out.outcome, out.payment], ['order_created', { id: 55, status: 'approved', status_detail: 'accredited' }]);
  assert.deepEqual(h.calls.map((c) => c.name), [
    'noteReturnLookup',
    'getPayment',
    'findOrderSessionFor',
    'applyPayment',
    'findOrderSession',
    'orderForSession',
    'offlinePayment',
  ]);
  assert.deepEqual(h.calls[0]?.args, [SHOPPER]);
});

Deno.test('payment-status: past the hourly lookup budget, 429 and MercadoPago is not asked', async () => {
  const h = harness({
    noteReturnLookup: () => Promise.reject(new HttpError(429, 'too_many_lookups', 'too many payment lookups', { max: 30 })),
  }, { getPayment: () => Promise.reject(new Error('MercadoPago must not be called')) });
  const res = await paymentStatusHandler(h.deps)(get('payment_id=55&external_reference=tok_1'));
  assert.equal(res.status, 429);
  assert.equal((await res.json()).error, 'too_many_lookups');
  assert.deepEqual(h.calls.map((c) => c.name), ['noteReturnLookup']);
});

Deno.test('payment-status: neither id is a 400, a malformed one too', async () => {
  const h = harness();
  const handler = paymentStatusHandler(h.deps);
  assert.equal((await handler(get(''))).status, 400);
  assert.equal((await handler(get('payment_id=12x'))).status, 400);
  assert.equal(h.calls.length, 0);
});
