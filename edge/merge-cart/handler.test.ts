import assert from '../_test/assert.ts';
import { ANON_SESSION, fakeVerifyJwt, harness, OTHER_SHOPPER, request, SHOPPER } from '../_test/fakes.ts';
import { mergeCartHandler } from './handler.ts';

const REPORT = { strategy: 'merge', already_merged: false, changes: [{ variant_id: 'v-1', requested: 5, kept: 3, reason: 'capped_by_stock' }] };
const merge = (token: string, body: unknown) => request('merge-cart', { method: 'POST', token, json: body });
const anonymousToken = `anon:${OTHER_SHOPPER}`;

Deno.test('merge-cart: both tokens verified, the anonymous cart merged into the account, the report answered', async () => {
  const h = harness({ mergeCarts: () => Promise.resolve(REPORT as never) });
  const res = await mergeCartHandler(h.deps)(merge(`account:${SHOPPER}`, { anonymous_token: anonymousToken }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), REPORT);
  assert.deepEqual(h.calls, [{ name: 'mergeCarts', args: [OTHER_SHOPPER, SHOPPER, ANON_SESSION] }]);
});

Deno.test('merge-cart: an anonymous caller, a forged or non-anonymous token, or the account itself: refused, nothing merged', async () => {
  const cases: [string, unknown, number, string][] = [
    [`anon:${SHOPPER}`, { anonymous_token: `anon:${OTHER_SHOPPER}` }, 403, 'account_required'],
    [`account:${SHOPPER}`, { anonymous_token: 'forged-token-forged-token-forged' }, 401, 'invalid_anonymous_token'],
    [`account:${SHOPPER}`, { anonymous_token: `account:${OTHER_SHOPPER}` }, 403, 'not_anonymous'],
    [`account:${SHOPPER}`, { anonymous_token: `anon:${SHOPPER}` }, 403, 'same_user'],
    [`account:${SHOPPER}`, { anonymous_token: 'short' }, 400, 'validation_failed'],
    [`account:${SHOPPER}`, { anonymous_token: `anon:${OTHER_SHOPPER}`, extra: 1 }, 400, 'validation_failed'],
    ['not-a-token', { anonymous_token: `anon:${OTHER_SHOPPER}` }, 401, 'unauthenticated'],
  ];
  for (const [token, body, status, error] of cases) {
    const h = harness();
    const res = await mergeCartHandler(h.deps)(merge(token, body));
    assert.equal(res.status, status, `${token} ${JSON.stringify(body)}`);
    assert.equal((await res.json()).error, error);
    assert.equal(h.calls.length, 0);
  }
});

Deno.test('merge-cart: only POST', async () => {
  const h = harness();
  const res = await mergeCartHandler(h.deps)(request('merge-cart', { method: 'GET', token: `account:${SHOPPER}` }));
  assert.equal(res.status, 405);
  assert.equal(h.calls.length, 0);
});

Deno.test('merge-cart: an anonymous token naming no Auth session is refused (401), nothing merged', async () => {
  const h = harness();
  h.deps.verifyJwt = (token) =>
    token.startsWith('anon:') ? Promise.resolve({ sub: token.slice(5), role: 'authenticated', is_anonymous: true }) : fakeVerifyJwt(token);
  const res = await mergeCartHandler(h.deps)(merge(`account:${SHOPPER}`, { anonymous_token: anonymousToken }));
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, 'invalid_anonymous_token');
  assert.equal(h.calls.length, 0);
});
