import assert from './assert.ts';
import { HttpError } from '../_shared/http.ts';
import { calendarDate, dateRangeQuery, isTimestamp, paymentIdText, wholeNumber } from '../_shared/input.ts';
import { matchRoute, type RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

const ROUTES = {
  list: { methods: ['GET'], path: '/orders', callers: ['staff'] },
  one: { methods: ['GET'], path: '/orders/:ref', callers: ['staff'], params: { ref: storableString(8) } },
} as const satisfies RouteTable;

const req = (method: string, path: string) => new Request(`http://127.0.0.1/functions/v1/admin${path}`, { method });

function refusal(fn: () => unknown): { status: number; code: string; paths: string[] } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    const issues = (err.details?.issues ?? []) as { path: string }[];
    return { status: err.status, code: err.code, paths: issues.map((i) => i.path) };
  }
  throw new Error('not refused');
}

Deno.test('routes: a declared path and method match, with the parameter decoded', () => {
  const m = matchRoute('admin', ROUTES, req('GET', '/orders/ORD%2D1'));
  assert.deepEqual([m.name, m.params], ['one', { ref: 'ORD-1' }]);
  assert.equal(matchRoute('admin', ROUTES, req('GET', '/orders/')).name, 'list');
});

Deno.test('routes: malformed percent-encoding is a 400 naming the parameter; its schema applies too', () => {
  for (const bad of ['%', '%E0%A4%A', '%ED%A0%80']) {
    assert.deepEqual(refusal(() => matchRoute('admin', ROUTES, req('GET', `/orders/${bad}`))), { status: 400, code: 'validation_failed', paths: ['ref'] });
  }
  assert.deepEqual(refusal(() => matchRoute('admin', ROUTES, req('GET', '/orders/%00'))), { status: 400, code: 'validation_failed', paths: ['ref'] });
  assert.deepEqual(refusal(() => matchRoute('admin', ROUTES, req('GET', '/orders/123456789'))), { status: 400, code: 'validation_failed', paths: ['ref'] });
});

Deno.test('routes: an undeclared path is a 404, another method a 405', () => {
  assert.equal(refusal(() => matchRoute('admin', ROUTES, req('GET', '/nothing'))).status, 404);
  assert.equal(refusal(() => matchRoute('admin', ROUTES, req('GET', '/orders/a/b'))).status, 404);
  assert.equal(refusal(() => matchRoute('admin', ROUTES, req('POST', '/orders'))).status, 405);
});

Deno.test('input: dates in years 0001-9999 on the calendar only', () => {
  const ok = (s: string) => calendarDate().safeParse(s).success;
  assert.deepEqual(['2026-02-28', '2024-02-29', '0001-01-01', '9999-12-31'].map(ok), [true, true, true, true]);
  assert.deepEqual(['0000-01-01', '2026-02-30', '10000-01-01', '2026-1-1', '+002026-01-01'].map(ok), [false, false, false, false, false]);
});

Deno.test("input: a range's default start must be a date too", () => {
  const q = dateRangeQuery(30, {});
  assert.equal(q.safeParse({ to: '0001-01-30' }).success, true);
  assert.deepEqual(q.safeParse({ to: '0001-01-01' }).error?.issues.map((i) => i.path.join('.')), ['from']);
  assert.equal(q.safeParse({ from: '0001-01-01', to: '0001-01-01' }).success, true);
});

Deno.test('input: timestamps with offsets in use on Earth, in years 0001-9999 in UTC too', () => {
  const good = ['2026-12-01T10:00:00Z', '2026-12-01T10:00:00.123456+00:00', '2026-12-01T10:00:00-12:00', '2026-12-01T10:00:00+14:00'];
  const bad = [
    '0000-01-01T00:00:00Z',
    '2026-12-01T10:00:00+23:59',
    '2026-12-01T10:00:00+14:01',
    '0001-01-01T00:00:00+01:00',
    '2026-12-01T24:00:00Z',
    '2026-12-01 10:00:00Z',
  ];
  assert.deepEqual(good.map(isTimestamp), good.map(() => true));
  assert.deepEqual(bad.map(isTimestamp), bad.map(() => false));
});

Deno.test('input: whole numbers within bounds; payment ids exact in JavaScript and bigint', () => {
  const n = wholeNumber(-10, 10);
  assert.deepEqual([n.safeParse(-0).data, n.safeParse(11).success, n.safeParse(1.5).success, n.safeParse(Number.NaN).success], [0, false, false, false]);
  const id = (s: string) => paymentIdText().safeParse(s).data;
  assert.deepEqual([id('00123'), id('9007199254740991'), id('9007199254740992'), id('1e3'), id('-1'), id('0')], [
    '123',
    '9007199254740991',
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});
