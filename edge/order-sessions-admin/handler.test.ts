import assert from '../_test/assert.ts';
import { harness, request, SERVICE_KEY } from '../_test/fakes.ts';
import { adminHandler } from './handler.ts';

const get = (path: string, token = SERVICE_KEY) => request(`order-sessions-admin${path}`, { method: 'GET', token });

Deno.test('admin: stats with the top holders, for the service role key or a service_role JWT', async () => {
  const h = harness({ stats: () => Promise.resolve({ active: 2 }), topHolders: () => Promise.resolve([{ session_id: 's', units: 3 }]) });
  for (const token of [SERVICE_KEY, 'service.jwt.token']) {
    const res = await adminHandler(h.deps)(get('/stats', token));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { active: 2, top_holders: [{ session_id: 's', units: 3 }] });
  }
});

Deno.test('admin: a shopper token or another key is 403, and nothing is read', async () => {
  const h = harness();
  for (const token of ['shopper:6f1c2a8e-3b7d-4c1e-9a2f-0d5e8b7c6a41', 'not-the-key']) {
    const res = await adminHandler(h.deps)(get('/stats', token));
    assert.equal(res.status, 403);
  }
  assert.equal(h.calls.length, 0);
});

Deno.test('admin: audit reports violations; cleanup is POST only; unknown paths 404', async () => {
  const violation = { invariant: 'one_order_per_session', subject: 'os-1', detail: {} };
  const h = harness({ audit: () => Promise.resolve([violation]), cleanup: () => Promise.resolve({ carts: 1 }) });
  const handler = adminHandler(h.deps);
  assert.deepEqual(await (await handler(get('/audit'))).json(), { ok: false, violations: [violation] });
  assert.equal((await handler(get('/cleanup'))).status, 405);
  assert.deepEqual(await (await handler(request('order-sessions-admin/cleanup', { method: 'POST', token: SERVICE_KEY }))).json(), { carts: 1 });
  assert.equal((await handler(get('/nothing'))).status, 404);
});
