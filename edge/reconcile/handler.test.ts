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
