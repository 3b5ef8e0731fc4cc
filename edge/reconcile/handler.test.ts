import assert from '../_test/assert.ts';
import type { CheckoutRoutines } from '../_shared/checkout.ts';
import { harness, NOW, request, SERVICE_KEY } from '../_test/fakes.ts';
import { reconcileHandler } from './handler.ts';

Deno.test('reconcile: expires preferences, asks MercadoPago about sessions, retries owed refunds; answers the report', async () => {
  const h = harness({
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
