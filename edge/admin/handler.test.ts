import assert from '../_test/assert.ts';
import type { CheckoutRoutines } from '../_shared/checkout.ts';
import { harness, request, SHOPPER } from '../_test/fakes.ts';
import { HttpError } from '../_shared/http.ts';
import { adminDashboardHandler } from './handler.ts';

const STAFF = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';
const get = (path: string, token: string) => request(`admin${path}`, { method: 'GET', token });

function withDashboard(calls: unknown[][]) {
  const admin = {
    dashboard: (...args: unknown[]) => {
      calls.push(args);
      return Promise.resolve({ orders: 3 });
    },
  } as unknown as CheckoutRoutines['admin'];
  return harness({ admin });
}

Deno.test('admin: staff get the dashboard for the dates asked, the claims passed on for the database to check again', async () => {
  const calls: unknown[][] = [];
  const h = withDashboard(calls);
  const res = await adminDashboardHandler(h.deps)(get('/dashboard?from=2026-11-01&to=2026-11-30&tz=UTC', `staff:${STAFF}`));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { orders: 3 });
  assert.deepEqual(calls.map((c) => c.slice(1)), [['2026-11-01', '2026-11-30', 'UTC']]);
  assert.equal((calls[0]?.[0] as { sub?: string }).sub, STAFF);
});

Deno.test('admin: a shopper is 403, no token 401, and nothing is read', async () => {
  const calls: unknown[][] = [];
  const h = withDashboard(calls);
  const handler = adminDashboardHandler(h.deps);
  assert.equal((await handler(get('/dashboard', `shopper:${SHOPPER}`))).status, 403);
  assert.equal((await handler(request('admin/dashboard', { method: 'GET' }))).status, 401);
  assert.equal(calls.length, 0);
});

Deno.test('admin: a date that is not on the calendar is a 400 naming the field', async () => {
  const calls: unknown[][] = [];
  const h = withDashboard(calls);
  const res = await adminDashboardHandler(h.deps)(get('/dashboard?from=2026-02-30', `staff:${STAFF}`));
  assert.equal(res.status, 400);
  assert.deepEqual((await res.json()).issues.map((i: { path: string }) => i.path), ['from']);
  assert.equal(calls.length, 0);
});

Deno.test('admin: /me asks the database, so a member of staff removed since the token was issued gets 403', async () => {
  const calls: unknown[][] = [];
  let staff = true;
  const admin = {
    me: (...args: unknown[]) => {
      calls.push(args);
      return staff
        ? Promise.resolve({ id: STAFF, email: 'staff@example.com', role: 'staff' })
        : Promise.reject(new HttpError(403, 'forbidden', 'store staff only'));
    },
  } as unknown as CheckoutRoutines['admin'];
  const handler = adminDashboardHandler(harness({ admin }).deps);
  const res = await handler(get('/me', `staff:${STAFF}`));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { id: STAFF, email: 'staff@example.com', role: 'staff' });
  staff = false;
  const removed = await handler(get('/me', `staff:${STAFF}`));
  assert.equal(removed.status, 403);
  assert.equal((await removed.json()).error, 'forbidden');
  assert.equal(calls.length, 2);
  assert.equal((calls[0]?.[0] as { sub?: string }).sub, STAFF);
});
