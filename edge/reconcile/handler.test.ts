import assert from '../_test/assert.ts';
import type { CheckoutRoutines } from '../_shared/checkout.ts';
import { harness, NOW, request, SERVICE_KEY } from '../_test/fakes.ts';
import { MercadoPagoRejected, MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import { reconcileHandler } from './handler.ts';

Deno.test('reconcile: expires preferences, asks MercadoPago about sessions, retries owed refunds; answers the report', async () => {
  const h = harness({
    claimOfflineExpiry: () => Promise.resolve([]),
    claimPreferenceExpiry: () => Promise.resolve([{ order_session_id: 'os-1', preference_id: 'pref-1', status: 'expired' }]),
    markPreferenceExpired: () => Promise.resolve(null),
    claimReconciliation: () => Promise.resolve([]),
    refundUnpairedParts: () => Promise.resolve([]),
    claimRefunds: () => Promise.resolve([]),
    claimOrderRefunds: () => Promise.resolve([]),
    disputes: { claim: () => Promise.resolve([]) } as unknown as CheckoutRoutines['disputes'],
  }, { expirePreference: () => Promise.resolve() });
  const res = await reconcileHandler(h.deps)(request('reconcile', { method: 'POST', token: SERVICE_KEY }));
  assert.equal(res.status, 200);
  const report = await res.json();
  assert.equal(report.preferences_expired, 1);
  assert.deepEqual(h.calls.find((c) => c.name === 'expirePreference')?.args, ['pref-1', NOW]);
});

Deno.test('reconcile: without the service role it is 403 and nothing runs', async () => {
  const h = harness();
  const res = await reconcileHandler(h.deps)(request('reconcile', { method: 'POST', token: 'shopper:6f1c2a8e-3b7d-4c1e-9a2f-0d5e8b7c6a41' }));
  assert.equal(res.status, 403);
  assert.equal(h.calls.length, 0);
});

Deno.test('reconcile: offline holds that ended are cancelled at MercadoPago; a payment approved meanwhile is applied; a failure is recorded for a retry', async () => {
  const claimed = [1, 2, 3].map((id) => ({ payment_id: id, order_session_id: `os-${id}`, attempts: 1 }));
  const h = harness({
    claimOfflineExpiry: () => Promise.resolve(claimed),
    recordOfflineCancel: () => Promise.resolve(null),
    applyPayment: (p) => Promise.resolve({ order_session_id: 'os-2', outcome: 'order_created', payment_id: p.id }),
    claimPreferenceExpiry: () => Promise.resolve([]),
    claimReconciliation: () => Promise.resolve([]),
    refundUnpairedParts: () => Promise.resolve([]),
    claimRefunds: () => Promise.resolve([]),
    claimOrderRefunds: () => Promise.resolve([]),
    disputes: { claim: () => Promise.resolve([]) } as unknown as CheckoutRoutines['disputes'],
  }, {
    cancelPayment: (id) => {
      if (id === 2) return Promise.reject(new MercadoPagoRejected('Invalid payment status to cancel', 400));
      if (id === 3) return Promise.reject(new MercadoPagoUnavailable('down'));
      return Promise.resolve();
    },
    getPayment: (id) => Promise.resolve({ id: Number(id), status: 'approved', external_reference: 'tok_2' }),
  });
  const res = await reconcileHandler(h.deps)(request('reconcile', { method: 'POST', token: SERVICE_KEY }));
  const report = await res.json();
  assert.equal(report.offline_cancelled, 2);
  assert.equal(report.offline_cancel_failed, 1);
  assert.deepEqual(h.calls.filter((c) => c.name === 'applyPayment').map((c) => (c.args[0] as { id: number }).id), [2]);
  assert.deepEqual(h.calls.filter((c) => c.name === 'recordOfflineCancel').map((c) => c.args), [[1, null], [2, null], [3, 'down']]);
});

Deno.test('reconcile: dashboard refunds still owed are made again with their idempotency key; a failure stays owed with its error', async () => {
  const owed = [
    { id: 'rf-1', order_id: 'o-1', payment_id: '11', amount: 1500, currency: 'ARS', attempts: 2 },
    { id: 'rf-2', order_id: 'o-2', payment_id: '12', amount: 700, currency: 'ARS', attempts: 1 },
  ];
  const h = harness({
    claimOfflineExpiry: () => Promise.resolve([]),
    claimPreferenceExpiry: () => Promise.resolve([]),
    claimReconciliation: () => Promise.resolve([]),
    refundUnpairedParts: () => Promise.resolve([]),
    claimRefunds: () => Promise.resolve([]),
    claimOrderRefunds: () => Promise.resolve(owed),
    recordOrderRefund: (id, mpRefundId, error) =>
      Promise.resolve({
        id,
        payment_id: id === 'rf-1' ? '11' : '12',
        amount: 0,
        currency: 'ARS',
        status: mpRefundId ? 'refunded' : 'owed',
        mp_refund_id: mpRefundId,
        last_error: error,
        order_status: 'partially_refunded',
      }),
    disputes: { claim: () => Promise.resolve([]) } as unknown as CheckoutRoutines['disputes'],
  }, {
    refundPayment: (id) => id === 12 ? Promise.reject(new MercadoPagoUnavailable('down')) : Promise.resolve({ id: 'mp-r-1' }),
  });
  const res = await reconcileHandler(h.deps)(request('reconcile', { method: 'POST', token: SERVICE_KEY }));
  const report = await res.json();
  assert.equal(report.order_refunds_made, 1);
  assert.equal(report.order_refunds_failed, 1);
  assert.deepEqual(h.calls.filter((c) => c.name === 'refundPayment').map((c) => c.args), [[11, 'order-refund-rf-1', 1500], [12, 'order-refund-rf-2', 700]]);
  assert.deepEqual(h.calls.filter((c) => c.name === 'recordOrderRefund').map((c) => c.args), [['rf-1', 'mp-r-1', null], ['rf-2', null, 'down']]);
});

Deno.test('reconcile: a session closed owing its approved part back has its pending part cancelled at MercadoPago in the same run', async () => {
  let claims = 0;
  const h = harness({
    // The first claim (step 0) finds nothing; the pending part is claimed once its session closed.
    claimOfflineExpiry: () => Promise.resolve(claims++ === 0 ? [] : [{ payment_id: 7, order_session_id: 'os-7', attempts: 1 }]),
    recordOfflineCancel: () => Promise.resolve(null),
    claimPreferenceExpiry: () => Promise.resolve([]),
    claimReconciliation: () => Promise.resolve([]),
    refundUnpairedParts: () => Promise.resolve([{ order_session_id: 'os-7', outcome: 'refund_owed', payment_id: 6 }]),
    claimRefunds: () => Promise.resolve([]),
    claimOrderRefunds: () => Promise.resolve([]),
    disputes: { claim: () => Promise.resolve([]) } as unknown as CheckoutRoutines['disputes'],
  }, { cancelPayment: () => Promise.resolve() });
  const report = await (await reconcileHandler(h.deps)(request('reconcile', { method: 'POST', token: SERVICE_KEY }))).json();
  assert.equal(report.unpaired_sessions, 1);
  assert.equal(report.offline_cancelled, 1);
  assert.deepEqual(h.calls.filter((c) => c.name === 'cancelPayment').map((c) => c.args), [[7]]);
  assert.deepEqual(h.calls.filter((c) => c.name === 'recordOfflineCancel').map((c) => c.args), [[7, null]]);
});
